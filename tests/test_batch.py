"""Batches and sweeps against the simulator: the account's limit given or learned, failures that never
stop a batch, cancel, a kernel killed halfway and resumed — every intention sent once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from kling_widgets import (
    Batch,
    KlingClient,
    TaskHistory,
    TaskStatus,
    ValidationError,
    estimate_units,
    sweep,
)
from kling_widgets.simulator import Simulator

from .conftest import fox as base
from .conftest import most_running_at_once, wait_for


def test_sweep_is_the_product_in_a_stable_order(photo: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    import kling_widgets.request as request_module

    calls: list[object] = []
    real = request_module.prepare_image
    monkeypatch.setattr(request_module, "prepare_image", lambda *a, **k: calls.append(a) or real(*a, **k))
    requests = sweep(base(photo), prompt=["a fox", "a hare"], mode=["std", "pro"], duration=[5, 10])
    assert [(r.prompt, r.mode, r.duration) for r in requests] == [
        ("a fox", "std", 5), ("a fox", "std", 10), ("a fox", "pro", 5), ("a fox", "pro", 10),
        ("a hare", "std", 5), ("a hare", "std", 10), ("a hare", "pro", 5), ("a hare", "pro", 10),
    ]  # fmt: skip
    for request in requests:
        request.to_payload()
    assert len(calls) == 1  # the shared picture is prepared once for all eight
    assert all(r.external_task_id is None for r in requests)
    with pytest.raises(ValidationError) as caught:
        sweep(base(photo), colour=["red"], mode=[])
    assert {p.field for p in caught.value.problems} == {"colour", "mode"}


def test_estimate_units_from_kling_table_or_your_own(photo: bytes) -> None:
    requests = sweep(base(photo), mode=["std", "pro"], duration=[5, 10])
    assert estimate_units(requests) == 1 + 2 + 3.5 + 7
    card = {
        ("kling-v1-6", "std", 5): 0.2,
        ("kling-v1-6", "std", 10): 0.4,
        ("kling-v1-6", "pro", 5): 0.5,
        ("kling-v1-6", "pro", 10): 1.0,
    }
    assert estimate_units(requests, card) == pytest.approx(2.1)


def test_a_given_limit_is_never_exceeded(photo: bytes, history: TaskHistory) -> None:
    with Simulator(processing_seconds=0.8, max_concurrent=2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        requests = sweep(base(photo), prompt=[f"scene {i}" for i in range(6)])
        batch = Batch(client, requests, max_concurrent=2, history=history).start()
        tasks = batch.wait(timeout=60)
        assert [t.status for t in tasks] == [TaskStatus.SUCCEEDED] * 6
        assert sim.creates == 6 and len([r for r in sim.requests if r.method == "POST"]) == 6  # no 1303 at all
        assert most_running_at_once(sim) <= 2
        assert batch.units_charged == 6.0 and batch.estimate == 6.0
        assert [e.status for e in history.entries()] == ["succeeded"] * 6


def test_the_limit_is_learned_from_1303_without_hammering(photo: bytes) -> None:
    with Simulator(processing_seconds=0.8, max_concurrent=3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        batch = Batch(client, sweep(base(photo), prompt=[f"scene {i}" for i in range(8)])).start()
        tasks = batch.wait(timeout=60)
        assert all(t.status is TaskStatus.SUCCEEDED for t in tasks) and sim.creates == 8
        posts = len([r for r in sim.requests if r.method == "POST"])
        assert batch.limit == 3 and batch.refusals_1303 == posts - 8 <= 2
        assert len({c["external_task_id"] for c in sim.created}) == 8


def test_failures_and_refusals_never_stop_a_batch(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        prompts = ["fine one", "[fail] this one fails", "x" * 2600, "fine two"]
        batch = Batch(client, sweep(base(photo), prompt=prompts)).start()
        tasks = batch.wait(timeout=30)
        assert [t.status for t in tasks] == [
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
            TaskStatus.FAILED,
            TaskStatus.SUCCEEDED,
        ]
        assert "asked for a failure" in (tasks[1].error or "")  # the service's own reason
        assert "2500" in (tasks[2].error or "") and tasks[2].raw_status == "not created"
        assert sim.creates == 3 and batch.counts()["failed"] == 2


def test_cancel_sends_nothing_more_and_watches_what_exists(photo: bytes, history: TaskHistory) -> None:
    with Simulator(processing_seconds=1.0) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        batch = Batch(client, sweep(base(photo), prompt=["a", "b", "c", "d"]), max_concurrent=1, history=history)
        batch.start()
        deadline = time.monotonic() + 10
        while sim.creates < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        batch.cancel()
        tasks = batch.wait(timeout=20)
        assert sim.creates == 1 and tasks[0].status is TaskStatus.SUCCEEDED
        assert [t.raw_status for t in tasks[1:]] == ["cancelled"] * 3
        assert sorted(e.status for e in history.entries()) == ["cancelled"] * 3 + ["succeeded"]
        assert Batch.resume(client, history).wait(timeout=5) == []  # nothing left to send
        assert sim.creates == 1


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from kling_widgets import Batch, KlingClient, TaskHistory, VideoRequest, sweep
    from kling_widgets.simulator.samples import sample_jpeg

    url, key, journal = sys.argv[1:4]
    client = KlingClient(key, base_url=url, poll_interval=0.1)
    prompts = ["scene 0", "scene 1 [fail]", "scene 2", "scene 3", "scene 4"]
    requests = sweep(VideoRequest([sample_jpeg(0)], "x"), prompt=prompts)
    Batch(client, requests, max_concurrent=1, history=TaskHistory(journal)).start()
    print("started", flush=True)
    time.sleep(600)
    """
)


