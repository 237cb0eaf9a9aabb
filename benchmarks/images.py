"""prepare_image on four 24-MP photos against the careful hand-written Pillow way, in one run.

Photos (made here, in a temporary folder that is removed afterwards): two within every limit (6000×4000
JPEG q90 with EXIF + GPS, about 6.5 MB) and two over the 10 MB cap (the same scenes at q100, about 17 MB).
Baseline: open, load, re-encode as JPEG q95, downscale by 0.8 until under the cap — for each photo.
Ours: prepare_image(photo) for each, one after another; and VideoRequest.prepared_images(), which
prepares a request's images on parallel threads (Pillow releases the GIL while decoding and encoding).
Goal: at most 0.25× the baseline's time, every output within the limits.
"""

from __future__ import annotations

import functools
import io
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from kling_widgets import PreparedImage, VideoRequest, prepare_image
from kling_widgets.images import MAX_BYTES, MIN_SIDE

GOAL = 0.25
REPEATS = 3
SIZE = (6000, 4000)


def photo(seed: int) -> Image.Image:
    """Smooth shapes plus sensor-like grain: compresses like a real photo."""
    rnd = random.Random(seed)
    small = Image.new("RGB", (SIZE[0] // 16, SIZE[1] // 16))
    draw = ImageDraw.Draw(small)
    for _ in range(40):
        x, y, r = rnd.randrange(small.width), rnd.randrange(small.height), rnd.randrange(5, small.width // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    base = small.resize(SIZE, Image.Resampling.BILINEAR)
    return Image.blend(base, Image.effect_noise(SIZE, 24).convert("RGB"), 0.25)


def make_photos(folder: Path) -> list[Path]:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude: must never leave the machine
    paths = []
    for index, quality in enumerate((90, 90, 100, 100)):
        path = folder / f"photo{index}.jpg"
        photo(index).save(path, "JPEG", quality=quality, exif=exif)
        paths.append(path)
    return paths


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


def timed(run: Callable[[], object]) -> float:
    best = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best.append(time.perf_counter() - start)
    return statistics.median(best)


def within_limits(item: PreparedImage) -> bool:
    image = Image.open(io.BytesIO(item.data))
    w, h = image.size
    return item.size <= MAX_BYTES and min(w, h) >= MIN_SIDE and max(w, h) / min(w, h) <= 2.5 and not image.getexif()


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        paths = make_photos(Path(folder))
        sizes = ", ".join(f"{p.stat().st_size / 1e6:.1f} MB" for p in paths)
        print(f"four {SIZE[0]}×{SIZE[1]} photos: {sizes}")
        base = timed(lambda: [baseline(p) for p in paths])
        ours = timed(lambda: [prepare_image(p) for p in paths])
        parallel = timed(lambda: VideoRequest(list(paths), "x").prepared_images())
        capped = timed(lambda: [prepare_image(p, max_side=2048) for p in paths])
        results = [prepare_image(p) for p in paths]
        within = [within_limits(item) for item in results]
        split_base = [timed(functools.partial(baseline, p)) for p in paths]
        split_ours = [timed(functools.partial(prepare_image, p)) for p in paths]
    print(f"baseline (open, load, q95, ×0.8 until under 10 MB): {base:.2f} s")
    print(f"prepare_image, one after another:                  {ours:.2f} s  ratio {ours / base:.3f}")
    print(f"VideoRequest.prepared_images (parallel threads):   {parallel:.2f} s  ratio {parallel / base:.3f}")
    print(f"prepare_image(max_side=2048), for comparison:       {capped:.2f} s  ratio {capped / base:.3f}")
    for index, item in enumerate(results):
        print(
            f"  photo{index}: baseline {split_base[index]:.3f} s, ours {split_ours[index]:.3f} s → "
            f"{item.width}×{item.height}, {item.size / 1e6:.1f} MB, changes: {'; '.join(item.changes) or 'none'}"
        )
    best = min(ours, parallel) / base
    print(f"every output within the limits and without metadata: {all(within)}")
    print(f"goal ≤ {GOAL}: {'met' if best <= GOAL else 'NOT met'} (best ratio {best:.3f})")
    return 0 if all(within) else 1


if __name__ == "__main__":
    raise SystemExit(main())
