"""The journal's index (``history.index``): what a resume needs, read without reading the whole journal —
always the same answer as the journal read whole, rebuilt when it is missing, unreadable or stale, right
with two processes writing at once; and a batch of 1,000 killed halfway resumed whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kling_widgets import Batch, KlingClient, Task, TaskHistory, TaskStatus, VideoRequest, sweep
from kling_widgets.batch import interrupted
from kling_widgets.simulator import Simulator

from .conftest import wait_for

IMAGE = "https://example.com/reference.jpg"  # a link: the journal keeps it as it is, no spool needed
WHERE = {"provider": "gateway", "base_url": "http://127.0.0.1:9", "service": "simulator"}


def queue(history: TaskHistory, batch: str, count: int, *, group: str | None = None, first: int = 0) -> list[str]:
    """Journal ``count`` queued intentions of one batch, as Batch does; their external ids."""
    ids = []
    for index in range(first, first + count):
        ext = f"{batch}-{group or ''}-{index}"
        request = VideoRequest([IMAGE], f"{batch} scene {index}", external_task_id=ext)
        history.record_queued(ext, request, batch=batch, index=index, group=group, sync=False, **WHERE)
        ids.append(ext)
    return ids


def end(history: TaskHistory, ext: str, status: TaskStatus = TaskStatus.SUCCEEDED) -> None:
    history.record_task(Task(f"task-{ext}", status, external_task_id=ext))


def alone(history: TaskHistory, name: str) -> str:
    request = VideoRequest([IMAGE], name, external_task_id=name)
    history.record_submission(name, request, provider="gateway", base_url=WHERE["base_url"], service="simulator")
    return name


def whole(history: TaskHistory) -> tuple[list[str], list[str]]:
    """What a resume picks up and what is unfinished, from the journal read whole (the old way)."""
    entries = TaskHistory(history.path).entries()
    return [e.external_task_id for e in interrupted(entries)], sorted(
        e.external_task_id for e in entries if e.unfinished
    )


def indexed(history: TaskHistory) -> tuple[list[str], list[str]]:
    """The same, from the index."""
    return (
        [e.external_task_id for e in interrupted(history.resumable())],
        sorted(e.external_task_id for e in history.unfinished()),
    )


def index_of(history: TaskHistory) -> Path:
    return history.path.with_suffix(".index")


def a_journal(history: TaskHistory) -> None:
    """Ended batches, an interrupted one, a group of the bundle's queue, lone submissions."""
    for ext in queue(history, "done", 4):
        end(history, ext)
    half = queue(history, "half", 4)
    end(history, half[0])
    end(history, half[1], TaskStatus.FAILED)
    for ext in queue(history, "bundle-q", 2, group="click-1"):
        end(history, ext)
    queue(history, "bundle-q", 2, group="click-2", first=2)
    end(history, alone(history, "lone-done"))
    alone(history, "lone-sending")