def test_a_kernel_killed_halfway_resumes_the_batch_whole_and_sends_each_intention_once(tmp_path: Path) -> None:
    """A real process runs a batch of five, one at a time, and is killed (SIGKILL) after the first task
    succeeded and the second failed, while the third runs: the resume gives back all five in their
    places — the finished ones too — and sends only the two that were never sent."""
    journal = tmp_path / "journal" / "history.jsonl"
    with Simulator(processing_seconds=2.5) as sim:
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_SCRIPT, sim.url, sim.api_key, str(journal)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            reader = TaskHistory(journal)

            def third_running() -> bool:  # one slot: nothing else is sent until the third ends
                by_prompt = {e.prompt: e for e in reader.entries()}
                third = by_prompt.get("scene 2")
                return third is not None and third.task_id is not None

            wait_for(third_running, timeout=60)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        assert sim.creates == 3
        history = TaskHistory(journal)
        before = {e.prompt: e for e in history.entries()}
        assert [before[f"scene {i}"].status for i in (0, 3, 4)] == ["succeeded", "queued", "queued"]
        assert before["scene 1 [fail]"].status == "failed"
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.1)
        resumed = Batch.resume(client, history)
        assert [i.request.prompt for i in resumed.items] == [
            "scene 0",
            "scene 1 [fail]",
            *(f"scene {i}" for i in (2, 3, 4)),
        ]
        tasks = resumed.wait(timeout=60)
        assert [t.status for t in tasks] == [TaskStatus.SUCCEEDED, TaskStatus.FAILED] + [TaskStatus.SUCCEEDED] * 3
        assert tasks[0].id == before["scene 0"].task_id and tasks[0].video_url  # the one finished before the kill
        assert sim.creates == 5 and len({c["external_task_id"] for c in sim.created}) == 5
        assert {c["external_task_id"] for c in sim.created} == {e.external_task_id for e in history.entries()}
        assert not any(history.spool.iterdir())  # the pictures waited only until they were sent
        assert Batch.resume(client, history).wait(timeout=5) == []  # a batch that ended is not resumed again
        assert sim.creates == 5


def test_kling_direct_limit_is_learned_from_an_integer_1303(photo: bytes) -> None:
    with Simulator("kling", processing_seconds=0.8, max_concurrent=2) as sim:
        client = KlingClient(
            provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url, poll_interval=0.05
        )
        batch = Batch(client, sweep(base(photo), prompt=[f"scene {i}" for i in range(5)])).start()
        tasks = batch.wait(timeout=60)
        assert all(t.status is TaskStatus.SUCCEEDED for t in tasks) and sim.creates == 5
        assert batch.limit == 2 and 1 <= batch.refusals_1303 <= 2 and most_running_at_once(sim) <= 2


