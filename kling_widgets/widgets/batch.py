"""BatchView: a batch at a glance — overall progress, the cost estimated before and charged after, and
every request as a compact card (a TaskView once its task exists), in a grid; once two videos are done,
"Compare side by side" shows them in one row played in step (a sweep is made to be compared). Usable
alone or in the bundle. It changes only by setting traits, from whatever thread the batch reports on."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets

from ..batch import Batch, BatchItem, estimate_units, tally
from ..playback import video_source
from ..request import VideoRequest
from ..words import units_words
from ._publish import Published, detach
from ._style import esc, request_label, shorten, stylesheet
from .compare import take_comparison, task_source, tile_width
from .status import TaskView

_PLACEHOLDER = {
    "queued": ("submitted", "Queued — waits for a free slot"),
    "sending": ("submitted", "Sending…"),
    "refused": ("failed", "Not created"),
    "unknown": ("unknown", "Outcome unknown"),
    "cancelled": ("unknown", "Cancelled — not sent"),
}


def _watch_again(batch: Batch, item: BatchItem, _: object) -> None:
    batch.watch_again(item)


def compare_labels(requests: list[VideoRequest]) -> list[str]:
    """Each compared video named by what sets it apart from the others — the settings the sweep varies,
    then the prompt if it varies too. A portrait tile shows two short lines: labels that all began with
    the same prompt ('The fox and the lighthouse keeper…' four times) hid the very thing compared."""
    settings: list[tuple[str, Callable[[Any], str]]] = [
        ("model_name", str),
        ("mode", str),  # as the cards below say it
        ("duration", lambda seconds: f"{seconds} s"),
        ("aspect_ratio", str),
    ]
    varying = [(name, words) for name, words in settings if len({getattr(r, name) for r in requests}) > 1]
    prompts_vary = len({r.prompt.strip() for r in requests}) > 1
    labels = []
    for request in requests:
        parts = [words(getattr(request, name)) for name, words in varying]
        if prompts_vary or not parts:
            parts.append(shorten(request.prompt.strip(), 60))
        labels.append(" · ".join(parts))
    return labels


class BatchView(Published, widgets.VBox):
    """``BatchView(batch)``: the whole batch; ``BatchView(batch, items=[...])``: some of its requests (the
    bundle shows each click's sweep as one).

    Parameters
    ----------
    batch : Batch
        The batch to show; the view follows its updates.
    items : list of BatchItem, optional
        Only these of its requests (default: all).
    title : str
        A heading shown before the summary.
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    summary = traitlets.Unicode("", help="The counts, the estimate and the units charged, in words.")

    @detach
    def __init__(self, batch: Batch, *, items: list[BatchItem] | None = None, title: str = "", **kwargs: Any) -> None:
        self.batch = batch
        self._items = items
        self._title = title
        self._lock = threading.Lock()
        # The sender's thread and the watcher's both report: one report at a time, so a late one never
        # leaves an older summary over a newer.
        self._report_lock = threading.Lock()
        self._cards: dict[int, widgets.Widget] = {}
        self._views: dict[int, TaskView] = {}
        self._estimated: tuple[int, float] = (-1, 0.0)
        self._seen: dict[int, tuple[object, ...]] = {}  # what each card shows, so unchanged ones send nothing
        self._header = widgets.HTML()
        self._header.add_class("kw-live")  # the counts are read out as they change (widgets/a11y.py)
        self.progress = widgets.FloatProgress(min=0, max=1, layout=widgets.Layout(width="100%", height="12px"))
        self._grid = widgets.Box(layout=widgets.Layout(display="flex", flex_flow="row wrap", margin="6px 0 0 0"))
        self.compare_toggle = widgets.ToggleButton(
            description="Compare side by side",
            icon="columns",
            tooltip="Every finished video in one row, played in step from the same moment",
            # its own width, not the card's: a full-width grey bar read as a header, not as a button
            layout=widgets.Layout(width="auto", display="none", margin="6px 0 0 0", align_self="flex-start"),
        )
        self.comparison: Any = None  #: the TakeComparison, made the first time it is shown
        self._compared: list[dict[str, Any]] = []
        self._loaders: dict[str, Any] = {}  # key -> the bytes of a compared video sent through the kernel
        self._compare_box = widgets.Box()
        super().__init__(
            [stylesheet(), self._header, self.progress, self.compare_toggle, self._compare_box, self._grid], **kwargs
        )
        self.add_class("kw-task")
        self.observe(self._show_summary, names="summary")
        self.compare_toggle.observe(self._on_compare_toggle, names="value")
        batch.on_update(self._on_batch)
        self._on_batch(batch)

    def __repr__(self) -> str:
        return f"BatchView({self.summary!r})"

    @property
    def items(self) -> list[BatchItem]:
        """The requests this view shows."""
        return list(self.batch.items) if self._items is None else list(self._items)

    @property
    def views(self) -> list[TaskView]:
        """The TaskView of every request that has a task, in request order."""
        with self._lock:
            return [self._views[i] for i in sorted(self._views)]

    def static_html(self) -> str:
        """The summary and every card (each task with its video) for a saved notebook or an exported page.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        with self._lock:
            cards = [self._cards[i.index] for i in self.items if i.index in self._cards]
        cells = "".join(
            '<div style="width:290px;border:1px solid #ddd;border-radius:8px;padding:6px 8px">'
            f"{card.static_html() if isinstance(card, TaskView) else card.value}</div>"
            for card in cards
        )
        title = f"<b>{esc(self._title)}</b> · " if self._title else ""
        return (
            f'<div class="kling-widgets-static" style="font-size:13px"><div>{title}{esc(self.summary)}</div>'
            f'<div style="display:flex;flex-wrap:wrap;gap:8px;margin-top:6px">{cells}</div></div>'
        )

    def catch_up(self) -> None:
        for view in self.views:
            view.catch_up()

    def close(self) -> None:
        self.batch.on_update(self._on_batch, remove=True)
        if self.comparison is not None:
            self.comparison.close()
        super().close()

    def _on_batch(self, batch: Batch) -> None:
        with self._report_lock:
            self._report(batch)

    def _report(self, batch: Batch) -> None:
        items = self.items
        counts = tally(items)
        counts["running"] += counts.pop("sending")
        counts["failed"] += counts.pop("cancelled")  # not made: shown with the failures
        if len(items) != self._estimated[0]:  # the requests only change when some are added
            self._estimated = (len(items), estimate_units((i.request for i in items), batch.rate_card))
        estimate = self._estimated[1]
        charged = sum(i.task.units or 0.0 for i in items if i.task is not None)
        done = counts["succeeded"] + counts["failed"]
        parts = [f"{len(items)} task{'s' if len(items) != 1 else ''}", f"{counts['succeeded']} done"]
        parts += [f"{counts[k]} {k}" for k in ("failed", "running", "queued") if counts[k]]
        money = f"about {units_words(estimate)} estimated"
        if charged:
            money += f" · {units_words(charged)} charged"
        held = " · waiting for a free slot (your account's limit)" if batch.holding and counts["queued"] else ""
        self._draw(items)  # the cards first: whoever reads "all done" in the summary finds them drawn
        self._update_comparison(items)
        self.summary = f"{' · '.join(parts)} · {money}{held}"
        self.progress.max = max(1, len(items))
        self.progress.value = done
        self.progress.bar_style = "success" if done == len(items) and not counts["failed"] else "info"

    def _show_summary(self, _: object = None) -> None:
        title = f"<b>{esc(self._title)}</b> · " if self._title else ""
        self._header.value = f'<div>{title}<span class="kw-hint">{esc(self.summary)}</span></div>'

    @detach
    def _draw(self, items: list[BatchItem]) -> None:
        changed = False
        with self._lock:
            for item in items:
                task = item.task
                seen = (
                    item.state,
                    item.error,
                    task and (task.id, task.status, task.progress, task.video_url, task.units),
                )
                if self._seen.get(item.index) == seen:
                    continue  # 200 cards, one changed: only that one is redrawn (and sent to the front end)
                self._seen[item.index] = seen
                view = self._views.get(item.index)
                if item.task is not None:
                    if view is None:
                        view = TaskView(
                            item.task,
                            client=self.batch.client,
                            label=request_label(item.request, 40),
                            compact=True,
                            aspect_ratio=item.request.aspect_ratio,
                        )
                        view.on_watch_again(functools.partial(_watch_again, self.batch, item))
                        self._views[item.index] = view
                        self._cards[item.index] = view
                        changed = True
                    else:
                        view.update(item.task, item.error if item.task.done and not item.task.video_url else None)
                    view.stopped = item.state == "done" and not item.task.complete  # offers "Watch again"
                else:
                    css, words = _PLACEHOLDER.get(item.state, ("unknown", item.state))
                    reason = f'<div class="kw-hint">{esc(item.error)}</div>' if item.error else ""
                    label = esc(request_label(item.request, 40))
                    badge = f'<span class="kw-badge kw-badge-{css}">{esc(words)}</span>'
                    html = f"<div><b>{label}</b></div>{badge}{reason}"
                    card = self._cards.get(item.index)
                    if isinstance(card, widgets.HTML):
                        card.value = html
                    else:
                        card = widgets.HTML(html, layout=widgets.Layout(width="290px"))
                        card.add_class("kw-task")
                        card.add_class("kw-task-compact")
                        self._cards[item.index] = card
                        changed = True
            if changed:
                self._grid.children = tuple(self._cards[i.index] for i in items if i.index in self._cards)

    def _update_comparison(self, items: list[BatchItem]) -> None:
        """The finished videos, for the side-by-side comparison (offered once there are two)."""
        client = self.batch.client
        done = [
            (i, task_source(i.task, "", title=request_label(i.request, 200), client=client))
            for i in items
            if i.task and i.task.done
        ]
        done = [(i, source) for i, source in done if "url" in source or "key" in source]
        labels = compare_labels([i.request for i, _ in done])
        self._compared = [{**source, "label": label} for (_, source), label in zip(done, labels, strict=True)]
        self._loaders = {  # the simulator's videos travel through the kernel (a browser elsewhere has no link)
            source["key"]: video_source(item.task.video_url or "", client).load
            for item, source in done
            if "key" in source and item.task is not None
        }
        if self.comparison is not None:
            self.comparison.loaders.update(self._loaders)
        self.compare_toggle.layout.display = None if len(self._compared) >= 2 else "none"
        if self.comparison is not None and self.comparison.sources != self._compared:
            self.comparison.sources = self._compared

    def _on_compare_toggle(self, change: dict[str, Any]) -> None:
        if change["new"] and self.comparison is None:
            ratio = self.items[0].request.aspect_ratio if self.items else None
            self.comparison = take_comparison(sources=self._compared, width=tile_width(ratio))
            self.comparison.loaders.update(self._loaders)
        self._compare_box.children = (self.comparison,) if change["new"] else ()
