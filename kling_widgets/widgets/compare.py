"""Takes side by side, played in step; and the film, clips one after another.

Comparing takes of one shot (or the runs of a sweep) means watching the same moment of each: one play
button starts every video from the same time, one slider seeks them all, and while they play the
followers are nudged back onto the leader's clock (a slightly faster or slower rate for a small drift,
a seek for a large one), because separate ``<video>`` elements drift apart as they buffer. That has to
run in the browser, so both players are small anywidgets (front/compare.js, front/film.js) driving the
``<video>`` elements. The kernel only says what to show (``sources``) and hears which take was picked.

A source is a dict: ``label``, then either ``url`` (a link the browser loads itself) or ``key`` (a video
the browser cannot reach — a simulator on the kernel's loopback seen from a remote browser, a file on
the kernel's disk: the page asks for it with ``{"kind": "want", "key"}`` and the kernel answers once with
``{"kind": "video", "key"}`` and the MP4's bytes as a binary message, played from a blob URL — the same
exchange as the VideoPlayer's; the bytes never enter widget state, so a saved notebook does not grow
with them), or neither with ``note`` saying why there is no video yet ("Generating · 40%", "Failed: …").
anywidget is imported when the first player is made, not with the package.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..images import is_url
from ..playback import video_source
from ..task import Task, TaskStatus
from ._front import front_file, front_text

if TYPE_CHECKING:
    from ..client import KlingClient

Loader = Callable[[], bytes]


def _serve_videos(widget: Any) -> None:
    """Answer the page's ``want`` messages: read the video off the kernel's thread, send its bytes once."""

    def on_msg(_: Any, content: Any, buffers: list[Any]) -> None:
        if not (isinstance(content, dict) and content.get("kind") == "want"):
            return
        key = str(content.get("key"))
        loader = widget.loaders.get(key)

        def send() -> None:
            try:
                if loader is None:
                    raise KeyError("this player does not know that video")
                widget.send({"kind": "video", "key": key, "mime": "video/mp4"}, buffers=[loader()])
            except Exception as error:  # said on the tile; the others still play
                widget.send({"kind": "video", "key": key, "error": f"No longer available: {error}"})

        threading.Thread(target=send, name="kling-video-send", daemon=True).start()

    widget.on_msg(on_msg)


@functools.cache
def _classes() -> tuple[type, type]:
    import anywidget
    import traitlets

    class TakeComparison(anywidget.AnyWidget):
        """Videos side by side with one play button and one slider; ``picked`` is the take chosen in the
        page (-1: none), when ``pickable``."""

        _esm = front_text("media.js", "compare.js")
        _css = front_file("compare.css")
        sources = traitlets.List(traitlets.Dict(), help="What each tile shows: label, url or key, note.").tag(sync=True)
        picked = traitlets.Int(-1, help="The index of the picked take, -1 for none.").tag(sync=True)
        pickable = traitlets.Bool(False, help="Show a pick button under each video.").tag(sync=True)
        width = traitlets.Int(300, help="Width of each tile, in px.").tag(sync=True)

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.loaders: dict[str, Loader] = {}  #: key -> the bytes of a video sent through the kernel
            _serve_videos(self)

        def __repr__(self) -> str:
            return f"TakeComparison({len(self.sources)} takes, picked={self.picked})"

    class FilmPlayer(anywidget.AnyWidget):
        """One video element that plays ``sources`` one after another; ``play_count`` += 1 plays it from
        the start (the page's own button does the same)."""

        _esm = front_text("media.js", "film.js")
        _css = front_file("compare.css")
        sources = traitlets.List(traitlets.Dict(), help="The clips in order: label, url or key.").tag(sync=True)
        play_count = traitlets.Int(0, help="Raise it to play the film from the start.").tag(sync=True)
        width = traitlets.Int(640, help="Width of the player, in px.").tag(sync=True)

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.loaders: dict[str, Loader] = {}
            _serve_videos(self)

        def __repr__(self) -> str:
            return f"FilmPlayer({len(self.sources)} clips)"

    return TakeComparison, FilmPlayer


def take_comparison(**kwargs: Any) -> Any:
    """A new ``TakeComparison`` (front/compare.js)."""
    return _classes()[0](**kwargs)


def film_player(**kwargs: Any) -> Any:
    """A new ``FilmPlayer``."""
    return _classes()[1](**kwargs)


def tile_width(aspect_ratio: str | None) -> int:
    """Tiles of one row: landscape wide, portrait narrow, so two or three fit a notebook's width."""
    return {"16:9": 300, "9:16": 170, "1:1": 230}.get(aspect_ratio or "", 300)


def task_source(
    task: Task | None,
    label: str,
    *,
    title: str = "",
    waiting: str = "Not sent yet",
    through_kernel: bool | None = None,
    client: KlingClient | None = None,
) -> dict[str, Any]:
    """What a tile shows for ``task``: its video once it succeeded — its link, or its task id as the key
    the page asks the kernel for (``through_kernel``; by default as :func:`~kling_widgets.playback.
    video_source` decides for ``client``: the simulator's videos go through the kernel) —, else its
    state in words. Only http(s) links are put in the page (never a javascript: or data: link)."""
    source: dict[str, Any] = {"label": label, "title": title or label}
    if task is None:
        return {**source, "note": waiting, "kind": "pending"}
    if task.status is TaskStatus.SUCCEEDED and is_url(task.video_url or ""):
        duration = f"{task.video_duration:g} s" if task.video_duration else ""
        if through_kernel is None:
            through_kernel = video_source(task.video_url or "", client).through_kernel
        where = {"key": task.id} if through_kernel else {"url": task.video_url}
        return {**source, **where, "note": duration, "kind": "succeeded"}
    if task.status is TaskStatus.FAILED:
        return {**source, "note": f"Failed: {task.error or 'no reason given'}", "kind": "failed"}
    if task.status is TaskStatus.SUCCEEDED:
        return {**source, "note": "Done, but no video link (yet)", "kind": "pending"}
    progress = f" · {task.progress:.0f}%" if task.progress is not None else ""
    words = "Generating" if task.status is TaskStatus.PROCESSING else "Queued at the service"
    return {**source, "note": words + progress, "kind": "pending"}
