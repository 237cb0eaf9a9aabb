"""MultiImageToVideo: pick images, write the prompt, choose options, submit, watch the video arrive.

The screen only: the form, the status in words, and the results. Sending belongs to a ``Batch`` — the
bundle's queue, the same machinery scripts use: external ids fixed per intention and journaled before
anything is sent, one create at a time on a background thread, creates held under the account's
concurrency limit (1303) until a slot frees, resume after a restart. The click handler never blocks
the kernel, and while a create is in flight further clicks do nothing, so a double click is one task;
the form keeps its values whatever happens.

The bundle composes parts of its own: the spending guard (``spending``: the budget, the large click that
asks first), the account banner (``banner``), the variations that make a click a sweep (``variations``),
*Show code* (``code``), the words for a click that sends or creates nothing (``click_words``) and the upload
meter (``upload_meter``). What stays here is the layout, the form → requests, submitting, reuse and resume,
which share one lock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from .._listeners import Listeners
from ..account_status import AccountStatus
from ..batch import Batch
from ..batch_item import BatchItem, ItemState
from ..client import KlingClient, elsewhere
from ..errors import AccountError, AuthenticationError, CreateOutcomeUnknownError, KlingError, Problem
from ..images import DEFAULT_MAX_SIDE
from ..pricing import estimate_units
from ..request import MODES, VideoRequest
from ..sweeps import sweep
from ..task import Task
from ..watcher import TaskUpdate, TaskWatcher
from ..words import units_words
from ._publish import Published, detach
from ._style import esc, message_html, request_label, shorten, stylesheet, title
from .a11y import accessibility
from .banner import AccountBanner
from .batch import BatchView
from .click_words import not_created_words, plain, still_to_do
from .code import bundle_code
from .gallery import HistoryGallery, after_opening
from .images import ImagePicker
from .options import OPTION_TRAITS, OptionsPanel
from .prompt import PromptBox
from .reveal import Reveal
from .spending import CONFIRM_ABOVE_UNITS, SpendingGuard, units_sent
from .status import TaskGallery, TaskView
from .upload_meter import UploadMeter
from .variations import sweep_words, variations_row

if TYPE_CHECKING:
    from ..history import HistoryEntry, TaskHistory
    from ..story import Storyboard

log = logging.getLogger("kling_widgets")
SubmitCallback = Callable[[Task], None]
#: Past tasks shown as cards when the bundle opens (the newest; History holds every one). A few, so the
#: opening costs the same over a journal of ten or of years, and the History panel stays near the form.
RESUME_LIMIT = 6
#: Past this much of the journal still to read into its index (about 3,000 lines), the bundle resumes on a
#: thread rather than before it shows (benchmarks/journal.py: an indexed opening reads a few kilobytes).
QUICK_RESUME_BYTES = 2_000_000
# A click on Generate this soon after one that sent something is the second half of a double click, even
# when the first create has already come back (a busy kernel handles both clicks late): one task, not two.
DOUBLE_CLICK_SECONDS = 1.5


class _PageButton(widgets.Button):
    """A button that knows whether the click it is handling came from the page (a person's mouse or
    key) or from code (``button.click()``): only the page's clicks can be the halves of a double click."""

    from_page = False

    # A private hook of ipywidgets' Button, overridden because no public one tells the two apart: a click
    # from the page and ``click()`` both run the ``on_click`` handlers, and a handler added with the public
    # ``on_msg`` runs only after them (Button registers this method first). Present in ipywidgets 7 and 8.
    def _handle_button_msg(self, _: Any, content: dict[str, Any], buffers: Any) -> None:
        self.from_page = True
        try:
            super()._handle_button_msg(_, content, buffers)
        finally:
            self.from_page = False


@dataclass
class _Click:
    """What one press of Generate asked for, and how the screen follows it."""

    items: list[BatchItem]
    future: Future[Task | None]
    sweep: bool = False  # several requests: shown as one BatchView, not a TaskView each
    view: BatchView | None = None
    shown: set[int] = field(default_factory=set)
    told_held: bool = False


