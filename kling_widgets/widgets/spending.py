"""The bundle's spending guard: what a click costs, the budget it may not pass, the large click that asks first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..batch import Batch
from ..batch_item import ItemState
from ..errors import Problem
from ..pricing import estimate_units
from ..request import VideoRequest
from ..words import units_words
from .variations import sweep_words

# A click estimated above this many units only asks; a second click within CONFIRM_SECONDS sends.
CONFIRM_ABOVE_UNITS = 10.0
CONFIRM_SECONDS = 20.0
# ...but a click from the page this soon after the asking one is the second half of the same double click
# (the question cannot have been read yet): it confirms nothing. submit() from code confirms at once.
CONFIRM_READ_SECONDS = 1.0


class SpendingLimits(Protocol):
    """What a guard keeps clicks within (the bundle's attributes): read at each click, so that a change
    applies to the next one."""

    budget_units: float | None  # the most that may be sent in all, in estimated units (None: no limit)
    confirm_above_units: float | None  # a click estimated above this asks first (None: never asks)


@dataclass(frozen=True)
class PendingConfirmation:
    """A click that asked first: when it asked, what it would have sent, and what to say beside the button
    until it is confirmed or expires.

    Parameters
    ----------
    asked_at : float
        ``time.monotonic()`` when the click asked.
    count : int
        How many requests the click would send.
    units : float
        What they are estimated to cost, in the service's units.
    beside : str
        The words beside the button while the question stands.
    """

    asked_at: float
    count: int
    units: float
    beside: str

    def expired(self) -> bool:
        """Whether the question is older than ``CONFIRM_SECONDS``: a second click no longer confirms it.

        Returns
        -------
        bool
            True once it has expired.
        """
        return time.monotonic() - self.asked_at > CONFIRM_SECONDS

    def confirmed_by(self, count: int, units: float, now: float) -> bool:
        """Whether a click now, of ``count`` requests costing ``units``, is the confirming second click.

        Parameters
        ----------
        count : int
            How many requests the click would send.
        units : float
            Their estimated cost.
        now : float
            ``time.monotonic()`` now.

        Returns
        -------
        bool
            True for the same click again, in time.
        """
        return (count, units) == (self.count, self.units) and now - self.asked_at <= CONFIRM_SECONDS


def units_sent(queue: Batch | None) -> float:
    """What a bundle has sent or queued, by ``estimate_units``: refused and cancelled requests created
    nothing, so they do not count.

    Parameters
    ----------
    queue : Batch or None
        The bundle's queue (None: a bundle with no client, which sends nothing).

    Returns
    -------
    float
        Estimated units.
    """
    if queue is None:
        return 0.0
    unsent = (ItemState.REFUSED, ItemState.CANCELLED)
    return estimate_units(i.request for i in list(queue.items) if i.state not in unsent)


class SpendingGuard:
    """Keeps a bundle's clicks within what the person allowed: a click that would pass ``budget_units``
    is a problem of the form (nothing is sent), and a click estimated above ``confirm_above_units`` only
    asks — the same click again within ``CONFIRM_SECONDS`` sends. It has a lock of its own (taken inside
    the bundle's, never around it), as the question expires on a timer's thread.

    Parameters
    ----------
    limits : SpendingLimits
        Where ``budget_units`` and ``confirm_above_units`` are read (the bundle).
    on_expired : callable
        Called with no arguments, off the kernel's thread, when an unanswered question expires.
    """

    def __init__(self, limits: SpendingLimits, on_expired: Callable[[], None]) -> None:
        self.limits = limits
        self.pending: PendingConfirmation | None = None  #: the question a click raised, if one stands
        self._on_expired = on_expired
        self._lock = threading.Lock()

    def over_budget(self, requests: list[VideoRequest], spent: float) -> Problem | None:
        """Why a click of ``requests`` would pass the budget, or None while it fits.

        Parameters
        ----------
        requests : list of VideoRequest
            What the click would send.
        spent : float
            What the bundle has sent already (:func:`units_sent`).

        Returns
        -------
        Problem or None
            A ``budget_units`` problem, or None.
        """
        budget = self.limits.budget_units
        if budget is None:
            return None
        units = estimate_units(requests)
        if spent + units <= budget:
            return None
        return Problem(
            "budget_units",
            f"over the budget: this click is about {units_words(units)} and {spent:g} of your budget of "
            f"{units_words(budget)} are sent already",
            budget,
            spent + units,
        )

    def ask_first(self, requests: list[VideoRequest], units: float, *, simulator: bool) -> tuple[str, str] | None:
        """Whether a click must ask before sending: the words under the button and beside it, or None when
        it sends (small enough, or the same click again within ``CONFIRM_SECONDS``).

        Parameters
        ----------
        requests : list of VideoRequest
            What the click would send.
        units : float
            Their estimated cost.
        simulator : bool
            The bundle is on the built-in simulator (nothing is billed).

        Returns
        -------
        tuple of (str, str) or None
            What to say under the button and beside it, or None to send.
        """
        limit = self.limits.confirm_above_units
        now = time.monotonic()
        with self._lock:
            if limit is None or units <= limit:
                self.pending = None
                return None
            if self.pending is not None and self.pending.confirmed_by(len(requests), units, now):
                self.pending = None
                return None
            tasks = f"{len(requests)} task{'s' if len(requests) > 1 else ''}"
            billed = "simulator: nothing is billed" if simulator else "billed"
            words = (
                f"Confirm: this click would send {tasks}, about {units_words(units)} ({billed}). Click Generate "
                f"again within {CONFIRM_SECONDS:g} s to send them all. Nothing was sent."
            )
            beside = f"Click Generate again to send all {tasks} (about {units_words(units)})"
            self.pending = PendingConfirmation(now, len(requests), units, beside)
        timer = threading.Timer(CONFIRM_SECONDS + 0.1, self._expire)
        timer.daemon = True
        timer.start()
        return words, beside

    def question(self) -> str | None:
        """What to say beside the button while a question stands, or None.

        Returns
        -------
        str or None
            The words of the standing question.
        """
        pending = self.pending
        if pending is None or pending.expired():
            return None
        return pending.beside

    def just_asked(self, now: float) -> bool:
        """Whether a question was raised less than ``CONFIRM_READ_SECONDS`` ago: a click from the page now
        is the second half of the double click that raised it, and confirms nothing.

        Parameters
        ----------
        now : float
            ``time.monotonic()`` now.

        Returns
        -------
        bool
            True while the question cannot have been read yet.
        """
        pending = self.pending
        return pending is not None and now - pending.asked_at < CONFIRM_READ_SECONDS

    def forget(self) -> None:
        """Drop the standing question: the form changed, so a click now is a new one."""
        self.pending = None

    def sent_words(self, sent: float) -> str:
        """The running total beside the button: ' · sent so far: 1 of your budget of 3 units'.

        Parameters
        ----------
        sent : float
            What the bundle has sent, in estimated units.

        Returns
        -------
        str
            Words to append to the cost hint (empty before anything is sent, with no budget).
        """
        budget = self.limits.budget_units
        if budget is not None:
            return f" · sent so far: {sent:g} of your budget of {units_words(budget)}"
        return f" · sent so far: {units_words(sent)}" if sent else ""

    def cost_hint(self, requests: list[VideoRequest], *, simulator: bool, sent: float) -> str:
        """Beside a button that may be pressed: what one click creates, what it costs, what was sent.

        Parameters
        ----------
        requests : list of VideoRequest
            What the click would send (at least one).
        simulator : bool
            The bundle is on the built-in simulator (nothing is billed).
        sent : float
            What the bundle has sent, in estimated units.

        Returns
        -------
        str
            The hint, in words.
        """
        units = estimate_units(requests)
        first = requests[0]
        count = sweep_words(requests) if len(requests) > 1 else f"one {first.mode} task of {first.duration} s"
        if simulator:
            return f"Ready · {count} · about {units_words(units)} · simulator: nothing is billed{self.sent_words(sent)}"
        return f"Ready · one click creates {count} · about {units_words(units)} (billed){self.sent_words(sent)}"

    def _expire(self) -> None:
        """The question's time is up: drop it, unless a newer one stands, and tell the bundle."""
        with self._lock:
            pending = self.pending
            if pending is None or not pending.expired():
                return
            self.pending = None
        self._on_expired()
