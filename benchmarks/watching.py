"""Watching at scale and sweeping under a limit, measured for real.

Part 1 — 200 live tasks in a real kernel (ipykernel, started here), each shown by a BatchView, against
the same kernel idle in the same run. Measured over a window while every task is still running: requests
per second the simulator receives, the kernel's CPU (share of one core), widget messages per second the
kernel sends to the front end, and a trivial cell's round trip against idle; then the polls over the
tasks' whole life (until the last one ends), first looks and expected ends included. Goals: ≤ 5 req/s (goal 2),
≤ 2 % CPU (goal 1 %), ≤ 20 messages/s (goal 5), round trip ≤ 1.2× idle.

Part 2 — a sweep of 20 intentions against an account limit of 3 (the simulator refuses a 4th running
task with 1303), the limit not given: wall time against the ideal (each task's own time × ⌈20/3⌉),
1303 refusals received, creates sent (exactly 20).
"""

from __future__ import annotations

import math
import os
import queue
import statistics
import time
from typing import Any

from jupyter_client.manager import start_new_kernel

from kling_widgets import Batch, KlingClient, VideoRequest, sweep
from kling_widgets.simulator import Simulator

TASKS = 200
WINDOW = 30.0
IMAGE = "https://example.com/reference.jpg"  # a URL: this is about watching, not uploading


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(client: Any, code: str, timeout: float = 120) -> float:
    started = time.perf_counter()
    reply = client.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {reply['content']}")
    return time.perf_counter() - started


def round_trip(client: Any, repeats: int = 15) -> float:
    return statistics.median(run(client, "1 + 1") for _ in range(repeats))


def count_messages(client: Any, seconds: float) -> int:
    """Widget messages (comm_msg) the kernel sends on iopub during ``seconds``."""
    count, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = client.get_iopub_msg(timeout=left)
        except queue.Empty:
            break
        if message["msg_type"] == "comm_msg":
            count += 1
    return count


def watching() -> bool:
    with Simulator(processing_seconds=150) as sim:  # progress moves during the window, as real tasks do
        manager, client = start_new_kernel(kernel_name="python3")
        try:
            pid = manager.provisioner.process.pid  # type: ignore[union-attr]
            run(client, "import kling_widgets, ipywidgets")
            idle = round_trip(client)
            setup = f"""
from kling_widgets import Batch, BatchView, KlingClient, VideoRequest, sweep
client = KlingClient({sim.api_key!r}, base_url={sim.url!r})
requests = sweep(VideoRequest([{IMAGE!r}], "x"), prompt=[f"task {{i}}" for i in range({TASKS})])
batch = Batch(client, requests).start()
view = BatchView(batch)
display(view)
batch_started = True
"""
            life_started = time.monotonic()
            run(client, setup)
            deadline = time.monotonic() + 120
            while sim.creates < TASKS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(10)  # past the first looks: the steady state of young tasks
            while True:  # drain what piled up
                try:
                    client.get_iopub_msg(timeout=0.2)
                except queue.Empty:
                    break
            requests_before, cpu_before, started = len(sim.requests), cpu_seconds(pid), time.monotonic()
            messages = count_messages(client, WINDOW)
            elapsed = time.monotonic() - started
            requests = (len(sim.requests) - requests_before) / elapsed
            cpu = (cpu_seconds(pid) - cpu_before) / elapsed * 100
            loaded = round_trip(client)
            run(client, "final = batch.wait(timeout=900)", timeout=960)  # the rest of the tasks' lives
            life = time.monotonic() - life_started
            polls = len([r for r in sim.requests if r.method == "GET"])
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    rate, ratio = messages / elapsed, loaded / idle
    print(f"{TASKS} tasks watched in a real kernel, over {elapsed:.0f} s:")
    print(f"  requests to the service: {requests:5.2f}/s   (≤ 5, goal ≤ 2: {'met' if requests <= 2 else 'NOT met'})")
    print(f"  kernel CPU:              {cpu:5.2f} %   (≤ 2, goal ≤ 1: {'met' if cpu <= 1 else 'NOT met'})")
    print(f"  widget messages:         {rate:5.2f}/s   (≤ 20, goal ≤ 5: {'met' if rate <= 5 else 'NOT met'})")
    print(
        f"  over the tasks' whole life ({life:.0f} s, each {sim.processing_seconds:.0f} s): {polls} polls, "
        f"{polls / TASKS:.1f} per task, {polls / life:.2f} requests/s"
    )
    print(f"  round trip: idle {idle * 1000:.1f} ms, watching {loaded * 1000:.1f} ms → {ratio:.2f}× (≤ 1.2)")
    return requests <= 5 and cpu <= 2 and rate <= 20 and ratio <= 1.2


def sweeping() -> bool:
    processing, count, limit = 2.0, 20, 3
    with Simulator(processing_seconds=processing, max_concurrent=limit) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.25)
        requests = sweep(VideoRequest([IMAGE], "x"), prompt=[f"take {i}" for i in range(count)])
        started = time.monotonic()
        batch = Batch(client, requests).start()
        tasks = batch.wait(timeout=600)
        took = time.monotonic() - started
        posts = len([r for r in sim.requests if r.method == "POST"])
    ideal = processing * math.ceil(count / limit)
    ok = sim.creates == count and all(t.done for t in tasks)
    print(f"sweep of {count} against an account limit of {limit} (not given, learned: {batch.limit}):")
    print(f"  wall time {took:.1f} s against the ideal {ideal:.1f} s → {took / ideal:.2f}×")
    print(f"  1303 refusals received: {batch.refusals_1303}; creates sent: {sim.creates} (POSTs {posts})")
    return ok


def main() -> int:
    ok = sweeping()
    ok = watching() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
