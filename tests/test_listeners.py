"""One way to register and call listeners: every public ``on_x(callback, remove=False)`` of the package
registers once, unregisters, and calls its callbacks in order from whatever thread tells them, a failing
one logged without stopping the rest (the watcher's and a batch's threads go on)."""

from __future__ import annotations

import inspect
import logging
import threading
from typing import Any

import pytest

from kling_widgets import Batch, HistoryGallery, KlingClient, MultiImageToVideo, Storyboard, TaskView, TaskWatcher
from kling_widgets._listeners import Listeners
from kling_widgets.simulator import Simulator
from kling_widgets.watcher import TaskUpdate

from .conftest import fox, wait_for


def test_a_callback_is_registered_once_called_in_order_and_removed() -> None:
    heard: list[tuple[str, int]] = []
    first, second = (lambda v: heard.append(("first", v))), (lambda v: heard.append(("second", v)))
    listeners: Listeners[int] = Listeners("a test listener")
    listeners.register(first)
    listeners.register(second)
    listeners.register(first)  # twice: still called once
    listeners(1)
    listeners.register(first, remove=True)
    listeners.register(first, remove=True)  # not registered any more: nothing happens
    listeners(2)
    assert heard == [("first", 1), ("second", 1), ("second", 2)] and len(listeners) == 1


def test_a_failing_callback_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    heard: list[int] = []

    def broken(value: int) -> None:
        raise RuntimeError("broken on purpose")

    listeners: Listeners[int] = Listeners("a test listener")
    listeners.register(broken)
    listeners.register(heard.append)
    with caplog.at_level(logging.ERROR, logger="kling_widgets"):
        listeners(7)  # does not raise
    assert heard == [7]
    assert "a test listener failed" in caplog.text and "broken on purpose" in caplog.text


def test_registering_from_other_threads_while_callbacks_run_loses_none_and_calls_a_snapshot() -> None:
    listeners: Listeners[int] = Listeners("a test listener")
    calls: list[int] = []
    added: list[Any] = []

    def adds_another(value: int) -> None:  # registering during a call changes the next call, not this one
        calls.append(value)
        if value == 0:
            later = calls.append
            added.append(later)
            listeners.register(later)

    listeners.register(adds_another)
    listeners(0)
    assert calls == [0]
    listeners(1)
    assert calls == [0, 1, 1]

    keep = [(lambda v, i=i: None) for i in range(200)]
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            listeners(2)

    caller = threading.Thread(target=keep_calling)
    caller.start()
    workers = [threading.Thread(target=lambda part=part: [listeners.register(c) for c in part]) for part in
               (keep[:100], keep[100:])]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    caller.join()
    assert len(listeners) == 2 + 200
    for callback in keep:
        listeners.register(callback, remove=True)
    assert listeners.snapshot() == [adds_another, *added]


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (TaskWatcher, "on_update"),
        (Batch, "on_update"),
        (Storyboard, "on_update"),
        (MultiImageToVideo, "on_submit"),
        (TaskView, "on_watch_again"),
        (HistoryGallery, "on_reuse"),
    ],
)
def test_every_public_hook_takes_a_callback_and_remove(owner: type, name: str) -> None:
    parameters = inspect.signature(getattr(owner, name)).parameters
    assert list(parameters) == ["self", "callback", "remove"]
    assert parameters["remove"].default is False


def test_a_batch_and_its_watcher_go_on_past_a_broken_listener(photo: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, max_retries=0)
        watcher = TaskWatcher(client, poll_interval=0.05)
        batch = Batch(client, [fox(photo)], watcher=watcher)
        finals: list[TaskUpdate] = []

        def broken(_: object) -> None:
            raise RuntimeError("a listener that breaks")

        watcher.on_update(broken)
        watcher.on_update(lambda update: finals.append(update) if update.final else None)
        batch.on_update(broken)
        with caplog.at_level(logging.ERROR, logger="kling_widgets"):
            batch.start()
            batch.wait(timeout=30)
            wait_for(lambda: finals)
        assert batch.tasks[0] is not None and batch.tasks[0].done and finals[0].task.done
        assert "a batch listener failed" in caplog.text and "a task listener for" in caplog.text
