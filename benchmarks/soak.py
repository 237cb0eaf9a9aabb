"""Soak: 200 tasks watched at once through faults, with one TaskWatcher thread — against the
hand-written baseline of one thread per task running ``client.wait``, in the same run.

Faults on the simulator: 10 % of creates answered 429/1302 with Retry-After (the client retries them),
30 % of polls fail with 503/5001, and 5 % of tasks fail. Counted: creates the service received per
intention (must be exactly 1), tasks lost (must be 0), requests made, wall time, threads used.
"""

from __future__ import annotations

import threading
import time

from kling_widgets import KlingClient, Task, VideoRequest
from kling_widgets.simulator import Simulator
from kling_widgets.watcher import TaskUpdate, TaskWatcher

TASKS = 200
PROCESSING = 3.0
POLL = 0.5
RATE = 100.0  # requests/s for the whole process: the soak is about losing nothing, not about the budget
IMAGE = "https://example.com/reference.jpg"  # a URL: the soak is about tasks, not image encoding


def create_all(sim: Simulator, client: KlingClient) -> list[Task]:
    sim.inject(
        method="POST", status=429, code=1302, message="too many requests", retry_after=0.05, probability=0.1, times=None
    )
    tasks = []
    for index in range(TASKS):
        if index % 20 == 0:
            sim.fail_next_task("simulated generation failure")
        tasks.append(client.create_task(VideoRequest([IMAGE], f"soak task {index}")))
    sim.clear_faults()
    sim.inject(method="GET", status=503, code=5001, probability=0.3, times=None)
    return tasks


def report(name: str, sim: Simulator, tasks: list[Task], finals: dict[str, Task], seconds: float, threads: int) -> bool:
    ids = [c["external_task_id"] for c in sim.created]
    duplicates = len(ids) - len(set(ids))
    lost = len({t.id for t in tasks} - set(finals))
    polls = sum(1 for r in sim.requests if r.method == "GET")
    states = {s: sum(1 for t in finals.values() if t.status.value == s) for s in ("succeeded", "failed")}
    print(
        f"{name:<38} {len(tasks)} tasks: {states['succeeded']} succeeded, {states['failed']} failed, "
        f"{lost} lost, {duplicates} duplicate creates ({sim.creates} creates for {len(tasks)} intentions); "
        f"{polls} polls, {seconds:.1f} s after the last create, {threads} polling threads"
    )
    return lost == 0 and duplicates == 0 and sim.creates == len(tasks)


def one_watcher() -> bool:
    with Simulator(processing_seconds=PROCESSING) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=POLL, max_retries=6)
        tasks = create_all(sim, client)
        finals: dict[str, Task] = {}
        lock = threading.Lock()

        def listen(update: TaskUpdate) -> None:
            if update.final:
                with lock:
                    finals[update.task.id] = update.task

        TaskWatcher.set_rate_limit(RATE)
        watcher = TaskWatcher(client, poll_interval=POLL)
        watcher.on_update(listen)
        start = time.monotonic()
        for task in tasks:
            watcher.watch(task)
        watcher.wait_idle(300)
        elapsed = time.monotonic() - start
        watcher.stop()
        return report(f"kling-widgets TaskWatcher (1 thread, ≤{RATE:g} req/s)", sim, tasks, finals, elapsed, 1)


def thread_per_task() -> bool:
    with Simulator(processing_seconds=PROCESSING) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=POLL, max_retries=6)
        tasks = create_all(sim, client)
        finals: dict[str, Task] = {}

        def follow(task: Task) -> None:
            finals[task.id] = client.wait(task, poll_interval=POLL, timeout=300)

        start = time.monotonic()
        threads = [threading.Thread(target=follow, args=(task,)) for task in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        return report("baseline: a thread per task, wait()", sim, tasks, finals, elapsed, len(threads))


def main() -> int:
    ok = one_watcher()
    baseline_ok = thread_per_task()
    print("goal: 0 lost, 0 duplicate creates —", "met" if ok else "NOT met")
    return 0 if ok and baseline_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
