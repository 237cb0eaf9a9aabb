"""TaskView: one task inline — status, progress, elapsed time, the service's words on failure, and on
success the video playing with a download action. TaskGallery: the views, newest first.

Views change only by setting widget traits, which is safe from the watcher's thread; nothing here
prints or writes into an Output widget from a thread (ipykernel 7 would drop or misplace it)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from .._listeners import Listeners
from ..embedded import EmbeddedVideo
from ..errors import KlingError
from ..images import is_url
from ..task import Task, TaskStatus, is_known_status
from ..words import charge_words
from ._publish import Published, detach
from ._style import esc, message_html, stylesheet

if TYPE_CHECKING:
    from ..client import KlingClient
    from .video import VideoPlayer

MAX_EMBEDDED = 12_000_000  # a video carried in a saved page; the simulator's are ~10-100 KB
_STATUS_WORDS = {
    TaskStatus.SUBMITTED: ("submitted", "Submitted — waiting in the queue"),
    TaskStatus.PROCESSING: ("processing", "Generating"),
    TaskStatus.SUCCEEDED: ("succeeded", "Done"),
    TaskStatus.FAILED: ("failed", "Failed"),
}


def elapsed_text(task: Task, now: datetime | None = None) -> str:
    """'took 41 s' once the task ended, '3 min 05 s elapsed' while it runs: ``Task.elapsed_seconds``, the
    service's own times, so a task reads the same here, in the history and after a restart."""
    elapsed = task.elapsed_seconds(now)
    if elapsed is None:
        return ""
    seconds = int(elapsed)
    text = f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"
    return f"took {text}" if task.done else f"{text} elapsed"


