"""Listeners: the one way callbacks are registered and called in this package.

Every public ``on_x(callback, remove=False)`` (``TaskWatcher.on_update``, ``Batch.on_update``,
``Storyboard.on_update``, ``MultiImageToVideo.on_submit``, ``TaskView.on_watch_again``,
``HistoryGallery.on_reuse``) keeps a :class:`Listeners` and hands its arguments to
:meth:`Listeners.register`. ipywidgets' ``CallbackDispatcher`` does the same for widgets, but not here:
the watcher and a batch call their listeners from background threads, while the dispatcher walks its list
as another thread changes it, and shows a failing callback's traceback in whatever cell runs at the time
(from a thread, ipykernel 7 drops or misplaces such output). This one is thread-safe, calls a snapshot,
and logs a failure (the ``kling_widgets`` logger) so that one broken callback never stops the others nor
the thread that tells them. It imports nothing from the package.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

log = logging.getLogger("kling_widgets")

T = TypeVar("T")


class Listeners(Generic[T]):
    """Callbacks taking one value, called in the order they were registered.

    Parameters
    ----------
    what : str
        What they listen to, for the log line when one fails ("a batch listener").
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[T], object]] = []

    def register(self, callback: Callable[[T], object], remove: bool = False) -> None:
        """Register ``callback`` (once, however often it is registered), or unregister it.

        Parameters
        ----------
        callback : callable
            Called with the value each time the listeners are called.
        remove : bool
            Unregister ``callback`` instead (nothing happens when it was not registered).
        """
        with self._lock:
            if remove:
                self._callbacks = [c for c in self._callbacks if c != callback]
            elif callback not in self._callbacks:
                self._callbacks = [*self._callbacks, callback]

    def snapshot(self) -> list[Callable[[T], object]]:
        """The callbacks registered now (a copy: registering meanwhile changes the next call, not this one).

        Returns
        -------
        list of callable
            In the order they were registered.
        """
        with self._lock:
            return list(self._callbacks)

    def __call__(self, value: T) -> None:
        """Call every callback registered now with ``value``; a failure is logged, not raised.

        Parameters
        ----------
        value : object
            What happened (a task's update, the batch, the entry to reuse…).
        """
        call_each(self.snapshot(), value, self.what)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._callbacks)

    def __len__(self) -> int:
        with self._lock:
            return len(self._callbacks)

    def __repr__(self) -> str:
        return f"Listeners({self.what!r}, {len(self)} registered)"


def call_each(callbacks: Iterable[Callable[[T], object]], value: T, what: str) -> None:
    """Call each of ``callbacks`` with ``value``, logging (not raising) a failure so the rest still run.

    Parameters
    ----------
    callbacks : iterable of callable
        Called in order.
    value : object
        Passed to each.
    what : str
        Named in the log line when one fails.
    """
    for callback in callbacks:
        try:
            callback(value)
        except Exception:  # a broken listener must not stop the others, nor the thread that tells them
            log.exception("%s failed", what)
