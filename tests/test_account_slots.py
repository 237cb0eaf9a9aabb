"""One account, many kernels: real processes share one key against a simulator that enforces the account's
limit (1303), coordinated through the data folder (file locks) or a real redis-server started here."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_widgets import Batch, KlingClient, KlingError, TaskStatus, VideoRequest
from kling_widgets.account import SLOTS_ENV, AccountSlots, SlotState, account_hash
from kling_widgets.simulator import Simulator

from .conftest import most_running_at_once, wait_for

IMAGE = "https://example.com/reference.jpg"  # sent as a URL: this is about slots, not uploads

KERNEL = textwrap.dedent(
    """
    import json, sys, time
    from kling_widgets import Batch, KlingClient, VideoRequest, account

    url, key, tag, count, lease = sys.argv[1:6]
    account.LEASE_SECONDS = float(lease)
    client = KlingClient(key, base_url=url, poll_interval=0.05)
    started = time.monotonic()
    batch = Batch(client, [VideoRequest([sys.argv[6]], f"{tag} {i}") for i in range(int(count))]).start()
    print("started", flush=True)
    tasks = batch.wait(timeout=120)
    result = {"refusals": batch.refusals_1303, "statuses": [t.status.value for t in tasks]}
    print(json.dumps({**result, "seconds": time.monotonic() - started}), flush=True)
    """
)


def kernel(sim: Simulator, tag: str, count: int, *, lease: float = 10) -> subprocess.Popen[str]:
    """A kernel of its own (a separate process) sending ``count`` videos with one account's key."""
    args = [sys.executable, "-c", KERNEL, sim.url, sim.api_key, tag, str(count), str(lease), IMAGE]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "started"
    return process


