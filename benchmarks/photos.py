"""Photo-like test pictures for the benchmarks: smooth shapes plus sensor grain, so they compress like
real phone photos (a 6000×4000 JPEG at q90 is 6–8 MB), with EXIF and a GPS position as phones write."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = (6000, 4000)  # 24 MP


def photo(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    rnd = random.Random(seed)
    small = Image.new("RGB", (size[0] // 16, size[1] // 16))
    draw = ImageDraw.Draw(small)
    for _ in range(40):
        x, y, r = rnd.randrange(small.width), rnd.randrange(small.height), rnd.randrange(5, small.width // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    base = small.resize(size, Image.Resampling.BILINEAR)
    return Image.blend(base, Image.effect_noise(size, 24).convert("RGB"), 0.25)


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude: must never leave the machine
    return exif


def write_photos(folder: Path, qualities: tuple[int, ...] = (90, 90, 100, 100)) -> list[Path]:
    paths = []
    for index, quality in enumerate(qualities):
        path = folder / f"photo{index}.jpg"
        photo(index).save(path, "JPEG", quality=quality, exif=phone_exif())
        paths.append(path)
    return paths
