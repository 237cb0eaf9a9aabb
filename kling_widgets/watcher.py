"""TaskWatcher: one background thread for the whole process polls every live task and tells listeners.

Every ``TaskWatcher`` is a handle onto one process-wide engine: a task of one account is polled once,
however many watchers (bundles, re-run cells, two bundles over one journal) follow it; each is told.
The engine keeps its own spacing (one request per task per turn, no per-request retry loops that would
stall every other task), a total request-rate budget for the process, and honours Retry-After for the
whole account. Nothing one poll raises stops it: a failure only moves that task's next turn later.
A task leaves the watch when it ends, when the service says it cannot be watched (auth), or at the
deadline — and listeners are told which. The bundle and batches give no deadline (``timeout=None``): a
task nobody cancelled is followed as long as the process lives, once a minute when it is old.

While someone waits for a slot of an account (an intention of a batch, in this kernel or another one),
the tasks holding its slots are looked at at the base pace instead of their slower young or old pace: a
task that ends frees its slot within one base interval, not ten seconds or a minute later. Whether anyone
waits is asked of the account's own check (``set_hurry``, given by ``account``: it reads the shared store
at most once a second); nobody waiting costs no request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._listeners import Listeners, call_each
from .client import DEFAULT_POLL_INTERVAL, MISSING_VIDEO_POLLS, KlingClient
from .errors import APIConnectionError, KlingError, NotFoundError, RateLimitError
from .retry import EXPECTED_SECONDS, MAX_PAUSE, PASSING, failure_delay, hurry_delay, poll_delay
from .task import Task

if TYPE_CHECKING:
    from .history import TaskHistory

log = logging.getLogger("kling_widgets")
Listener = Callable[["TaskUpdate"], None]
Hurry = Callable[[], bool]  # True while someone waits for a slot of the account
NOT_FOUND_GRACE = 90.0  # a new task may not be visible to lookups at once: "not found" is passing that long
MAX_REQUESTS_PER_SECOND = 5.0  # the whole process's polling budget
LIST_WHEN = 3  # on Kling direct, this many tasks due at once are refreshed by one page of the list
HURRY_LOOK = 1.0  # seconds: how soon a waiter that appears in another kernel is noticed (a file stat, a Redis call)


@dataclass(frozen=True)
class TaskUpdate:
    """What a listener hears: the latest task, and a problem in words when there is one.
    ``final`` is True when the watcher will say nothing more about this task."""

    task: Task
    problem: str | None = None
    final: bool = False


@dataclass
class _Subscription:
    watcher: TaskWatcher
    listener: Listener | None


@dataclass
class _Watched:
    account: str
    key: str  # the id it is watched under (what get_task is asked for)
    task: Task
    started: float
    next_poll: float
    looked: float = 0.0  # when it was last looked at (or began to be watched)
    subscriptions: list[_Subscription] = field(default_factory=list)
    failures: int = 0
    missing_video: int = 0
    journaled: tuple[object, ...] = ()
    ended: bool = False  # its final word is being told: a new watch of the task starts afresh (see finish)

    @property
    def owner(self) -> TaskWatcher:
        return self.subscriptions[0].watcher


class _Engine:
    """The one polling thread of the process and the table of what it watches."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.watched: dict[tuple[str, str], _Watched] = {}
        self.paused_until: dict[str, float] = {}
        self.thread: threading.Thread | None = None
        self.last_request = 0.0
        self.max_requests_per_second = MAX_REQUESTS_PER_SECOND
        self.expected = EXPECTED_SECONDS  # how long tasks take here: learned from the ones that finish
        self.hurry: dict[str, Hurry] = {}  # account → "does someone wait for one of its slots?"

    def ensure_thread(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self.run, name="kling-task-watcher", daemon=True)
            self.thread.start()

    def run(self) -> None:
        while True:
            try:
                self.turn()
            except Exception:  # the watcher must outlive anything one turn raises
                log.exception("task watcher: a turn failed; carrying on")
                time.sleep(0.5)

    def turn(self) -> None:
        hurried, asked = self.hurried()
        with self.cond:
            now = time.monotonic()
            ready = [
                w for w in self.watched.values() if w.subscriptions and self.paused_until.get(w.account, 0.0) <= now
            ]
            due = min(ready, key=lambda w: self.due_at(w, hurried), default=None)
            spacing = 1.0 / self.max_requests_per_second if self.max_requests_per_second > 0 else 0.0
            start_at = None if due is None else max(self.due_at(due, hurried), self.last_request + spacing)
            if due is None or start_at is None or start_at > now:
                paused = [t for t in self.paused_until.values() if t > now]
                # Ask again soon whether someone waits (another kernel tells nobody here): no request is sent.
                again = now + HURRY_LOOK if asked - hurried else None
                wake = min([x for x in (start_at, again, *paused) if x is not None], default=None)
                self.cond.wait(None if wake is None else max(0.0, wake - now))
                return
            self.last_request = now
        try:
            if not self.poll_by_list(due):
                self.poll(due)
        except Exception as error:  # a library's exception, a journal that cannot be written, a listener
            log.exception("task watcher: polling %s failed; it will be polled again", due.key)
            if not due.subscriptions:
                return
            due.next_poll = time.monotonic() + max(2.0, due.owner.poll_interval)
            self.tell(due, TaskUpdate(due.task, problem=f"Watching hit an unexpected error, still trying: {error}"))

    def hurried(self) -> tuple[set[str], set[str]]:
        """The accounts of watched tasks where someone waits for a slot, and those that were asked. Asked
        outside the lock: a check may read a file or ask Redis (each check keeps its answer a moment)."""
        with self.cond:
            checks = {w.account: self.hurry[w.account] for w in self.watched.values() if w.account in self.hurry}
        waiting = set()
        for account, check in checks.items():
            try:
                if check():
                    waiting.add(account)
            except Exception:  # a check that fails means "nobody known to wait": the usual pace
                log.debug("could not tell whether someone waits for a slot of %s", account, exc_info=True)
        return waiting, set(checks)

    def due_at(self, watched: _Watched, hurried: set[str]) -> float:
        """When ``watched`` is due: its own turn, or sooner while someone waits for a slot of its account
        (never after a failed look: that one keeps its backoff)."""
        if watched.account not in hurried or watched.failures or not watched.subscriptions:
            return watched.next_poll
        owner = watched.owner
        return min(watched.next_poll, watched.looked + hurry_delay(owner.poll_interval, self.crowd(owner)))

    def crowd(self, watcher: TaskWatcher) -> int:
        """How many tasks are polled one by one (see ``retry.poll_delay``). On Kling direct one list
        request refreshes them together, so they are kept in step rather than spread: 1."""
        return 1 if watcher.client.provider == "kling" else len(self.watched)

    def poll(self, watched: _Watched) -> None:
        if not watched.subscriptions:  # every watcher of it stopped meanwhile
            return
        owner = watched.owner
        task = watched.task
        now = time.monotonic()
        elapsed = now - watched.started
        try:
            current = owner.client.get_task(watched.key, retry=False).with_external_id(task.external_task_id)
        except NotFoundError as error:
            if elapsed < NOT_FOUND_GRACE:  # not visible yet, most likely
                self.failed(watched, now, error, elapsed)
            else:
                self.finish(watched, TaskUpdate(task, problem=f"Stopped watching: {error}", final=True))
            return
        except PASSING as error:
            if isinstance(error, RateLimitError) and error.retry_after:
                with self.cond:
                    self.paused_until[watched.account] = now + min(error.retry_after, MAX_PAUSE)
            self.failed(watched, now, error, elapsed)
            return
        except KlingError as error:
            self.finish(watched, TaskUpdate(task, problem=f"Stopped watching: {error}", final=True))
            return
        self.apply(watched, current, now)

    def poll_by_list(self, due: _Watched) -> bool:
        """On Kling direct, one page of the task list refreshes every task of the account it holds: one
        request instead of one per task. Tasks not on the page keep their own turn. False when a list
        does not pay (another provider, or few tasks due)."""
        if not due.subscriptions or due.owner.client.provider != "kling":
            return False
        now = time.monotonic()
        with self.cond:
            mine = [w for w in self.watched.values() if w.account == due.account and w.subscriptions]
        soon = [w for w in mine if w.next_poll <= now + due.owner.poll_interval]
        if len(soon) < LIST_WHEN:
            return False
        try:
            listed = due.owner.client.list_tasks(page=1, page_size=min(500, max(30, 2 * len(mine))))
        except PASSING as error:
            if isinstance(error, RateLimitError) and error.retry_after:
                with self.cond:
                    self.paused_until[due.account] = now + min(error.retry_after, MAX_PAUSE)
            return False  # the single poll of ``due`` goes ahead, and fails or not on its own
        except KlingError:
            return False
        by_key = {t.id: t for t in listed}
        by_key.update({t.external_task_id: t for t in listed if t.external_task_id})
        found = False
        for watched in mine:
            current = by_key.get(watched.key) or by_key.get(watched.task.id)
            if current is not None:
                found = found or watched is due
                self.apply(watched, current.with_external_id(watched.task.external_task_id), now)
        return found

    def apply(self, watched: _Watched, current: Task, now: float) -> None:
        """What one fresh state of a task means: journal it, tell the listeners, end the watch or not."""
        owner = watched.owner
        elapsed = now - watched.started
        watched.failures = 0
        watched.looked = now
        watched.next_poll = now + poll_delay(owner.poll_interval, elapsed, self.expected, crowd=self.crowd(owner))
        watched.task = current
        self.journal(watched, current)
        if current.done and not current.complete:
            watched.missing_video += 1
            if watched.missing_video <= MISSING_VIDEO_POLLS:
                watched.next_poll = now + min(owner.poll_interval, 5.0)
                self.tell(
                    watched, TaskUpdate(current, problem="Finished; waiting for the service to give the video link.")
                )
                return
            problem = (
                "The service reports this task as done but gave no video link, though asked several times. "
                "It may appear later in your provider's console."
            )
            self.finish(watched, TaskUpdate(current, problem=problem, final=True))
        elif current.done:
            self.expected = 0.7 * self.expected + 0.3 * max(elapsed, 1.0)
            self.finish(watched, TaskUpdate(current, final=True))
        else:
            self.tell(watched, TaskUpdate(current))
            self.check_deadline(watched, elapsed)

    def failed(self, watched: _Watched, now: float, error: KlingError, elapsed: float) -> None:
        watched.failures += 1
        watched.looked = now
        watched.next_poll = now + failure_delay(watched.failures, watched.owner.poll_interval)
        log.info("poll of %s failed (%s); trying again", watched.task.id, error)
        if watched.failures >= 3:
            problem = f"Trouble reaching the service, still trying: {error}"
            if watched.owner.client.proven_simulator and isinstance(error, APIConnectionError):
                problem = (  # said as such, not as a network failure (the client proved it is the simulator)
                    "The built-in simulator that runs this task has stopped: a simulated task ends with it. "
                    "Still looking, in case it is started again. Nothing is billed."
                )
            self.tell(watched, TaskUpdate(watched.task, problem=problem))
        self.check_deadline(watched, elapsed)

    def journal(self, watched: _Watched, task: Task) -> None:
        state = (task.status, task.progress, task.video_url)
        history = next((s.watcher.history for s in watched.subscriptions if s.watcher.history), None)
        if history is None or state == watched.journaled:
            return
        history.record_task(task)  # may raise (a full disk): the turn's guard logs it, next poll retries
        watched.journaled = state

    def check_deadline(self, watched: _Watched, elapsed: float) -> None:
        timeout = watched.owner.timeout
        if timeout is not None and elapsed >= timeout:
            problem = (
                f"Stopped watching after {elapsed / 60:.0f} min. The task may still finish and be billed; "
                "it stays in the history and can be watched again."
            )
            self.finish(watched, TaskUpdate(watched.task, problem=problem, final=True))

    def finish(self, watched: _Watched, update: TaskUpdate) -> None:
        """Tell the final word, then stop watching: whoever waits for the watch to end finds the
        listeners already told. It is marked ended first: a listener told may watch the task again at once
        (a card's "Watch again" pressed as soon as it shows), and that new watch must not join this one
        and be dropped with it."""
        with self.cond:
            watched.ended = True
        self.tell(watched, update)
        with self.cond:
            if self.watched.get((watched.account, watched.key)) is watched:
                del self.watched[(watched.account, watched.key)]

    def tell(self, watched: _Watched, update: TaskUpdate) -> None:
        with self.cond:
            watchers = list(dict.fromkeys(s.watcher for s in watched.subscriptions))  # each once
            listeners = [listener for w in watchers for listener in w._listeners.snapshot()]
            listeners += [s.listener for s in watched.subscriptions if s.listener is not None]
        tell(listeners, update)


