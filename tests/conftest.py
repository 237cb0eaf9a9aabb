"""Shared fixtures: real simulators on loopback, clients that never sleep through backoff, and an
environment with no credentials or journal of the developer's own leaking in."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import nbformat
import pytest
from PIL import Image

from kling_widgets import KlingClient, TaskHistory, VideoRequest
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # Beside the test's folder, not in it: the simulator keeps its videos there, and tests list tmp_path.
    monkeypatch.setenv("KLING_WIDGETS_HOME", str(tmp_path.with_name(tmp_path.name + "-home")))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(processing_seconds=0.6) as server:
        yield server


@pytest.fixture
def kling_sim() -> Iterator[Simulator]:
    with Simulator("kling", processing_seconds=0.6) as server:
        yield server


class Sleeps(list[float]):
    """Records every backoff the client asks for, without waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sim: Simulator, sleeps: Sleeps) -> KlingClient:
    return KlingClient(sim.api_key, base_url=sim.url, sleep=sleeps, poll_interval=0.05)


@pytest.fixture
def kling_client(kling_sim: Simulator, sleeps: Sleeps) -> KlingClient:
    return KlingClient(
        provider="kling",
        access_key=kling_sim.access_key,
        secret_key=kling_sim.secret_key,
        base_url=kling_sim.url,
        sleep=sleeps,
        poll_interval=0.05,
    )


@pytest.fixture
def history(tmp_path: Path) -> TaskHistory:
    return TaskHistory(tmp_path / "journal" / "history.jsonl")


@pytest.fixture
def photo() -> bytes:
    return sample_jpeg(0, (800, 600))


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def noise_jpeg(size: tuple[int, int] = (2000, 1500), quality: int = 95, seed: int = 0) -> bytes:
    """A photo-sized JPEG that barely compresses (random pixels): big bodies for upload tests."""
    import random

    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return encode(image, "JPEG", quality=quality)


@pytest.fixture(autouse=True)
def forget_watched_tasks() -> Iterator[None]:
    """The watcher is one per process: tasks a test left watched (against a simulator now stopped) must
    not spend the next test's request budget."""
    yield
    from kling_widgets.watcher import _ENGINE

    with _ENGINE.cond:
        _ENGINE.watched.clear()
        _ENGINE.paused_until.clear()


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (work happens on background threads), or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def sent_to_browser(player: Any) -> list[tuple[dict[str, Any], list[bytes]]]:
    """Ask a ``VideoPlayer`` as a view does ("want"), and collect what the kernel sends back on the widget
    channel (each message and its binary buffers)."""
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    player.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    player._on_message(player, {"kind": "want"}, [])
    wait_for(lambda: bool(sent) or bool(player.error))
    return sent


def widgets_alive() -> tuple[int, int]:
    """How many widget models the kernel holds now, and the bytes of their state as the front end would
    get it (JSON, binary buffers by their length): what a page must create, draw and keep."""
    from kling_widgets.widgets._state import models_weight

    return models_weight()


@pytest.fixture
def brisk_watcher() -> Iterator[None]:
    """The process's polling budget lifted for a test of hundreds of tasks against the simulator (the
    budget itself is measured in benchmarks/watching.py); put back afterwards."""
    from kling_widgets.watcher import _ENGINE, TaskWatcher

    before = _ENGINE.max_requests_per_second
    TaskWatcher.set_rate_limit(200)
    yield
    TaskWatcher.set_rate_limit(before)


def all_state(widget: widgets.Widget) -> str:
    """The synced state of a widget and every widget below it, as the front end would get it."""
    from kling_widgets.widgets._state import synced_json

    return synced_json(widget)


def fox(*images: Any, prompt: str = "a fox runs through snow", **kwargs: Any) -> VideoRequest:
    """The tests' usual request: these pictures, a short prompt, any option."""
    return VideoRequest(list(images), prompt, **kwargs)


