"""The history gallery over journals of 2,000 and 10,000 entries (a year of use) against one of 10, in
one run: the time to construct it and show the first page, and the widget state it syncs (KB). Goal:
within 2× of the 10-entry gallery on both. The first page is drawn from the journal's end; the rest is
read on a background thread, which each measurement lets finish (untimed) before the next.

Journals are written here (each entry: a submission with one picture, then a finished task), in a
temporary folder removed afterwards.
"""

from __future__ import annotations

import gc
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
SIZES = (10, 2000, 10000)
REPEATS = 5


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
    """(first, again, KB): a gallery over a journal this process has not read yet (a fresh TaskHistory),
    then again over the same TaskHistory (which reads only what was appended since), and the state it
    syncs. Medians of five, since the machine is shared."""
    colds, warms = [], []
    count, size = 0, 0.0
    for _ in range(REPEATS):
        gc.collect()  # the galleries and folds of the runs before are garbage: not this run's cost
        fresh = TaskHistory(history.path)
        started = time.perf_counter()
        gallery = HistoryGallery(fresh)
        colds.append(time.perf_counter() - started)
        size = state_kb(gallery)
        count = len(gallery.entries)  # the whole journal, read in the background meanwhile (untimed)
        assert count == int(history.path.parent.name.lstrip("h"))
        gallery.close()
        gc.collect()
        started = time.perf_counter()
        gallery = HistoryGallery(fresh)
        warms.append(time.perf_counter() - started)
        assert len(gallery.entries) == count
        gallery.close()
    return statistics.median(colds), statistics.median(warms), size


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        journals = {count: journal(Path(folder), count) for count in SIZES}  # all written before any is timed
        results = {count: measure(journals[count]) for count in SIZES}
    small_cold, small_warm, small_kb = results[SIZES[0]]
    for count, (cold, warm, kb) in results.items():
        print(f"{count:>6,} entries: first {cold * 1000:6.1f} ms, again {warm * 1000:6.1f} ms, {kb:6.1f} KB of state")
    for count in SIZES[1:]:
        cold, warm, kb = results[count]
        ratios = {"first": cold / small_cold, "again": warm / small_warm, "state": kb / small_kb}
        met = "met" if max(ratios.values()) <= GOAL else "NOT met"
        figures = ", ".join(f"{k} {v:.2f}×" for k, v in ratios.items())
        print(f"{count:,} against {SIZES[0]}: {figures} (goal ≤ {GOAL}×: {met})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
