"""VideoPlayer: a video that plays wherever the browser is, with a download that saves the file.

A link the browser can load itself (the real service's public HTTPS) stays a link. Anything else — the
built-in simulator on the kernel's loopback, a file on the kernel's disk, bytes in memory — travels
through the widget channel: the browser asks, the kernel sends the bytes once as a binary message, and a
few lines of JavaScript turn them into a blob URL for the ``<video>`` and the "Download MP4" link. The
bytes never enter widget state, so a saved notebook or an exported page does not grow with them.
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
from ._publish import detach

if TYPE_CHECKING:
    from ..client import KlingClient

log = logging.getLogger("kling_widgets")
Loader = Callable[[], bytes]

ESM = r"""
function render({ model, el }) {
  el.classList.add("kw-player");
  const frame = document.createElement("div");
  frame.className = "kw-player-frame";
  const video = document.createElement("video");
  video.controls = true;
  video.playsInline = true;
  video.preload = "metadata";
  const start = document.createElement("button");
  start.className = "kw-player-start";
  start.type = "button";
  start.textContent = "▶";
  start.setAttribute("aria-label", "Play the video");
  frame.append(video, start);
  const gone = document.createElement("div");
  gone.className = "kw-player-gone";
  gone.setAttribute("role", "status");
  const links = document.createElement("div");
  links.className = "kw-player-links";
  const save = document.createElement("a");
  save.textContent = "Download MP4";
  save.className = "kw-player-download";
  links.append(save);
  el.append(frame, gone, links);

  let blob = null;       // this view's blob URL, once the kernel sent the bytes
  let waiting = [];      // who waits for them
  let asked = false;
  const want = () => new Promise((resolve) => {
    if (blob) return resolve(blob);
    waiting.push(resolve);
    if (!asked) { asked = true; model.send({ kind: "want" }); }
  });
  let take = model.get("take");  // which video the bytes are for: a card reuses its player for another
  const onMessage = (message, buffers) => {
    if (!message || message.kind !== "video" || blob || !buffers || !buffers.length) return;
    if ((message.take || 0) !== take) return;  // the bytes of the video before
    blob = URL.createObjectURL(new Blob([buffers[0]], { type: message.mime || "video/mp4" }));
    const resolvers = waiting; waiting = [];
    resolvers.forEach((resolve) => resolve(blob));
  };
  model.on("msg:custom", onMessage);

  const useSource = (url) => { if (video.getAttribute("src") !== url) video.src = url; save.href = url; };
  const show = () => {
    if (model.get("take") !== take) {  // another video in this player: forget the last one's bytes
      take = model.get("take");
      if (blob) URL.revokeObjectURL(blob);
      blob = null; asked = false; waiting = [];
      video.removeAttribute("src"); video.load(); save.removeAttribute("href");
    }
    const error = model.get("error");
    const src = model.get("src");
    const viaKernel = model.get("via_kernel");
    frame.style.display = error ? "none" : "";
    links.style.display = error ? "none" : "";
    gone.style.display = error ? "" : "none";
    gone.textContent = error;
    video.poster = model.get("poster") || "";
    const ratio = (model.get("ratio") || "").split(":");
    frame.style.aspectRatio = ratio.length === 2 ? `${ratio[0]} / ${ratio[1]}` : "";
    save.download = model.get("filename") || "video.mp4";
    video.loop = model.get("loop");
    video.muted = model.get("muted");
    if (error) return;
    if (!viaKernel && src) {
      start.style.display = "none";
      useSource(src);
      save.target = "_blank";
      save.rel = "noopener";
    } else if (blob) {
      start.style.display = "none";
      video.preload = "auto";  // the whole video is here already: no spinner waiting for more
      useSource(blob);
    } else if (model.get("autoload")) {
      start.style.display = "none";
      want().then((url) => { video.preload = "auto"; useSource(url); });
    } else {
      start.style.display = "";
    }
  };
  start.addEventListener("click", () => {
    start.disabled = true;
    want().then((url) => { useSource(url); start.style.display = "none"; video.play().catch(() => {}); });
  });
  save.addEventListener("click", (event) => {
    if (save.getAttribute("href")) return;  // the browser saves it
    event.preventDefault();
    want().then((url) => { useSource(url); save.click(); });
  });
  video.addEventListener("error", () => {
    if (!video.getAttribute("src")) return;
    model.send({ kind: "error", code: (video.error && video.error.code) || 0 });
  });
  const onControl = (message) => {
    if (!message || message.kind !== "control") return;
    if (message.seek !== undefined && message.seek !== null) video.currentTime = message.seek;
    if (message.action === "play") want().then((url) => { useSource(url); video.play().catch(() => {}); });
    if (message.action === "pause") video.pause();
  };
  model.on("msg:custom", onControl);
  model.on("change", show);
  show();
  return () => {
    model.off("msg:custom", onMessage);
    model.off("msg:custom", onControl);
    model.off("change", show);
    if (blob) URL.revokeObjectURL(blob);
  };
}
export default { render };
"""

CSS = """
.kw-player { display: flex; flex-direction: column; gap: 4px; max-width: 100%; }
.kw-player-frame { position: relative; width: 100%; height: 100%; min-height: 0; }
.kw-player video { width: 100%; height: 100%; max-height: 480px; background: #111; border-radius: 4px;
  display: block; object-fit: contain; }
.kw-player-start { position: absolute; inset: 0; margin: auto; width: 56px; height: 56px; border-radius: 50%;
  border: none; background: rgba(0, 0, 0, 0.6); color: #fff; font-size: 22px; cursor: pointer; }
.kw-player-start:hover, .kw-player-start:focus-visible { background: rgba(0, 0, 0, 0.8);
  outline: 2px solid var(--jp-brand-color1, #1976d2); }
.kw-history .kw-player-frame, .kw-player-small .kw-player-frame { max-height: 180px; }
.kw-player-links { font-size: 12px; }
.kw-player .kw-player-links a { font-weight: 600; cursor: pointer; text-decoration: underline;
  text-underline-offset: 2px; color: var(--kw-accent, var(--jp-content-link-color, #1565c0)); }
.kw-player-gone { font-size: 12px; line-height: 1.4; padding: 10px; border-radius: 4px;
  color: var(--jp-ui-font-color1, #333); background: var(--jp-layout-color2, #f1f1f1);
  border: 1px dashed var(--jp-border-color1, #bbb); }
"""


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

    _esm = ESM
    _css = CSS
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
