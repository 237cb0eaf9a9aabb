"""A sweep of 300 on one BatchView, against one card per request (what BatchView built before it had
pages: a compact TaskView, with its player, for every request) built in the same run from the same
finished tasks. Figures: widget models alive and the bytes of their state once every task ended (what
the page must create, draw and keep), and the kernel's time to turn a page and to take one report of
the batch. Goals: at most 1,000 models and 1.5 MB of state for 300 requests.

And the kernel's work in the click's path for a sweep of 300 (the bundle's button, or ``Batch.start()``):
journaling every intention before the first is sent, each line written at once and the disk flushed
once with the last, against the same lines flushed one by one (how it was journaled before), in the
same folder.

The simulator runs here (its tasks take 0.2 s); the process's polling budget is lifted so that 300 tasks
end in seconds (the budget itself is measured in benchmarks/watching.py).
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from pathlib import Path

import ipywidgets as widgets

from kling_widgets import Batch, BatchView, KlingClient, TaskHistory, TaskView, VideoRequest, sweep
from kling_widgets.simulator import Simulator
from kling_widgets.watcher import _ENGINE, TaskWatcher
from kling_widgets.widgets._state import models_weight
from kling_widgets.widgets._style import request_label
from kling_widgets.widgets.cards import close_tree

COUNT = 300
MAX_MODELS = 1000
MAX_BYTES = 1_500_000
IMAGE = "https://example.com/reference.jpg"  # a link, sent as it is: this is about the page, not uploads


def paged(client: KlingClient) -> tuple[int, int, float, float, Batch]:
    """(models, bytes, ms per page turn, ms per report) of a BatchView over 300 finished requests."""
    gc.collect()
    models, size = models_weight()
    batch = Batch(client, sweep(VideoRequest([IMAGE], "x"), prompt=[f"scene {i}" for i in range(COUNT)]))
    batch.max_concurrent = 50
    view = BatchView(batch)
    tasks = batch.start().wait(timeout=600)
    assert all(t.status.value == "succeeded" for t in tasks), "every task must succeed"
    deadline = time.monotonic() + 30
    while view.counts.get("succeeded") != COUNT and time.monotonic() < deadline:
        time.sleep(0.05)
    after, weight = models_weight()
    turns = []
    for page in range(1, view.pages):
        started = time.perf_counter()
        view.page = page
        turns.append(time.perf_counter() - started)
    reports = []
    for _ in range(50):
        started = time.perf_counter()
        view._on_batch(batch)
        reports.append(time.perf_counter() - started)
    view.close()
    return after - models, weight - size, statistics.median(turns) * 1000, statistics.median(reports) * 1000, batch


def one_card_each(client: KlingClient, batch: Batch) -> tuple[int, int]:
    """(models, bytes) of a grid of one compact TaskView per request, each with its player."""
    gc.collect()
    models, size = models_weight()
    cards = [
        TaskView(item.task, client=client, label=request_label(item.request, 40), compact=True,
                 aspect_ratio=item.request.aspect_ratio)
        for item in batch.items
        if item.task is not None
    ]  # fmt: skip
    grid = widgets.Box(cards)
    after, weight = models_weight()
    for card in cards:
        close_tree(card)
    grid.close()
    return after - models, weight - size


def journaling(client: KlingClient) -> tuple[float, float]:
    """(ms, ms): ``Batch.start()`` of 300 journaled intentions, against the same lines flushed one by one.
    Medians of three, in a fresh journal each time."""
    requests = sweep(VideoRequest([IMAGE], "x"), prompt=[f"scene {i}" for i in range(COUNT)])
    starts, one_by_one = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(3):
            history = TaskHistory(Path(folder) / f"start{run}" / "history.jsonl")
            batch = Batch(client, requests, history=history)
            batch.stop()  # journaled, nothing sent: only the click's part is timed
            started = time.perf_counter()
            batch._journal_queued(batch.items)
            starts.append(time.perf_counter() - started)
            history = TaskHistory(Path(folder) / f"each{run}" / "history.jsonl")
            started = time.perf_counter()
            for item in batch.items:
                history.record_queued(item.external_task_id, item.request, provider=client.provider,
                                      base_url=client.base_url, batch=batch.name, index=item.index)  # fmt: skip
            one_by_one.append(time.perf_counter() - started)
    return statistics.median(starts) * 1000, statistics.median(one_by_one) * 1000


def main() -> int:
    before = _ENGINE.max_requests_per_second
    TaskWatcher.set_rate_limit(200)
    try:
        with Simulator(processing_seconds=0.2) as sim:
            client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
            models, size, turn_ms, report_ms, batch = paged(client)
            base_models, base_size = one_card_each(client, batch)
            journal_ms, each_ms = journaling(client)
    finally:
        TaskWatcher.set_rate_limit(before)
    met = "met" if models <= MAX_MODELS and size <= MAX_BYTES else "NOT met"
    print(f"{COUNT} requests, every task ended:")
    print(f"  BatchView (pages of 12):     {models:6,} models, {size / 1e6:5.2f} MB of state")
    print(f"  one card per request (before): {base_models:4,} models, {base_size / 1e6:5.2f} MB of state")
    print(f"  {models / base_models:.3f}× the models, {size / base_size:.3f}× the state "
          f"(goal ≤ {MAX_MODELS:,} models and ≤ {MAX_BYTES / 1e6:.1f} MB: {met})")  # fmt: skip
    print(f"  kernel: a page turn {turn_ms:.1f} ms, one report of the batch {report_ms:.2f} ms (medians)")
    print(f"  the click's path: {COUNT} intentions journaled in {journal_ms:.0f} ms, one disk flush "
          f"(one flush each, before: {each_ms:.0f} ms → {journal_ms / each_ms:.2f}×)")  # fmt: skip
    return 0 if met == "met" else 1


if __name__ == "__main__":
    raise SystemExit(main())
