"""The image pipeline on four 24-MP photos against the careful hand-written Pillow way, in one run.

Photos (made here, in a temporary folder that is removed afterwards): two within every limit (6000×4000
JPEG q90 with EXIF + GPS, about 6.5 MB) and two over the 10 MB cap (the same scenes at q100, about 17 MB).
Baseline: open, load, re-encode as JPEG q95, downscale by 0.8 until under the cap — for each photo.
Ours at the default settings: VideoRequest(photos).prepared_images() — every picture at most 2048 px
(decoded at reduced scale), side by side on a small thread pool — printed with one thread and with two
(``prepare_many(..., threads=1|2)``; the picker's batch of uploads goes the same way). Also printed:
prepare_image at full size, one after another and in parallel, and a hand-written loop that makes the
same 2048-px output (open, load, resize, save), and the baseline against ours on four grainier photos
(``noisy=True``: the loop must shrink and re-encode them). Floor 0.25×, goal 0.15× the baseline at the
default settings; every output within the limits. On a shared machine the two-thread figure depends on how
many cores are free at the time.
"""

from __future__ import annotations

import functools
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from photos import SIZE, write_photos
from PIL import Image

from kling_widgets import PreparedImage, VideoRequest, prepare_image
from kling_widgets.images import DEFAULT_MAX_SIDE, MAX_BYTES, MIN_SIDE, prepare_many

GOAL = 0.15
FLOOR = 0.25
REPEATS = 3


def baseline(path: Path) -> bytes:
    """The careful hand-written way."""
    image: Image.Image = Image.open(path)
    image.load()
    while True:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=95)
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
        image = image.resize((int(image.width * 0.8), int(image.height * 0.8)), Image.Resampling.LANCZOS)


def same_output_by_hand(path: Path) -> bytes:
    """What a careful person writes to get a 2048-px JPEG: open, load, resize, save."""
    image: Image.Image = Image.open(path)
    image.load()
    scale = 2048 / max(image.size)
    image = image.convert("RGB").resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def timed(run: Callable[[], object]) -> float:
    best = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best.append(time.perf_counter() - start)
    return statistics.median(best)


def interleaved(runs: dict[str, Callable[[], object]], rounds: int = 5) -> dict[str, float]:
    """The median time of each run, measured in turns (each round runs every one once): on a shared
    machine the load drifts, and turns spread it over all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def within_limits(item: PreparedImage) -> bool:
    image = Image.open(io.BytesIO(item.data))
    w, h = image.size
    return item.size <= MAX_BYTES and min(w, h) >= MIN_SIDE and max(w, h) / min(w, h) <= 2.5 and not image.getexif()


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(Path(folder))
        sizes = ", ".join(f"{p.stat().st_size / 1e6:.1f} MB" for p in paths)
        print(f"four {SIZE[0]}×{SIZE[1]} photos: {sizes}")
        figures = interleaved(
            {
                "base": lambda: [baseline(p) for p in paths],
                "ours": lambda: [prepare_image(p) for p in paths],
                "parallel": lambda: VideoRequest(list(paths), "x", max_side=None).prepared_images(),
                "by_hand": lambda: [same_output_by_hand(p) for p in paths],
                "default": lambda: VideoRequest(list(paths), "x").prepared_images(),
                "one_thread": lambda: prepare_many(paths, max_side=DEFAULT_MAX_SIDE, threads=1),
                "two_threads": lambda: prepare_many(paths, max_side=DEFAULT_MAX_SIDE, threads=2),
            }
        )
        base, ours, parallel, by_hand = figures["base"], figures["ours"], figures["parallel"], figures["by_hand"]
        default, one_thread, two_threads = figures["default"], figures["one_thread"], figures["two_threads"]
        results = [i for i in VideoRequest(list(paths), "x").prepared_images() if isinstance(i, PreparedImage)]
        within = [within_limits(item) for item in results]
        split_base = [timed(functools.partial(baseline, p)) for p in paths]
        split_ours = [timed(functools.partial(prepare_image, p, max_side=2048)) for p in paths]
    print(f"baseline (open, load, q95, ×0.8 until under 10 MB): {base:.2f} s")
    print(f"full size: prepare_image, one after another:       {ours:.2f} s  ratio {ours / base:.3f}")
    print(f"full size: prepared_images (parallel threads):     {parallel:.2f} s  ratio {parallel / base:.3f}")
    print(f"2048 px by hand (open, load, resize, save):        {by_hand:.2f} s  ratio {by_hand / base:.3f}")
    print(f"default settings, one thread:                      {one_thread:.2f} s  ratio {one_thread / base:.3f}")
    print(f"default settings, two threads:                     {two_threads:.2f} s  ratio {two_threads / base:.3f}")
    print(f"default settings: VideoRequest(photos) (2048 px):  {default:.2f} s  ratio {default / base:.3f}")
    for index, item in enumerate(results):
        print(
            f"  photo{index}: baseline {split_base[index]:.3f} s, ours {split_ours[index]:.3f} s → "
            f"{item.width}×{item.height}, {item.size / 1e6:.1f} MB, changes: {'; '.join(item.changes) or 'none'}"
        )
    best = default / base
    with tempfile.TemporaryDirectory() as folder:  # grainier photos (a dim room): the careful loop re-encodes
        noisy = write_photos(Path(folder), noisy=True)
        noisy_figures = interleaved(
            {
                "base": lambda: [baseline(p) for p in noisy],
                "default": lambda: VideoRequest(list(noisy), "x").prepared_images(),
            },
            rounds=3,
        )
    noisy_ratio = noisy_figures["default"] / noisy_figures["base"]
    print(f"noisy photos: baseline {noisy_figures['base']:.2f} s, default settings {noisy_figures['default']:.2f} s, "
          f"ratio {noisy_ratio:.3f} (floor ≤ {FLOOR}: {'met' if noisy_ratio <= FLOOR else 'NOT met'}; "
          f"goal ≤ {GOAL}: {'met' if noisy_ratio <= GOAL else 'NOT met'})")  # fmt: skip
    print(f"every output within the limits and without metadata: {all(within)}")
    print(f"two threads against one: {two_threads / one_thread:.2f}×; against the 2048-px loop by hand: "
          f"{default / by_hand:.3f}×")  # fmt: skip
    print(f"floor ≤ {FLOOR} at the default settings: {'met' if best <= FLOOR else 'NOT met'}; goal ≤ {GOAL}: "
          f"{'met' if best <= GOAL else 'NOT met'} (ratio {best:.3f})")  # fmt: skip
    return 0 if all(within) else 1


if __name__ == "__main__":
    raise SystemExit(main())
