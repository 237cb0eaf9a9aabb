"""TaskWatcher: one background thread polls every live task and tells listeners.

Poll spacing is the watcher's own (one request per task per turn, no per-request retry loops that
would stall every other task); a failed poll only moves that task's next turn later. A task leaves
the watch when it ends, when the service says it cannot be watched (auth, not found), or at the
deadline — and listeners are told which.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .client import DEFAULT_POLL_INTERVAL, KlingClient, poll_delay
from .errors import APIConnectionError, KlingError, PayloadError, RateLimitError, ServerError
from .models import Task

if TYPE_CHECKING:
    from .history import TaskHistory

log = logging.getLogger("kling_widgets")
Listener = Callable[["TaskUpdate"], None]
TRANSIENT = (ServerError, RateLimitError, APIConnectionError, PayloadError)


@dataclass(frozen=True)
class TaskUpdate:
    """What a listener hears: the latest task, and a problem in words when there is one.
    ``final`` is True when the watcher will say nothing more about this task."""

    task: Task
    problem: str | None = None
    final: bool = False


@dataclass
class _Watched:
    key: str  # the id it is watched under (what get_task is asked for)
    task: Task
    started: float
    next_poll: float
    failures: int = 0
    listeners: list[Listener] = field(default_factory=list)


class TaskWatcher:
    """Watch many tasks with one thread. ``watch(task)``; ``on_update(callback)`` for every update."""

    def __init__(
        self,
        client: KlingClient,
        *,
        poll_interval: float | None = None,
        timeout: float = 1800.0,
        history: TaskHistory | None = None,
    ) -> None:
        self.client = client
        self.poll_interval = poll_interval or client.poll_interval or DEFAULT_POLL_INTERVAL
        self.timeout = timeout
        self.history = history or client.history
        self._watched: dict[str, _Watched] = {}
        self._listeners: list[Listener] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"TaskWatcher(live={len(self._watched)}, interval={self.poll_interval:g}s)"

    @property
    def live(self) -> list[str]:
        """Ids of the tasks being watched now."""
        with self._wake:
            return list(self._watched)

    def on_update(self, callback: Listener, *, remove: bool = False) -> None:
        """Register (or, with ``remove=True``, unregister) a callback for every task's updates.
        Callbacks run on the watcher's thread: set widget traits there, never print."""
        with self._wake:
            if remove:
                self._listeners = [c for c in self._listeners if c != callback]
            elif callback not in self._listeners:
                self._listeners.append(callback)

    def watch(self, task: Task, on_update: Listener | None = None) -> None:
        """Follow ``task`` until it ends. A finished task is reported once and not polled."""
        if task.done:
            self._tell(task, [on_update] if on_update else [], TaskUpdate(task, final=True))
            return
        now = time.monotonic()
        with self._wake:
            watched = self._watched.get(task.id)
            if watched is None:
                watched = self._watched[task.id] = _Watched(task.id, task, now, now + self.poll_interval)
            if on_update is not None:
                watched.listeners.append(on_update)
            self._stopped = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kling-task-watcher", daemon=True)
                self._thread.start()
            self._wake.notify()

    def unwatch(self, task_id: str) -> None:
        with self._wake:
            self._watched.pop(task_id, None)

    def stop(self) -> None:
        """Stop the thread; watched tasks are forgotten (they stay in the journal)."""
        with self._wake:
            self._stopped = True
            self._watched.clear()
            self._wake.notify()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no task is watched (for scripts and tests; a notebook need not call it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.live:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    # -- the thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                now = time.monotonic()
                due = [w for w in self._watched.values() if w.next_poll <= now]
                if not due:
                    soonest = min((w.next_poll for w in self._watched.values()), default=None)
                    self._wake.wait(None if soonest is None else max(0.0, soonest - now))
                    continue
            for watched in due:
                self._poll(watched)

    def _poll(self, watched: _Watched) -> None:
        task = watched.task
        now = time.monotonic()
        elapsed = now - watched.started
        try:
            current = self.client.get_task(watched.key, retry=False).with_external_id(task.external_task_id)
        except TRANSIENT as error:
            watched.failures += 1
            # A passing failure is retried at the usual pace; only a run of them backs off (gently, capped),
            # so a flaky service does not leave one unlucky task unpolled for long.
            backoff = 1.5 ** min(max(0, watched.failures - 2), 8)
            watched.next_poll = now + min(max(10.0, self.poll_interval), self.poll_interval * backoff)
            log.info("poll of %s failed (%s); trying again", task.id, error)
            if watched.failures >= 3:
                self._update(watched, TaskUpdate(task, problem=f"Trouble reaching the service, still trying: {error}"))
            self._check_deadline(watched, elapsed)
            return
        except KlingError as error:
            self._finish(watched, TaskUpdate(task, problem=f"Stopped watching: {error}", final=True))
            return
        watched.failures = 0
        watched.next_poll = now + poll_delay(self.poll_interval, elapsed)
        changed = (current.status, current.progress, current.video_url) != (
            task.status,
            task.progress,
            task.video_url,
        )
        watched.task = current
        if changed and self.history is not None:
            self.history.record_task(current)
        if current.done:
            self._finish(watched, TaskUpdate(current, final=True))
        else:
            self._update(watched, TaskUpdate(current))
            self._check_deadline(watched, elapsed)

    def _check_deadline(self, watched: _Watched, elapsed: float) -> None:
        if elapsed >= self.timeout:
            problem = (
                f"Stopped watching after {elapsed / 60:.0f} min. The task may still finish and be billed; "
                "it stays in the history and can be watched again."
            )
            self._finish(watched, TaskUpdate(watched.task, problem=problem, final=True))

    def _finish(self, watched: _Watched, update: TaskUpdate) -> None:
        with self._wake:
            self._watched.pop(watched.key, None)
        self._update(watched, update)

    def _update(self, watched: _Watched, update: TaskUpdate) -> None:
        with self._wake:
            listeners = [*self._listeners, *watched.listeners]
        self._tell(update.task, listeners, update)

    @staticmethod
    def _tell(task: Task, listeners: list[Listener], update: TaskUpdate) -> None:
        for listener in listeners:
            try:
                listener(update)
            except Exception:  # a broken listener must not stop the others or the watcher
                log.exception("a task listener failed for %s", task.id)
