"""MultiImageToVideo: pick images, write the prompt, choose options, submit, watch the video arrive.

The click handler never blocks the kernel: it validates, disables Submit and hands the create to a
worker thread; the one background watcher then keeps every TaskView current. While a create is in
flight further clicks do nothing, so a double click is one task; the form keeps its values whatever
happens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import ipywidgets as widgets
import traitlets

from ..client import KlingClient, new_external_task_id
from ..errors import (
    APIError,
    AuthenticationError,
    CreateOutcomeUnknownError,
    KlingError,
    Problem,
    RateLimitError,
    ValidationError,
)
from ..images import DEFAULT_MAX_SIDE
from ..models import Task, TaskStatus, VideoRequest
from ..watcher import TaskUpdate, TaskWatcher
from ._style import esc, message_html, stylesheet, title
from .images import ImagePicker
from .options import OptionsPanel
from .prompt import PromptBox
from .status import TaskGallery, TaskView

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..history import TaskHistory

log = logging.getLogger("kling_widgets")
SubmitCallback = Callable[[Task], None]
RESUME_LIMIT = 20
QUEUE_RETRY = 30.0  # seconds before a queued create is tried again when no task here ends


class MultiImageToVideo(widgets.VBox):
    """The whole bundle. ``client`` defaults to ``KlingClient()`` from the environment; ``history``
    journals submissions, shows past tasks and resumes watching unfinished ones."""

    problems: traitlets.List[Any] = traitlets.List(
        help="Why the form cannot be sent now: a list of Problem (field, message)."
    )
    submitting = traitlets.Bool(False, help="True while a create is in flight (Submit is disabled).")

    def __init__(
        self,
        client: KlingClient | None = None,
        *,
        history: TaskHistory | None = None,
        poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._setup_error = ""
        if client is None:
            try:
                client = KlingClient(history=history)
            except AuthenticationError as error:
                self._setup_error = error.message
        self.client = client
        self.history = history or (client.history if client else None)
        self.watcher = TaskWatcher(client, poll_interval=poll_interval, history=self.history) if client else None
        self.image_picker = ImagePicker()
        self.prompt_box = PromptBox()
        self.options = OptionsPanel()
        traitlets.link((self.prompt_box, "negative_prompt"), (self.options, "negative_prompt"))
        self.submit_button = widgets.Button(
            description="Generate video",
            button_style="primary",
            icon="film",
            layout=widgets.Layout(width="180px", height="34px"),
        )
        self._why = widgets.HTML()
        self._status = widgets.HTML()
        self.gallery = TaskGallery()
        self._callbacks: list[SubmitCallback] = []
        self._queued: list[VideoRequest] = []
        self._closed = False
        from concurrent.futures import ThreadPoolExecutor  # on first use: it is not free to import

        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kling-create")
        self._lock = threading.Lock()
        super().__init__(
            [
                stylesheet(),
                widgets.HTML(self._banner()),
                title("Reference images (1–4)"),
                self.image_picker,
                self.prompt_box,
                title("Options"),
                self.options,
                widgets.HBox(
                    [self.submit_button, self._why],
                    layout=widgets.Layout(align_items="center", margin="10px 0 0 0"),
                ),
                self._status,
                title("Tasks"),
                self.gallery,
            ],
            **kwargs,
        )
        self.add_class("kw-root")
        self.submit_button.on_click(lambda _: self.submit())
        self.image_picker.observe(self._refresh, names="images")
        self.prompt_box.observe(self._refresh, names=["value", "negative_prompt"])
        self.options.observe(self._refresh, names=["callback_url", "external_task_id"])
        self.options.observe(self._on_originals, names="send_originals")
        self.observe(self._refresh, names="submitting")
        if self.watcher is not None:
            self.watcher.on_update(self._on_task_update)
        self._refresh()
        if self.history is not None:
            self._resume()

    def __repr__(self) -> str:
        images, tasks = len(self.image_picker.images), len(self.tasks)
        return f"MultiImageToVideo(client={self.client!r}, images={images}, tasks={tasks})"

    def close(self) -> None:
        """Stop watching tasks and the create worker, and close the bundle's own widget."""
        self._closed = True
        if self.watcher is not None:
            self.watcher.stop()
        self._executor.shutdown(wait=False)
        super().close()

    # -- the form ----------------------------------------------------------------------------------
    def _build(self) -> VideoRequest:
        options = self.options
        return VideoRequest(
            list(self.image_picker.images),
            self.prompt_box.value,
            negative_prompt=self.prompt_box.negative_prompt or None,
            model_name=options.model_name,
            mode=options.mode,
            duration=options.duration,
            aspect_ratio=options.aspect_ratio,
            watermark=options.watermark,
            callback_url=options.callback_url.strip() or None,
            external_task_id=options.external_task_id.strip() or None,
        )

    @property
    def request(self) -> VideoRequest | None:
        """The request the form describes now, or None while it is invalid (see ``problems``)."""
        request = self._build()
        return None if request.problems() else request

    def _refresh(self, _: object = None) -> None:
        problems = [] if self.client else [Problem("client", self._setup_error)]
        if not self.image_picker.images:
            problems.append(Problem("images", "add 1 to 4 reference images", (1, 4), 0))
        problems += [p for p in self._build().problems() if p.field != "images"]
        self.problems = problems
        self.submit_button.disabled = bool(problems) or self.submitting
        self.submit_button.description = "Submitting…" if self.submitting else "Generate video"
        if self.submitting:
            self._why.value = '<span class="kw-hint" style="margin-left:10px">Sending the request…</span>'
        elif problems:
            reasons = "; ".join(_plain(p) for p in problems if p.field != "client")
            self._why.value = (
                f'<span class="kw-hint" style="margin-left:10px">To generate: {esc(reasons)}</span>' if reasons else ""
            )
        else:
            self._why.value = f'<span class="kw-hint" style="margin-left:10px">{esc(self._cost_hint())}</span>'

    def _on_originals(self, change: dict[str, Any]) -> None:
        self.image_picker.max_side = None if change["new"] else DEFAULT_MAX_SIDE

    def _cost_hint(self) -> str:
        if self.client and self.client.is_simulator():
            return "Ready · simulator: nothing is billed"
        return f"Ready · one click creates one {self.options.mode} task of {self.options.duration} s (billed)"

    def _banner(self) -> str:
        if self.client is None:
            return f'<div class="kw-banner kw-warning">{esc(self._setup_error)}</div>'
        where = self.client.base_url
        if self.client.is_simulator():  # proven by the service itself, never guessed from the address
            text = f"Connected to the built-in simulator at {where} — nothing is billed."
        else:
            text = f"Connected to {urlparse(where).hostname} ({self.client.provider}) — every task is billed."
        return f'<div class="kw-banner"><b>Kling · multi-image to video</b> · {esc(text)}</div>'

    # -- submitting --------------------------------------------------------------------------------
    def on_submit(self, callback: SubmitCallback, *, remove: bool = False) -> None:
        """Call ``callback(task)`` after each create the service accepted (``remove=True`` to stop)."""
        if remove:
            self._callbacks = [c for c in self._callbacks if c != callback]
        elif callback not in self._callbacks:
            self._callbacks.append(callback)

    def submit(self) -> Future[Task | None] | None:
        """What the button does. Returns a Future of the created task (None if it was not created), or
        None at once when nothing was sent: a create already in flight, or an invalid form."""
        with self._lock:
            if self.submitting or self.client is None:
                return None
            request = self._build()
            problems = request.problems()
            if problems:
                self._status.value = message_html("Not sent: " + "; ".join(_plain(p) for p in problems))
                return None
            self.submitting = True
        self._status.value = ""
        if request.external_task_id is None:  # fixed now, so a queued resend is the same intention
            request = request.with_external_task_id(new_external_task_id())
        return self._executor.submit(self._create, request)

    def _create(self, request: VideoRequest) -> Task | None:
        assert self.client is not None and self.watcher is not None
        task: Task | None = None
        try:
            task = self.client.create_task(request, history=self.history, on_progress=_UploadMeter(self._why))
        except CreateOutcomeUnknownError as error:
            self._status.value = message_html(str(error), "warning")
        except RateLimitError as error:
            if error.code != 1303:
                self._status.value = message_html(f"The service is busy, try again shortly: {error}")
            else:  # the account runs as many tasks as it may: send this one when one of them ends
                self._queue(request)
        except APIError as error:  # before ValidationError: a service-side 1201 is both, and it was sent
            self._status.value = message_html(f"The service refused the request: {error}")
        except ValidationError as error:
            self._status.value = message_html("Not sent: " + "; ".join(_plain(p) for p in error.problems))
        except KlingError as error:
            self._status.value = message_html(f"Could not send the request: {error}")
        except Exception as error:  # shown where the person looks; the form stays as it was
            log.exception("create failed")
            self._status.value = message_html(f"Unexpected error: {type(error).__name__}: {error}")
        else:
            view = self.gallery.add(TaskView(task, client=self.client, label=_label(request)))
            self._status.value = message_html(f"Task {task.id} created — following it below.", "ok")
            self.watcher.watch(task)
            view.update(task)
            for callback in list(self._callbacks):
                try:
                    callback(task)
                except Exception:
                    log.exception("an on_submit callback failed")
        finally:
            self.submitting = False
        return task

    # -- tasks -------------------------------------------------------------------------------------
    @property
    def tasks(self) -> list[Task]:
        """Every task shown, newest first."""
        return [view.task for view in self.gallery.views]

    def _on_task_update(self, update: TaskUpdate) -> None:
        view = self.gallery.get(update.task.id) or self.gallery.get(update.task.external_task_id or "")
        if view is not None:
            view.update(update.task, update.problem)
        if update.final:
            self._send_queued()

    def _queue(self, request: VideoRequest) -> None:
        """Keep a create refused for concurrency (1303; nothing was created) until a slot frees up:
        when one of the watched tasks ends, or after ``QUEUE_RETRY`` seconds if none is watched here."""
        with self._lock:
            self._queued.append(request)
            waiting = len(self._queued)
        self._status.value = message_html(
            f"Your account is already running as many tasks as it may (code 1303). {waiting} request(s) "
            "queued here: each is sent when one of your tasks finishes. Nothing was created yet.",
            "warning",
        )
        timer = threading.Timer(QUEUE_RETRY, self._send_queued)
        timer.daemon = True
        timer.start()

    def _send_queued(self) -> None:
        with self._lock:
            if not self._queued or self._closed:
                return
            request = self._queued.pop(0)
        self._executor.submit(self._create, request)

    def _resume(self) -> None:
        """Show past tasks from the journal and watch the unfinished ones again — creating nothing.
        A create whose outcome is unknown is looked up by its external id where the provider allows it
        (Kling direct); elsewhere it is reported, never resent."""
        assert self.history is not None
        for entry in reversed(self.history.entries()[:RESUME_LIMIT]):
            task = entry.to_task()
            label = f"from history · {(entry.prompt or '')[:40]}"
            live = self.watcher is not None and self._same_service(entry.base_url)
            if task is None:
                if entry.done or entry.status == "rejected":
                    continue
                if not (live and self.client is not None and self.client.provider == "kling"):
                    self._status.value = message_html(
                        f"A create ({entry.external_task_id}) has no known outcome: it may exist and be billed. "
                        "It was not resent; check the provider's console.",
                        "warning",
                    )
                    continue
                ext = entry.external_task_id
                task = Task(ext, TaskStatus.SUBMITTED, raw_status="outcome unknown", external_task_id=ext)
            view = self.gallery.add(TaskView(task, client=self.client, label=label))
            if not task.done and live and self.watcher is not None:
                self.watcher.watch(task)
                view.update(task, "Resumed after a restart: watching again.")

    def _same_service(self, base_url: str | None) -> bool:
        return self.client is not None and (base_url is None or base_url.rstrip("/") == self.client.base_url)


def _plain(problem: Problem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field not in ("images", "client") else problem.message


def _label(request: VideoRequest) -> str:
    prompt = request.prompt.strip().replace("\n", " ")
    return (prompt[:48] + "…") if len(prompt) > 48 else prompt


class _UploadMeter:
    """Shows how the upload goes beside the button: bytes sent of the total, and the rate."""

    def __init__(self, target: widgets.HTML) -> None:
        self.target = target
        self.started = time.monotonic()

    def __call__(self, sent: int, total: int) -> None:
        if total < 1_000_000:  # a small body goes in a moment: "Sending the request…" says enough
            return
        seconds = max(time.monotonic() - self.started, 1e-3)
        text = f"Uploading {sent / 1e6:.1f} of {total / 1e6:.1f} MB · {sent / seconds / 1e6:.1f} MB/s"
        if sent >= total:
            text = f"Uploaded {total / 1e6:.1f} MB · waiting for the service to accept the task…"
        self.target.value = f'<span class="kw-hint" style="margin-left:10px">{esc(text)}</span>'