class MultiImageToVideo(Published, widgets.VBox):
    """The whole bundle. ``client`` defaults to ``KlingClient()`` from the environment; ``history``
    journals submissions, shows past tasks and resumes what was unfinished.

    Parameters
    ----------
    client : KlingClient, optional
        Sends the requests (default: ``KlingClient()`` from the environment).
    history : TaskHistory, optional
        The journal (default: the client's); gives the history gallery and resume.
    poll_interval : float, optional
        Seconds between polls of a task (default: the watcher's pacing).
    budget_units : float, optional
        The most units the bundle may send in all; a click over it sends nothing.
    confirm_above_units : float, optional
        A click estimated above this only asks; a second click sends (None: never asks).
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    problems: traitlets.List[Any] = traitlets.List(
        help="Why the form cannot be sent now: a list of Problem (field, message)."
    )
    submitting = traitlets.Bool(False, help="True while a create is in flight (Submit is disabled).")
    status = traitlets.Unicode("", help="The line under the button: what became of the last click, in words.")
    status_kind = traitlets.Unicode("", help="How to read the status: ok, warning, error (or empty).")
    reason = traitlets.Unicode("", help="Beside the button: why it is disabled, or what a click will send and cost.")
    reason_kind = traitlets.Unicode("", help="error while the form cannot be sent, else hint.")
    both_modes = traitlets.Bool(False, help="A click sends the request in std and in pro (a sweep).")
    both_durations = traitlets.Bool(False, help="A click sends the request at 5 s and at 10 s (a sweep).")
    prompt_per_line = traitlets.Bool(False, help="A click sends one request per non-empty line of the prompt.")
    account = traitlets.Unicode(
        "", help="What the account check found, in words: what is left, or why the key was refused (empty until known)."
    )
    account_kind = traitlets.Unicode("", help="checking, ok, warning, refused (the key), or empty (not checked).")
    units_sent = traitlets.Float(0.0, help="What this bundle has sent so far, in estimated units (refusals excluded).")

    @detach
    @after_opening()  # its gallery reads the rest of a long journal once the bundle is built
    def __init__(
        self,
        client: KlingClient | None = None,
        *,
        history: TaskHistory | None = None,
        poll_interval: float | None = None,
        budget_units: float | None = None,
        confirm_above_units: float | None = CONFIRM_ABOVE_UNITS,
        **kwargs: Any,
    ) -> None:
        self._setup_error = ""
        self._status_stays = False  # the status speaks of a task, not of the form: a form change leaves it
        self._reuse_note = ""  # the picker's "Not brought back" of the last Reuse, cleared with its status
        self.budget_units = budget_units  #: the most this bundle may send, in estimated units (None: no limit)
        self.confirm_above_units = confirm_above_units  #: a click estimated above this asks first (None: never)
        self._spending = SpendingGuard(self, on_expired=self._confirmation_expired)
        if client is None:
            try:
                client = KlingClient(history=history)
            except AuthenticationError as error:
                self._setup_error = error.message
        self.client = client
        self._account_banner = AccountBanner(
            client, setup_error=self._setup_error, tell=self._tell_account, on_refused=self._refresh
        )
        self.history = history or (client.history if client else None)
        # No deadline: a task the user did not cancel is followed as long as the kernel lives.
        self.watcher = (
            TaskWatcher(client, poll_interval=poll_interval, history=self.history, timeout=None) if client else None
        )
        self.queue: Batch | None = None
        if client is not None:
            name = f"bundle-{uuid.uuid4().hex[:12]}"  # its clicks are journaled as groups of this batch
            self.queue = Batch(client, [], history=self.history, watcher=self.watcher, name=name).start()
            self.queue.on_update(self._on_queue)
            self.queue.on_progress = UploadMeter(self._reason)
        self.image_picker = ImagePicker()
        self.prompt_box = PromptBox()
        self.options = OptionsPanel()
        traitlets.link((self.prompt_box, "negative_prompt"), (self.options, "negative_prompt"))
        # While a sweep sends both modes (durations), the toggle shows neither chosen; choosing one ends it.
        traitlets.link((self, "both_modes"), (self.options, "mode_swept"))
        traitlets.link((self, "both_durations"), (self.options, "duration_swept"))
        self.submit_button = _PageButton(
            description="Generate video",
            button_style="primary",
            icon="film",
            layout=widgets.Layout(width="180px", height="34px"),
        )
        self._variations = variations_row(self)
        self._why = widgets.HTML()
        self._status = widgets.HTML()
        for live in (self._why, self._status):  # read out as they change: a screen reader hears the outcome
            live.add_class("kw-live")
        self.code_toggle = widgets.ToggleButton(
            description="Show code",
            icon="code",
            tooltip="The same request with the client alone, to paste into a script or a tutorial",
            layout=widgets.Layout(width="120px", margin="0 0 0 auto"),
        )
        self._code = widgets.HTML(layout=widgets.Layout(display="none"))
        self.gallery = TaskGallery()
        self.history_gallery = HistoryGallery(self.history, client=client) if self.history is not None else None
        history_box: list[widgets.Widget] = []
        if self.history_gallery is not None:
            self.history_gallery.on_reuse(self.reuse)
            self.history_panel = widgets.Accordion(
                children=[self.history_gallery], titles=("History: every generation, with Reuse",), selected_index=None
            )
            history_box = [self.history_panel]
        self._gallery_timer: threading.Timer | None = None
        self._callbacks: Listeners[Task] = Listeners("an on_submit callback")
        self._clicks: list[_Click] = []
        self._last_click = -DOUBLE_CLICK_SECONDS
        self._told_unknown: set[str] = set()
        self._in_sweeps: set[str] = set()  # external ids of resumed requests shown in a sweep's BatchView
        self.resumed: Batch | None = None  #: what came back after a restart (Batch.resume), if anything
        self._closed = False
        self._lock = threading.RLock()
        form = widgets.VBox(
            [
                title("Reference images (1–4)"),
                self.image_picker,
                self.prompt_box,
                title("Options"),
                self.options,
                self._variations,
                widgets.HBox(
                    [self.submit_button, self._why, self.code_toggle],
                    layout=widgets.Layout(
                        align_items="center", margin="10px 0 0 0", width="100%", flex_flow="row wrap"
                    ),
                ),
                self._status,
                self._code,
            ]
        )
        self._reveal = Reveal()  # a new card, or the form after Reuse, is scrolled into view and outlined
        results = widgets.VBox([title("Tasks"), self.gallery, *history_box, self._reveal.widget])
        form.add_class("kw-column")
        self._form = form
        results.add_class("kw-column")
        # Two columns that sit side by side when the page is wide enough, one above the other otherwise.
        columns = widgets.Box([form, results], layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        columns.add_class("kw-columns")
        super().__init__([stylesheet(), accessibility(), self._account_banner.html, columns], **kwargs)
        self.add_class("kw-root")
        self.submit_button.on_click(self._on_click)
        self.image_picker.observe(self._on_form_change, names="images")
        self.prompt_box.observe(self._on_form_change, names=["value", "negative_prompt"])
        # every option is a field of the request; the negative prompt is observed above, on its PromptBox field
        self.options.observe(self._on_form_change, names=sorted(OPTION_TRAITS - {"negative_prompt"}))
        self.options.observe(self._on_originals, names="send_originals")
        self.observe(self._on_form_change, names=["both_modes", "both_durations", "prompt_per_line"])
        self.observe(self._refresh, names="submitting")
        self.observe(self._show_status, names=["status", "status_kind"])
        self.observe(self._show_reason, names=["reason", "reason_kind"])
        self.code_toggle.observe(self._show_code, names="value")
        if self.watcher is not None:
            self.watcher.on_update(self._on_task_update)
        self._refresh()
        self._resuming: threading.Thread | None = None
        if self.history is not None and self.history.index_lag() > QUICK_RESUME_BYTES:
            # a journal never indexed (or grown by megabytes since): the bundle opens at once, and its past
            # cards and resumed tasks come in a moment later, once the index is read (HistoryGallery too
            # reads what is not on its first page on a thread)
            self._resuming = threading.Thread(target=self._resume_quietly, name="kling-resume", daemon=True)
            self._resuming.start()
        elif self.history is not None:
            self._resume()
        self._account_banner.check_soon(0.0)

    def __repr__(self) -> str:
        images, tasks = len(self.image_picker.images), len(self.tasks)
        return f"MultiImageToVideo(client={self.client!r}, images={images}, tasks={tasks})"

    def catch_up(self) -> None:
        """Ask the service once about every unfinished task shown (the watcher may not have looked since it
        finished): what a headless run saves at the end of a cell is then current."""
        for widget in self.gallery.children:
            if isinstance(widget, (TaskView, BatchView)):
                widget.catch_up()

    def static_html(self) -> str:
        """The form as it was (its pictures, prompt and options) and every task shown, each with its
        video: what a saved notebook or an exported page shows where no widget script runs.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        form = self.image_picker.static_html() + self.prompt_box.static_html() + self.options.static_html()
        tasks = []
        for widget in self.gallery.children:
            if isinstance(widget, TaskView):
                tasks.append(widget.static_html())
            elif isinstance(widget, BatchView):
                tasks += widget.cards_html()  # every request, not only its page
        results = "".join(f'<div style="margin-top:8px">{html}</div>' for html in tasks)
        return (
            '<div class="kling-widgets-static" style="font-size:13px;border:1px solid #ddd;border-radius:8px;'
            'padding:8px 10px"><b>Kling · multi-image to video</b> <span style="color:#666">— the form as it was '
            f"when the notebook ran; run it with a live kernel to use it.</span>{form}{results}</div>"
        )

    def close(self) -> None:
        """Stop following tasks here and sending what is queued (it stays on record for a resume), and
        close the bundle's own widget."""
        self._closed = True
        self._account_banner.close()
        if self.queue is not None:
            self.queue.close()  # sends nothing more; the account's slots of what still runs are handed back
            self.queue.on_update(self._on_queue, remove=True)
        if self.resumed is not None:  # what came back after a restart, likewise
            self.resumed.close()
            self.resumed.on_update(self._on_resumed, remove=True)
        if self.watcher is not None:
            self.watcher.stop()
        if self.history_gallery is not None:  # else ipywidgets keeps it, and its copy of the journal, alive
            self.history_gallery.close()
        super().close()

    # -- the form ----------------------------------------------------------------------------------
    def _build(self) -> VideoRequest:
        options = self.options
        fields: dict[str, Any] = {
            "negative_prompt": self.prompt_box.negative_prompt or None,
            "model_name": options.model_name,
            "mode": options.mode,
            "duration": options.duration,
            "aspect_ratio": options.aspect_ratio,
            "watermark": options.watermark,
            "callback_url": options.callback_url.strip() or None,
            "external_task_id": options.external_task_id.strip() or None,
            "max_side": None if options.send_originals else DEFAULT_MAX_SIDE,
        }
        return VideoRequest(list(self.image_picker.images), self.prompt_box.value, **fields)

    @property
    def request(self) -> VideoRequest | None:
        """The request the form describes now, or None while it is invalid (see ``problems``)."""
        request = self._build()
        return None if request.problems() else request

    @property
    def requests(self) -> list[VideoRequest]:
        """What one click sends: the form's request, or its sweep (both modes, both durations, one per
        prompt line) — in a stable order."""
        base = self._build()
        axes: dict[str, list[Any]] = {}
        if self.prompt_per_line:
            lines = [line.strip() for line in self.prompt_box.value.splitlines() if line.strip()]
            if len(lines) > 1:
                axes["prompt"] = lines
        if self.both_modes:
            axes["mode"] = list(MODES)
        if self.both_durations:
            axes["duration"] = [5, 10]
        return sweep(base, **axes) if axes else [base]  # a sweep gives each request its own external id

    def _form_problems(self, requests: list[VideoRequest]) -> list[Problem]:
        """Why ``requests`` (what the form would send) cannot be sent now."""
        problems = [] if self.client else [Problem("client", self._setup_error)]
        if self._account_banner.key_refused:
            problems.append(Problem("account", self._account_banner.key_refused))
        over = self._spending.over_budget(requests, units_sent(self.queue))
        if over:
            problems.append(over)
        if not self.image_picker.images:
            problems.append(Problem("images", "add 1 to 4 reference images", (1, 4), 0))
        for request in requests:
            problems += [p for p in request.problems() if p.field != "images" and p not in problems]
        if len(requests) > 1 and self.options.external_task_id.strip():
            problems.append(
                Problem("external_task_id", "leave it empty for a sweep: each task gets its own", None, None)
            )
        return problems

    def _on_form_change(self, _: object = None) -> None:
        """The person changed the form: what was said of a past action (a click created, refused, not
        sent, asked to confirm; a Reuse loaded) no longer fits it. What speaks of a task that may exist
        or is still queued stays until said otherwise."""
        self._spending.forget()  # a changed form is a new question
        if self.status and not self._status_stays:
            self._say("")
        if self._reuse_note and self.image_picker.message == self._reuse_note:
            self.image_picker.message = ""  # "Not brought back: …" was about the Reuse, not these pictures
        self._reuse_note = ""
        self._refresh()

    def _refresh(self, _: object = None) -> None:
        if self.code_toggle.value:
            self._show_code()
        requests = self.requests  # once per change: the checks and the cost hint share it
        problems = self._form_problems(requests)
        self.problems = problems
        self.submit_button.disabled = bool(problems) or self.submitting
        self.submit_button.description = "Submitting…" if self.submitting else "Generate video"
        confirm = self._spending.question()
        if self.submitting:
            self._reason("Sending the request…")
        elif confirm and not problems:
            self._reason(confirm, "warning")
        elif problems:
            reasons = "; ".join(plain(p) for p in problems if p.field != "client")
            # Only what is still to do (no pictures, no prompt yet) is a plain hint: an untouched form is not
            # an error. Something wrong in what was entered (too long, a bad address) is.
            kind = "hint" if all(still_to_do(p) for p in problems if p.field != "client") else "error"
            self._reason(f"To generate: {reasons}" if reasons else "", kind)
        else:
            simulator = bool(self.client and self.client.is_simulator())
            self._reason(self._spending.cost_hint(requests, simulator=simulator, sent=self.units_sent))

    # -- for tutorial authors ---------------------------------------------------------------------------
    def to_storyboard(self) -> Storyboard:
        """A storyboard cast from this form: its pictures (as prepared here) are the cast, its model, mode
        and aspect ratio the shared settings, its history the journal; a prompt in the box becomes the
        first shot (with the form's duration and negative prompt). Nothing is sent.

        Returns
        -------
        Storyboard
            The new storyboard.

        Raises
        ------
        KlingError
            The bundle has no client.
        ValidationError
            The form's pictures or settings are refused.
        """
        from ..story import Storyboard

        if self.client is None:
            raise KlingError(self._setup_error or "No client: give MultiImageToVideo a KlingClient.")
        options = self.options
        story = Storyboard(
            self.client,
            list(self.image_picker.images),
            mode=options.mode,
            aspect_ratio=options.aspect_ratio,
            model_name=options.model_name,
            history=self.history,
        )
        prompt = self.prompt_box.value.strip()
        if prompt:
            story.add_shot(prompt, negative_prompt=self.prompt_box.negative_prompt or None, duration=options.duration)
        return story

    def to_code(self, namespace: Mapping[str, Any] | None = None) -> str:
        """Runnable code that makes the same request with the client alone — never the key (it comes
        from the environment, as everywhere). The client is built as this one was: on the built-in
        simulator (proven by the service, as in the demo) through ``Simulator.shared()``, which reuses the
        simulator this process runs and starts one only where none runs (a fresh kernel, a script); on the
        service otherwise. Pasted into the notebook that showed it, it leaves the notebook's own names
        alone: a name already in use there (the quickstart's ``client``, ``task``…) becomes ``client_2``…
        Pictures are named by their file path or URL; an uploaded one is saved (as sent) under
        ``kling-pictures/`` beside the notebook, and the code names that file.

        Parameters
        ----------
        namespace : Mapping or None
            The names the code will run among; None: the notebook's own (IPython's), or none outside it.

        Returns
        -------
        str
            Python source, ending with a newline.
        """
        return bundle_code(self, namespace)

    def _show_code(self, _: object = None) -> None:
        if self.code_toggle.value:
            self._code.value = (
                '<pre class="kw-code" style="font-size:12px;background:var(--jp-layout-color2,#f4f6f8);'
                f'padding:8px;border-radius:6px;white-space:pre-wrap;margin:6px 0">{esc(self.to_code())}</pre>'
            )
            self._code.layout.display = None
        else:
            self._code.layout.display = "none"

    def _on_originals(self, change: dict[str, Any]) -> None:
        self.image_picker.max_side = None if change["new"] else DEFAULT_MAX_SIDE

    # -- the spending guard and the account banner: parts of their own, heard here -----------------------
    @property
    def account_status(self) -> AccountStatus | None:
        """What the last account check found (None until one succeeded)."""
        return self._account_banner.status

    def _confirmation_expired(self) -> None:
        """A large click's question went unanswered: it no longer stands under or beside the button."""
        if self._closed:
            return
        if self.status.startswith("Confirm"):
            self._say("")
        self._refresh()

    def _tell_account(self, text: str, kind: str) -> None:
        """The banner's account line changed: the traits follow it, both at once."""
        with self.hold_trait_notifications():
            self.account, self.account_kind = text, kind

    # -- the status line, and the words beside the button ------------------------------------------------
    def _say(self, text: str, kind: str = "", *, stays: bool = False) -> None:
        """Set the status line. ``stays``: it speaks of a task that may exist or is still queued, not of
        the form, so a change to the form leaves it (everything else is cleared by one)."""
        self._status_stays = stays and bool(text)
        with self.hold_trait_notifications():
            self.status, self.status_kind = text, kind if text else ""

    def _reason(self, text: str, kind: str = "hint") -> None:
        with self.hold_trait_notifications():
            self.reason, self.reason_kind = text, kind

    def _show_status(self, _: object = None) -> None:
        kind = {"invalid": "error", "": "hint"}.get(self.status_kind, self.status_kind)
        self._status.value = message_html(self.status, kind)

    def _show_reason(self, _: object = None) -> None:
        css = {"error": "kw-reason-error", "warning": "kw-warning"}.get(self.reason_kind, "kw-hint")
        self._why.value = (
            f'<span class="{css}" style="margin-left:10px">{esc(self.reason)}</span>' if self.reason else ""
        )

    # -- submitting --------------------------------------------------------------------------------
    def on_submit(self, callback: SubmitCallback, *, remove: bool = False) -> None:
        """Call ``callback(task)`` after each create the service accepted (``remove=True`` to stop).

        Parameters
        ----------
        callback : callable
            Called with each created :class:`Task`.
        remove : bool
            Unregister ``callback`` instead.
        """
        self._callbacks.register(callback, remove)

    def _on_click(self, button: object = None) -> None:
        now = time.monotonic()
        if now - self._last_click < DOUBLE_CLICK_SECONDS:
            return  # the second click of a double click
        if getattr(button, "from_page", False) and self._spending.just_asked(now):
            return  # a double click on a large sweep: its second half does not confirm the question it raised
        if self.submit() is not None:
            self._last_click = now

    def submit(self) -> Future[Task | None] | None:
        """What the button does. Returns a Future of the (first) created task — None when it was not
        created — or None at once when nothing was sent: a create already in flight, or an invalid form.

        Returns
        -------
        concurrent.futures.Future or None
            The create's outcome, or None when nothing was sent.
        """
        with self._lock:
            if self.submitting or self.client is None or self.queue is None:
                return None
            requests = self.requests
            problems = self._form_problems(requests)
            if problems:
                self._say("Not sent: " + "; ".join(plain(p) for p in problems), "invalid")
                return None
            simulator = self.client.is_simulator()
            ask = self._spending.ask_first(requests, estimate_units(requests), simulator=simulator)
            if ask:
                self._say(ask[0], "warning")
                self._reason(ask[1], "warning")
                return None
            self.submitting = True
        self._say("")
        future: Future[Task | None] = Future()
        click = _Click([], future, sweep=len(requests) > 1)
        with self._lock:
            self._clicks.append(click)
        if len(requests) > 1:
            units = estimate_units(requests)
            self._say(
                f"{sweep_words(requests)} queued (about {units_words(units)}): each is its own task, sent "
                "one at a time under your account's limit — follow them below.",
                "ok",
            )
        click.items = self.queue.add(requests, group=f"click-{uuid.uuid4().hex[:12]}")
        self.units_sent = units_sent(self.queue)
        if click.sweep:
            click.view = BatchView(self.queue, items=click.items, title=sweep_words(requests, counted=False))
            self.gallery.add_widget(click.view)
            self._reveal.show(click.view)
        self._on_queue(self.queue)
        return future

    def _on_queue(self, batch: Batch) -> None:
        """The queue moved: show created tasks, say what was refused or is held, free the button."""
        with self._lock:
            clicks = list(self._clicks)
        for click in clicks:
            if not click.items:
                continue
            for item in click.items:
                self._follow(click, item)
            first = click.items[0]
            with self._lock:  # two threads report: the future is settled once
                settle = not click.future.done() and (
                    first.task is not None
                    or first.final
                    or (first.state == ItemState.QUEUED and batch.holding)  # the account's slots are all taken
                )
                if settle and first.task is None and not first.final:
                    self._tell_held(click, batch)
                if settle:
                    click.future.set_result(first.task)
            if all(i.final or i.task is not None for i in click.items):
                with self._lock:
                    if click in self._clicks:
                        self._clicks.remove(click)
        self.units_sent = units_sent(self.queue)
        in_flight = any(
            not click.items  # being queued right now
            or any(
                i.state == ItemState.SENDING or (i.state == ItemState.QUEUED and not batch.holding)
                for i in click.items
            )
            for click in clicks
        )
        if self.submitting and not in_flight:
            self.submitting = False

    def _follow(self, click: _Click, item: BatchItem) -> None:
        # The queue reports from its sender thread and from the watcher's: the first to see a new task
        # shows it, the other finds it shown.
        with self._lock:  # shown before anyone can see the click as settled
            if item.index in click.shown or (item.task is None and not item.final):
                return
            click.shown.add(item.index)
            if item.task is not None and not click.sweep:
                request = item.request
                view = self.gallery.add(
                    TaskView(
                        item.task, client=self.client, label=request_label(request), aspect_ratio=request.aspect_ratio
                    )
                )
                view.on_watch_again(self._watch_again)
                view.update(item.task)
                self._say(f"Task {item.task.id} created — following it below.", "ok")
                self._reveal.show(view)
            self.refresh_static()
        if item.task is not None:
            self._callbacks(item.task)
        elif not click.sweep:
            words, kind = not_created_words(item)
            self._say(words, kind, stays=isinstance(item.exception, CreateOutcomeUnknownError))
        if isinstance(item.exception, AuthenticationError):
            self._account_banner.key_was_refused(item.exception)
        elif isinstance(item.exception, AccountError):  # out of credit: show what the account says now
            self._account_banner.check_soon(0.0)

    def _tell_held(self, click: _Click, batch: Batch) -> None:
        if click.told_held:
            return
        click.told_held = True
        waiting = sum(1 for i in batch.items if i.state == ItemState.QUEUED)
        if batch.refusals_1303:
            why = "Your account is already running as many tasks as it may (code 1303)."
        else:  # known from other kernels of this key (a class on one Voila app, other notebooks): nothing refused
            why = "Your account's slots are all in use (this key's tasks, in this notebook or others)."
        self._say(
            f"{why} {waiting} request(s) queued here: each is sent in turn when a task of the account finishes. "
            "Nothing was created yet.",
            "warning",
            stays=True,
        )

    # -- tasks -------------------------------------------------------------------------------------
    @property
    def tasks(self) -> list[Task]:
        """Every task shown, newest first (the tasks of a sweep in their order)."""
        tasks: list[Task] = []
        for widget in self.gallery.children:
            if isinstance(widget, TaskView):
                tasks.append(widget.task)
            elif isinstance(widget, BatchView):
                tasks += widget.tasks  # on every page
        return tasks

    def _on_task_update(self, update: TaskUpdate) -> None:
        view = self.gallery.get(update.task.id) or self.gallery.get(update.task.external_task_id or "")
        if view is not None:
            view.update(update.task, update.problem)
            view.stopped = update.final and not update.task.complete  # offers "Watch again"
        if update.final:
            self._refresh_history_soon()
            self.refresh_static()
            self._account_banner.check_soon()

    def _watch_again(self, task: Task) -> None:
        """A card's "Watch again": follow its task again, as long as the kernel lives."""
        if self.watcher is not None and not self._closed:
            self.watcher.watch(task)

    def _refresh_history_soon(self) -> None:
        """Read the journal again for the history, at most every two seconds (not at every poll)."""
        if self.history_gallery is None or self._closed:
            return
        with self._lock:
            if self._gallery_timer is not None and self._gallery_timer.is_alive():
                return
            self._gallery_timer = threading.Timer(2.0, self.history_gallery.refresh)
            self._gallery_timer.daemon = True
            self._gallery_timer.start()

    # -- reuse -----------------------------------------------------------------------------------------
    def reuse(self, entry: HistoryEntry | str) -> list[str]:
        """Load a past generation into the form: its prompt, negative prompt, every option, and its pictures
        from their sources (a file path or URL) where they are still there. Nothing is sent: it is a new
        intention (a new external id) until Generate is pressed. Returns the pictures that could not be
        brought back, also named under the pictures in the form.

        Parameters
        ----------
        entry : HistoryEntry or str
            The entry, or its ``external_task_id``.

        Returns
        -------
        list of str
            The pictures that could not be brought back.

        Raises
        ------
        KlingError
            No entry by that id in the history.
        """
        if isinstance(entry, str):
            found = self.history.get(entry) if self.history is not None else None
            if found is None:
                raise KlingError(f"no generation {entry!r} in the history")
            entry = found
        settings = entry.settings or {}
        missing: list[str] = []
        pictures: list[Any] = []
        for image in entry.images:
            source = image.get("url") or image.get("path")
            name = str(image.get("source") or image.get("url") or "a picture")
            if image.get("url"):
                pictures.append(str(image["url"]))
            elif source and Path(str(source)).is_file():
                pictures.append(str(source))
            elif source:
                missing.append(f"{name} (no longer at {source})")
            else:
                missing.append(f"{name} (it was uploaded; its bytes are not kept — upload it again)")
        options = self.options
        with self.hold_trait_notifications(), options.hold_trait_notifications():
            self.prompt_box.value = entry.prompt or ""
            self.prompt_box.negative_prompt = settings.get("negative_prompt") or ""
            for name in ("model_name", "mode", "duration", "aspect_ratio"):
                if settings.get(name) is not None:
                    try:
                        setattr(options, name, settings[name])
                    except traitlets.TraitError:
                        missing.append(f"{name} {settings[name]!r} (not offered any more)")
            options.watermark = bool(settings.get("watermark"))
            options.callback_url = settings.get("callback_url") or ""
            options.external_task_id = ""  # a reuse is a new intention
            options.send_originals = "max_side" in settings and settings["max_side"] is None
            self.both_modes = self.both_durations = self.prompt_per_line = False
        self.image_picker.clear()
        for picture in pictures:
            if self.image_picker.add(picture) is None:
                missing.append(f"{picture} ({self.image_picker.message})")
        if missing:
            self.image_picker.message = "Not brought back: " + "; ".join(missing)
        self._reuse_note = self.image_picker.message if missing else ""
        self._say(
            f"Loaded the settings of {entry.task_id or entry.external_task_id}"
            + (f"; {len(missing)} picture(s) could not be brought back." if missing else ".")
            + " Nothing is sent until you press Generate.",
            "warning" if missing else "ok",
        )
        self._reveal.show(self._form, block="start")
        return missing

    def _resume_quietly(self) -> None:
        try:
            self._resume()
        except Exception:  # the journal could not be read now: nothing is lost, the next opening tries again
            log.exception("resuming from the history failed")

    def _resume(self) -> None:
        """Show past tasks of this bundle's service from the journal (``KlingClient.service``: the
        simulator's, whatever its port, or this account's — never another's), and pick up what was
        unfinished with ``Batch.resume``: watch what was created, send what was queued and never sent,
        look up (Kling direct) or report (gateway) a create whose outcome is unknown — nothing is sent
        twice. A task of an earlier simulator, which this one does not know, is said to be so."""
        assert self.history is not None
        service = self.client.service() if self.client is not None else None
        resumed = None
        if self.client is not None and service is not None and any(map(service.here, self.history.unfinished(service))):
            resumed = self.resumed = Batch.resume(self.client, self.history, watcher=self.watcher)
        coming_back = {item.external_task_id for item in resumed.items} if resumed else set()
        # from the journal's end; a journal read whole (a short one: up to ~150 lines) gives every entry,
        # of which the newest RESUME_LIMIT too (a journal of 100 made 100 cards, 4× the opening of 10,000)
        for entry in reversed(self.history.recent(RESUME_LIMIT, service)[0][:RESUME_LIMIT]):
            task = entry.to_task()
            if task is None or entry.external_task_id in coming_back:
                continue
            label = f"from history · {shorten(entry.prompt or '', 40)}"
            ratio = (entry.settings or {}).get("aspect_ratio")
            if task.done:
                view = self.gallery.add(TaskView(task, client=self.client, label=label, aspect_ratio=ratio))
                view.on_watch_again(self._watch_again)
                view.stopped = not task.complete  # done without its video link: it may still come
            elif service is not None and not service.here(entry):  # another simulator's: said as such
                view = self.gallery.add(TaskView(task, client=self.client, label=label, aspect_ratio=ratio))
                view.update(task, elsewhere(entry.base_url)[1])
                view.stopped = True  # nobody follows it: no clock runs on its card
        if resumed is None:
            return
        units: dict[tuple[str, str | None], list[BatchItem]] = {}
        for item in resumed.items:
            units.setdefault(item.unit, []).append(item)
        for members in units.values():  # a sweep comes back as one BatchView, its finished tasks in place
            if len(members) > 1:
                self._in_sweeps.update(item.external_task_id for item in members)
                title = f"Sweep of {len(members)} · resumed after a restart"
                self.gallery.add_widget(BatchView(resumed, items=members, title=title))
        resumed.on_update(self._on_resumed)
        self._on_resumed(resumed)

    def _on_resumed(self, batch: Batch) -> None:
        with self._lock:  # reported from two threads: each task is shown once
            self._show_resumed(batch)

    def _show_resumed(self, batch: Batch) -> None:
        for item in batch.items:
            if item.external_task_id in self._in_sweeps:
                continue  # shown in its sweep's BatchView
            shown = self.gallery.get(item.external_task_id) or (item.task and self.gallery.get(item.task.id))
            if item.task is not None and not shown:
                label = f"from history · {shorten(item.request.prompt, 40)}"
                view = self.gallery.add(TaskView(item.task, client=self.client, label=label))
                view.on_watch_again(self._watch_again)
                view.update(item.task, "Resumed after a restart: watching again." if not item.task.done else None)
            elif item.state == ItemState.UNKNOWN and item.external_task_id not in self._told_unknown:
                self._told_unknown.add(item.external_task_id)
                self._say(
                    f"A create ({item.external_task_id}) has no known outcome: it may exist and be billed. "
                    "It was not resent; check the provider's console.",
                    "warning",
                    stays=True,
                )