def test_the_index_answers_as_the_whole_journal_and_reads_only_what_was_appended(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    a_journal(history)
    assert indexed(history) == whole(history)
    picked = indexed(history)[0]
    assert picked[:4] == [f"half--{i}" for i in range(4)]  # the interrupted batch whole, its ended ones too
    assert "done--0" not in picked and "lone-done" not in picked
    kept = index_of(history).read_text().splitlines()
    assert len(kept) - 1 < len(history.path.read_text().splitlines())  # a header, and fewer lines than the journal
    # another kernel opens: the index is read, not rebuilt; then it reads only the lines appended since
    other = TaskHistory(history.path)
    assert indexed(other) == whole(history) and other._index.rebuilds == 0
    for ext in [f"half--{i}" for i in (2, 3)]:
        end(history, ext)
    end(history, "lone-sending")
    more = queue(history, "later", 3)
    assert indexed(other) == whole(history) and other._index.rebuilds == 0
    assert [e.external_task_id for e in interrupted(other.resumable())][-3:] == more
    assert other.index_lag() == 0


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated", "other journal", "journal replaced"])
def test_a_missing_unreadable_or_stale_index_is_rebuilt_from_the_journal(tmp_path: Path, damage: str) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    a_journal(history)
    expected = whole(history)
    assert indexed(history) == expected
    index = index_of(history)
    if damage == "deleted":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(b"\x00not json\n{]")
    elif damage == "truncated":  # a header that promises lines it no longer has
        index.write_text("\n".join(index.read_text().splitlines()[:2]) + "\n")
    elif damage == "other journal":  # a copy of the index of another journal of the same folder
        other = TaskHistory(tmp_path / "b" / "history.jsonl")
        queue(other, "elsewhere", 2)
        other.resumable()
        index.write_bytes(index_of(other).read_bytes())
    else:  # the journal restored from a copy, with a line more: another file, or the same file rewritten
        copy = tmp_path / "copy.jsonl"
        copy.write_bytes(history.path.read_bytes())
        os.replace(copy, history.path)
        queue(history, "after", 1)
        expected = whole(history)
    reader = TaskHistory(history.path)
    assert indexed(reader) == expected and reader._index.rebuilds == 1
    assert indexed(TaskHistory(history.path)) == expected  # the rebuilt index reads back
    assert TaskHistory(history.path).index_lag() == 0


def test_a_journal_rewritten_in_place_or_shortened_is_read_again(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    a_journal(history)
    assert indexed(history) == whole(history)
    lines = history.path.read_bytes().splitlines(keepends=True)
    with open(history.path, "r+b") as handle:  # the same file (inode), written again longer (its end differs)
        handle.seek(0)
        handle.write(b"".join(line.replace(b"lone", b"LONE") for line in lines) + lines[-1])
    reader = TaskHistory(history.path)
    assert indexed(reader) == whole(history) and reader._index.rebuilds == 1
    assert "LONE-sending" in indexed(reader)[1]
    with open(history.path, "r+b") as handle:  # shortened to its first half
        handle.truncate(sum(len(line) for line in lines[: len(lines) // 2]))
    assert indexed(reader) == whole(history) and reader._index.rebuilds == 2


def test_a_request_sent_again_in_a_batch_that_had_ended_brings_the_batch_back_whole(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    ids = queue(history, "sweep", 3)
    for ext in ids[:2]:
        end(history, ext)
    end(history, ids[2], TaskStatus.FAILED)
    assert history.resumable() == [] and history.unfinished() == []  # ended: nothing of it is kept
    again = VideoRequest([IMAGE], "sweep scene 2", external_task_id="sweep-again-2")  # Batch.retry's journaling
    history.record_queued("sweep-again-2", again, batch="sweep", index=2, **WHERE)
    reader = TaskHistory(history.path)
    assert indexed(reader) == whole(history)
    assert indexed(reader)[0] == ["sweep--0", "sweep--1", "sweep-again-2"]  # its place taken by the new attempt


def test_news_of_an_ended_request_does_not_bring_it_back(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    done = alone(history, "clip")
    end(history, done)
    assert history.resumable() == []
    history.record_download(done, tmp_path / "clip.mp4")  # the video saved later
    end(history, done)  # a late answer, the same
    reader = TaskHistory(history.path)
    assert reader.resumable() == [] and reader._index.rebuilds == 0
    history.record_task(Task("t-9", TaskStatus.PROCESSING, external_task_id="watched"))  # journaled unsubmitted
    assert indexed(reader) == whole(history) == (["watched"], ["watched"]) and reader._index.rebuilds == 0
    end(history, "watched")
    history.path.write_bytes(history.path.read_bytes() + b'{"time": 1, "event": "task", "external_t')  # torn
    assert reader.resumable() == [] and reader.index_lag() > 0  # the torn line waits for its end


WRITER = textwrap.dedent(
    """
    import sys
    from kling_widgets import Task, TaskHistory, TaskStatus, VideoRequest

    journal, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    where = {"provider": "gateway", "base_url": "http://127.0.0.1:9", "service": "simulator"}
    history = TaskHistory(journal)
    for index in range(count):
        ext = f"{name}-{index}"
        request = VideoRequest(["https://example.com/reference.jpg"], "x", external_task_id=ext)
        history.record_queued(ext, request, batch=f"{name}-{index // 10}", index=index % 10, sync=False, **where)
        if index % 3:
            history.record_task(Task(f"t-{ext}", TaskStatus.SUCCEEDED, external_task_id=ext))
        if index % 7 == 0:
            history.unfinished()  # this kernel reads, and rewrites the index, while the other writes
    """
)


def test_two_processes_writing_and_reading_at_once_keep_the_index_right(tmp_path: Path) -> None:
    journal = tmp_path / "history.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(journal), name, "150"], stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    reader = TaskHistory(journal)
    while any(w.poll() is None for w in writers):
        reader.unfinished()  # a third reader, rewriting the index too
    for writer in writers:
        _, errors = writer.communicate(timeout=60)
        assert writer.returncode == 0, errors
    history = TaskHistory(journal)
    assert len(history.entries()) == 300
    assert indexed(history) == whole(history) and indexed(reader) == whole(history)
    header = json.loads(index_of(history).read_text().splitlines()[0])
    assert header["upto"] == journal.stat().st_size  # the last reader's index covers the whole journal
    assert len(indexed(history)[1]) == 100  # every third request of each writer was never answered


KILLED = textwrap.dedent(
    """
    import sys, time
    from kling_widgets import Batch, KlingClient, TaskHistory, TaskWatcher, VideoRequest, sweep

    url, access, secret, journal = sys.argv[1:5]
    TaskWatcher.set_rate_limit(200)  # as the tests' brisk_watcher: hundreds of tasks polled at once
    client = KlingClient(provider="kling", access_key=access, secret_key=secret, base_url=url, poll_interval=0.05)
    prompts = [f"scene {i}" for i in range(1000)]
    requests = sweep(VideoRequest(["https://example.com/reference.jpg"], "x"), prompt=prompts)
    Batch(client, requests, max_concurrent=50, history=TaskHistory(journal)).start()
    print("started", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.usefixtures("brisk_watcher")
def test_a_batch_of_1000_killed_halfway_resumes_whole_and_sends_each_request_once(tmp_path: Path) -> None:
    """A real process runs a batch of 1,000 and is killed (SIGKILL) when about half were created: the
    resume gives back all 1,000 in their places and sends only those never sent — each exactly once,
    in the batch's order. Kling direct, so that a create on its way at the kill is looked up by its
    external id rather than reported unknown: every request ends with its video."""
    journal = tmp_path / "history.jsonl"
    with Simulator("kling", processing_seconds=0.2, max_concurrent=50) as sim:
        keys = [sim.access_key, sim.secret_key]
        process = subprocess.Popen([sys.executable, "-c", KILLED, sim.url, *keys, str(journal)])
        try:
            wait_for(lambda: sim.creates >= 500, timeout=120)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        sent_before = sim.creates
        assert 500 <= sent_before < 1000
        history = TaskHistory(journal)
        client = KlingClient(
            provider="kling", access_key=keys[0], secret_key=keys[1], base_url=sim.url, poll_interval=0.05
        )
        resumed = Batch.resume(client, history)
        assert [item.request.prompt for item in resumed.items] == [f"scene {i}" for i in range(1000)]
        tasks = resumed.wait(timeout=240)
        assert all(task.status is TaskStatus.SUCCEEDED for task in tasks)
        prompts = [created["body"]["prompt"] for created in sim.created]
        assert prompts == [f"scene {i}" for i in range(1000)]  # each once, in order, across the kill
        assert len({created["external_task_id"] for created in sim.created}) == 1000
        assert {c["external_task_id"] for c in sim.created} == {e.external_task_id for e in history.entries()}
        assert history.unfinished() == []
        assert Batch.resume(client, history).wait(timeout=5) == []  # a batch that ended is not resumed again
        assert sim.creates == 1000


def test_a_bundle_over_a_journal_never_indexed_opens_at_once_and_resumes_on_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the journal still to read that a bundle reads before it shows (lowered here to nothing), its
    resume runs on a thread: the same tasks come back, and the index is written for the next opening."""
    import kling_widgets.widgets.app as app_module
    from kling_widgets import MultiImageToVideo

    monkeypatch.setattr(app_module, "QUICK_RESUME_BYTES", 0)
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        history = TaskHistory(tmp_path / "history.jsonl")
        for index, request in enumerate(sweep(VideoRequest([IMAGE], "x"), prompt=["a", "b", "c"])):
            ext = f"stopped-{index}"  # journaled, never sent: a kernel that stopped at once
            where = {"provider": client.provider, "base_url": client.base_url, "service": client.service().name}
            history.record_queued(ext, request.with_external_task_id(ext), batch="stopped", index=index, **where)
        index_of(history).unlink(missing_ok=True)
        app = MultiImageToVideo(client=client, history=TaskHistory(history.path))
        assert app._resuming is not None
        app._resuming.join(timeout=30)
        assert app.resumed is not None and [i.request.prompt for i in app.resumed.items] == ["a", "b", "c"]
        assert [t.status for t in app.resumed.wait(timeout=30)] == [TaskStatus.SUCCEEDED] * 3
        assert sim.creates == 3 and index_of(history).exists()
        app.close()