def finished(process: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def refusals(sim: Simulator) -> int:
    """1303 refusals the service gave: every create it did not accept (the requests here are all valid)."""
    return len([r for r in sim.requests if r.method == "POST"]) - sim.creates


@pytest.fixture(params=["files", "redis"])
def coordinator(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Where the kernels meet: the data folder (the default), or a real redis-server of our own."""
    if request.param == "files":
        monkeypatch.delenv(SLOTS_ENV, raising=False)
        yield "files"
        return
    with redis_server() as url:
        monkeypatch.setenv(SLOTS_ENV, url)
        yield url


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Debian's redis-server on a free loopback port, nothing written to disk; stopped on exit. A test
    that needs it fails when it is missing (``make test`` installs it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make browser` (or apt-get install redis-server) adds it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        with redis.Redis(port=port) as client:

            def ready() -> bool:
                try:
                    return bool(client.ping())
                except redis.ConnectionError:
                    return False

            wait_for(ready)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


# -- the rules, on the shared state itself ---------------------------------------------------------------
def test_while_the_limit_is_unknown_one_create_goes_at_a_time_and_one_1303_teaches_it() -> None:
    state = SlotState()
    first = state.take("w1", "a", 0.0)
    assert first is not None and state.take("w2", "b", 0.0) is None  # a's create is not answered yet
    state.leases[first]["sending"] = False
    second = state.take("w2", "b", 0.0)
    assert second is not None
    state.leases[second]["sending"] = False
    third = state.take("w3", "c", 0.0)
    assert third is not None and state.refused(third, 0.0) == 2  # two run, the third was refused
    assert state.free() == 0 and state.take("w3", "c", 1.0) is None


def test_a_free_slot_goes_to_the_kernel_holding_fewest_then_waiting_longest() -> None:
    state = SlotState(limit=2, limit_until=1e12)
    sweep = [state.take(f"a{i}", "a", 0.0) for i in range(2)]
    assert all(sweep)
    assert state.take("a2", "a", 0.0) is None  # a's sweep waits first...
    assert state.take("b0", "b", 0.0) is None and state.take("c0", "c", 0.0) is None
    state.leases.pop(str(sweep[0]))  # one of a's tasks ends
    assert state.take("a2", "a", 0.0) is None  # ...but a holds one already: b, who holds none, goes first
    assert state.take("b0", "b", 0.0) is not None


def test_kernels_take_turns_even_when_one_queued_first() -> None:
    state = SlotState(limit=1, limit_until=1e12)
    assert state.take("a0", "a", 0.0) is not None
    assert all(state.take(w, w[0], 0.0) is None for w in ("a1", "b0", "c0"))  # a's next queued before b and c
    turns = []
    for _ in range(3):
        state.leases.clear()  # the running task ends
        for waiter in sorted(state.waiting):
            if state.take(waiter, waiter[0], 0.0) is not None:
                turns.append(waiter)
                break
    assert turns == ["b0", "c0", "a1"]  # a had its turn: b and c, who had none, go first


def test_a_dead_kernels_slots_come_back_at_once_and_its_running_task_never_lowers_the_limit() -> None:
    state = SlotState(limit=2, limit_until=1e12)
    running, sending = state.take("a0", "a", 0.0), state.take("a1", "a", 0.0)
    assert running and sending
    state.leases[running]["sending"] = False
    state.forget_dead("b", lambda kernels: set(), 0.0)  # a died
    assert state.leases == {} and state.free() == 2 and len(state.orphans) == 1
    mine = state.take("b0", "b", 1.0)
    assert mine is not None
    state.leases[mine]["sending"] = False
    theirs = state.take("c0", "c", 1.0)
    assert theirs is not None  # a's task still runs at the service: this create is refused
    assert state.refused(theirs, 1.0, hold=5.0) == 2  # explained by the orphan: the limit stays 2...
    assert state.free() == 0 and state.take("c0", "c", 2.0) is None  # ...and the slot is held a moment
    state.forget_dead("b", lambda kernels: kernels, 6.1)
    assert state.free() == 1 and state.orphans == {}
    again = state.take("c0", "c", 6.1)
    assert again is not None and state.refused(again, 6.1) == 1  # unexplained now: the limit is 1


def test_a_refusal_while_nothing_of_ours_runs_holds_a_slot_for_the_retry_after() -> None:
    state = SlotState()
    first = state.take("w", "a", 0.0)
    assert first is not None and state.refused(first, 0.0, hold=1.0) is None  # work outside these kernels
    assert state.free() == 0 and state.take("w", "a", 0.5) is None
    state.forget_dead("a", lambda kernels: kernels, 1.5)
    assert state.take("w", "a", 1.5) is not None


def test_the_account_is_named_without_its_key(sim: Simulator, tmp_path: Path) -> None:
    client = KlingClient(sim.api_key, base_url=sim.url)
    slots = AccountSlots.for_client(client)
    assert slots is AccountSlots.for_client(KlingClient(sim.api_key, base_url=sim.url))  # one per account
    assert slots is not AccountSlots.for_client(KlingClient("another-key", base_url=sim.url))
    lease = slots.acquire(lambda: False)
    folder = Path(os.environ["KLING_WIDGETS_HOME"]) / "accounts" / account_hash(client)
    written = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file()) + str(folder).encode()
    assert sim.api_key.encode() not in written and lease is not None
    slots.release(lease)


def test_a_bad_coordinator_address_is_said_before_anything_is_sent(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SLOTS_ENV, "mysql://somewhere")
    client = KlingClient(sim.api_key, base_url=sim.url)
    with pytest.raises(KlingError, match=f"{SLOTS_ENV} must be unset.*redis://"):
        Batch(client, [VideoRequest([IMAGE], "x")]).start()
    assert sim.creates == 0


# -- real kernels --------------------------------------------------------------------------------------
def test_kernels_sharing_an_account_stay_under_its_limit_with_one_refusal(coordinator: str) -> None:
    with Simulator(processing_seconds=0.8, max_concurrent=2) as sim:
        kernels = [kernel(sim, f"k{n}", 3) for n in range(4)]
        results = [finished(k) for k in kernels]
        assert all(r["statuses"] == ["succeeded"] * 3 for r in results)
        assert sim.creates == 12 and most_running_at_once(sim) <= 2
        assert refusals(sim) <= 1 and sum(int(r["refusals"]) for r in results) == refusals(sim)  # type: ignore[call-overload]


def test_one_kernels_sweep_does_not_starve_the_others(coordinator: str) -> None:
    with Simulator(processing_seconds=600, max_concurrent=2) as sim:
        sweeper = kernel(sim, "sweep", 8)
        wait_for(lambda: sim.creates == 2 and refusals(sim) == 1, timeout=30)  # the limit is learned
        others = [kernel(sim, "late-b", 1), kernel(sim, "late-c", 1)]
        wait_for(lambda: len({w["kernel"] for w in SlotState.load(_state_of(sim, coordinator)).waiting.values()}) == 3)
        sim.processing_seconds = 0.3  # the running tasks end: slots come free one after another
        for process in [*others, sweeper]:
            assert set(finished(process)["statuses"]) == {"succeeded"}  # type: ignore[arg-type]
        order = [c["body"]["prompt"].split()[0] for c in sim.created]
        # b and c go in the next turns (a granted create may reach the service a moment after the next one)
        assert order[:2] == ["sweep", "sweep"] and set(order[2:6]) >= {"late-b", "late-c"}, order
        assert refusals(sim) == 1 and most_running_at_once(sim) <= 2


def _state_of(sim: Simulator, coordinator: str) -> bytes | None:
    """The shared state of the simulator's account, read the way its kernels read it."""
    name = account_hash(KlingClient(sim.api_key, base_url=sim.url))
    if coordinator == "files":
        path = Path(os.environ["KLING_WIDGETS_HOME"]) / "accounts" / name / "state.json"
        return path.read_bytes() if path.exists() else None
    import redis

    with redis.Redis.from_url(coordinator) as client:
        value: bytes | None = client.get(f"kling-widgets:{name}:slots")
        return value


def test_a_killed_kernels_slots_come_back(coordinator: str) -> None:
    with Simulator(processing_seconds=600, max_concurrent=2) as sim:
        doomed = kernel(sim, "doomed", 3, lease=1.0)
        # Both slots held and the limit known *to the kernels*: the service answering the 1303 is not enough,
        # the doomed kernel must also have written what it learned before it dies (else nobody ever knew it).
        learned = lambda: SlotState.load(_state_of(sim, coordinator)).limit  # noqa: E731
        wait_for(lambda: sim.creates == 2 and refusals(sim) == 1 and learned() == 2, timeout=30)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        survivor = kernel(sim, "survivor", 2, lease=1.0)
        wait_for(lambda: refusals(sim) >= 2, timeout=30)  # its slots came back; its tasks still run, though
        sim.processing_seconds = 0.3  # now they end at the service (nobody watches them)
        result = finished(survivor)
        assert result["statuses"] == ["succeeded"] * 2 and sim.creates == 4
        assert SlotState.load(_state_of(sim, coordinator)).limit == 2  # those refusals taught no smaller limit
        assert refusals(sim) <= 2 + 30  # one try per Retry-After (1 s) at most, never a hammering


def test_a_kernel_alone_still_learns_the_limit_with_coordination_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLOTS_ENV, "off")
    with Simulator(processing_seconds=0.5, max_concurrent=2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        batch = Batch(client, [VideoRequest([IMAGE], f"scene {i}") for i in range(4)]).start()
        assert all(t.status is TaskStatus.SUCCEEDED for t in batch.wait(timeout=60))
        assert batch.slots is not None and not batch.slots.shared and batch.limit == 2
        assert not (Path(os.environ["KLING_WIDGETS_HOME"]) / "accounts").exists()


def test_the_bundle_waits_its_turn_behind_another_kernel_without_a_refusal(photo: bytes) -> None:
    from kling_widgets import MultiImageToVideo

    with Simulator(processing_seconds=600, max_concurrent=2) as sim:
        other = kernel(sim, "other", 3)
        wait_for(lambda: sim.creates == 2 and refusals(sim) == 1, timeout=30)  # it holds both slots
        app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), poll_interval=0.05)
        app.image_picker.add(photo)
        app.prompt_box.value = "a fox in the snow"
        assert app.submit().result(timeout=10) is None  # type: ignore[union-attr]
        assert "slots are all in use" in app.status and "queued" in app.status and not app.submitting
        assert sim.creates == 2 and refusals(sim) == 1  # it waited: nothing was sent to be refused
        sim.processing_seconds = 0.3
        wait_for(lambda: len(app.tasks) == 1, timeout=30)
        assert refusals(sim) == 1 and most_running_at_once(sim) <= 2
        assert finished(other)["statuses"] == ["succeeded"] * 3
        app.close()