def tell(listeners: list[Callable[[TaskUpdate], object]], update: TaskUpdate) -> None:
    call_each(listeners, update, f"a task listener for {update.task.id}")  # one failing stops neither the rest


_ENGINE = _Engine()


def set_hurry(account: str, check: Hurry | None) -> None:
    """Give the watcher a way to ask whether someone waits for a slot of ``account`` (``KlingClient.account``).

    Parameters
    ----------
    account
        The account as the watched tasks' client names it.
    check
        Called by the watcher's thread, about once a second while tasks of the account are watched; True
        while someone waits for one of its slots. It must answer quickly (keep its answer a moment when it
        reads a shared store). None forgets the check.
    """
    with _ENGINE.cond:
        if check is None:
            _ENGINE.hurry.pop(account, None)
        else:
            _ENGINE.hurry[account] = check
        _ENGINE.cond.notify()


def look_again() -> None:
    """Wake the watcher to ask its checks again now (someone in this process began to wait for a slot)."""
    with _ENGINE.cond:
        _ENGINE.cond.notify()


class TaskWatcher:
    """Watch many tasks; ``watch(task)``, ``on_update(callback)`` for every update of its tasks.

    All watchers of a process share one thread, and a task of one account is polled once however many
    watchers follow it. ``timeout``: seconds after which a task is no longer followed (None: never).
    ``TaskWatcher.set_rate_limit(n)`` sets the process's total polling budget
    (requests per second, default 5).

    Parameters
    ----------
    client : KlingClient
        Asks the service for each task's state.
    poll_interval : float, optional
        Seconds between polls of one task (default: paced by the process's budget).
    timeout : float, optional
        Seconds after which a task is no longer followed (None: never).
    history : TaskHistory, optional
        Where each new state is journaled (default: the client's).
    """

    def __init__(
        self,
        client: KlingClient,
        *,
        poll_interval: float | None = None,
        timeout: float | None = 1800.0,
        history: TaskHistory | None = None,
    ) -> None:
        self.client = client
        self.poll_interval = poll_interval or client.poll_interval or DEFAULT_POLL_INTERVAL
        self.timeout = timeout
        self.history = history or client.history
        self._listeners: Listeners[TaskUpdate] = Listeners("a task listener")

    def __repr__(self) -> str:
        return f"TaskWatcher(live={len(self.live)}, interval={self.poll_interval:g}s)"

    @staticmethod
    def set_rate_limit(requests_per_second: float) -> None:
        """Set the most requests per second all watchers of this process send together.

        Parameters
        ----------
        requests_per_second : float
            The budget; 0 lifts the limit.
        """
        with _ENGINE.cond:
            _ENGINE.max_requests_per_second = requests_per_second
            _ENGINE.cond.notify()

    @property
    def live(self) -> list[str]:
        """Ids of the tasks this watcher follows now."""
        with _ENGINE.cond:
            return [w.key for w in _ENGINE.watched.values() if any(s.watcher is self for s in w.subscriptions)]

    def on_update(self, callback: Listener, *, remove: bool = False) -> None:
        """Register (or, with ``remove=True``, unregister) a callback for every task's updates.
        Callbacks run on the watcher's thread: set widget traits there, never print.

        Parameters
        ----------
        callback : callable
            Called with each new state of a task.
        remove : bool
            Unregister ``callback`` instead.
        """
        self._listeners.register(callback, remove)

    def watch(self, task: Task, on_update: Listener | None = None) -> None:
        """Follow ``task`` until it ends. A finished task is reported once and not polled.

        Parameters
        ----------
        task : Task
            The task to follow.
        on_update : callable, optional
            Called with this task's new states only.
        """
        if task.complete:
            tell([*self._listeners.snapshot(), *([on_update] if on_update else [])], TaskUpdate(task, final=True))
            return
        now = time.monotonic()
        key = (self.client.account, task.id)
        with _ENGINE.cond:
            # The first look: soon for a handful of tasks, spread over a crowd (see retry.poll_delay).
            first = now + poll_delay(self.poll_interval, 0.0, _ENGINE.expected, crowd=_ENGINE.crowd(self) + 1)
            watched = _ENGINE.watched.get(key)
            if watched is None or watched.ended:  # an ended watch is about to leave the table: a new one
                watched = _ENGINE.watched[key] = _Watched(self.client.account, task.id, task, now, first, now)
            if not any(s.watcher is self and s.listener == on_update for s in watched.subscriptions):
                watched.subscriptions.append(_Subscription(self, on_update))
            watched.next_poll = min(watched.next_poll, first)
            _ENGINE.ensure_thread()
            _ENGINE.cond.notify()

    def unwatch(self, task_id: str) -> None:
        """Stop following ``task_id`` here (other watchers of it go on).

        Parameters
        ----------
        task_id : str
            The service's id of the task.
        """
        self._drop(lambda w: w.key == task_id)

    def stop(self) -> None:
        """Stop following every task here; they stay in the journal, and other watchers go on."""
        self._drop(lambda w: True)

    def _drop(self, which: Callable[[_Watched], bool]) -> None:
        with _ENGINE.cond:
            for key, watched in list(_ENGINE.watched.items()):
                if which(watched):
                    watched.subscriptions = [s for s in watched.subscriptions if s.watcher is not self]
                    if not watched.subscriptions:
                        del _ENGINE.watched[key]
            _ENGINE.cond.notify()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until this watcher follows no task (for scripts and tests; a notebook need not call it).

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most (None: no limit).

        Returns
        -------
        bool
            True when idle, False when ``timeout`` passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.live:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
