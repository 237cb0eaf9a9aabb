"""One account, many kernels, measured for real.

8 kernels (separate processes, as a class's Voila visitors or JupyterHub users are) each send 3 videos
with one key, all at once, to a simulator that runs at most 2 of the account's tasks at a time and
refuses the third with 1303. Three runs, in this order and in this one run: the kernels each on their
own (``KLING_WIDGETS_SLOTS=off``, the baseline: what every kernel did before), sharing the account's slots
through the data folder (the default), and through a real redis-server started here.

Figures: 1303 refusals in all (goal ≤ 1), wall time from "go" until the last kernel's last video ends
against the ideal ⌈24 / 2⌉ × each video's own time (goal ≤ 1.2×), and the first and last kernel to be
done (how fairly the class was served).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kling_widgets.simulator import Simulator

KERNELS = 8
VIDEOS = 3
LIMIT = 2
PROCESSING = 2.0  # each video's own time at the simulator (short: the run stays under two minutes)
IMAGE = "https://example.com/reference.jpg"  # a URL: this is about slots, not uploads

KERNEL = """
import json, sys, time
from kling_widgets import Batch, KlingClient, VideoRequest

url, key, tag, count, image = sys.argv[1:6]
client = KlingClient(key, base_url=url, poll_interval=0.05)
requests = [VideoRequest([image], f"{tag} video {i}") for i in range(int(count))]
print("ready", flush=True)
sys.stdin.readline()  # "go": every kernel starts at the same moment, imports done
started = time.monotonic()
first = []
batch = Batch(client, requests)
batch.on_update(lambda b: first or not b.counts()["succeeded"] or first.append(time.monotonic() - started))
tasks = batch.start().wait(timeout=600)
done = time.monotonic() - started
ok = all(t.status.value == "succeeded" for t in tasks)
print(json.dumps({"seconds": done, "first_video": first[0], "refusals": batch.refusals_1303, "ok": ok}))
"""


@contextmanager
def redis_server() -> Iterator[str]:
    """Debian's redis-server on a free loopback port, nothing written to disk; stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: `make browser` (or apt-get install redis-server) adds it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        import redis

        with redis.Redis(port=port) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def run(slots: str) -> dict[str, float]:
    """The class sends at once; what the service saw and when each kernel was done."""
    env = {**os.environ, "KLING_WIDGETS_HOME": tempfile.mkdtemp(prefix="kw-accounts-"), "KLING_WIDGETS_SLOTS": slots}
    with Simulator(processing_seconds=PROCESSING, max_concurrent=LIMIT) as sim:
        kernels = [
            subprocess.Popen(
                [sys.executable, "-c", KERNEL, sim.url, sim.api_key, f"kernel-{n}", str(VIDEOS), IMAGE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for n in range(KERNELS)
        ]
        for process in kernels:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for process in kernels:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [json.loads(process.communicate(timeout=600)[0].strip().splitlines()[-1]) for process in kernels]
        wall = time.monotonic() - started
        posts = len([r for r in sim.requests if r.method == "POST"])
        if not all(r["ok"] for r in results) or sim.creates != KERNELS * VIDEOS:
            raise SystemExit(f"{slots or 'files'}: not every video succeeded ({sim.creates} created)")
        seconds = sorted(r["seconds"] for r in results)
        served = sorted(r["first_video"] for r in results)
        return {
            "refusals": posts - sim.creates,
            "wall": wall,
            "first": seconds[0],
            "last": seconds[-1],
            "served_last": served[-1],
        }


def main() -> None:
    ideal = math.ceil(KERNELS * VIDEOS / LIMIT) * PROCESSING
    print(
        f"{KERNELS} kernels x {VIDEOS} videos, one account running {LIMIT} at a time, {PROCESSING:g} s a video: "
        f"ideal {ideal:.0f} s"
    )
    rows = [("each kernel alone (baseline)", run("off")), ("shared: data folder (default)", run(""))]
    with redis_server() as url:
        rows.append(("shared: Redis", run(url)))
    for name, figures in rows:
        ratio = figures["wall"] / ideal
        print(
            f"  {name:31} 1303 refusals {figures['refusals']:3.0f} (goal <= 1) · wall {figures['wall']:5.1f} s "
            f"= {ratio:.2f}x ideal (goal <= 1.2x)\n{'':33} kernels done: first {figures['first']:5.1f} s, "
            f"last {figures['last']:5.1f} s · every kernel had a video by {figures['served_last']:5.1f} s"
        )


if __name__ == "__main__":
    main()