def test_the_watching_cadence_fits_the_crowd() -> None:
    """A few young tasks are looked at every 10 s at most; a crowd of young tasks spends about
    YOUNG_RATE requests/s together; near the expected end every task is looked at quickly again."""
    from kling_widgets.retry import YOUNG_CAP, YOUNG_RATE, poll_delay

    expected = 300.0
    assert poll_delay(2.0, 1.0, expected, crowd=3) == 2.0  # a handful: the first look is quick
    assert poll_delay(0.1, 1.0, expected, crowd=20) == 0.5  # up to 20: the pace asked for, unchanged
    assert 200 / poll_delay(2.0, 1.0, expected, crowd=200) <= YOUNG_RATE * 1.01  # a crowd: first looks spread
    assert poll_delay(2.0, 30.0, expected, crowd=5) <= YOUNG_CAP
    young = poll_delay(2.0, 30.0, expected, crowd=200)
    assert 200 / young <= YOUNG_RATE * 1.01
    assert 30.0 + young <= 0.7 * expected + 1e-9  # never sleeps past the start of the expected end
    assert poll_delay(2.0, 0.8 * expected, expected, crowd=200) == 2.0


def test_resume_brings_back_each_interrupted_batch_and_leaves_finished_ones(photo: bytes, history: TaskHistory) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        finished = Batch(client, sweep(base(photo), prompt=["a1", "a2"]), history=history).start()
        finished.wait(timeout=20)
        stopped = Batch(client, sweep(base(photo), prompt=["b1", "b2", "b3"]), max_concurrent=1, history=history)
        stopped.start()
        wait_for(lambda: sim.creates == 3)
        stopped.stop()  # b2 and b3 stay queued on record, as after a crash
        assert stopped.watcher.wait_idle(10)
        loose = client.create_task(base(photo, prompt="c1"), history=history)  # no batch: resumed alone
        resumed = Batch.resume(client, history)
        assert [i.request.prompt for i in resumed.items] == ["b1", "b2", "b3", "c1"]
        tasks = resumed.wait(timeout=30)
        assert all(t.status is TaskStatus.SUCCEEDED for t in tasks) and tasks[3].id == loose.id
        assert sim.creates == 6 and sorted(c["body"]["prompt"] for c in sim.created) == [
            "a1",
            "a2",
            "b1",
            "b2",
            "b3",
            "c1",
        ]


def test_clicks_of_an_older_bundle_queue_are_not_one_batch() -> None:
    """Before the bundle's queue had a name of its own, every bundle journaled its clicks as batch
    "bundle": an unfinished click comes back alone, not with every click ever made."""
    from kling_widgets.batch import interrupted
    from kling_widgets.history import HistoryEntry

    def entry(ext: str, status: str, when: float, **place: Any) -> HistoryEntry:
        return HistoryEntry(ext, status=status, submitted_at=when, **place)

    entries = [
        entry("old-1", "succeeded", 1, batch="bundle", index=0),
        entry("old-2", "processing", 2, batch="bundle", index=1),
        entry("sweep-1", "succeeded", 3, batch="bundle-a", index=2, group="click-1"),
        entry("sweep-2", "queued", 4, batch="bundle-a", index=3, group="click-1"),
        entry("single", "succeeded", 5, batch="bundle-a", index=4, group="click-2"),
    ]
    assert [e.external_task_id for e in interrupted(entries)] == ["old-2", "sweep-1", "sweep-2"]


def test_a_resume_leaves_a_storyboards_takes_to_the_storyboard(sim: Simulator, client: KlingClient, photo: bytes,
                                                               history: TaskHistory) -> None:
    """The bundle's resume and Storyboard.reopen read one journal: a take is the storyboard's to send, so
    that both running at once never send it twice."""
    loose, take = base(photo, prompt="a loose clip"), base(photo, prompt="shot 1, take 1")
    for ext, request, tags in (("kw-loose", loose, None), ("kw-take", take, {"story": "s-1", "shot": 0, "take": 0})):
        history.record_queued(
            ext, request.with_external_task_id(ext), provider=client.provider, base_url=client.base_url,
            batch="b-1" if tags is None else "story-s-1", index=0, tags=tags,
        )
    batch = Batch.resume(client, history)
    assert [item.external_task_id for item in batch.items] == ["kw-loose"]
    batch.wait(timeout=30)
    assert [c["body"]["external_task_id"] for c in sim.created] == ["kw-loose"]
