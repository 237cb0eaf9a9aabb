"""Never pay twice for one click, never lose a created task, never leak the key — under scripted faults."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kling_widgets import KlingClient, Task, TaskHistory, TaskStatus, ValidationError, VideoRequest
from kling_widgets.errors import APIConnectionError, CreateOutcomeUnknownError, KlingError, WaitTimeoutError
from kling_widgets.simulator import Simulator
from kling_widgets.watcher import TaskUpdate, TaskWatcher

from .conftest import Sleeps
from .conftest import fox as req


# -- one create per intention -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "code": 5000},
        {"drop": True},
        {"status": 504, "code": 5002},
        {"status": 200, "code": 0, "message": "an answer of no known shape"},
    ],
)
def test_gateway_unknown_outcome_is_reported_not_resent(
    sim: Simulator, sleeps: Sleeps, history: TaskHistory, photo: bytes, fault: dict[str, Any]
) -> None:
    client = KlingClient(sim.api_key, base_url=sim.url, sleep=sleeps, history=history)
    sim.inject(method="POST", apply=True, **fault)
    with pytest.raises(CreateOutcomeUnknownError) as caught:
        client.create_task(req(photo, external_task_id="click-1"))
    assert sim.creates == 1 and len([r for r in sim.requests if r.method == "POST"]) == 1
    assert "click-1" in str(caught.value) and "may exist" in str(caught.value)
    entry = history.get("click-1")
    assert entry is not None and entry.status == "unknown" and entry in history.unfinished()


@pytest.mark.parametrize("fault", [{"status": 500, "code": 5000}, {"drop": True}])
def test_kling_unknown_outcome_is_looked_up_by_external_id(
    kling_sim: Simulator, sleeps: Sleeps, history: TaskHistory, photo: bytes, fault: dict[str, Any]
) -> None:
    client = KlingClient(
        provider="kling",
        access_key=kling_sim.access_key,
        secret_key=kling_sim.secret_key,
        base_url=kling_sim.url,
        sleep=sleeps,
        history=history,
    )
    kling_sim.inject(method="POST", apply=True, **fault)
    task = client.create_task(req(photo))
    assert kling_sim.creates == 1 and task.id == kling_sim.created[0]["task_id"]
    assert kling_sim.requests[1].path.endswith("/" + task.external_task_id)  # type: ignore[operator]
    assert history.get(task.external_task_id).task_id == task.id  # type: ignore[arg-type,union-attr]


def test_kling_create_that_never_took_effect_is_resent_once_with_the_same_id(
    kling_sim: Simulator, kling_client: KlingClient, photo: bytes
) -> None:
    kling_sim.inject(method="POST", status=500, code=5000)  # refused before it took effect
    task = kling_client.create_task(req(photo))
    posts = [r for r in kling_sim.requests if r.method == "POST"]
    assert kling_sim.creates == 1 and len(posts) == 2
    assert posts[0].json["external_task_id"] == posts[1].json["external_task_id"] == task.external_task_id


@pytest.mark.parametrize("code", [1302, 1303])
def test_come_back_later_is_retried_with_the_same_external_id(
    sim: Simulator, client: KlingClient, sleeps: Sleeps, photo: bytes, code: int
) -> None:
    sim.inject(method="POST", status=429, code=code, retry_after=2)
    task = client.create_task(req(photo))
    posts = [r for r in sim.requests if r.method == "POST"]
    assert sim.creates == 1 and len(posts) == 2 and sleeps == [2]
    assert posts[0].json["external_task_id"] == posts[1].json["external_task_id"] == task.external_task_id


def test_concurrency_limit_of_the_simulator_is_a_1303(photo: bytes, sleeps: Sleeps) -> None:
    with Simulator(processing_seconds=0.3, max_concurrent=1) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, sleep=lambda s: time.sleep(0.4))
        client.create_task(req(photo))
        client.create_task(req(photo))  # refused (1303) while the first runs, sent again once it ended
        posts = [r for r in sim.requests if r.method == "POST"]
        assert sim.creates == 2 and len(posts) == 3
        assert posts[1].json["external_task_id"] == posts[2].json["external_task_id"]


def test_connection_refused_is_safe_to_retry_and_never_unknown(
    photo: bytes, sleeps: Sleeps, history: TaskHistory
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = KlingClient("k", base_url=f"http://127.0.0.1:{port}", sleep=sleeps, history=history)
    with pytest.raises(APIConnectionError) as caught:
        client.create_task(req(photo, external_task_id="never-sent"))
    assert caught.value.reached is False and len(sleeps) == 2
    assert history.get("never-sent").status == "rejected"  # type: ignore[union-attr]
    assert history.unfinished() == []


@pytest.mark.parametrize(
    ("status", "code"), [(400, 1201), (401, 1000), (403, 1103), (429, 1100), (429, 1101), (429, 1102)]
)
def test_refusals_are_never_retried(sim: Simulator, client: KlingClient, photo: bytes, status: int, code: int) -> None:
    sim.inject(method="POST", status=status, code=code, times=None)
    with pytest.raises(KlingError):
        client.create_task(req(photo))
    assert len([r for r in sim.requests if r.method == "POST"]) == 1


def test_invalid_request_sends_nothing(sim: Simulator, client: KlingClient) -> None:
    with pytest.raises(ValidationError):
        client.create_task(VideoRequest([b"GIF89a" + bytes(50)], "x" * 3000))
    assert sim.requests == []


# -- polling that survives ----------------------------------------------------------------------------
def test_flaky_polls_never_end_the_watch(sim: Simulator, client: KlingClient, photo: bytes) -> None:
    sim.inject(method="GET", status=503, code=5001, probability=0.3, times=None)
    sim.inject(method="GET", drop=True, probability=0.1, times=None)
    done = client.wait(client.create_task(req(photo)), poll_interval=0.02)
    assert done.status is TaskStatus.SUCCEEDED


def test_deadline_says_the_task_may_still_be_billed(photo: bytes) -> None:
    with Simulator(processing_seconds=30) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url)
        task = client.create_task(req(photo))
        with pytest.raises(WaitTimeoutError) as caught:
            client.wait(task, timeout=0.3, poll_interval=0.05)
    assert "may still finish and be billed" in str(caught.value) and task.id in str(caught.value)
    assert caught.value.task.id == task.id


def test_watcher_keeps_going_through_failures_and_reports_final_states(
    sim: Simulator, client: KlingClient, photo: bytes
) -> None:
    sim.fail_next_task("no luck")
    tasks = [client.create_task(req(photo)) for _ in range(3)]
    sim.inject(method="GET", status=500, code=5000, probability=0.3, times=None)
    finals: dict[str, TaskUpdate] = {}
    watcher = TaskWatcher(client, poll_interval=0.02)
    done = threading.Event()

    def listen(update: TaskUpdate) -> None:
        if update.final:
            finals[update.task.id] = update
            if len(finals) == 3:
                done.set()

    watcher.on_update(listen)
    for task in tasks:
        watcher.watch(task)
    assert done.wait(15)
    assert sorted(u.task.status.value for u in finals.values()) == ["failed", "succeeded", "succeeded"]
    assert watcher.live == []
    watcher.stop()


def test_watcher_deadline(photo: bytes) -> None:
    with Simulator(processing_seconds=30) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url)
        heard: list[TaskUpdate] = []
        watcher = TaskWatcher(client, poll_interval=0.05, timeout=0.3)
        watcher.watch(client.create_task(req(photo)), heard.append)
        assert watcher.wait_idle(5)
    assert heard[-1].final and "may still finish and be billed" in (heard[-1].problem or "")


def test_a_task_watched_again_as_its_watch_stops_is_followed_to_the_end(sim: Simulator, photo: bytes) -> None:
    client = KlingClient(sim.api_key, base_url=sim.url)
    task = client.create_task(req(photo))
    sim.inject(method="GET", status=401, code=1000, message="key refused", times=None)
    watcher = TaskWatcher(client, poll_interval=0.05)
    finals: list[TaskUpdate] = []
    ended = threading.Event()

    def listen(update: TaskUpdate) -> None:
        if not update.final:
            return
        finals.append(update)
        if update.task.complete:
            ended.set()
        else:  # a card's "Watch again" pressed the moment it shows, while the watch is still being ended
            sim.clear_faults()
            watcher.watch(update.task)

    watcher.on_update(listen)
    watcher.watch(task)
    assert ended.wait(15), [u.problem for u in finals]
    assert [u.task.complete for u in finals] == [False, True] and finals[-1].task.status is TaskStatus.SUCCEEDED
    assert watcher.wait_idle(5)


# -- the journal ------------------------------------------------------------------------------------------
def test_history_records_before_sending_and_folds_updates(
    sim: Simulator, client: KlingClient, history: TaskHistory, photo: bytes
) -> None:
    sim.inject(method="POST", drop=True)  # the create never gets an answer …
    client.history = history
    with pytest.raises(CreateOutcomeUnknownError):
        client.create_task(req(photo, external_task_id="e-1"))
    entry = history.get("e-1")
    assert entry is not None and entry.prompt == "a fox runs through snow"  # … yet it was journaled before it was sent
    assert entry.images[0]["sha256"] and "data" not in entry.images[0]
    done = client.generate(req(photo, external_task_id="e-2"), poll_interval=0.05)
    entry = history.get("e-2")
    assert entry.task_id == done.id and entry.status == "succeeded" and entry.video_url  # type: ignore[union-attr]
    assert [e.external_task_id for e in history.entries()] == ["e-2", "e-1"]


def test_history_tolerates_a_torn_last_line(history: TaskHistory, photo: bytes) -> None:
    history.record_task(Task("t1", TaskStatus.PROCESSING), "x-1")
    with open(history.path, "ab") as handle:
        handle.write(b'{"event":"task","external_task_id":"x-1","sta')  # a crash mid-write
    history.record_task(Task("t2", TaskStatus.SUBMITTED), "x-2")
    assert {e.external_task_id: e.status for e in history.entries()} == {
        "x-1": "processing",
        "x-2": "submitted",
    }


def _write_many(path: str, prefix: str) -> None:
    journal = TaskHistory(path)
    for index in range(100):
        journal.record_task(Task(f"{prefix}{index}", TaskStatus.SUBMITTED), f"{prefix}-{index}")


def test_two_processes_write_the_journal_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.jsonl")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, p)) for p in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(TaskHistory(path).entries()) == 200
    assert all(line.endswith("}") for line in Path(path).read_text().splitlines())


def test_restart_resumes_watching_without_creating(sim: Simulator, history: TaskHistory, photo: bytes) -> None:
    from kling_widgets import MultiImageToVideo

    client = KlingClient(sim.api_key, base_url=sim.url, history=history)
    first = MultiImageToVideo(client, poll_interval=0.05)
    first.image_picker.add(photo)
    first.prompt_box.value = "a fox"
    task = first.submit().result(timeout=10)  # type: ignore[union-attr]
    first.close()  # the kernel dies mid-watch
    assert task is not None and not history.get(task.external_task_id).done  # type: ignore[arg-type,union-attr]
    posts = sim.creates
    again = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), history=history, poll_interval=0.05)
    assert [t.id for t in again.tasks] == [task.id]
    assert again.watcher is not None and again.watcher.wait_idle(10)
    assert again.tasks[0].status is TaskStatus.SUCCEEDED and sim.creates == posts
    assert history.get(task.external_task_id).status == "succeeded"  # type: ignore[arg-type,union-attr]
    again.close()


# -- fuzzing ---------------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
task_like = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from([0, "success", 1, None]) | json_values,
        "task_id": st.text(max_size=8) | st.integers(),
        "id": st.text(max_size=8),
        "status": st.sampled_from(["SUCCESS", "queued", "failed", "???"]) | json_values,
        "task_status": st.sampled_from(["succeed", "processing", "failed"]) | json_values,
        "progress": json_values,
        "created_at": json_values,
        "data": json_values,
        "task_result": json_values,
        "metadata": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(payload=task_like | st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_fuzz_from_payload_raises_only_documented_errors(payload: dict[str, Any]) -> None:
    from kling_widgets.errors import PayloadError

    try:
        task = Task.from_payload(payload)
    except PayloadError:
        return
    assert task.id and isinstance(task.status, TaskStatus)
    assert task.progress is None or 0 <= task.progress <= 100


@settings(max_examples=150, deadline=None)
@given(
    prompt=st.text(max_size=2600) | st.integers(),
    negative=st.none() | st.text(max_size=2600),
    mode=st.sampled_from(["std", "pro", "PRO", ""]) | st.integers(),
    duration=st.sampled_from([5, 10, "5", "10", 7, 5.0, None]),
    aspect=st.sampled_from(["16:9", "9:16", "1:1", "4:3", None]),
    callback=st.none() | st.sampled_from(["https://x.io/cb", "ftp://x", "", "http://"]),
    external=st.none() | st.text(max_size=20),
    count=st.integers(0, 6),
)
def test_fuzz_video_request_never_lets_invalid_reach_the_wire(
    prompt: Any,
    negative: Any,
    mode: Any,
    duration: Any,
    aspect: Any,
    callback: Any,
    external: Any,
    count: int,
) -> None:
    request = VideoRequest(
        ["https://example.com/a.jpg"] * count,
        prompt,
        negative_prompt=negative,
        mode=mode,
        duration=duration,
        aspect_ratio=aspect,
        callback_url=callback,
        external_task_id=external,
    )
    try:
        body = request.to_payload()
    except ValidationError as error:
        assert error.problems and all(p.field and p.message for p in error.problems)
        return
    assert 1 <= len(body["image_list"]) <= 4 and 0 < len(body["prompt"]) <= 2500
    assert body["mode"] in ("std", "pro") and body["duration"] in ("5", "10")
    assert body["aspect_ratio"] in ("16:9", "9:16", "1:1")


def test_restart_finds_a_kling_task_whose_create_answer_was_lost(
    kling_sim: Simulator, history: TaskHistory, photo: bytes, sleeps: Sleeps
) -> None:
    from kling_widgets import MultiImageToVideo

    def client() -> KlingClient:
        return KlingClient(
            provider="kling", access_key=kling_sim.access_key, secret_key=kling_sim.secret_key,
            base_url=kling_sim.url, sleep=sleeps, max_retries=0,
        )  # fmt: skip

    kling_sim.inject(method="POST", drop=True, apply=True)  # created, then the answer is lost …
    kling_sim.inject(method="GET", status=503, code=5001, times=None)  # … and so is every lookup: unknown
    with pytest.raises(CreateOutcomeUnknownError):
        client().create_task(req(photo, external_task_id="lost-1"), history=history)
    assert history.get("lost-1").status == "unknown"  # type: ignore[union-attr]
    kling_sim.clear_faults()
    app = MultiImageToVideo(client(), history=history, poll_interval=0.05)  # after a restart
    assert app.watcher is not None and app.watcher.wait_idle(10)
    assert [(t.id, t.status) for t in app.tasks] == [(kling_sim.created[0]["task_id"], TaskStatus.SUCCEEDED)]
    assert kling_sim.creates == 1 and history.get("lost-1").status == "succeeded"  # type: ignore[union-attr]
    app.close()