def test_a_data_folder_that_cannot_be_written_leaves_the_kernel_sending_alone(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("KLING_WIDGETS_HOME", str(blocked))
    client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
    batch = Batch(client, [VideoRequest([IMAGE], "a fox")]).start()
    assert batch.wait(timeout=30)[0].status is TaskStatus.SUCCEEDED
    assert batch.slots is not None and not batch.slots.shared and "sends on its own" in caplog.text


def test_a_closed_bundle_hands_the_slot_of_its_running_task_back(photo: bytes) -> None:
    from kling_widgets import MultiImageToVideo

    with Simulator(processing_seconds=600, max_concurrent=1) as sim:
        app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), poll_interval=0.05)
        app.image_picker.add(photo)
        app.prompt_box.value = "a fox in the snow"
        assert app.submit().result(timeout=10) is not None  # type: ignore[union-attr]
        assert len(SlotState.load(_state_of(sim, "files")).leases) == 1
        app.close()  # a cell run again: nobody here watches that task any more
        state = SlotState.load(_state_of(sim, "files"))
        assert state.leases == {} and len(state.orphans) == 1  # free for the others, remembered as running


def test_a_coordinator_that_cannot_be_reached_leaves_the_kernel_sending_alone(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once it is closed
    monkeypatch.setenv(SLOTS_ENV, f"redis://:secret-pw@127.0.0.1:{port}/0")
    client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
    batch = Batch(client, [VideoRequest([IMAGE], f"a fox {i}") for i in range(2)]).start()
    assert [t.status for t in batch.wait(timeout=60)] == [TaskStatus.SUCCEEDED] * 2
    assert "cannot be reached" in caplog.text and "secret-pw" not in caplog.text


def test_accounts_nobody_used_for_a_day_leave_no_folder_behind(sim: Simulator) -> None:
    from kling_widgets.account import STATE_TTL

    def name(key: str) -> str:
        return account_hash(KlingClient(key, base_url=sim.url))

    gone_kernel = "from kling_widgets import KlingClient\nfrom kling_widgets.account import AccountSlots\n"
    gone_kernel += f"AccountSlots.for_client(KlingClient('old-key', base_url={sim.url!r})).acquire(lambda: False)"
    subprocess.run([sys.executable, "-c", gone_kernel], check=True)  # a kernel used it, and ended
    live = AccountSlots.for_client(KlingClient("live-key", base_url=sim.url))
    assert live.acquire(lambda: False) is not None  # this kernel still holds this one
    accounts = Path(os.environ["KLING_WIDGETS_HOME"]) / "accounts"
    day_ago = time.time() - STATE_TTL - 60
    for folder in accounts.iterdir():
        os.utime(folder / "state.json", (day_ago, day_ago))
    AccountSlots.for_client(KlingClient("new-key", base_url=sim.url))
    assert {f.name for f in accounts.iterdir()} == {name("live-key"), name("new-key")}


# -- a freed slot handed on at once ----------------------------------------------------------------------
HOLDER = textwrap.dedent(
    """
    import sys, time
    from kling_widgets import Batch, KlingClient, VideoRequest

    url, key, image, interval, count = sys.argv[1:6]
    requests = [VideoRequest([image], f"holder {i}") for i in range(int(count))]
    batch = Batch(KlingClient(key, base_url=url, poll_interval=float(interval)), requests)
    batch.start()
    while batch.tasks[0] is None:
        time.sleep(0.05)
    print(batch.tasks[0].id, flush=True)
    sys.stdin.readline()  # the test says when to let go
    batch.close()
    """
)
WAITER = textwrap.dedent(
    """
    import sys
    from kling_widgets import Batch, KlingClient, VideoRequest

    url, key, image = sys.argv[1:4]
    batch = Batch(KlingClient(key, base_url=url), [VideoRequest([image], "waiter")]).start()
    print("started", flush=True)
    sys.stdin.readline()  # the test says when to stop waiting
    batch.cancel()
    batch.wait(timeout=10)
    print("cancelled", flush=True)
    sys.stdin.readline()  # alive until the test ends, as a kernel would be
    """
)


def _gaps(sim: Simulator, task_id: str, start: float, end: float) -> list[float]:
    """Seconds between the simulator's consecutive looks at ``task_id`` within [start, end] (its clock)."""
    times = [r.time for r in list(sim.requests) if r.method == "GET" and task_id in r.path and start <= r.time <= end]
    return [b - a for a, b in itertools.pairwise(times)]


def _median(values: list[float]) -> float:
    assert values, "no looks at the task in the window"
    return sorted(values)[len(values) // 2]


def test_someone_waiting_is_counted_only_while_no_slot_is_free() -> None:
    state = SlotState(limit=1, limit_until=1e12)
    assert not state.someone_waits()
    lease = state.take("a0", "a", 0.0)
    assert lease is not None and not state.someone_waits()  # it was served: nobody waits
    assert state.take("b0", "b", 0.0) is None and state.someone_waits()  # b waits for a's slot
    state.leases.pop(lease)  # a's task ends: b's next look takes the slot; until then nothing to hurry
    assert not state.someone_waits()


def test_a_waiter_in_another_kernel_makes_the_holder_be_looked_at_at_the_base_pace(coordinator: str) -> None:
    """Two real kernels and one slot: the holder's young task is looked at about once a second (5 × its
    0.2 s base) while nobody waits; every 0.2 s while the other kernel waits; slowly again once it stops."""
    with Simulator(processing_seconds=600, max_concurrent=1) as sim:
        args = [sim.url, sim.api_key, IMAGE]
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, *args, "0.2", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        waiter: subprocess.Popen[str] | None = None
        try:
            assert holder.stdout is not None and holder.stdin is not None
            task_id = holder.stdout.readline().strip()
            created = time.time()
            time.sleep(3.0)  # young: after two looks at the base pace, about one a second
            alone = _median(_gaps(sim, task_id, created + 0.8, time.time()))
            waiter = subprocess.Popen(
                [sys.executable, "-c", WAITER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            assert waiter.stdout is not None and waiter.stdin is not None
            assert waiter.stdout.readline().strip() == "started"
            wait_for(lambda: refusals(sim) == 1, timeout=30)  # it learned the limit (1): it waits now
            wait_for(lambda: SlotState.load(_state_of(sim, coordinator)).someone_waits(), timeout=10)
            since = time.time() + 1.5  # the holder's kernel asks about once a second
            time.sleep(3.5)
            hurried = _median(_gaps(sim, task_id, since, time.time()))
            waiter.stdin.write("stop\n")
            waiter.stdin.flush()
            assert waiter.stdout.readline().strip() == "cancelled"
            stopped = time.time() + 1.5
            time.sleep(4.0)
            after = _median(_gaps(sim, task_id, stopped, time.time()))
            assert sim.creates == 1 and refusals(sim) == 1  # the waiter sent nothing more while it waited
        finally:
            for process in (holder, waiter):
                if process is not None:
                    process.kill()
                    process.wait(10)
        assert alone >= 0.7 and after >= 0.7, (alone, after)  # nobody waits: no look more than before
        assert hurried <= 0.45, hurried  # someone waits: the base pace (0.2 s)


def test_a_waiter_in_the_same_kernel_makes_its_running_task_be_looked_at_at_the_base_pace() -> None:
    """One kernel sends two videos to an account that runs one: the second waits for the first's slot, so
    the first is looked at every 0.2 s (its base) rather than about once a second."""
    with Simulator(processing_seconds=600, max_concurrent=1) as sim:
        args = [sys.executable, "-c", HOLDER, sim.url, sim.api_key, IMAGE, "0.2", "2"]
        holder = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None
            task_id = holder.stdout.readline().strip()
            wait_for(lambda: refusals(sim) == 1, timeout=30)  # the second was refused once: it waits now
            since = time.time() + 0.5
            time.sleep(3.0)
            hurried = _median(_gaps(sim, task_id, since, time.time()))
            assert sim.creates == 1 and refusals(sim) == 1
        finally:
            holder.kill()
            holder.wait(10)
        assert hurried <= 0.45, hurried
