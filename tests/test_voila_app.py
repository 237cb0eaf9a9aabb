"""`make app` (the Voila page) starts without a warning of its own settings and still takes a message over
Tornado's 10 MiB default (a phone photo through the Upload button): a kernel_info_request carrying 12 MB
reaches the kernel through the page's websocket and is answered."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

from ._browser import ROOT, clean_env, stop
from .conftest import free_port

OVER_TORNADOS_DEFAULT = 12_000_000  # bytes: Tornado drops websocket messages over 10 MiB unless told


async def kernel_info(port: int, kernel: str, padding: int) -> str:
    """Send a kernel_info_request of about ``padding`` bytes on the kernel's websocket, as the page does;
    "answered" when its reply comes back, "closed" when the server drops the connection."""
    from tornado.websocket import WebSocketClosedError, websocket_connect

    url = f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?session_id={uuid.uuid4().hex}"
    socket = await websocket_connect(url, max_message_size=64 << 20)
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "kernel_info_request", "username": "test", "session": "test"}
    message = {
        "header": {**header, "version": "5.3", "date": ""},
        "parent_header": {},
        "metadata": {"padding": "x" * padding},
        "content": {},
        "channel": "shell",
        "buffers": [],
    }
    try:
        await socket.write_message(json.dumps(message))
        while True:
            answer = await asyncio.wait_for(socket.read_message(), 60)
            if answer is None:
                return "closed"
            reply = json.loads(answer) if isinstance(answer, str) else {}
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return "answered"
    except WebSocketClosedError:
        return "closed"
    finally:
        socket.close()


def test_make_app_starts_without_warnings_of_its_settings_and_takes_a_large_upload(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path, PORT=str(port))  # no key: the app runs against its own simulator
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(ROOT), "app"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline, page = time.monotonic() + 120, ""
        while not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=90) as answer:
                    page = answer.read().decode()
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "err.log").read_text()
                time.sleep(0.5)
        kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', page)
        assert kernel is not None
        assert asyncio.run(kernel_info(port, kernel.group(1), OVER_TORNADOS_DEFAULT)) == "answered"
    finally:
        stop(server)
    errors = (tmp_path / "err.log").read_text()
    assert "Voil" in errors  # Voila's own start lines: the log is the server's
    assert "tornado_settings" not in errors and "Deprecat" not in errors
