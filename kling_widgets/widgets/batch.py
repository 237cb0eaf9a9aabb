"""BatchView: a batch of any size at a glance — the counts by state and the overall progress, the cost
estimated before and charged after, and its requests a page at a time as compact cards (a TaskView once
its task exists), filtered by state (the failed ones, to send again); "Compare side by side" shows
chosen videos (or, with none chosen, the page's finished ones) in one row played in step (a sweep is
made to be compared). Usable alone or in the bundle.

What the page holds grows with what is on screen, not with the batch: a fixed pool of card places
(``cards.py``) shows whichever requests the page holds, and players are made when a card shows a
finished video. It changes only by setting traits, from whatever thread the batch reports on."""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import traitlets

from ..batch import Batch
from ..batch_item import BatchItem, ItemState, category, retryable, tally
from ..errors import KlingError
from ..playback import video_source
from ..pricing import estimate_units
from ..request import VideoRequest
from ..task import Task
from ..words import charge_words, units_words
from ._publish import Published, detach
from ._style import esc, message_html, request_label, shorten, stylesheet
from .cards import BatchCard, close_parts, close_tree
from .compare import take_comparison, task_source, tile_width
from .status import TaskView

# Twelve compact cards (columns of at least 260 px, style.css) make four rows of three in a notebook's width:
# a screenful or two. The page holds this many cards whatever the batch's size (see cards.py for what one
# card weighs).
PAGE_SIZE = 12
#: The filter's choices: (words, the states it shows — see kling_widgets.batch.category —, its tooltip)
FILTERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "all": ("All", (), "Every request"),
    "queued": ("Queued", ("queued",), "The requests waiting to be sent"),
    "running": ("Running", ("sending", "running"), "The requests being sent or made"),
    "succeeded": ("Done", ("succeeded",), "The requests whose video is made"),
    "failed": ("Failed", ("failed",), "The requests that failed, were refused, or whose outcome is unknown"),
    "cancelled": ("Cancelled", ("cancelled",), "The requests cancelled before they were sent"),
}

_PLACEHOLDER = {
    ItemState.QUEUED: ("submitted", "Queued — waits for a free slot"),
    ItemState.SENDING: ("submitted", "Sending…"),
    ItemState.REFUSED: ("failed", "Not created"),
    ItemState.UNKNOWN: ("unknown", "Outcome unknown"),
    ItemState.CANCELLED: ("unknown", "Cancelled — not sent"),
}


