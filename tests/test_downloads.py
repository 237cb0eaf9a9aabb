"""Saving videos: only a video, never a partial file, never over an existing one, never with the key,
never from https down to http; the user's CA bundle and proxy honoured."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kling_widgets import KlingClient, Task, TaskStatus, VideoRequest
from kling_widgets.download import DownloadError
from kling_widgets.errors import APIConnectionError
from kling_widgets.simulator import Simulator

from .conftest import serving


def finished(sim: Simulator, photo: bytes, **client_kwargs: Any) -> tuple[KlingClient, Task]:
    client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05, **client_kwargs)
    task = client.wait(client.create_task(VideoRequest([photo], "a fox runs")), timeout=20)
    assert task.status is TaskStatus.SUCCEEDED and task.video_url
    return client, task


@pytest.mark.parametrize("answer", ["html", "json"])
def test_an_answer_that_is_not_a_video_is_refused_and_leaves_no_file(photo: bytes, tmp_path: Path, answer: str) -> None:
    with Simulator(processing_seconds=0.2, video_answer=answer) as sim:
        client, task = finished(sim, photo)
        with pytest.raises(DownloadError, match="not a video"):
            client.download(task, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_size_cap_and_deadline_leave_no_file(photo: bytes, tmp_path: Path) -> None:
    with Simulator(processing_seconds=0.2) as sim:
        client, task = finished(sim, photo)
        with pytest.raises(DownloadError, match="cap"):
            client.download(task, tmp_path, max_bytes=1000)
        with pytest.raises(DownloadError, match="longer than"):
            client.download(task, tmp_path, deadline=0.0)
        assert list(tmp_path.iterdir()) == []
        assert client.download(task, tmp_path).read_bytes()[4:8] == b"ftyp"


def test_never_overwrites_an_existing_file_silently(photo: bytes, tmp_path: Path) -> None:
    with Simulator(processing_seconds=0.2) as sim:
        client, task = finished(sim, photo)
        mine = tmp_path / "mine.mp4"
        mine.write_bytes(b"my own film")
        with pytest.raises(DownloadError, match="exists"):
            client.download(task, mine)
        assert mine.read_bytes() == b"my own film"
        assert client.download(task, mine, overwrite=True) == mine and mine.read_bytes()[4:8] == b"ftyp"
        first, second = client.download(task, tmp_path), client.download(task, tmp_path)
        assert first.name == f"kling-{task.id}.mp4" and second.name == f"kling-{task.id} (2).mp4"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    yield (str(cert_file), str(key_file)), ca_file


def test_https_with_the_users_ca_bundle_and_no_downgrade_to_http(
    photo: bytes, tmp_path: Path, authority: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls, ca_file = authority
    out = tmp_path / "out"
    out.mkdir()
    with Simulator(processing_seconds=0.2) as plain, Simulator(processing_seconds=0.2, tls=tls) as secure:
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        with pytest.raises(APIConnectionError, match="REQUESTS_CA_BUNDLE") as caught:  # our CA is unknown
            KlingClient(secure.api_key, base_url=secure.url, max_retries=0).get_task("1")
        assert not caught.value.reached
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
        client, task = finished(secure, photo)  # the API session takes the bundle from the environment
        assert client.download(task, out).read_bytes()[4:8] == b"ftyp"  # the video session honours it too
        secure.redirect_videos, secure.video_redirect_to = True, plain.url
        _, task = finished(secure, photo)
        with pytest.raises(DownloadError, match="https to plain http"):
            client.download(task, out)
        assert all(not r.authorized for r in secure.video_requests + plain.video_requests)
    assert len(list(out.iterdir())) == 1


class _Proxy(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, bool]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, bool(self.headers.get("Authorization"))))
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_users_proxy_is_honoured_without_credentials(
    photo: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(_Proxy) as proxy:
        with Simulator(processing_seconds=0.2) as sim:
            client, task = finished(sim, photo)
            for name in ("NO_PROXY", "no_proxy"):
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setenv("HTTP_PROXY", proxy)
            with pytest.raises(DownloadError, match="502"):
                client.download(task, tmp_path)
        assert _Proxy.seen and _Proxy.seen[-1] == (task.video_url, False)  # asked through the proxy, no key
