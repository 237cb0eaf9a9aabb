"""The bundle in a real browser: JupyterLab started here, driven by Playwright in Debian's headless
Chromium, against the simulator. Upload an image, type a prompt, change an option, press the button,
see the video. Screenshots are kept in artifacts/browser/. If Chromium is missing this fails: CI
installs it (.ci/run), and a browser test that silently skips proves nothing."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
import pytest
from PIL import Image

from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

# Debian's Chromium; `make test` hands over Playwright's own build where it had to install that instead.
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
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
pytestmark = pytest.mark.browser


def clean_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment for a Jupyter server of the tests: no KLING_ variables of the developer's, and
    its own config, runtime, workspace and journal folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env.update(
        JUPYTER_CONFIG_DIR=str(folder / ".config"),
        JUPYTER_RUNTIME_DIR=str(folder / ".runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(folder / ".workspaces"),
        KLING_WIDGETS_HOME=str(folder / ".home"),
        **extra,
    )
    return env


def only_the_server(context: Any, server: str) -> list[str]:
    """The browser reaches the Jupyter server (``host:port``) and nothing else, as on Binder, a
    JupyterHub or a Voila app visited from another computer: every other request is refused. Returns
    the refused URLs, filled as they happen."""
    refused: list[str] = []

    def route(request: Any) -> None:
        url = request.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == server:
            request.continue_()
        else:
            refused.append(url)
            request.abort()

    context.route("**/*", route)
    return refused


def expect_video_plays_and_saves(page: Any, scope: str = ".kw-task", shot: str | None = None) -> Path:
    """The first video in ``scope`` has data to play (readyState ≥ 2, its full length) and its
    Download MP4 link saves an MP4 file in the browser; returns the saved file."""
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Simulator]]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run); this test must not skip")
    root = tmp_path_factory.mktemp("lab")
    sim = Simulator(processing_seconds=4).start()  # first: its port is taken before another is picked
    port, token = free_port(), secrets.token_hex(16)
    env = clean_env(root)
    jupyter = Path(sys.executable).with_name("jupyter")
    log = open(root / "lab.log", "w")  # noqa: SIM115 - closed in the teardown below
    server = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",  # the port asked for, or a loud failure: never another one
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
            "--allow-root",
            LARGE_MESSAGES,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as answer:
                json.load(answer)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield f"{base}/lab/tree/demo.ipynb?token={token}", root, sim
    server.terminate()
    server.wait(20)
    log.close()
    sim.stop()


def write_notebook(root: Path, sim: Simulator) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from kling_widgets import KlingClient, MultiImageToVideo\n"
            f"app = MultiImageToVideo(KlingClient({sim.api_key!r}, base_url={sim.url!r}), poll_interval=0.5)\n"
            "app"
        ),
        nbformat.v4.new_code_cell("print('kernel is free:', 6 * 7)"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "demo.ipynb")


def open_notebook(page: Any, url: str) -> None:
    """Open the notebook in JupyterLab and wait for its kernel; JupyterLab's "get news?" toast is
    answered (it would cover the screenshots). ``reset``: a fresh workspace, so that only this notebook
    opens — JupyterLab would otherwise bring back the tabs an earlier test of the same server left open,
    and their cells, their kernel's "Idle", would be taken for this notebook's."""
    from playwright.sync_api import expect

    page.goto(url + ("&" if "?" in url else "?") + "reset")
    in_view(page).locator(".jp-Cell").first.wait_for(timeout=60_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
    no_news = page.get_by_role("button", name="No", exact=True)
    if no_news.is_visible():
        no_news.click()


def in_view(page: Any) -> Any:
    """The notebook on screen: the cells of notebooks in other (hidden) tabs are not its cells."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def run_cell(page: Any, index: int) -> None:
    """Run one cell of the notebook in view with Shift+Enter, again if the kernel was not yet listening
    the first time."""
    from playwright.sync_api import expect

    notebook = in_view(page)
    prompt = notebook.locator(".jp-Cell .jp-InputPrompt").nth(index)
    for _ in range(3):
        notebook.locator(".jp-Cell .cm-content").nth(index).click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).to_contain_text(re.compile(r"\[(\*|\d+)\]"), timeout=10_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"cell {index} never ran")