@contextlib.contextmanager
def web_page_server(status: int = 200, seen: list[str] | None = None) -> Iterator[str]:
    """A server that answers every GET with a web page — a self-hosted gateway's console, a proxy's own
    error page — and notes each path asked in ``seen``. Yields its address."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if seen is not None:
                seen.append(self.path)
            page = b"<!doctype html><html><body>gateway console</body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Page) as address:
        yield address


@contextlib.contextmanager
def billed_gateway(api_key: str, **settings: Any) -> Iterator[tuple[str, Simulator]]:
    """A stand-in of the billed gateway at an address of its own: a front that passes the API's paths to
    a simulator behind it (which keeps the key ``api_key``) and answers the simulator's own ``/sim/about``
    as the gateway's front end does any path it does not route — a web page. Nothing proves it is the
    simulator, so a client treats it as a billed account. Yields its address and the simulator behind."""
    import requests

    with Simulator(api_key=api_key, **settings) as inner:

        class Front(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _pass(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path.startswith("/sim/about"):
                    status, kind, data = 200, "text/html", b"<!doctype html><html><body>gateway</body></html>"
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                    answer = requests.request(
                        self.command, inner.url + self.path, headers=headers, data=body, allow_redirects=False,
                        timeout=30,
                    )  # fmt: skip
                    status, kind, data = answer.status_code, answer.headers.get("Content-Type", ""), answer.content
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _pass

            def log_message(self, *args: Any) -> None:
                pass

        with serving(Front) as address:
            yield address, inner


# == Helpers several test files share (one copy of each; keep this block apart from the ones above) ======


# -- little HTTP servers of the tests' own ----------------------------------------------------------------
@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port, one thread a request, until the block ends; yields the
    address (``http://127.0.0.1:<port>``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A port nobody listens on now (pick it after starting a simulator: it takes one of its own)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the bundle --------------------------------------------------------------------------------------------
def fill(app: Any, photo: bytes, prompt: str = "a fox runs through snow") -> None:
    """Make a bundle's form valid as a person would: one picture and a prompt."""
    app.image_picker.add(photo)
    app.prompt_box.value = prompt


def most_running_at_once(sim: Simulator) -> int:
    """The most tasks the simulator had running at the same moment."""
    spans = [(t.created, t.created + sim.processing_seconds) for t in sim.state.tasks.values()]
    return max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)


# -- storyboards -------------------------------------------------------------------------------------------
COLOURS = [(200, 40, 40), (40, 160, 60), (40, 70, 200), (220, 180, 30)]


def character(number: int) -> bytes:
    """A drawn character (PNG): a coloured figure on its own background, different for each number."""
    from PIL import ImageDraw

    picture = Image.new("RGB", (480, 360), tuple(c // 3 for c in COLOURS[number]))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((190, 40, 290, 140), fill=COLOURS[number])  # the head
    draw.rectangle((200, 140, 280, 320), fill=COLOURS[number])  # the body
    return encode(picture, "PNG")


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two pictures, 0 (same) to 255."""
    from PIL import ImageChops, ImageStat

    if a.size != b.size:
        b = b.resize(a.size)
    return float(sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3)


@pytest.fixture
def story_sim() -> Iterator[Simulator]:
    """A simulator quick enough for storyboards of several shots and takes."""
    with Simulator(processing_seconds=0.3) as server:
        yield server


@pytest.fixture
def story_client(story_sim: Simulator) -> KlingClient:
    return KlingClient(story_sim.api_key, base_url=story_sim.url, poll_interval=0.05)


# -- notebooks ---------------------------------------------------------------------------------------------
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def notebook(*sources: str) -> nbformat.NotebookNode:
    """A notebook of code cells (``sources``, in order) for the python3 kernel."""
    made = nbformat.v4.new_notebook()
    made.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    made.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return made


def write_notebook(path: Path, *sources: str) -> Path:
    """Save ``notebook(*sources)`` at ``path``, for a Jupyter server to open."""
    nbformat.write(notebook(*sources), path)
    return path


def execute(made: nbformat.NotebookNode, folder: Path, **kwargs: object) -> nbformat.NotebookNode:
    """Run every cell with nbclient in ``folder`` (``kwargs``: nbclient's own options); returns it."""
    from nbclient import NotebookClient

    NotebookClient(
        made, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}, **kwargs
    ).execute()
    return made


def outputs(made: nbformat.NotebookNode, kind: str = "text/plain") -> str:
    """What the code cells showed: printed text and each output's ``kind`` (text/plain or text/html)."""
    return "\n".join(
        (str(out.get("text", "")) if kind == "text/plain" else "") + str(out.get("data", {}).get(kind, ""))
        for cell in made.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


# -- JupyterLab in headless Chromium (the harness itself is tests/_browser.py) -----------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Simulator]]:
    """One JupyterLab for a test module, serving a folder of its own, beside a simulator (slow enough
    to watch a task run). Yields the URL of ``demo.ipynb`` there (with the token), the folder and the
    simulator."""
    from ._browser import jupyter, need_chromium

    need_chromium()
    root = tmp_path_factory.mktemp("lab")
    # The simulator first: its port is taken before the server's is picked.
    with (
        Simulator(processing_seconds=4) as sim,
        jupyter(
            "lab", root, "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"
        ) as (base, token),
    ):
        yield f"{base}/lab/tree/demo.ipynb?token={token}", root, sim
