"""The harness of the tests that run a front end: Jupyter servers (JupyterLab, Notebook 7, ``make app``)
started in a folder of their own, and pages in Debian's headless Chromium driven by Playwright.

One place for it, so that every browser test starts its server, waits for it, refuses every address but
the server's and keeps a screenshot of a failure the same way. A missing Chromium fails: CI installs it
(.ci/run), and a browser test that silently skips proves nothing."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium; `make test` hands over Playwright's own build where it had to install that instead.
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# What `make demo` passes too: phone photos are 8-20 MB, over Tornado's 10 MiB websocket message default.
LARGE_MESSAGES = '--ServerApp.tornado_settings={"websocket_max_message_size": 209715200}'


def clean_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment for a Jupyter server of the tests: no KLING_ variables of the developer's, and
    its own config, runtime, workspace and journal folders (under ``folder``), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env.update(
        JUPYTER_CONFIG_DIR=str(folder / ".config"),
        JUPYTER_RUNTIME_DIR=str(folder / ".runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(folder / ".workspaces"),
        KLING_WIDGETS_HOME=str(folder / ".home"),
        **extra,
    )
    return env


def need_chromium() -> None:
    """Fail, never skip, when Chromium is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run); this test must not skip")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and everything it started (make starts voila as its child)."""
    try:
        os.killpg(process.pid, 15)
    except ProcessLookupError:
        return
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)


def serve(command: list[str], url: str, folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server in ``folder`` (its log in ``server.log`` there) and wait until ``url`` answers;
    fail with the log's end if it never does."""
    need_chromium()
    log = open(folder / "server.log", "w")  # noqa: SIM115 - the process owns it until it ends
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                stop(process)
                pytest.fail("the server did not start:\n" + (folder / "server.log").read_text()[-3000:])
            time.sleep(0.5)


@contextlib.contextmanager
def jupyter(app: str, folder: Path, *options: str) -> Iterator[tuple[str, str]]:
    """A Jupyter server (``app``: "lab" or "notebook") serving ``folder`` on a free port with a token of
    its own, the large-message setting of ``make demo`` and any ``options``. Yields its address and
    token; stops it (and its kernels) afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # the port asked for, or a loud failure: never another one
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--allow-root",
        LARGE_MESSAGES,
        *options,
    ]
    base = f"http://127.0.0.1:{port}"
    server = serve(command, f"{base}/api/status?token={token}", folder, clean_env(folder))
    try:
        yield base, token
    finally:
        stop(server)


@contextlib.contextmanager
def voila_page(folder: Path, failure_shot: str, **extra: str) -> Iterator[Any]:
    """``make app`` (the Voila page, exactly what the README says) serving from ``folder`` on a free
    port, with ``extra`` in its environment (no key: its own simulator), opened in a page that reaches
    only it (``failure_shot``: its screenshot if the block fails). Yields the page; stops the app."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = ["make", "--no-print-directory", "-C", str(ROOT), "app"]
    server = serve(command, f"http://{address}/", folder, clean_env(folder, PORT=str(port), **extra))
    try:
        with browser_page(failure_shot, address) as page:
            page.goto(f"http://{address}/")
            yield page
    finally:
        stop(server)


def only_the_server(context: Any, server: str, refused: list[str] | None = None) -> list[str]:
    """The browser reaches the Jupyter server (``host:port``) and nothing else, as on Binder, a
    JupyterHub or a Voila app visited from another computer: every other request is refused. Returns
    the refused URLs (``refused``, or a new list), filled as they happen."""
    refused = [] if refused is None else refused

    def route(request: Any) -> None:
        url = request.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == server:
            request.continue_()
        else:
            refused.append(url)
            request.abort()

    context.route("**/*", route)
    return refused


@contextlib.contextmanager
def browser_page(
    failure_shot: str | None = None,
    server: str | None = None,
    *,
    width: int = 1280,
    height: int = 1400,
    offline: bool = False,
    refused: list[str] | None = None,
) -> Iterator[Any]:
    """A page in headless Chromium, ``width`` × ``height`` px, that saves downloads.

    Parameters
    ----------
    failure_shot
        File name in artifacts/browser/ for a screenshot of the page when the block fails; None: none.
    server
        ``host:port`` of the only server the page may reach, as a browser on another machine; None: any.
    width, height
        The viewport.
    offline
        No network at all: only files (an exported page read alone).
    refused
        Filled with the URLs refused for not being ``server``.
    """
    from playwright.sync_api import sync_playwright

    need_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        if offline:
            context.route("http*://**", lambda route: route.abort())
        blocked = only_the_server(context, server, refused) if server is not None else []
        page = context.new_page()
        try:
            yield page
        except Exception:
            if failure_shot:
                page.screenshot(path=str(ARTIFACTS / failure_shot), full_page=True)
            if server is not None:
                print("requests refused (not the Jupyter server):", blocked)
            raise
        finally:
            browser.close()


def open_notebook(page: Any, url: str) -> None:
    """Open the notebook at ``url`` in JupyterLab and wait for its kernel; JupyterLab's "get news?"
    toast is answered (it would cover the screenshots)."""
    from playwright.sync_api import expect

    page.goto(url)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
    no_news = page.get_by_role("button", name="No", exact=True)
    if no_news.is_visible():
        no_news.click()


def run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` with Shift+Enter, again if the kernel was not yet listening the first time."""
    from playwright.sync_api import expect

    prompt = page.locator(".jp-Cell .jp-InputPrompt").nth(index)
    for _ in range(3):
        page.locator(".jp-Cell .cm-content").nth(index).click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).to_contain_text(re.compile(r"\[(\*|\d+)\]"), timeout=10_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"cell {index} never ran")


def expect_video_plays_and_saves(page: Any, scope: str = ".kw-task", shot: str | None = None) -> Path:
    """The first video in ``scope`` has data to play (readyState ≥ 2, its full length) and its
    Download MP4 link saves an MP4 file in the browser; returns the saved file. ``shot``: a screenshot
    of the page once the video can play through, under that name."""
    script = (
        f"() => {{ const v = document.querySelector('{scope} video'); "
        "return v && v.readyState >= 2 && v.duration > 4 }"
    )
    page.wait_for_function(script, timeout=60_000)
    with page.expect_download(timeout=30_000) as download:
        page.locator(f"{scope} .kw-player-download").first.click()
    saved = Path(download.value.path())
    assert download.value.suggested_filename.startswith("kling-")
    assert download.value.suggested_filename.endswith(".mp4")
    head = saved.read_bytes()[:12]
    assert head[4:8] == b"ftyp" and saved.stat().st_size > 2_000, head
    if shot:  # a player still buffering shows a spinner: the picture is taken once it has all it needs
        with contextlib.suppress(Exception):
            page.wait_for_function(script.replace("readyState >= 2", "readyState >= 4"), timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return saved
