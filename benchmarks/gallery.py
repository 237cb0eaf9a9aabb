"""The history gallery over a journal of 2,000 entries against one of 10, in one run: the time to
construct it and show the first page, and the widget state it syncs (KB). Goal: within 2× of the
10-entry gallery on both.

Journals are written here (each entry: a submission with one picture, then a finished task), in a
temporary folder removed afterwards.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import ipywidgets as widgets

from kling_widgets import HistoryGallery, Task, TaskHistory, TaskStatus, VideoRequest
from kling_widgets.simulator.samples import sample_jpeg
from kling_widgets.widgets._state import synced_json

GOAL = 2.0


def journal(folder: Path, count: int) -> TaskHistory:
    history = TaskHistory(folder / f"h{count}" / "history.jsonl")
    request = VideoRequest([sample_jpeg(0, (1280, 960))], "x")
    pictures = request.prepared_images()
    lines = []
    for index in range(count):  # written in one go: the benchmark is about reading, not writing
        ext = f"ext-{index}"
        image = pictures[0]
        assert not isinstance(image, str)
        described = {"source": image.source, "sha256": image.sha256, "width": image.width, "height": image.height}
        settings = {"model_name": "kling-v1-6", "mode": "std", "duration": 5, "aspect_ratio": "16:9"}
        lines.append({"time": index, "event": "submit", "external_task_id": ext, "prompt": f"scene {index} " * 8,
                      "settings": settings, "images": [described], "status": "sending"})  # fmt: skip
        video = f"https://cdn.example/{index}.mp4"
        lines.append({"time": index + 0.5, "event": "task", "external_task_id": ext, "task_id": f"t{index}",
                      "status": "succeeded", "video_url": video, "units": 1.0})  # fmt: skip
    history.path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    history.record_task(Task("t0", TaskStatus.SUCCEEDED, units=1.0), "ext-0")  # through the API once
    history._keep_thumbnails(request)
    return history


def state_kb(widget: widgets.Widget) -> float:
    return len(synced_json(widget)) / 1000


def measure(history: TaskHistory) -> tuple[float, float, float]:
    """(cold, warm, KB): a gallery over a journal this process has not read yet, then again over the same
    TaskHistory (which reads only what was appended since), and the state it syncs."""
    fresh = TaskHistory(history.path)
    started = time.perf_counter()
    gallery = HistoryGallery(fresh)
    cold = time.perf_counter() - started
    size = state_kb(gallery)
    gallery.close()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        gallery = HistoryGallery(fresh)
        times.append(time.perf_counter() - started)
        gallery.close()
    return cold, statistics.median(times), size


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        small_cold, small_warm, small_kb = measure(journal(Path(folder), 10))
        large_cold, large_warm, large_kb = measure(journal(Path(folder), 2000))
    ratios = {"cold": large_cold / small_cold, "warm": large_warm / small_warm, "state": large_kb / small_kb}
    for label, cold, warm, kb in (
        ("10 entries:   ", small_cold, small_warm, small_kb),
        ("2,000 entries:", large_cold, large_warm, large_kb),
    ):
        print(f"{label} first {cold * 1000:6.1f} ms, again {warm * 1000:6.1f} ms, {kb:6.1f} KB of state")
    print("ratios: " + ", ".join(f"{k} {v:.2f}×" for k, v in ratios.items()), end=" ")
    print(f"(goal ≤ {GOAL}×: warm and state {'met' if max(ratios['warm'], ratios['state']) <= GOAL else 'NOT met'}, "
          f"first read {'met' if ratios['cold'] <= GOAL else 'NOT met'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
