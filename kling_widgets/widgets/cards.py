"""The cards of a BatchView page: a fixed pool of places, each showing whichever request the page puts
there, rebound rather than rebuilt when the page turns.

A card is some thirty widget models (its parts, their layouts and styles) that the browser must create,
draw and keep: one per request made a sweep of 300 weigh 9,600 models and 8 MB of state. A page of
twelve places, each reused, keeps what the page holds to what is on screen, and turning a page sends a
few trait changes instead of closing and opening hundreds of models. A card's player is made when it
first shows a finished video, and then plays the video of each request the card shows after (a new
player costs the kernel milliseconds and the page a view to build).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..task import Task
from ._publish import detach
from ._style import _SHARED
from .status import TaskView


def close_tree(widget: widgets.Widget | None) -> None:
    """Close ``widget`` and everything under it (see :func:`close_parts`).

    Parameters
    ----------
    widget
        The widget to close, or None (nothing is done).
    """
    if widget is not None and widget.comm is not None:
        close_parts(widget)
        widget.close()


def close_parts(widget: widgets.Widget) -> None:
    """Close everything ``widget`` holds (children, layout, style) and so on down, but not ``widget``
    itself and not the widgets shared by every part (the stylesheet): their models leave the kernel and
    the page (ipywidgets closes none of them when their holder closes).

    Parameters
    ----------
    widget
        The widget whose parts are closed.
    """
    keep = {id(w) for w in _SHARED.values()}
    stack: list[Any] = []
    for name in ("children", "layout", "style"):
        value = getattr(widget, name, None)
        stack.extend(value if isinstance(value, (tuple, list)) else [value])
    while stack:
        current = stack.pop()
        if not isinstance(current, widgets.Widget) or id(current) in keep or current.comm is None:
            continue
        for name in ("children", "layout", "style"):
            value = getattr(current, name, None)
            stack.extend(value if isinstance(value, (tuple, list)) else [value])
        current.close()


class BatchCard(TaskView):
    """A compact :class:`TaskView` that shows, in turn, the tasks of the requests its place on the page
    holds (:meth:`show`), with a "Compare" tick to choose its video for the side-by-side comparison."""

    @detach
    def __init__(self, task: Task, **kwargs: Any) -> None:
        self._spare: Any = None  # the player of a video shown before, kept for the next one
        super().__init__(task, compact=True, **kwargs)
        self.choose = widgets.Checkbox(
            False,
            description="Compare",
            indent=False,
            tooltip="Show this video in the side-by-side comparison (kept while you turn pages)",
            layout=widgets.Layout(width="auto", margin="0 8px 0 0"),
        )
        self._actions.children = (self.choose, *self._actions.children)

    def close(self) -> None:
        close_tree(self._spare)
        self._spare = None
        super().close()

    def __repr__(self) -> str:
        return f"BatchCard({self.task!r})"

    def show(self, task: Task, *, label: str, aspect_ratio: str | None, problem: str | None = None) -> None:
        """Show ``task``: the same task brought up to date, or another one in this place.

        Parameters
        ----------
        task
            The task to show.
        label
            What the request is, in a few words (its prompt and settings).
        aspect_ratio
            The request's ratio, which sizes the player.
        problem
            A problem watching the task, in words (None clears it).
        """
        if task.id != self.task.id:
            self._media.children = ()  # its player is kept for this place's next video (see _show_video)
            self._spare, self.player = self.player or self._spare, None
            self.label, self.aspect_ratio = label, aspect_ratio
            self._video_url = None
            self._saved.value = ""
            self._actions.layout.display = "none"
            self.download_button.disabled = False
        self.update(task, problem)

    @detach
    def _show_video(self, task: Task) -> None:
        if self.player is None:  # TaskView._show_video then gives the player this video
            self.player, self._spare = self._spare, None
        super()._show_video(task)
