"""One retry and backoff policy, used by the client (one request), the watcher (polls) and the batch
queue (creates held for a slot): which errors pass, how long to wait, and how often to look.

Import order: this sits beside ``errors`` and imports nothing else of the package.
"""

from __future__ import annotations

import random

from .errors import APIConnectionError, PayloadError, RateLimitError, ServerError

#: Errors that pass: try again later. Anything else is an answer (a refusal, an auth problem).
PASSING = (ServerError, RateLimitError, APIConnectionError, PayloadError)

BACKOFF_BASE = 1.0  # seconds before the first retry of a request
BACKOFF_CAP = 30.0  # never wait longer between two attempts of one request (Retry-After included)
POLL_INTERVAL = 2.0  # the base spacing of polls of one task
POLL_CAP = 30.0  # the longest spacing of polls of one task
YOUNG_CAP = 10.0  # while a task is young, polls are slower — but a finished one shows within this long
YOUNG_RATE = 2.0  # requests/s that all young tasks together spend: a crowd of them is looked at less often
EXPECTED_SECONDS = 120.0  # how long a task takes, until the process has seen some finish
QUEUE_RETRY = 30.0  # a create held for a slot is tried again after this long when no task of ours ends
MAX_PAUSE = 300.0  # the longest Retry-After the watcher honours as given
OLD_AFTER = 1800.0  # a task running this long is old: at busy hours Kling tasks take an hour and more
OLD_POLL = 60.0  # an old task is looked at about once a minute, for as long as it is followed


def backoff_delay(attempt: int, retry_after: float | None = None, cap: float = BACKOFF_CAP) -> float:
    """Seconds before retry number ``attempt + 1``: the service's Retry-After when it gave one (within
    ``cap``), else exponential from 1 s with jitter (half to full), so clients do not retry in step."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    return min(cap, BACKOFF_BASE * 2.0**attempt) * (0.5 + random.random() / 2)


def poll_delay(
    base: float, elapsed: float, expected: float | None = None, cap: float = POLL_CAP, crowd: int = 1
) -> float:
    """Seconds until the next look at a task that has run ``elapsed`` seconds.

    Without ``expected``: ``base`` for the first minute, then slowly longer. With it (how long such
    tasks take): a first look after ``base``, slower while the task is young (at most ``YOUNG_CAP``, or
    five times ``base`` when that is shorter), ``base`` again near the expected end, and slowly longer
    once it is overdue — so a long task costs few requests and a finished one is seen soon. ``crowd``
    (how many tasks are polled one by one) spreads the looks at young tasks, the first one included,
    once it is more than a handful (``YOUNG_RATE × YOUNG_CAP``, 20), so that together they spend about
    ``YOUNG_RATE`` requests/s: up to 20 keep the quick first look and the 10 s pace; 200 young tasks are
    each seen about every 100 s, or when their expected end nears. A task past ``OLD_AFTER`` is looked at
    every ``OLD_POLL`` (a minute): the bundle and batches follow it for as long as the kernel lives."""
    if elapsed >= OLD_AFTER:
        return max(base, OLD_POLL)
    if expected is None:
        if elapsed <= 60:
            return base
        return min(cap, base * (1.0 + (elapsed - 60.0) / 60.0))
    if elapsed < 0.7 * expected:
        pace = base if elapsed < 1.5 * base else max(base, min(5 * base, YOUNG_CAP, 0.1 * expected))
        spread = crowd / YOUNG_RATE  # how often each is seen when the crowd shares YOUNG_RATE requests/s
        if spread > YOUNG_CAP:  # more than a handful: spread the looks, never past the expected end
            pace = max(pace, min(spread, 0.7 * expected - elapsed))
        return pace
    if elapsed < 1.5 * expected:
        return base
    return min(cap, base * (1.0 + (elapsed - 1.5 * expected) / 60.0))


def hurry_delay(base: float, crowd: int = 1) -> float:
    """Seconds between looks at a task that holds a slot someone waits for: ``base``, so that the slot is
    handed on within one base interval of the task's end — spread like young tasks once the crowd polled
    one by one is more than a handful (see :func:`poll_delay`), so a kernel holding hundreds of slots
    still spends about ``YOUNG_RATE`` requests/s.

    Parameters
    ----------
    base
        The watcher's base spacing of polls of one task, in seconds.
    crowd
        How many tasks are polled one by one.

    Returns
    -------
    float
        Seconds until the next look.
    """
    spread = crowd / YOUNG_RATE
    return max(base, spread) if spread > YOUNG_CAP else base


def failure_delay(failures: int, interval: float) -> float:
    """Seconds before polling again after ``failures`` failed polls in a row: the usual pace for a
    passing failure, then gently longer (capped), so one unlucky task is never left unpolled for long."""
    backoff = 1.5 ** min(max(0, failures - 2), 8)
    return min(max(10.0, interval), interval * backoff)
