"""Opening over a journal of 10,000 and 100,000 entries against one of 10, in one run: the bundle
(``MultiImageToVideo`` with a history: its past cards and what it resumes), the history gallery's first
page, and ``Batch.resume``. Goal: within 2× of the 10-entry journal, or of the 100-entry one (the gallery
draws a page of 12 cards, and the bundle 6 past tasks: a journal of 10 fills fewer of them); the bundle,
within 1.3× of the 10-entry journal (it once drew a card per entry of a journal read whole, 100 of them
over 100 entries, and a long journal's gallery read the rest of it while the bundle was still being built).

Each is timed with the journal's index up to date (``history.index``, as every opening leaves it) and,
as the baseline, without it (deleted before each run): then the journal is read whole, as every opening
did before the index — for the bundle over a large journal, on a thread, so the figure is the time until
its resumed tasks are in. Each opening is a fresh ``TaskHistory`` (a new kernel).

The journals are written here in the journal's own format, in a temporary folder removed afterwards:
every entry a submission with one picture and a finished task, and the oldest five a batch interrupted
while two of them were being sent (their outcome unknown: a resume must find them at the journal's start,
and reports them without sending anything, so that every run finds the same journal).
"""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from kling_widgets import Batch, HistoryGallery, KlingClient, MultiImageToVideo, TaskHistory, VideoRequest
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg
from kling_widgets.widgets.app import RESUME_LIMIT

GOAL = 2.0
BUNDLE_GOAL = 1.3  # the bundle against the 10-entry journal: what it draws is the same at every size
SIZES = (10, 100, 10_000, 100_000)
REPEATS = {10: 5, 100: 5, 10_000: 5, 100_000: 5}  # a median of 3 was at the mercy of one slow run
INTERRUPTED = 5  # the oldest batch, with two requests whose outcome is unknown


def journal(folder: Path, count: int, base_url: str) -> Path:
    """A journal of ``count`` entries, the oldest five an interrupted batch."""
    path = folder / f"h{count}" / "history.jsonl"
    history = TaskHistory(path)
    image = VideoRequest([sample_jpeg(0, (1280, 960))], "x").prepared_images()[0]
    assert not isinstance(image, str)
    described = {"source": image.source, "sha256": image.sha256, "width": image.width, "height": image.height}
    settings = {"model_name": "kling-v1-6", "mode": "std", "duration": 5, "aspect_ratio": "16:9"}
    whose = {"provider": "gateway", "base_url": base_url, "service": "simulator"}
    lines: list[dict[str, Any]] = []
    for index in range(count):  # written in one go: the benchmark is about reading, not writing
        ext = f"ext-{index}"
        first: dict[str, Any] = {"time": index, "external_task_id": ext, **whose, "prompt": f"scene {index} " * 8,
                                 "settings": settings, "images": [described]}  # fmt: skip
        if index < INTERRUPTED:
            lines.append({**first, "event": "queued", "batch": "batch-old", "index": index, "status": "queued"})
            if index >= INTERRUPTED - 2:  # being sent when the kernel stopped
                lines.append({"time": index + 0.2, "event": "submit", "external_task_id": ext, "status": "sending"})
                continue
        else:
            lines.append({**first, "event": "submit", "status": "sending"})
        video = f"https://cdn.example/{index}.mp4"
        lines.append({"time": index + 0.5, "event": "task", "external_task_id": ext, "task_id": f"t{index}",
                      "status": "succeeded", "video_url": video, "units": 1.0})  # fmt: skip
    history.path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return history.path


def timed(action: Callable[[TaskHistory], Any], path: Path, *, indexed: bool, repeats: int) -> float:
    """The median time of ``action`` over a fresh TaskHistory, its index kept or deleted first."""
    index = path.with_suffix(".index")
    times = []
    for _ in range(repeats):
        if not indexed:
            index.unlink(missing_ok=True)
        gc.collect()  # the widgets and folds of the runs before are garbage: not this run's cost
        history = TaskHistory(path)
        started = time.perf_counter()
        after = action(history)
        times.append(time.perf_counter() - started)
        if callable(after):  # what the action left running, finished untimed
            after()
    return statistics.median(times)


