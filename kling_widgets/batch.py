"""Batches: many intentions sent under the account's limits, none lost, none paid twice.

``Batch`` is the submission queue for scripts and for the bundle alike. Every intention gets its
``external_task_id`` and is journaled as *queued* before anything is sent (its pictures wait in the
journal's private spool), so a kernel that dies halfway loses nothing and :meth:`Batch.resume` sends
exactly what was never sent. Creates go out one at a time, each with a lease on one of the account's
slots, shared with every other kernel of the same key (``account``): the limit is learned from the first
1303 refusal (or capped by ``max_concurrent``), and further creates wait their turn until a task of the
account ends instead of hammering the service. Created tasks are followed by the one watcher of the
process. A failed or refused request never stops the others.

One request of a batch (``BatchItem``) and its states live in ``batch_item``; ``sweep`` (``sweeps``) makes
requests and ``estimate_units`` (``pricing``) prices them. All three are still importable from here.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._listeners import Listeners
from .account import AccountSlots
from .batch_item import BatchItem as BatchItem
from .batch_item import ItemState, retryable, tally, unit_of
from .client import KlingClient, elsewhere, new_external_task_id
from .errors import (
    BatchTimeoutError,
    BudgetExceededError,
    CreateOutcomeUnknownError,
    KlingError,
    Problem,
    RateLimitError,
    ValidationError,
)
from .history import CANCELLED, QUEUED, SENDING, UNKNOWN, described_request
from .pricing import RATE_CARD as RATE_CARD
from .pricing import estimate_units as estimate_units
from .request import VideoRequest
from .retry import QUEUE_RETRY
from .sweeps import sweep as sweep
from .task import Task, TaskStatus
from .watcher import TaskUpdate, TaskWatcher

if TYPE_CHECKING:
    from .history import HistoryEntry, TaskHistory

log = logging.getLogger("kling_widgets")

Listener = Callable[["Batch"], None]


def _item(
    index: int, request: VideoRequest, group: str | None = None, tags: Mapping[str, Any] | None = None
) -> BatchItem:
    """An intention with its external id fixed now: every attempt, and a resume, reuse it."""
    if request.external_task_id is None:
        request = request.with_external_task_id(new_external_task_id())
    return BatchItem(index, request, group=group, tags=dict(tags or {}))


def interrupted(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """What a resume picks up: every batch with something unfinished, whole — its finished, failed,
    running and queued requests, in their places — oldest batch first; and each unfinished entry that
    belongs to no batch. Within the bundle's queue the unit is a group (one click: a sweep or a single
    request), not the whole queue."""
    units: dict[tuple[str, str | None], list[HistoryEntry]] = {}
    for entry in sorted(entries, key=lambda e: e.submitted_at or e.updated_at or 0):
        units.setdefault(unit_of(entry.batch, entry.group, entry.external_task_id), []).append(entry)
    chosen: list[HistoryEntry] = []
    for members in units.values():  # in the order each unit was first journaled
        # A request sent again (Batch.retry) is journaled in its place, under its batch's index: the
        # newest attempt stands for it (members are in journal order, so a later one replaces).
        latest = {(m.batch, m.index) if m.index is not None else m.external_task_id: m for m in members}
        members = list(latest.values())
        if any(member.unfinished for member in members):
            chosen += sorted(members, key=lambda m: m.index if m.index is not None else -1)
    return chosen


class Batch:
    """Send many requests under the account's concurrency limit, and follow every task they create.

    ``Batch(client, requests, max_concurrent=None, history=None)``; ``start()`` returns at once;
    ``wait()`` gives the final tasks in request order; ``tasks`` what exists so far; ``cancel()`` sends
    nothing more (what exists is still watched); ``Batch.resume(client, history)`` picks up after a
    restart. ``history`` (else the client's) journals every intention before it is sent. ``budget_units``:
    the most the batch may send, by :func:`estimate_units` — over it, it refuses to start and sends nothing.

    Parameters
    ----------
    client : KlingClient
        Sends the creates and watches the tasks.
    requests : iterable of VideoRequest
        What to send, in order (more can be added with :meth:`add`).
    max_concurrent : int, optional
        The most tasks running at once; None learns the account's limit from the service's refusals.
    history : TaskHistory, optional
        The journal (default: the client's), so a restart loses nothing.
    poll_interval : float, optional
        Seconds between polls of a task (default: the watcher's pacing).
    name : str, optional
        The batch's id in the journal (default: a fresh one).
    rate_card : Mapping, optional
        Units per ``(model, mode, duration)``, when the account's prices differ from Kling's table.
    watcher : TaskWatcher, optional
        The watcher that follows the tasks (default: a new one for this batch).
    budget_units : float, optional
        The most the batch may send, in estimated units (None: no limit).

    Raises
    ------
    ValidationError
        ``budget_units`` is negative or ``max_concurrent`` below 1.
    """

    def __init__(
        self,
        client: KlingClient,
        requests: Iterable[VideoRequest],
        *,
        max_concurrent: int | None = None,
        history: TaskHistory | None = None,
        poll_interval: float | None = None,
        name: str | None = None,
        rate_card: Mapping[tuple[str, str, int], float] | None = None,
        watcher: TaskWatcher | None = None,
        budget_units: float | None = None,
    ) -> None:
        if budget_units is not None and not budget_units >= 0:
            raise ValidationError(Problem("budget_units", "must be a number of units, 0 or more", 0, budget_units))
        if max_concurrent is not None and max_concurrent < 1:
            raise ValidationError(
                Problem("max_concurrent", "must be at least 1 (or None to learn it)", 1, max_concurrent)
            )
        self.client = client
        self.history = history if history is not None else client.history
        self.name = name or f"batch-{uuid.uuid4().hex[:12]}"
        self.max_concurrent = max_concurrent
        self.limit: int | None = max_concurrent  #: the account's limit as given or learned (1303)
        self.refusals_1303 = 0
        self.rate_card = rate_card
        self.budget_units = budget_units  #: the most the batch may send, in estimated units (None: no limit)
        self.items: list[BatchItem] = [_item(index, request) for index, request in enumerate(requests)]
        self.estimate = estimate_units((i.request for i in self.items), rate_card)
        # No deadline: a task nobody cancelled is followed as long as the process lives (wait() has its own).
        self.watcher = watcher or TaskWatcher(client, poll_interval=poll_interval, history=self.history, timeout=None)
        self.holding = False  #: True while a create waits for a slot (the account's limit is reached)
        self.slots: AccountSlots | None = None  #: the account's slots, shared with its other kernels
        self._shared = True  # False after a 1303 while the account's coordinator could not be reached
        self.on_progress: Callable[[int, int], None] | None = None  #: hears each upload: (bytes sent, total)
        self._cond = threading.Condition()
        self._listeners: Listeners[Batch] = Listeners("a batch listener")
        self._thread: threading.Thread | None = None
        self._started = False
        self._cancelled = False  # stopped or cancelled: nothing more is sent
        self._given_up = False  # cancelled: nothing more is queued either

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items() if v)
        return f"Batch({self.name!r}, {len(self.items)} requests: {counts or 'empty'})"

    def __len__(self) -> int:
        return len(self.items)

    # -- what it holds ---------------------------------------------------------------------------------
    @property
    def requests(self) -> list[VideoRequest]:
        """What the batch sends, in order."""
        return [item.request for item in self.items]

    @property
    def tasks(self) -> list[Task | None]:
        """The task of each request, in request order (None while it has none)."""
        with self._cond:
            return [item.task for item in self.items]

    @property
    def done(self) -> bool:
        """True once every request is final: its task ended, or it was refused, cancelled or lost."""
        with self._cond:
            return all(item.final for item in self.items)

    def counts(self) -> dict[str, int]:
        """How many requests are queued, sending, running, succeeded, failed (refused and lost included).

        Returns
        -------
        dict of str to int
            State → how many requests are in it.
        """
        with self._cond:
            return tally(self.items)

    @property
    def units_charged(self) -> float:
        """What the service reports it charged (``final_unit_deduction``), summed over the tasks so far."""
        return sum(t.units or 0.0 for t in self.tasks if t is not None)

    def on_update(self, callback: Listener, *, remove: bool = False) -> None:
        """``callback(batch)`` after every change (a create, a refusal, a task's progress). It runs on a
        background thread: set widget traits there, never print.

        Parameters
        ----------
        callback : callable
            Called with the batch after each change.
        remove : bool
            Unregister ``callback`` instead.
        """
        self._listeners.register(callback, remove)

    # -- running it ----------------------------------------------------------------------------------
    def start(self) -> Batch:
        """Journal every intention (queued), then send them on a background thread. Returns at once.
        Over ``budget_units`` it refuses to start: nothing is sent.

        Returns
        -------
        Batch
            ``self``, so ``Batch(...).start()`` reads well.

        Raises
        ------
        BudgetExceededError
            The estimate is over ``budget_units``; nothing was sent.
        """
        with self._cond:
            if self._started:
                return self
            if self.budget_units is not None and self.estimate > self.budget_units:
                raise BudgetExceededError(self.estimate, self.budget_units, what=f"this batch of {len(self.items)}")
            self._started = True
        self._journal_queued(self.items)
        self._ensure_sender()
        return self

    def add(
        self,
        requests: Iterable[VideoRequest],
        *,
        group: str | None = None,
        tags: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[BatchItem]:
        """Queue more requests (journaled at once); they are sent after those already queued, under the
        same limit. A started batch sends them at once; the bundle keeps one batch as its queue, and names
        each click's requests a ``group``, which a resume brings back together. ``tags`` (one mapping per
        request) are journaled with each: what it belongs to (a storyboard's shot and take). Over
        ``budget_units`` (with what the batch holds already) nothing is queued.

        Parameters
        ----------
        requests : iterable of VideoRequest
            What to add.
        group : str, optional
            The name of the requests sent together (one click).
        tags : sequence of Mapping, optional
            One mapping per request, journaled with it.

        Returns
        -------
        list of BatchItem
            The new items, in order.

        Raises
        ------
        BudgetExceededError
            The batch would go over ``budget_units``; nothing was queued.
        """
        requests = list(requests)
        labels = list(tags) if tags is not None else []
        with self._cond:
            start = len(self.items)
            new = [
                _item(start + offset, request, group, labels[offset] if offset < len(labels) else None)
                for offset, request in enumerate(requests)
            ]
            more = estimate_units((i.request for i in new), self.rate_card)
            if self.budget_units is not None and self.estimate + more > self.budget_units:
                raise BudgetExceededError(more, self.budget_units, spent=self.estimate, what=f"{len(new)} more")
            self.items.extend(new)
            self.estimate += more
            started = self._started
        if started:
            self._journal_queued(new)
            self._ensure_sender()
        self._tell()
        return new

    def retry(self, items: Iterable[BatchItem] | None = None) -> list[BatchItem]:
        """Send again, each in its place, the requests that failed: a sweep of hundreds keeps going
        after a few refusals, without a second batch to follow.

        Each becomes a new intention with an external id of its own, journaled queued before it is sent,
        and sent in its turn (the sender takes what is queued in request order).

        Parameters
        ----------
        items
            The items to look at (all of the batch's by default); only those :func:`retryable` allows
            are sent again.

        Returns
        -------
        list[BatchItem]
            Those queued again: none once the batch was cancelled. A stopped batch journals them and
            sends nothing: a later :meth:`resume` sends them.

        Raises
        ------
        BudgetExceededError
            When sending them again would go over ``budget_units``: nothing is queued.
        """
        with self._cond:
            if self._given_up:
                return []
            mine = {id(item) for item in self.items}
            again = [i for i in (self.items if items is None else items) if id(i) in mine and retryable(i)]
            more = estimate_units((i.request for i in again), self.rate_card)
            if again and self.budget_units is not None and self.estimate + more > self.budget_units:
                raise BudgetExceededError(more, self.budget_units, spent=self.estimate, what=f"{len(again)} again")
            for item in again:
                item.request = item.request.with_external_task_id(new_external_task_id())
                item.state, item.task, item.error, item.exception = ItemState.QUEUED, None, None, None
            self.estimate += more
            started = self._started
        if again and started:
            self._journal_queued(again)
            self._ensure_sender()
        if again:
            self._tell()
        return again

    def _account(self) -> AccountSlots:
        if self.slots is None:
            self.slots = AccountSlots.for_client(self.client)
        return self.slots

    def _ensure_sender(self) -> None:
        self._account()  # here, not in the sender: a bad KLING_WIDGETS_SLOTS is said to the caller
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"kling-{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def cancel(self) -> None:
        """Send nothing more. Tasks already created are still watched; queued ones are journaled as
        cancelled and never sent, not even by ``resume``."""
        with self._cond:
            self._cancelled = self._given_up = True
            cancelled = [item for item in self.items if item.state == ItemState.QUEUED]
            for item in cancelled:
                item.state = ItemState.CANCELLED
            self._cond.notify_all()
        for item in cancelled:
            if self.history is not None:
                self.history.record_cancelled(item.external_task_id)
        self._tell()

    def stop(self) -> None:
        """Send nothing more for now, but keep what is queued on record (unlike :meth:`cancel`): a later
        ``Batch.resume`` sends it. Tasks already created are still watched."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def close(self) -> None:
        """Done with this batch here (the bundle closing, a cell run again): :meth:`stop`, and stop
        watching its tasks. They run on at the service, so their slots go back to the account as a dead
        kernel's do (a refusal they cause is not taken for a smaller limit); a resume watches them again."""
        self.stop()
        handed: list[tuple[str, str]] = []  # (task id, lease)
        with self._cond:
            for item in self.items:
                if item.task is not None and item.lease is not None:
                    handed.append((item.task.id, item.lease))
                    item.lease = None
        for task_id, lease in handed:
            self.watcher.unwatch(task_id)
            self._account().abandon(lease)

    def wait(self, timeout: float | None = None) -> list[Task]:
        """Block until every request is final; return one task per request, in request order. A request
        that created no task is shown as a failed task carrying the reason (refused, outcome unknown,
        cancelled).

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait (None: until every request is final).

        Returns
        -------
        list of Task
            One per request, in request order.

        Raises
        ------
        BatchTimeoutError
            ``timeout`` passed first (the batch goes on).
        """
        if not self._started:
            self.start()
        started = time.monotonic()
        with self._cond:
            finished = self._cond.wait_for(lambda: all(i.final for i in self.items), timeout)
            if not finished:
                waiting = sum(1 for i in self.items if not i.final)
                raise BatchTimeoutError(waiting, time.monotonic() - started)
            return [item.outcome() for item in self.items]

    def _journal_queued(self, items: list[BatchItem]) -> None:
        if self.history is None:
            return
        kept = []
        for item in items:
            if item.state != ItemState.QUEUED:
                continue
            try:
                item.request.validate()
            except ValidationError:
                continue  # refused when its turn comes, before anything is sent: nothing to keep
            kept.append(item)
        for item in kept:  # each line written at once; the disk flushed once, with the last
            self.history.record_queued(
                item.external_task_id,
                item.request,
                provider=self.client.provider,
                base_url=self.client.base_url,
                batch=self.name,
                index=item.index,
                group=item.group,
                tags=item.tags,
                service=self.client.service().name,
                sync=item is kept[-1],
            )

    def _running(self) -> int:
        return sum(1 for item in self.items if item.state in (ItemState.RUNNING, ItemState.SENDING))

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    queued = (i for i in self.items if i.state == ItemState.QUEUED)
                    item = None if self._cancelled else next(queued, None)
                    if item is None:
                        self._thread = None
                        return
                self._send(item)
        except Exception:  # the thread must not die silently: what is left stays queued in the journal
            log.exception("batch %s: the sender stopped", self.name)
            with self._cond:
                self._thread = None

    def _wait_for_slot(self) -> str | None:
        """Hold until the batch may send one more create: under its own ``max_concurrent``, then with a
        lease on one of the account's slots, taken in turn with the account's other kernels. The lease,
        or None when cancelled."""
        slots = self._account()
        while True:
            with self._cond:
                limit = self.max_concurrent if slots.shared and self._shared else self.limit  # shared: the account
                free = limit is None or self._running() < limit
                if self._cancelled or free:
                    break
                started_holding, self.holding = not self.holding, True
                if not started_holding:
                    self._cond.wait(QUEUE_RETRY)  # woken when a task ends; else look again
                    continue
            self._tell()  # say once that the batch waits for a slot, then wait
        lease = slots.acquire(lambda: self._cancelled, self._hold_for_account)
        with self._cond:
            self.holding = False
        return lease

    def _hold_for_account(self) -> None:
        """The account's slots are all taken (by this kernel or others): say so once, then wait."""
        with self._cond:
            if self.holding:
                return
            self.holding = True
        self._tell()

    def _send(self, item: BatchItem) -> None:
        while True:
            lease = self._wait_for_slot()
            if lease is None:
                return
            with self._cond:
                if item.state != ItemState.QUEUED:
                    self._account().release(lease)
                    return
                item.state, item.lease = ItemState.SENDING, lease
            self._tell()
            try:
                task = self.client.create_task(
                    item.request, history=self.history, retry_concurrency=False, on_progress=self.on_progress
                )
            except RateLimitError as error:
                if error.code != 1303:
                    self._settle(item, ItemState.REFUSED, f"the service is busy: {error}", error)
                    return
                self._hold_after_1303(item, error)
                continue
            except CreateOutcomeUnknownError as error:
                self._settle(item, ItemState.UNKNOWN, str(error), error)
                return
            except KlingError as error:  # refused (by the checks or the service): the others go on
                self._settle(item, ItemState.REFUSED, str(error), error)
                return
            except Exception as error:
                log.exception("batch %s: create %s failed unexpectedly", self.name, item.external_task_id)
                self._settle(item, ItemState.UNKNOWN, f"unexpected {type(error).__name__}: it may exist")
                return
            self._account().sent(lease)
            with self._cond:
                item.task, item.state = task, ItemState.RUNNING
            self.watcher.watch(task, self._on_task)
            self._tell()
            return

    def watch_again(self, item: BatchItem) -> None:
        """Follow again the task of ``item`` whose watch stopped before it ended (a card's "Watch again").

        Parameters
        ----------
        item : BatchItem
            One of the batch's ``items``.
        """
        with self._cond:
            if item.task is None or item.task.complete:
                return
            item.state, item.error = ItemState.RUNNING, None
        self.watcher.watch(item.task, self._on_task)
        lease = self._account().claim()  # it runs at the service: it holds one of the account's slots again
        with self._cond:
            if item.state == ItemState.RUNNING and item.lease is None:
                item.lease, lease = lease, None
        self._account().release(lease)  # it ended meanwhile
        self._tell()

    def _hold_after_1303(self, item: BatchItem, error: RateLimitError) -> None:
        """The account runs all the tasks it may: nothing was created. Learn the limit from what runs
        now (the account's kernels together, else this batch), put the request back at the head of the
        queue, and wait for a slot."""
        lease, item.lease = item.lease, None
        slots = self._account()
        shared = self._shared = slots.shared and lease not in (None, "local")  # not when the coordinator failed
        learned = slots.refused(lease, error.retry_after)  # shared: the account holds the next try, see account.py
        with self._cond:
            self.refusals_1303 += 1
            item.state = ItemState.QUEUED
            running = sum(1 for i in self.items if i.state == ItemState.RUNNING)
            if self.max_concurrent is None and shared:
                self.limit = learned if learned is not None else self.limit
            elif self.max_concurrent is None and running > 0:
                self.limit = running if self.limit is None else min(self.limit, running)
            self.holding = True
        log.info("batch %s: 1303, holding %s (limit %s)", self.name, item.external_task_id, self.limit)
        self._tell()
        if running == 0 and not shared:  # work outside this batch holds every slot: look again later
            with self._cond:
                self._cond.wait(error.retry_after if error.retry_after else QUEUE_RETRY)

    def _settle(self, item: BatchItem, state: ItemState, reason: str, exception: KlingError | None = None) -> None:
        lease, item.lease = item.lease, None  # nothing runs (or nothing known to): the slot goes back first,
        self._account().release(lease)  # before anyone waiting for the batch sees it final (and exits)
        with self._cond:
            item.state, item.error, item.exception = state, reason, exception
            self._cond.notify_all()
        self._tell()

    def _on_task(self, update: TaskUpdate) -> None:
        with self._cond:
            item = next(
                (
                    i
                    for i in self.items
                    if i.task is not None
                    and (i.task.id == update.task.id or i.external_task_id == update.task.external_task_id)
                ),
                None,
            )
            if item is None:
                return
            lease, item.lease = (item.lease, None) if update.final else (None, item.lease)
        if lease is not None:  # the slot goes back to the account before anyone sees the item done
            self._account().release(lease)
        with self._cond:
            item.task = update.task
            if update.problem:
                item.error = update.problem
            if update.final:
                item.state = ItemState.DONE
                self._cond.notify_all()  # a slot is free
        self._tell()

    def _tell(self) -> None:
        self._listeners(self)

    # -- after a restart -----------------------------------------------------------------------------
    @classmethod
    def resume(
        cls,
        client: KlingClient,
        history: TaskHistory,
        *,
        max_concurrent: int | None = None,
        poll_interval: float | None = None,
        watcher: TaskWatcher | None = None,
    ) -> Batch:
        """Pick up what the journal says is unfinished for this client's service, each interrupted batch
        whole (see :func:`interrupted`): what finished or failed before the restart keeps its place, what
        was queued and never sent is sent, what was created is watched, and what was being sent when the
        kernel died is looked up (Kling direct) or reported (gateway) — nothing is sent twice. ``wait()``
        gives every request of those batches, in their original order. Only this client's service's
        entries (``KlingClient.service``), sent to this very address: a task of an earlier simulator is
        known to that simulator alone.

        Parameters
        ----------
        client : KlingClient
            The client for the service the journal's tasks belong to.
        history : TaskHistory
            The journal to read.
        max_concurrent : int, optional
            As for :class:`Batch`.
        poll_interval : float, optional
            As for :class:`Batch`.
        watcher : TaskWatcher, optional
            As for :class:`Batch`.

        Returns
        -------
        Batch
            The batch, started (empty when nothing was unfinished).
        """
        service = client.service()
        entries = interrupted(
            e
            for e in history.entries(service)
            if service.here(e)
            and not e.tags.get("story")  # a storyboard's takes come back with Storyboard.reopen, not here
        )
        return cls.reopen(
            client, history, entries, max_concurrent=max_concurrent, poll_interval=poll_interval, watcher=watcher
        )

    @classmethod
    def reopen(
        cls,
        client: KlingClient,
        history: TaskHistory,
        entries: Iterable[HistoryEntry],
        *,
        name: str | None = None,
        max_concurrent: int | None = None,
        poll_interval: float | None = None,
        watcher: TaskWatcher | None = None,
    ) -> Batch:
        """A batch of journaled intentions, in the order given, picked up where they stopped: what ended
        is kept as it ended, what was queued and never sent is sent, what was created is watched, and
        what was being sent is looked up (Kling direct) or reported (gateway) — nothing twice.

        Parameters
        ----------
        client : KlingClient
            The client for the entries' service.
        history : TaskHistory
            The journal the entries come from.
        entries : iterable of HistoryEntry
            The intentions, in the batch's order.
        name : str, optional
            The batch's id in the journal.
        max_concurrent : int, optional
            As for :class:`Batch`.
        poll_interval : float, optional
            As for :class:`Batch`.
        watcher : TaskWatcher, optional
            As for :class:`Batch`.

        Returns
        -------
        Batch
            The batch, started.
        """
        batch = cls(
            client, [], max_concurrent=max_concurrent, history=history, poll_interval=poll_interval, watcher=watcher
        )
        batch.name = name or "resumed-" + batch.name
        batch._started = True  # the queued ones are on record already
        for entry in entries:
            item = batch._item_from(entry)
            if item is not None:
                item.index = len(batch.items)
                batch.items.append(item)
        batch.estimate = estimate_units(i.request for i in batch.items if i.state == ItemState.QUEUED)
        threading.Thread(target=batch._resume_run, name=f"kling-{batch.name}-resume", daemon=True).start()
        return batch

    def _item_from(self, entry: HistoryEntry) -> BatchItem | None:
        item = self._state_of(entry)
        if item is not None:
            item.group, item.origin, item.tags = entry.group, entry.batch, dict(entry.tags)
        return item

    def _state_of(self, entry: HistoryEntry) -> BatchItem | None:
        placeholder = described_request(entry)  # names and prices it; its pictures are not needed
        if entry.status == QUEUED:
            try:
                return BatchItem(0, self.history.queued_request(entry) if self.history else placeholder)
            except (OSError, KeyError, ValueError) as error:
                return BatchItem(0, placeholder, state=ItemState.REFUSED, error=f"its pictures are gone ({error})")
        if entry.status == CANCELLED:
            return BatchItem(0, placeholder, state=ItemState.CANCELLED, error="cancelled before it was sent")
        if entry.status == "rejected":
            return BatchItem(0, placeholder, state=ItemState.REFUSED, error=entry.error or "not created")
        task = entry.to_task()
        if task is not None and not entry.done and entry.simulated and entry.base_url != self.client.base_url:
            # another simulator's task (an earlier run): this one does not know it, nobody can watch it here
            return BatchItem(0, placeholder, state=ItemState.DONE, task=task, error=elsewhere(entry.base_url)[1])
        if task is not None:
            return BatchItem(0, placeholder, state=ItemState.DONE if entry.done else ItemState.RUNNING, task=task)
        if entry.status in (SENDING, UNKNOWN):
            ext = entry.external_task_id
            if self.client.provider == "kling":  # Kling direct reads a task by its external id: watch it so
                looked_up = Task(ext, TaskStatus.SUBMITTED, raw_status="outcome unknown", external_task_id=ext)
                return BatchItem(0, placeholder, state=ItemState.RUNNING, task=looked_up)
            why = "it was being sent when the kernel stopped, and the gateway cannot be asked: it was not resent"
            return BatchItem(0, placeholder, state=ItemState.UNKNOWN, error=entry.error or why)
        return None

    def _resume_run(self) -> None:
        try:
            running = [item for item in self.items if item.state == ItemState.RUNNING and item.task is not None]
            for item in running:
                self.watcher.watch(item.task, self._on_task)  # type: ignore[arg-type]
            slots = self._account()
            for item in running:  # still running: it holds one of the account's slots (after the watch
                with self._cond:  # is set up, so that whoever waits for the watch finds it at once)
                    if item.state == ItemState.RUNNING and item.lease is None:
                        item.lease = slots.claim()
            self._ensure_sender()
        except Exception:
            log.exception("batch %s: resuming stopped", self.name)
