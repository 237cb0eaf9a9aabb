"""The key stays out of everything a person may share: log records made where urllib3 makes them,
verbose tracebacks of failed requests, and a journal others on the machine could read."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from kling_widgets import KlingClient, TaskHistory, VideoRequest
from kling_widgets.errors import KlingError
from kling_widgets.simulator import Simulator

from .conftest import free_port

SECRET = "sk-live-0123456789abcdef-very-secret"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_the_log_filter_sits_where_urllib3_logs(photo: bytes) -> None:
    with Simulator(api_key=SECRET, processing_seconds=0.1) as sim:
        client = KlingClient(SECRET, base_url=sim.url)
        records = Records()
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(records)
        root.setLevel(logging.DEBUG)
        try:
            client.create_task(VideoRequest([photo], "a fox"))
            for name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests"):
                logging.getLogger(name).debug("sending Authorization: Bearer %s with %s", SECRET, SECRET)
        finally:
            root.removeHandler(records)
            root.setLevel(old_level)
    assert any("HTTP/1.1" in line for line in records.lines)  # urllib3 logged the request line itself
    assert len([line for line in records.lines if "sending Authorization" in line]) == 4
    assert not [line for line in records.lines if SECRET in line]


@pytest.mark.parametrize("how", ["refused", "unauthorized", "cut"])
def test_the_key_is_not_in_a_verbose_traceback(photo: bytes, how: str) -> None:
    from IPython.core.ultratb import VerboseTB

    with Simulator(api_key="other-key" if how == "unauthorized" else SECRET) as sim:
        url = f"http://127.0.0.1:{free_port()}" if how == "refused" else sim.url
        if how == "cut":
            sim.inject(method="GET", cut=True, times=None)
        client = KlingClient(SECRET, base_url=url, max_retries=0)
        with pytest.raises(KlingError) as caught:
            client.get_task("860260753860210752")
    text = VerboseTB(theme_name="nocolor").text(caught.type, caught.value, caught.tb)
    assert "Authorization" in text or "headers" in text  # the frames with the header were shown …
    assert SECRET not in text  # … without the key


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_journal_and_its_folder_are_private(tmp_path: Path, photo: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "umask", os.umask)  # restored whatever happens
    previous = os.umask(0o022)
    try:
        folder = tmp_path / "fresh" / "journal"
        history = TaskHistory(folder / "history.jsonl")
        with Simulator(processing_seconds=0.1) as sim:
            KlingClient(sim.api_key, base_url=sim.url, history=history).create_task(VideoRequest([photo], "a fox"))
        assert stat.S_IMODE(history.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        monkeypatch.setenv("KLING_WIDGETS_HOME", str(tmp_path / "home"))
        (tmp_path / "home").mkdir(mode=0o755)
        default = TaskHistory()
        default._append({"external_task_id": "x", "event": "submit"})
        assert stat.S_IMODE(default.path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(default.path.stat().st_mode) == 0o600
    finally:
        os.umask(previous)
