"""Click → task created, for four 24-MP phone photos over an emulated 20 Mbit/s uplink, against the
naive way (read each file, base64 it, POST the JSON) — both against the simulator, in one run.

The simulator reads request bodies at 2.5 MB/s (20 Mbit/s) with a small receive buffer, as a slow
line delivers them. Its body cap is raised to 100 MB for this run only, so that the naive body (about
39 MB, over the gateway's real 32 MB cap) can be measured at all. Printed: wall time of each, bytes on
the wire, the longest side sent, for the usual photos and for noisy ones (a coarse strong grain that
survives the downscale: the hard case for the bytes). Goals: time ≤ 0.3× (goal 0.2×), bytes ≤ 16 MB
(goal 8 MB), for both.
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
import time
from pathlib import Path

import requests
from photos import write_photos
from PIL import Image

from kling_widgets import KlingClient, VideoRequest
from kling_widgets.simulator import Simulator

UPLINK = 2_500_000  # bytes per second: 20 Mbit/s
PROMPT = "the four of us walking along the beach at sunset"


def naive(sim: Simulator, paths: list[Path]) -> tuple[float, int]:
    started = time.perf_counter()
    images = [{"image": base64.b64encode(p.read_bytes()).decode()} for p in paths]
    body = {"model_name": "kling-v1-6", "image_list": images, "prompt": PROMPT}
    response = requests.post(
        sim.url + "/kling/v1/videos/multi-image2video",
        json=body,
        headers={"Authorization": f"Bearer {sim.api_key}"},
        timeout=(600, 600),  # generous on purpose: urllib3's connect timeout also bounds the whole send
    )
    response.raise_for_status()
    return time.perf_counter() - started, len(json.dumps(body))


def ours(sim: Simulator, paths: list[Path]) -> tuple[float, int, int]:
    client = KlingClient(sim.api_key, base_url=sim.url)
    started = time.perf_counter()
    client.create_task(VideoRequest(list(paths), PROMPT))  # what the bundle does on Generate
    took = time.perf_counter() - started
    body = sim.requests[-1]
    assert isinstance(body.json, dict)
    sides = [max(Image.open(io.BytesIO(base64.b64decode(item["image"]))).size) for item in body.json["image_list"]]
    return took, body.body_bytes, max(sides)


def run(noisy: bool) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(Path(folder), (90, 92, 90, 92), noisy=noisy)
        sizes = ", ".join(f"{p.stat().st_size / 1e6:.1f} MB" for p in paths)
        kind = "noisy" if noisy else "usual"
        print(f"four 6000×4000 photos ({kind}): {sizes}; uplink {UPLINK * 8 / 1e6:.0f} Mbit/s")
        with Simulator(upload_bytes_per_second=UPLINK, max_body_bytes=100_000_000) as sim:
            base_time, base_bytes = naive(sim, paths)
            our_time, our_bytes, side = ours(sim, paths)
    ratio = our_time / base_time
    print(f"  naive (read, base64, POST):       {base_time:6.2f} s, {base_bytes / 1e6:5.1f} MB on the wire")
    print(f"  kling-widgets (Generate → task):  {our_time:6.2f} s, {our_bytes / 1e6:5.1f} MB, longest side {side} px")
    print(f"  time ratio {ratio:.3f} (≤ 0.3, goal ≤ 0.2: {'met' if ratio <= 0.2 else 'NOT met'})")
    print(f"  bytes {our_bytes / 1e6:.1f} MB (≤ 16 MB, goal ≤ 8 MB: {'met' if our_bytes <= 8_000_000 else 'NOT met'})")
    return ratio <= 0.3 and our_bytes <= 16_000_000


def main() -> int:
    results = [run(noisy) for noisy in (False, True)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
