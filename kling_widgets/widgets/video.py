"""VideoPlayer: a video that plays wherever the browser is, with a download that saves the file.

A link the browser can load itself (the real service's public HTTPS) stays a link. Anything else — the
built-in simulator on the kernel's loopback, a file on the kernel's disk, bytes in memory — travels
through the widget channel: the browser asks, the kernel sends the bytes once as a binary message, and a
few lines of JavaScript (front/video.js) turn them into a blob URL for the ``<video>`` and the "Download
MP4" link. The bytes never enter widget state, so a saved notebook or an exported page does not grow
with them.
A video that cannot load says so in words ("no longer available: …"), never a black player.

Works in JupyterLab, Notebook 7 and Voila (anywidget rides the standard widget channel).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..playback import VideoUnavailable, video_source
from ._front import front_file
from ._publish import detach

if TYPE_CHECKING:
    from ..client import KlingClient

log = logging.getLogger("kling_widgets")
Loader = Callable[[], bytes]


class VideoPlayer(anywidget.AnyWidget):
    """A ``<video>`` with a "Download MP4" link that plays in any front end, local or remote.

    ``VideoPlayer(src="https://…/v.mp4")``: a link the browser loads itself.
    ``VideoPlayer(data=mp4_bytes)``: bytes the kernel sends through the widget channel when a view asks.
    ``VideoPlayer(loader=read)``: ``read()`` is called (off the kernel's cell, once) the first time a view
    asks; a :class:`~kling_widgets.playback.VideoUnavailable` (or any error) shows as words in ``error``.
    ``VideoPlayer.for_url(url, client=None)``: the link itself when a browser anywhere can load it,
    otherwise read by the kernel (the simulator's videos, kept ones included) — the usual way in.

    ``poster`` (a small ``data:`` URL or a link) shows before it plays; ``autoload=False`` waits for a
    click on ▶ before any bytes travel (a page of history cards). ``play()``, ``pause()`` and
    ``seek(seconds)`` drive every view of it (takes played side by side in step). Size it with
    ``layout`` (width, height, max_height).

    Parameters
    ----------
    src : str
        A link the browser loads itself.
    data : bytes, optional
        The video's bytes, sent through the widget channel.
    loader : callable, optional
        Reads the bytes, once, the first time a view asks.
    **kwargs
        Initial values of the traits (``poster``, ``filename``, ``autoload``…) and ``layout``.
    """

    _esm = front_file("video.js")
    _css = front_file("video.css")
    src = traitlets.Unicode("", help="A link the browser loads itself (empty: the bytes come from the kernel).").tag(
        sync=True
    )
    via_kernel = traitlets.Bool(False, help="True when the browser asks the kernel for the bytes.").tag(sync=True)
    poster = traitlets.Unicode("", help="A still shown before it plays: a small data: URL or a link.").tag(sync=True)
    filename = traitlets.Unicode("video.mp4", help="The name Download MP4 saves under.").tag(sync=True)
    error = traitlets.Unicode("", help="Why the video cannot play, in words; the player then shows only this.").tag(
        sync=True
    )
    autoload = traitlets.Bool(True, help="Fetch the bytes when it shows (else at the first click of ▶).").tag(sync=True)
    ratio = traitlets.Unicode("", help='The frame\'s shape before the video loads, e.g. "16:9".').tag(sync=True)
    take = traitlets.Int(0, help="Counts the videos this player was given (see use): a view drops old bytes.").tag(
        sync=True
    )
    loop = traitlets.Bool(False, help="Start again at the end.").tag(sync=True)
    muted = traitlets.Bool(False, help="Play without sound.").tag(sync=True)

    @detach
    def __init__(
        self,
        src: str = "",
        *,
        data: bytes | None = None,
        loader: Loader | None = None,
        **kwargs: Any,
    ) -> None:
        self._data = data
        self._loader = loader
        self._load_lock = threading.Lock()
        via_kernel = not src and (data is not None or loader is not None)
        super().__init__(src=src, via_kernel=via_kernel, **kwargs)
        self.on_msg(self._on_message)

    @classmethod
    def for_url(cls, url: str, client: KlingClient | None = None, **kwargs: Any) -> VideoPlayer:
        """A player for a task's video link: decided by ``playback.video_source``.

        Parameters
        ----------
        url : str
            The task's video link.
        client : KlingClient, optional
            The client that made the task (proves a simulator's link).
        **kwargs
            As for :class:`VideoPlayer`.

        Returns
        -------
        VideoPlayer
            The link itself when any browser can load it, else bytes read by the kernel.
        """
        source = video_source(url, client)
        if source.url is not None:
            return cls(source.url, **kwargs)
        return cls(loader=source.load, **kwargs)

    def use(self, url: str, client: KlingClient | None = None, **traits: Any) -> None:
        """Play another video in this player, as :meth:`for_url` would: a card that shows one task after
        another keeps one player (a new anywidget model costs the kernel milliseconds and the page a
        view to build).

        Parameters
        ----------
        url
            The task's video link.
        client
            The client whose service made it (decides whether the bytes travel through the kernel).
        **traits
            Traits to set with it (``filename``, ``ratio``…).
        """
        source = video_source(url, client)
        with self._load_lock:  # a load of the video before finishes first, and is then forgotten
            self._data, self._loader = None, None if source.url is not None else source.load
        with self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)
            self.error = ""
            self.src = source.url or ""
            self.via_kernel = source.url is None
            self.take += 1

    def __repr__(self) -> str:
        where = self.src or ("bytes from the kernel" if self.via_kernel else "nothing")
        return f"VideoPlayer({where!r}{', error' if self.error else ''})"

    @property
    def data(self) -> bytes | None:
        """The bytes, once sent or read (None for a plain link, or before the first view asked)."""
        return self._data

    def load(self) -> bytes | None:
        """Read the bytes now (where they come from the kernel) — what a view's first request does.
        On failure ``error`` says why.

        Returns
        -------
        bytes or None
            The video, or None (a link the browser loads, or a failure).
        """
        with self._load_lock:
            if self._data is None and self._loader is not None and not self.error:
                try:
                    self._data = self._loader()
                except VideoUnavailable as problem:
                    self.error = str(problem)
                except Exception as problem:  # said in the player, where the person looks
                    log.warning("a video could not be read: %s", problem)
                    self.error = f"no longer available: {problem}"
            return self._data

    def set_poster(self, jpeg: bytes | None) -> None:
        """Show ``jpeg`` (a small still) before the video plays.

        Parameters
        ----------
        jpeg : bytes or None
            The still; None removes it.
        """
        self.poster = f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}" if jpeg else ""

    def play(self) -> None:
        """Play in every view of this player."""
        self.send({"kind": "control", "action": "play"})

    def pause(self) -> None:
        """Pause every view of this player."""
        self.send({"kind": "control", "action": "pause"})

    def seek(self, seconds: float) -> None:
        """Move every view of this player to one moment (takes compared in step).

        Parameters
        ----------
        seconds : float
            From the start of the video.
        """
        self.send({"kind": "control", "seek": float(seconds)})

    def _on_message(self, _: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        if content.get("kind") == "want" and self.via_kernel:
            threading.Thread(target=self._send_bytes, daemon=True).start()
        elif content.get("kind") == "error" and not self.error:
            where = self.src if self.src and not self.via_kernel else self.filename
            self.error = f"no longer available: the video does not load any more ({where})"

    def _send_bytes(self) -> None:
        take = self.take
        data = self.load()
        if data is not None and take == self.take:  # else another video came meanwhile: its view asks again
            self.send({"kind": "video", "mime": "video/mp4", **({"take": take} if take else {})}, [data])
