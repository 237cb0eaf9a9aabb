"""Photo-like test pictures for the benchmarks: smooth shapes plus sensor grain, so they compress like
real phone photos (a 6000×4000 JPEG at q90 is 6–8 MB), with EXIF and a GPS position as phones write.
``noisy=True`` makes a grain that is coarser and stronger than a phone's (a dim room at high ISO): it
survives a downscale to 2048 px, so it is the hard case for the bytes sent."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = (6000, 4000)  # 24 MP


def photo(seed: int, size: tuple[int, int] = SIZE, *, noisy: bool = False) -> Image.Image:
    rnd = random.Random(seed)
    small = Image.new("RGB", (size[0] // 16, size[1] // 16))
    draw = ImageDraw.Draw(small)
    for _ in range(40):
        x, y, r = rnd.randrange(small.width), rnd.randrange(small.height), rnd.randrange(5, small.width // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    base = small.resize(size, Image.Resampling.BILINEAR)
    if not noisy:
        return Image.blend(base, Image.effect_noise(size, 24).convert("RGB"), 0.25)
    grain = Image.effect_noise((size[0] // 3, size[1] // 3), 64).convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return Image.blend(base, grain, 0.5)


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude: must never leave the machine
    return exif


def write_photos(folder: Path, qualities: tuple[int, ...] = (90, 90, 100, 100), *, noisy: bool = False) -> list[Path]:
    paths = []
    for index, quality in enumerate(qualities):
        path = folder / f"photo{index}.jpg"
        photo(index, noisy=noisy).save(path, "JPEG", quality=quality, exif=phone_exif())
        paths.append(path)
    return paths