@dataclass
class _Place:
    """One place of the page: the request it shows, and the two widgets that can show it (a placeholder
    before its task exists, then a card), each made the first time it is needed and then reused."""

    item: BatchItem | None = None
    seen: tuple[object, ...] | None = None  # what it shows now, so that an unchanged place sends nothing
    placeholder: widgets.HTML | None = None
    card: BatchCard | None = None
    shown: widgets.Widget | None = None


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
    bundle shows each click's sweep as one). ``page_size`` cards are shown at a time.

    Parameters
    ----------
    batch : Batch
        The batch to show; the view follows its updates.
    items : list of BatchItem, optional
        Only these of its requests (default: all).
    title : str
        A heading shown before the summary.
    page_size : int
        How many cards a page holds (what the page keeps grows with this, not with the batch).
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    summary = traitlets.Unicode("", help="The counts, the estimate and the units charged, in words.")
    counts = traitlets.Dict(help="How many requests are queued, running, succeeded, failed and cancelled.")
    show = traitlets.Enum(tuple(FILTERS), "all", help="Which requests the pages hold: all, or those of one state.")
    page = traitlets.Int(0, help="The page shown, from 0 (kept within the pages there are).")
    pages = traitlets.Int(1, help="How many pages the requests shown make.")
    chosen = traitlets.List(traitlets.Int(), help="Requests (by index) chosen for the comparison, on any page.")

    @detach
    def __init__(
        self,
        batch: Batch,
        *,
        items: list[BatchItem] | None = None,
        title: str = "",
        page_size: int = PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        self.batch = batch
        self._items = items
        self._title = title
        self.page_size = max(1, page_size)
        # The sender's thread, the watcher's and the page's buttons all redraw: one at a time, so a late
        # report never leaves an older summary over a newer (re-entered when a trait it sets is observed).
        self._report_lock = threading.RLock()
        self._places = [_Place() for _ in range(self.page_size)]
        self._binding = False  # True while a card's "Compare" tick is set to what it shows
        self._estimated: tuple[tuple[int, ...], float] = ((), 0.0)
        self._header = widgets.HTML()
        self._header.add_class("kw-live")  # the counts are read out as they change (widgets/a11y.py)
        self.progress = widgets.FloatProgress(min=0, max=1, layout=widgets.Layout(width="100%", height="12px"))
        self.filter_buttons = widgets.ToggleButtons(
            options=[(words, key) for key, (words, _, _) in FILTERS.items()],
            value="all",
            tooltips=[tip for _, _, tip in FILTERS.values()],
            style=widgets.ToggleButtonsStyle(button_width="auto"),
            layout=widgets.Layout(display="none", margin="6px 0 0 0"),
        )
        self.retry_button = widgets.Button(
            description="Retry failed",
            icon="redo",
            tooltip="Send each failed request again as a new task (one whose outcome is unknown is never resent: "
            "it may exist)",
            layout=widgets.Layout(width="auto", display="none", margin="6px 0 0 0"),
        )
        self.compare_toggle = widgets.ToggleButton(
            description="Compare side by side",
            icon="columns",
            tooltip="The videos ticked “Compare” (with none ticked, this page's finished ones) in one row, played "
            "in step from the same moment",
            # its own width, not the card's: a full-width grey bar read as a header, not as a button
            layout=widgets.Layout(width="auto", display="none", margin="6px 0 0 0", align_self="flex-start"),
        )
        self._notice = widgets.HTML()
        self._tools = widgets.HBox(
            [self.compare_toggle, self.retry_button, self._notice],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="8px"),
        )
        self.comparison: Any = None  #: the TakeComparison, made the first time it is shown
        self._compared: list[dict[str, Any]] = []
        self._loaders: dict[str, Any] = {}  # key -> the bytes of a compared video sent through the kernel
        self._compare_box = widgets.Box()
        self._grid = widgets.Box(layout=widgets.Layout(margin="6px 0 0 0"))  # a grid: style.css
        self.previous_button = widgets.Button(description="Previous", icon="chevron-left", tooltip="The page before",
                                              layout=widgets.Layout(width="auto"))  # fmt: skip
        self.next_button = widgets.Button(description="Next", icon="chevron-right", tooltip="The next page",
                                          layout=widgets.Layout(width="auto"))  # fmt: skip
        self._where = widgets.HTML()
        self._pager = widgets.HBox(
            [self.previous_button, self._where, self.next_button],
            layout=widgets.Layout(display="none", align_items="center", grid_gap="8px", margin="6px 0 0 0"),
        )
        super().__init__(
            [
                stylesheet(),
                self._header,
                self.progress,
                self.filter_buttons,
                self._tools,
                self._compare_box,
                self._grid,
                self._pager,
            ],
            **kwargs,
        )
        self.add_class("kw-task")
        self.add_class("kw-batch")
        self._grid.add_class("kw-batch-grid")
        self._pager.add_class("kw-batch-pager")
        self.observe(self._show_summary, names="summary")
        self.observe(self._on_show, names="show")
        self.observe(self._on_page, names="page")
        self.observe(self._on_chosen, names="chosen")
        traitlets.link((self.filter_buttons, "value"), (self, "show"))
        self.previous_button.on_click(lambda _: self.turn(-1))
        self.next_button.on_click(lambda _: self.turn(1))
        self.retry_button.on_click(lambda _: self._retry_clicked())
        self.compare_toggle.observe(self._on_compare_toggle, names="value")
        batch.on_update(self._on_batch)
        self._on_batch(batch)

    def __repr__(self) -> str:
        return f"BatchView({self.summary!r})"

    @property
    def items(self) -> list[BatchItem]:
        """Every request the view follows, in order (not only the page's)."""
        return list(self.batch.items) if self._items is None else list(self._items)

    @property
    def tasks(self) -> list[Task]:
        """The task of every request that has one, in request order (on every page)."""
        return [item.task for item in self.items if item.task is not None]

    @property
    def shown_items(self) -> list[BatchItem]:
        """The requests on the page shown, in order."""
        with self._report_lock:
            return [place.item for place in self._places if place.item is not None]

    @property
    def views(self) -> list[TaskView]:
        """The card of every request on the page shown that has a task, in request order."""
        with self._report_lock:
            return [p.card for p in self._places if p.item is not None and p.shown is p.card and p.card is not None]

    def turn(self, pages: int) -> None:
        """Show the page ``pages`` after this one (before it when negative), within the pages there are.

        Parameters
        ----------
        pages
            How many pages to move by.
        """
        self.page = max(0, min(self.pages - 1, self.page + pages))

    def show_item(self, index: int) -> None:
        """Turn to the page that holds the request numbered ``index`` (showing every request if the
        filter hides it).

        Parameters
        ----------
        index
            The request's index in the batch (``BatchItem.index``).
        """
        with self._report_lock:
            if not any(item.index == index for item in self._matching(self.items)):
                self.show = "all"
            position = next((n for n, item in enumerate(self._matching(self.items)) if item.index == index), 0)
            self.page = position // self.page_size

    def retry_failed(self) -> list[BatchItem]:
        """Send the failed requests the view follows again, each as a new task in its place (see
        :meth:`~kling_widgets.Batch.retry`: one whose outcome is unknown is never resent).

        Returns
        -------
        list[BatchItem]
            The requests queued again.

        Raises
        ------
        BudgetExceededError
            When sending them again would go over the batch's budget: nothing is queued.
        """
        return self.batch.retry(self.items)

    def cards_html(self) -> list[str]:
        """Each request as plain HTML, in order: the page's cards with their videos, the others by
        what their task says (a video this kernel fetched travels in the page; see ``Task._repr_html_``).

        Returns
        -------
        list[str]
            One HTML fragment per request.
        """
        with self._report_lock:
            cards = {p.item.index: p.shown for p in self._places if p.item is not None}
        html = []
        for item in self.items:
            card = cards.get(item.index)
            if isinstance(card, TaskView):
                html.append(card.static_html())
            elif isinstance(card, widgets.HTML):
                html.append(card.value)
            elif item.task is not None:
                html.append(f"<div><b>{esc(request_label(item.request, 40))}</b></div>{item.task._repr_html_()}")
            else:
                html.append(_placeholder_html(item))
        return html

    def static_html(self) -> str:
        """The summary and every card (the page's with their videos) for a saved notebook or an exported
        page.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        cells = "".join(
            f'<div style="width:290px;border:1px solid #ddd;border-radius:8px;padding:6px 8px">{html}</div>'
            for html in self.cards_html()
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
        with self._report_lock:
            for place in self._places:
                close_tree(place.card)
                close_tree(place.placeholder)
            close_tree(self.comparison)
        close_parts(self)
        super().close()

    # -- drawing -----------------------------------------------------------------------------------
    def _on_batch(self, batch: Batch) -> None:
        self._refresh()

    @detach
    def _refresh(self, _: object = None) -> None:
        with self._report_lock:
            self._report(self.batch)

    def _report(self, batch: Batch) -> None:
        items = self.items
        counts = tally(items)
        counts["running"] += counts.pop("sending")
        requests = tuple(id(i.request) for i in items)  # a retry puts a new request in its place
        if requests != self._estimated[0]:
            self._estimated = (requests, estimate_units((i.request for i in items), batch.rate_card))
        estimate = self._estimated[1]
        charged = sum(i.task.units or 0.0 for i in items if i.task is not None)
        done = counts["succeeded"] + counts["failed"] + counts["cancelled"]
        parts = [f"{len(items)} task{'s' if len(items) != 1 else ''}", f"{counts['succeeded']} done"]
        parts += [f"{counts[k]} {k}" for k in ("failed", "cancelled", "running", "queued") if counts[k]]
        money = f"about {units_words(estimate)} estimated"
        if charged:
            money += f" · {charge_words(charged, simulated=self.batch.client.is_simulator())}"
        held = " · waiting for a free slot (your account's limit)" if batch.holding and counts["queued"] else ""
        matching = self._matching(items)
        self.pages = max(1, math.ceil(len(matching) / self.page_size))
        if self.page >= self.pages:
            self.page = self.pages - 1  # observed: draws, re-entering this lock
        start = self.page * self.page_size
        self._draw(matching[start : start + self.page_size])  # the cards first: "all done" finds them drawn
        self._update_comparison(items)
        self._update_tools(items, len(matching), start)
        self.counts = counts
        self.summary = f"{' · '.join(parts)} · {money}{held}"
        self.progress.max = max(1, len(items))
        self.progress.value = done
        self.progress.bar_style = "success" if done == len(items) and not counts["failed"] else "info"

    def _matching(self, items: list[BatchItem]) -> list[BatchItem]:
        states = FILTERS[self.show][1]
        return items if not states else [item for item in items if category(item) in states]

    def _show_summary(self, _: object = None) -> None:
        title = f"<b>{esc(self._title)}</b> · " if self._title else ""
        self._header.value = f'<div>{title}<span class="kw-hint">{esc(self.summary)}</span></div>'

    def _on_show(self, _: object = None) -> None:
        self.page = 0
        self._refresh()

    def _on_page(self, _: object = None) -> None:
        self._refresh()

    def _update_tools(self, items: list[BatchItem], matching: int, start: int) -> None:
        many = len(items) > self.page_size
        self.filter_buttons.layout.display = None if many or self.show != "all" else "none"
        self._pager.layout.display = None if self.pages > 1 else "none"
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1
        shown = f"{start + 1}–{min(start + self.page_size, matching)} of {matching}" if matching else "none"
        self._where.value = f'<span class="kw-hint">Page {self.page + 1} of {self.pages} · {shown}</span>'
        failed = sum(1 for item in items if retryable(item))
        self.retry_button.description = f"Retry {failed} failed"
        self.retry_button.layout.display = None if failed else "none"

    def _draw(self, page: list[BatchItem]) -> None:
        for place, item in zip(self._places, page + [None] * (len(self._places) - len(page)), strict=True):
            self._draw_place(place, item)
        children = tuple(p.shown for p in self._places if p.item is not None and p.shown is not None)
        if children != tuple(self._grid.children):
            self._grid.children = children

    def _draw_place(self, place: _Place, item: BatchItem | None) -> None:
        if item is None:
            place.item, place.seen = None, None
            return
        task = item.task
        seen = (
            item.index,
            id(item.request),
            item.state,
            item.error,
            task and (task.id, task.status, task.progress, task.video_url, task.units),
        )
        moved = place.item is not item
        place.item = item
        if place.seen == seen and not moved:
            return  # 12 cards, one changed: only that one is redrawn (and sent to the front end)
        place.seen = seen
        label = request_label(item.request, 40)
        if task is None:
            if place.placeholder is None:
                place.placeholder = widgets.HTML()  # as wide as its column (style.css)
                place.placeholder.add_class("kw-task")
                place.placeholder.add_class("kw-task-compact")
            place.placeholder.value = _placeholder_html(item)
            place.shown = place.placeholder
            return
        problem = item.error if task.done and not task.video_url else None
        if place.card is None:
            place.card = BatchCard(task, client=self.batch.client, label=label, aspect_ratio=item.request.aspect_ratio)
            number = self._places.index(place)
            place.card.on_watch_again(functools.partial(self._watch_again, number))
            place.card.choose.observe(functools.partial(self._on_choose, number), names="value")
        place.card.show(task, label=label, aspect_ratio=item.request.aspect_ratio, problem=problem)
        place.card.stopped = item.state == ItemState.DONE and not task.complete  # offers "Watch again"
        self._binding = True
        try:
            place.card.choose.value = item.index in self.chosen
        finally:
            self._binding = False
        place.shown = place.card

    def _watch_again(self, number: int, task: Task) -> None:
        item = self._places[number].item
        if item is not None and item.task is not None and item.task.id == task.id:
            self.batch.watch_again(item)

    def _on_choose(self, number: int, change: dict[str, Any]) -> None:
        item = self._places[number].item
        if self._binding or item is None:
            return
        chosen = [index for index in self.chosen if index != item.index]
        self.chosen = sorted([*chosen, item.index]) if change["new"] else chosen

    def _on_chosen(self, _: object = None) -> None:
        with self._report_lock:
            self._binding = True
            try:
                for place in self._places:
                    if place.card is not None and place.item is not None:
                        place.card.choose.value = place.item.index in self.chosen
            finally:
                self._binding = False
            self._update_comparison(self.items)

    def _retry_clicked(self) -> None:
        try:
            again = self.retry_failed()
            self._notice.value = "" if again else message_html("Nothing to send again.", "warning")
        except KlingError as error:  # over the budget: said where the person looks, nothing sent
            self._notice.value = message_html(str(error))

    # -- the comparison ----------------------------------------------------------------------------
    def _update_comparison(self, items: list[BatchItem]) -> None:
        """The videos to compare: those chosen, on any page, or with none chosen the page's finished
        ones (the comparison is offered once there are two)."""
        client = self.batch.client
        chosen = set(self.chosen)
        candidates = [i for i in items if i.index in chosen] if chosen else self.shown_items
        done = [
            (i, task_source(i.task, "", title=request_label(i.request, 200), client=client))
            for i in candidates
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

    @detach
    def _on_compare_toggle(self, change: dict[str, Any]) -> None:
        if change["new"] and self.comparison is None:
            ratio = self.items[0].request.aspect_ratio if self.items else None
            self.comparison = take_comparison(sources=self._compared, width=tile_width(ratio))
            self.comparison.loaders.update(self._loaders)
        self._compare_box.children = (self.comparison,) if change["new"] else ()


def _placeholder_html(item: BatchItem) -> str:
    """A request with no task yet (or none ever): what it is and where it stands."""
    css, words = _PLACEHOLDER.get(item.state, ("unknown", str(item.state)))
    reason = f'<div class="kw-hint">{esc(item.error)}</div>' if item.error else ""
    label = esc(request_label(item.request, 40))
    return f'<div><b>{label}</b></div><span class="kw-badge kw-badge-{css}">{esc(words)}</span>{reason}'