class TaskView(Published, widgets.VBox):
    """One task, kept current by :meth:`update` (the bundle's watcher calls it).

    Parameters
    ----------
    task : Task
        The task to show.
    client : KlingClient, optional
        Plays and downloads the video (without one, the card shows the link).
    label : str
        A heading for the card (in a batch, what sets it apart).
    compact : bool
        A smaller card, for a batch's grid.
    aspect_ratio : str, optional
        The video's frame, so the player keeps its shape before it loads.
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    task = traitlets.Instance(Task, help="The task as last seen.")
    problem = traitlets.Unicode("", help="A problem watching the task (network trouble, deadline), in words.")
    stopped = traitlets.Bool(False, help="True when the watch ended before the task did: 'Watch again' is offered.")

    @detach
    def __init__(
        self,
        task: Task,
        *,
        client: KlingClient | None = None,
        label: str = "",
        compact: bool = False,
        aspect_ratio: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.client, self.label, self.compact, self.aspect_ratio = client, label, compact, aspect_ratio
        self._header = widgets.HTML()
        # What a screen reader says as the task moves (status, progress, the reason of a failure), politely;
        # not the header itself, whose elapsed time changes at every poll (widgets/a11y.py, kw-live).
        self._spoken = widgets.HTML()
        self._spoken.add_class("kw-live")
        self._spoken.add_class("kw-sr-only")
        self.progress = widgets.FloatProgress(min=0, max=100, layout=widgets.Layout(width="100%", height="14px"))
        self._message = widgets.HTML()
        self._media = widgets.Box()
        self.download_button = widgets.Button(
            description="Save on the server",
            icon="server",
            tooltip="Save the MP4 on the machine that runs the kernel, next to this notebook",
            layout=widgets.Layout(width="auto"),
        )
        self._saved = widgets.HTML()
        self._actions = widgets.HBox(
            [self._saved, self.download_button],
            layout=widgets.Layout(display="none", align_items="center", flex_flow="row wrap"),
        )
        self.download_button.on_click(lambda _: self.save())
        self._video_url: str | None = None
        self.player: VideoPlayer | None = None
        self.watch_button = widgets.Button(
            description="Watch again", icon="eye", layout=widgets.Layout(width="auto", display="none")
        )
        self.watch_button.on_click(lambda _: self.watch_again())
        self._watchers: Listeners[Task] = Listeners("a watch-again callback")
        super().__init__(
            [
                stylesheet(),
                self._header,
                self._spoken,
                self.progress,
                self._message,
                self.watch_button,
                self._media,
                self._actions,
            ],
            **kwargs,
        )
        self.add_class("kw-task")
        if compact:  # a card in a grid (BatchView): narrower, the video smaller
            self.add_class("kw-task-compact")  # as wide as its column of the grid (style.css)
        self.observe(self._render, names=["task", "problem", "stopped"])
        self.observe(self._offer_watch, names=["stopped", "task"])
        self.task = task
        self._render()

    def on_watch_again(self, callback: Callable[[Task], object], *, remove: bool = False) -> None:
        """``callback(task)`` when "Watch again" is pressed on a card whose watch stopped.

        Parameters
        ----------
        callback : callable
            Called with the card's :class:`Task`.
        remove : bool
            Unregister ``callback`` instead.
        """
        self._watchers.register(callback, remove)
        self._offer_watch()

    def watch_again(self) -> None:
        """What "Watch again" does: follow the task again (the bundle or the batch that shows it)."""
        with self.hold_trait_notifications():
            self.stopped = False
            self.problem = "Watching again…"
        self._watchers(self.task)

    def _offer_watch(self, _: object = None) -> None:
        offered = self.stopped and bool(self._watchers) and not self.task.complete
        self.watch_button.layout.display = None if offered else "none"

    def __repr__(self) -> str:
        return f"TaskView({self.task!r})"

    def static_html(self) -> str:
        """The card as plain HTML, for a saved notebook or an exported page: a video no reader could load
        by its link (the simulator's, on the kernel's loopback) travels in the page itself.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        label = f"<div><b>{esc(self.label)}</b></div>" if self.label else ""
        player = self.player
        if player is not None and player.via_kernel:
            data = player.load()  # read by the kernel once; the player sends the same bytes to a live page
            if data is not None and len(data) <= MAX_EMBEDDED:
                return label + EmbeddedVideo(self.task, data)._repr_html_()
            if player.error:
                return label + self.task._repr_html_() + message_html(player.error, "warning")
        return label + self.task._repr_html_()

    def catch_up(self) -> None:
        """Ask the service once how the task is (the watcher may not have looked since it finished)."""
        if self.client is None or self.task.done:
            return
        with contextlib.suppress(KlingError):  # else the page shows the last state known
            self.update(self.client.get_task(self.task.id).with_external_id(self.task.external_task_id))

    def update(self, task: Task, problem: str | None = None) -> None:
        """Show a newer state of the task (and a watching problem, or clear it).

        Parameters
        ----------
        task : Task
            The newer state.
        problem : str, optional
            Why watching is stalled, in words.
        """
        unchanged = task == self.task and (problem or "") == self.problem
        with self.hold_trait_notifications():
            self.task = task
            self.problem = problem or ""
        if unchanged and not task.done:
            self._render()  # nothing new from the service, but the elapsed time moved on

    def save(self, path: str | Path | None = None) -> threading.Thread | None:
        """Download the video off the kernel's thread; the view says where it went.

        Parameters
        ----------
        path : str or Path, optional
            A file or folder, as for :meth:`KlingClient.download`.

        Returns
        -------
        threading.Thread or None
            The download's thread (None when there is nothing to save).
        """
        if self.client is None or not self.task.video_url:
            self._saved.value = message_html("No client to download with." if self.client is None else "", "warning")
            return None
        self.download_button.disabled = True
        self._saved.value = '<span class="kw-hint">Saving…</span>'

        def run() -> None:
            assert self.client is not None
            try:
                saved = self.client.download(self.task, path)
                self._saved.value = f'<span class="kw-ok">Saved to {esc(saved)}</span>'
            except Exception as error:  # shown to the person, who can try again
                self._saved.value = message_html(f"Download failed: {error}")
            finally:
                self.download_button.disabled = False

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _simulated(self) -> bool:
        """True when the client proves its service is the built-in simulator (asked once per client)."""
        return self.client is not None and self.client.is_simulator()

    def _render(self, _: object = None) -> None:
        task = self.task
        css, words = _STATUS_WORDS[task.status]
        if task.status is TaskStatus.PROCESSING and task.progress is not None:
            words = f"{words} · {task.progress:.0f}%"
        unusual = task.raw_status and not is_known_status(task.raw_status)
        raw = f" <span class='kw-hint'>(service says {esc(task.raw_status)!s})</span>" if unusual else ""
        label = f"<b>{esc(self.label)}</b> · " if self.label else ""
        ext = f" · <span class='kw-mono kw-nowrap'>{esc(task.external_task_id)}</span>" if task.external_task_id else ""
        # A simulated task never claims a charge: the simulator reports stand-in units (proven by the client).
        charge = charge_words(task.units, simulated=bool(task.units) and self._simulated())
        units = f" · {charge}" if charge else ""
        elapsed = "" if self.stopped and not task.done else elapsed_text(task)
        self._header.value = (
            f'<div>{label}<span class="kw-badge kw-badge-{css}">{esc(words)}</span>{raw} '
            f'<span class="kw-hint kw-nowrap">{esc(elapsed)}</span></div>'
            f'<div class="kw-hint">task <span class="kw-mono kw-nowrap">{esc(task.id)}</span>{ext}{esc(units)}</div>'
        )
        failure = f": {task.error}" if task.status is TaskStatus.FAILED and task.error else ""
        self._spoken.value = esc(f"{self.label or 'Task ' + task.id}: {words}{failure}")
        self.progress.value = _progress_value(task)
        self.progress.bar_style = {"succeeded": "success", "failed": "danger"}.get(task.status.value, "info")
        self.progress.layout.display = "none" if task.status is TaskStatus.SUCCEEDED else None
        playable = is_url(task.video_url or "")  # never a javascript: or data: link in the page
        if task.status is TaskStatus.FAILED:
            self._message.value = message_html(
                f"The service could not make this video: {task.error or 'no reason given'}"
            )
        else:
            missing = task.status is TaskStatus.SUCCEEDED and not playable and not self.problem
            problem = "Done, but the service gave no video link for it (yet)." if missing else self.problem
            self._message.value = message_html(problem, "warning")
        if task.status is TaskStatus.SUCCEEDED and playable and task.video_url != self._video_url:
            self._video_url = task.video_url
            self._show_video(task)

    @detach
    def _show_video(self, task: Task) -> None:
        """The player: the link where the browser can load it, else the bytes through the kernel (the
        simulator on the kernel's loopback, seen from a browser on another machine)."""
        from .video import VideoPlayer  # anywidget loads with the first video, not with the package

        assert task.video_url
        width, _ = _video_box(self.aspect_ratio, self.compact)
        if self.player is not None:  # another video here (a BatchView card showing another task): one player
            self.player.use(task.video_url, self.client, filename=f"kling-{task.id}.mp4", ratio=self.aspect_ratio or "")
            self.player.layout.width = width
        else:
            self.player = VideoPlayer.for_url(
                task.video_url,
                self.client,
                filename=f"kling-{task.id}.mp4",
                ratio=self.aspect_ratio or "",
                layout=widgets.Layout(width=width, max_width="100%"),
            )
        self._media.children = (self.player,)
        duration = f"{task.video_duration:g} s video · " if task.video_duration else ""
        kept = "" if self.player.via_kernel else "the service deletes it after 30 days"
        self._saved.value = f'<span class="kw-hint">{esc(duration + kept).strip(" ·")}</span>'
        self._actions.layout.display = None