def test_upload_prompt_option_submit_and_watch_the_video(lab: tuple[str, Path, Simulator]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, root, sim = lab
    write_notebook(root, sim)
    picture = root / "sunset-fox.jpg"
    picture.write_bytes(sample_jpeg(0, (1280, 960)))
    tiny = root / "thumbnail.jpg"
    tiny.write_bytes(sample_jpeg(2, (200, 200)))
    phone_photo = root / "phone-photo.jpg"  # over the 10 MB cap: must arrive, and be re-encoded under it
    Image.effect_noise((3000, 2400), 90).convert("RGB").save(phone_photo, "JPEG", quality=100)
    assert phone_photo.stat().st_size > 10_000_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # kept: other modules' screenshots live here too (a11y-*)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1500}, accept_downloads=True)
        refused = only_the_server(context, urlsplit(url).netloc)  # as on Binder or a JupyterHub
        page = context.new_page()
        try:
            open_notebook(page, url)
            run_cell(page, 0)
            upload = page.locator(".jp-OutputArea .widget-upload")
            upload.wait_for(timeout=60_000)
            button = page.get_by_role("button", name="Generate video")
            expect(button).to_be_disabled()
            expect(page.get_by_text("add 1 to 4 reference images")).to_be_visible()

            with page.expect_file_chooser() as chooser:
                upload.click()
            chooser.value.set_files([str(picture), str(phone_photo)])
            expect(page.locator(".kw-card .kw-thumb")).to_have_count(2, timeout=60_000)
            expect(page.get_by_text(re.compile(r"re-encoded 1\d\.\d MB → \d\.\d MB"))).to_be_visible()
            page.get_by_title("Remove image 2").click()
            expect(page.locator(".kw-card .kw-thumb")).to_have_count(1, timeout=10_000)
            page.locator(".kw-card .kw-thumb").first.click()  # a larger preview, and back
            expect(page.locator(".kw-lightbox").first).to_be_visible(timeout=5_000)
            page.screenshot(path=str(ARTIFACTS / "1-preview.png"))
            page.locator(".kw-lightbox").first.click(position={"x": 10, "y": 10})
            expect(page.locator(".kw-lightbox").first).to_be_hidden(timeout=5_000)
            page.locator("textarea[placeholder^='Describe the video']").fill(
                "The fox walks toward the sunset, slow dolly-in"
            )
            page.get_by_role("button", name="10 s").click()
            page.get_by_role("button", name="9:16").click()
            expect(button).to_be_enabled(timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "1-form-filled.png"), full_page=True)

            button.dblclick()  # a double click is one task
            expect(page.locator(".kw-task")).to_have_count(1, timeout=30_000)
            expect(page.locator(".kw-task").first).to_be_in_viewport(timeout=10_000)  # brought into view
            page.screenshot(path=str(ARTIFACTS / "2-task-running.png"), full_page=True)

            run_cell(page, 1)  # the kernel is free while the task runs
            expect(page.get_by_text("kernel is free: 42")).to_be_visible(timeout=20_000)
            assert sim.task_status(sim.created[0]["task_id"]) != "succeed"  # the other cell ran mid-task

            video = page.locator(".kw-task video")
            expect(video).to_have_count(1, timeout=60_000)
            page.wait_for_function(
                "() => { const v = document.querySelector('.kw-task video'); return v && v.readyState >= 1 }",
                timeout=30_000,
            )
            expect_video_plays_and_saves(page)  # the simulator is on the kernel's loopback: via the kernel
            link = page.locator(".kw-task .kw-player-download").first
            style = link.evaluate("(a) => [getComputedStyle(a).textDecorationLine, getComputedStyle(a).color]")
            assert style[0] == "underline" and style[1] != "rgba(0, 0, 0, 0.87)", style  # reads as a link
            assert not [u for u in refused if f"127.0.0.1:{sim.port}" in u]  # never asked of the browser
            duration = page.evaluate("() => document.querySelector('.kw-task video').duration")
            page.screenshot(path=str(ARTIFACTS / "3-video.png"), full_page=True)
            page.locator(".kw-task").first.screenshot(path=str(ARTIFACTS / "4-task-card.png"))

            # A refused picture says why next to the picker; a failed task says why in its card.
            with page.expect_file_chooser() as chooser:
                upload.click()
            chooser.value.set_files(str(tiny))
            expect(page.get_by_text("too small: 200×200, each side must be at least 300 px")).to_be_visible(
                timeout=20_000
            )
            page.locator("textarea[placeholder^='Describe the video']").fill("This one is meant to [fail]")
            expect(button).to_be_enabled(timeout=10_000)
            button.click()
            expect(page.get_by_text("The service could not make this video")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "5-refused-and-failed.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert sim.creates == 2  # one per click: the double click made one task
    body = sim.created[0]["body"]
    assert body["duration"] == "10" and body["aspect_ratio"] == "9:16" and body["prompt"].startswith("The fox")
    assert abs(duration - 10) < 0.5


def test_the_pickers_thumbnails_show_the_whole_picture_and_the_bars_pad_added(
    lab: tuple[str, Path, Simulator],
) -> None:
    """A padded panorama's thumbnail is the whole picture letterboxed on the tile colour, not a square cut
    from its middle (which looks exactly like the picture before Pad added its bars)."""
    from playwright.sync_api import expect, sync_playwright

    url, root, _ = lab
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from kling_widgets import ImagePicker\n"
            "from kling_widgets.simulator.samples import sample_image\n"
            "picker = ImagePicker()\n"
            "picker.add(sample_image(1, (4000, 1200)), fit='pad')\n"
            "picker.add(sample_image(0, (1024, 768)))\n"
            "picker.add(sample_image(2, (500, 1600)), fit='pad')\n"
            "picker"
        )
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "picker.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 900, "height": 700}).new_page()
        try:
            open_notebook(page, url.replace("/demo.ipynb", "/picker.ipynb"))
            run_cell(page, 0)
            thumbs = page.locator(".kw-card .kw-thumb")
            expect(thumbs).to_have_count(3, timeout=60_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.kw-card .kw-thumb')].every(i => i.complete && i.naturalWidth)"
            )
            shown = thumbs.evaluate_all(
                "(imgs) => imgs.map(i => [getComputedStyle(i).objectFit, i.naturalWidth / i.naturalHeight,"
                " i.clientWidth, i.clientHeight])"
            )
            # The whole picture, scaled into the 128 px square: 2048×820 and 640×1600 are 2.5:1 and 1:2.5.
            assert [fit for fit, *_ in shown] == ["contain"] * 3, shown
            assert abs(shown[0][1] - 2.5) < 0.1 and abs(shown[2][1] - 0.4) < 0.05, shown
            assert all(width == height == 128 for *_, width, height in shown), shown
            page.locator(".kw-part").first.screenshot(path=str(ARTIFACTS / "picker-padded.png"))
        finally:
            browser.close()