def finish(gallery: HistoryGallery, widget: widgets.Widget) -> None:
    """Let a gallery read the rest of its journal (on its thread, untimed), then close ``widget``: the
    next measurement does not share the processor with it."""
    gallery._complete.wait(timeout=120)
    widget.close()


def main() -> int:
    with Simulator() as sim, tempfile.TemporaryDirectory() as folder:
        client = KlingClient(sim.api_key, base_url=sim.url)
        service = client.service()

        def bundle(history: TaskHistory) -> Callable[[], None]:
            app = MultiImageToVideo(client=client, history=history)
            if app._resuming is not None:  # a journal read on a thread: timed until its tasks are in
                app._resuming.join()
            assert app.resumed is not None and len(app.resumed.items) == INTERRUPTED
            shown = app.history_gallery
            assert shown is not None
            return lambda: finish(shown, app)

        def shows(history: TaskHistory) -> Callable[[], None]:  # the bundle until it shows
            app = MultiImageToVideo(client=client, history=history)

            def done() -> None:
                if app._resuming is not None:
                    app._resuming.join()
                assert app.history_gallery is not None
                finish(app.history_gallery, app)

            return done

        def reads(history: TaskHistory) -> None:  # what the bundle reads of its journal as it opens
            assert len(history.unfinished(service)) == 2
            history.recent(RESUME_LIMIT, service)
            assert len(Batch.resume(client, history).items) == INTERRUPTED

        def resume(history: TaskHistory) -> None:
            assert len(Batch.resume(client, history).items) == INTERRUPTED

        def gallery(history: TaskHistory) -> Callable[[], None]:
            view = HistoryGallery(history)
            return lambda: finish(view, view)

        # name: (action, timed without an index too)
        rows = {
            "bundle": (bundle, True),
            "its journal reads": (reads, True),
            "Batch.resume": (resume, True),
            "gallery's first page": (gallery, False),
            "bundle, until shown (no index)": (shows, False),
        }
        paths = {count: journal(Path(folder), count, sim.url) for count in SIZES}  # all before any is timed
        bundle(TaskHistory(paths[SIZES[0]]))()  # the first bundle of a process imports and builds its styles
        new: dict[str, dict[int, float]] = {name: {} for name in rows}
        old: dict[str, dict[int, float]] = {name: {} for name, (_, both) in rows.items() if both}
        for count, path in paths.items():
            repeats = REPEATS[count]
            for name, (action, both) in rows.items():
                if both or action is shows:  # the bundle shows at once without an index
                    (old if both else new)[name][count] = timed(action, path, indexed=False, repeats=repeats)
                if action is not shows:
                    new[name][count] = timed(action, path, indexed=True, repeats=repeats)
            size = path.stat().st_size / 1e6
            kept = path.with_suffix(".index").stat().st_size / 1e3
            print(f"{count:>7,} entries: journal {size:5.1f} MB, its index {kept:4.1f} KB", flush=True)
        print(f"{'ms':<44}" + "".join(f"{count:>10,}" for count in SIZES))
        for name in rows:
            print(f"{name + (', indexed' if name in old else ''):<44}" + _cells(new[name]))
            if name in old:
                print(f"{'  baseline: no index (the journal read whole)':<44}" + _cells(old[name]))
        for name in ("bundle", "its journal reads", "Batch.resume", "gallery's first page"):
            for count in SIZES[2:]:
                ratios = [new[name][count] / new[name][small] for small in SIZES[:2]]
                goal = BUNDLE_GOAL if name == "bundle" else GOAL
                met = "met" if (ratios[0] if name == "bundle" else min(ratios)) <= goal else "NOT met"
                faster = f"; {old[name][count] / new[name][count]:,.0f}× the baseline's speed" if name in old else ""
                print(
                    f"{name} over {count:,}: {ratios[0]:.2f}× the {SIZES[0]}-entry journal, {ratios[1]:.2f}× the "
                    f"{SIZES[1]}-entry one (goal ≤ {goal}×{' the first' if name == 'bundle' else ''}: {met}){faster}"
                )
    return 0


def _cells(times: dict[int, float]) -> str:
    return "".join(f"{times[count] * 1000:10.1f}" for count in SIZES)


if __name__ == "__main__":
    raise SystemExit(main())