def _video_box(aspect_ratio: str | None, compact: bool) -> tuple[str, str]:
    """A useful size for every ratio: landscape wide, portrait tall, square in between."""
    width, height = {"16:9": (560, 315), "9:16": (270, 480), "1:1": (400, 400)}.get(aspect_ratio or "", (560, 0))
    scale = min(1.0, 270 / width) if compact else 1.0  # a card in a grid is at most 270 px wide
    return f"{int(width * scale)}px", f"{int(height * scale)}px" if height else "auto"


def _progress_value(task: Task) -> float:
    if task.done:
        return 100.0
    if task.progress is not None:
        return max(3.0, task.progress)
    return 3.0 if task.status is TaskStatus.SUBMITTED else 50.0


class TaskGallery(widgets.VBox):
    """TaskViews (and BatchViews), newest first."""

    children: tuple[Any, ...]  # the Box trait, typed for the checker

    @detach
    def __init__(self, **kwargs: Any) -> None:
        self._views: dict[str, TaskView] = {}
        self._lock = threading.Lock()
        self._empty = widgets.HTML('<div class="kw-hint">No tasks yet. They appear here, newest first.</div>')
        super().__init__([self._empty], **kwargs)

    def __repr__(self) -> str:
        return f"TaskGallery({len(self._views)} tasks)"

    @property
    def views(self) -> list[TaskView]:
        """Newest first."""
        return [c for c in self.children if isinstance(c, TaskView)]

    def get(self, task_id: str) -> TaskView | None:
        return self._views.get(task_id)

    def add_widget(self, widget: widgets.Widget) -> widgets.Widget:
        """Show another kind of result (a BatchView) at the top."""
        with self._lock:
            others: list[Any] = [c for c in self.children if c is not widget and c is not self._empty]
            self.children = tuple([widget, *others])
        return widget

    def add(self, view: TaskView, *, newest: bool = True) -> TaskView:
        """Show ``view``; a task already shown keeps its view (which is returned)."""
        with self._lock:
            shown = self._views.get(view.task.id)
            if shown is not None and shown is not view:
                return shown
            self._views[view.task.id] = view
            others: list[Any] = [c for c in self.children if c is not view and c is not self._empty]
            self.children = tuple([view, *others] if newest else [*others, view])
        return view
