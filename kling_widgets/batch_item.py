"""One request of a batch and where it stands: ``BatchItem``, its ``ItemState``, and how items count.

Plain data, no thread and no network: the queue (``batch.Batch``) moves an item from state to state,
and the views read it — :func:`category` and :func:`tally` so that a filter and its counts agree,
:func:`retryable` so that a retry never pays twice for one video.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import KlingError, ValidationError
from .request import VideoRequest
from .task import Task, TaskStatus

LEGACY_BUNDLE = "bundle"  # the bundle's queue before it had a name of its own: its clicks are not one batch


class ItemState(str, enum.Enum):
    """Where one request of a batch stands. A ``str``, so ``item.state == "queued"`` holds, and the words
    match the journal's (``queued``, ``sending``, ``unknown``, ``cancelled``).

    ``queued`` (not sent), ``sending``, ``running`` (created, watched), ``done`` (the task ended,
    succeeded or failed — or its watch stopped first), ``refused`` (the service or the checks said no:
    nothing was created), ``unknown`` (sent, outcome unknown: it may exist), ``cancelled`` (never sent).
    """

    QUEUED = "queued"
    SENDING = "sending"
    RUNNING = "running"
    DONE = "done"
    REFUSED = "refused"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        # The word itself, in f-strings too: Python 3.12 formats a str mixin enum as "ItemState.QUEUED".
        return self.value

    @property
    def final(self) -> bool:
        """True for the states the batch never moves an item out of by itself (a retry or "Watch again"
        may)."""
        return self in (ItemState.DONE, ItemState.REFUSED, ItemState.UNKNOWN, ItemState.CANCELLED)


def unit_of(batch: str | None, group: str | None, external_task_id: str) -> tuple[str, str | None]:
    """What a resume brings back together: a batch (or one group of it); an entry of no batch alone."""
    alone = not batch or (batch == LEGACY_BUNDLE and group is None)
    return ("", external_task_id) if alone else (batch or "", group)


@dataclass
class BatchItem:
    """One intention of a batch: its request, and what became of it (``state``: see :class:`ItemState`)."""

    index: int
    request: VideoRequest
    state: ItemState = ItemState.QUEUED
    task: Task | None = None
    error: str | None = None
    exception: KlingError | None = field(default=None, repr=False)
    lease: str | None = field(default=None, repr=False)  #: its slot of the account, from send to end
    group: str | None = None  #: the requests sent together (one click of the bundle: a sweep)
    origin: str | None = None  #: after a resume, the batch it was first journaled in
    #: what the intention belongs to, journaled with it (a storyboard's ``{"story", "shot", "take"}``)
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def external_task_id(self) -> str:
        return str(self.request.external_task_id)

    @property
    def unit(self) -> tuple[str, str | None]:
        """After a resume, the batch (or group) it came back with: see :func:`unit_of`."""
        return unit_of(self.origin, self.group, self.external_task_id)

    @property
    def final(self) -> bool:
        return self.state.final

    def outcome(self) -> Task:
        """Its task; for a request that created none, a failed task carrying the reason (refused, outcome
        unknown, cancelled), so that a list of outcomes lines up with the requests."""
        if self.task is not None:
            return self.task
        what = {
            ItemState.REFUSED: "not created",
            ItemState.UNKNOWN: "outcome unknown",
            ItemState.CANCELLED: "cancelled",
        }.get(self.state, str(self.state))
        return Task(
            self.external_task_id,
            TaskStatus.FAILED,
            raw_status=what,
            error=self.error or what,
            external_task_id=self.external_task_id,
        )


def tally(items: Iterable[BatchItem]) -> dict[str, int]:
    """How many of ``items`` are queued, sending, running, succeeded, failed or cancelled. A request that
    created no task (refused, outcome unknown) counts as failed, and so does one whose watch stopped
    without an ending (the watcher's deadline)."""
    counts = dict.fromkeys(("queued", "sending", "running", "succeeded", "failed", "cancelled"), 0)
    for item in items:
        counts[category(item)] += 1
    return counts


def category(item: BatchItem) -> str:
    """Where :func:`tally` counts an item, so that a view's filter and its counts agree.

    Parameters
    ----------
    item
        One request of a batch.

    Returns
    -------
    str
        ``queued``, ``sending``, ``running``, ``succeeded``, ``failed`` or ``cancelled``.
    """
    if item.task is not None and item.task.done:
        return item.task.status.value
    if item.state in (ItemState.REFUSED, ItemState.UNKNOWN, ItemState.DONE):
        return "failed"
    return str(item.state)


def retryable(item: BatchItem) -> bool:
    """Whether ``item`` may be sent again as a new intention without paying twice for one video.

    Its task failed, or the service refused it (nothing was created). Not one whose outcome is unknown
    (it may exist, and be billed), one whose watch stopped before its task ended (it may still run),
    nor one the checks refused (it would be refused again: the request itself must change).

    Parameters
    ----------
    item
        One request of a batch.

    Returns
    -------
    bool
        True when :meth:`Batch.retry` sends it again.
    """
    if item.task is not None:
        return item.task.status is TaskStatus.FAILED
    return item.state == ItemState.REFUSED and not isinstance(item.exception, ValidationError)
