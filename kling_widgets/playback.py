"""What the person's browser can load, and the bytes of what it cannot.

The kernel and the browser are often on different machines (Binder, a JupyterHub, Codespaces, a Voila app
visited from another computer): the browser then reaches the Jupyter server and nothing else on the kernel's
machine. The real service's video links are public HTTPS and stay links. Anything else — the built-in
simulator on the kernel's loopback, plain http, a private address — is fetched by the kernel and travels to
the browser through the widget channel (see ``widgets/video.py``).

The simulator keeps every video it made under the data directory (``_home.simulator_videos_dir``), so
an old simulator link (a stopped simulator, a new port after a restart) is read from there. No widgets here.
"""

from __future__ import annotations

import io
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._home import is_loopback, simulator_video_file
from .download import bare_session, fetch_bytes, looks_like_video
from .errors import KlingError

if TYPE_CHECKING:
    from .client import KlingClient

MAX_PLAYER_BYTES = 200_000_000  # through the kernel to a browser tab: more is a download, not a preview


class VideoUnavailable(KlingError):
    """The video cannot be loaded any more; ``str()`` says why, in words."""


@dataclass(frozen=True)
class VideoSource:
    """How a browser gets a video: ``url`` when it can load the link itself, else ``url`` is None and
    the kernel reads the bytes with ``load()`` (see :func:`video_source`)."""

    link: str
    url: str | None
    client: KlingClient | None = None

    @property
    def through_kernel(self) -> bool:
        return self.url is None

    def load(self, max_bytes: int = MAX_PLAYER_BYTES) -> bytes:
        """The video's bytes, read by the kernel. Raises :class:`VideoUnavailable`."""
        return video_bytes(self.link, self.client, max_bytes=max_bytes)


def browser_can_load(url: str) -> bool:
    """True for a public HTTPS link (the real service's videos): a browser anywhere loads it. Loopback,
    private and link-local addresses, bare host names and plain http are not assumed reachable."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or is_loopback(host) or host.endswith(".local"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host  # a public name; a bare name ("gateway") is a machine of the kernel's network
    return address.is_global


def video_source(url: str, client: KlingClient | None = None) -> VideoSource:
    """Decide how the browser gets ``url``: the link itself when it can load it and it is not the
    built-in simulator's (proven by ``client.is_simulator()``, never guessed), else through the kernel."""
    if browser_can_load(url) and not (client is not None and client.is_simulator()):
        return VideoSource(url, url, client)
    return VideoSource(url, None, client)


def video_bytes(url: str, client: KlingClient | None = None, *, max_bytes: int = MAX_PLAYER_BYTES) -> bytes:
    """The video at ``url`` read by the kernel: the simulator's kept file when there is one (it outlives
    the simulator), else fetched with no credentials. Raises :class:`VideoUnavailable` in words."""
    kept = simulator_video_file(url)
    if kept is not None and kept.is_file():
        data = kept.read_bytes()
        if looks_like_video(data[:64]):
            return data
    session = client._video_session if client is not None else bare_session()
    try:
        return fetch_bytes(session, url, max_bytes=max_bytes, read_timeout=client.timeout if client else 30.0)
    except KlingError as error:
        if kept is not None:
            raise VideoUnavailable(
                f"no longer available: the simulator that made it has stopped and did not keep it ({kept.name})"
            ) from None
        raise VideoUnavailable(f"no longer available: {error}") from None
    finally:
        if client is None:
            session.close()


def poster_jpeg(video: bytes, *, width: int = 320, at_seconds: float = 1.0) -> bytes | None:
    """A still of the video (about ``at_seconds`` in, scaled to ``width``) as a small JPEG, for a card
    that shows what the video is before it plays. None when PyAV is missing or the video cannot be read."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(io.BytesIO(video), mode="r") as container:
            stream = container.streams.video[0]
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= at_seconds:
                    break
            if chosen is None:
                return None
            image = chosen.to_image()  # type: ignore[no-untyped-call]
    except (av.FFmpegError, IndexError, ValueError):
        return None
    height = max(1, round(image.height * width / image.width))
    out = io.BytesIO()
    image.convert("RGB").resize((width, height)).save(out, "JPEG", quality=72)
    return out.getvalue()
