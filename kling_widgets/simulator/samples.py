"""Sample pictures for tutorials and tests: drawn here, so nothing is downloaded or shipped."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

_PALETTES = [
    ((255, 183, 94), (237, 100, 80), (48, 63, 94)),
    ((135, 206, 235), (70, 130, 180), (34, 85, 51)),
    ((250, 220, 230), (200, 120, 160), (80, 50, 90)),
    ((200, 230, 201), (102, 187, 106), (56, 80, 60)),
]
NAMES = ["fox", "lighthouse", "balloon", "tree"]


def sample_image(index: int = 0, size: tuple[int, int] = (1024, 768)) -> Image.Image:
    """A simple drawn scene: sky, hills and one subject, different for each ``index``."""
    sky, accent, ground = _PALETTES[index % len(_PALETTES)]
    width, height = size
    image = Image.new("RGB", size, sky)
    draw = ImageDraw.Draw(image)
    for row in range(height // 2):
        shade = tuple(int(c * (0.75 + 0.25 * row / (height / 2))) for c in sky)
        draw.line([(0, row), (width, row)], fill=shade)
    draw.ellipse((width * 0.72, height * 0.08, width * 0.86, height * 0.27), fill=(255, 244, 200))
    draw.polygon(
        [(0, height * 0.7), (width * 0.35, height * 0.45), (width * 0.7, height * 0.72), (0, height)],
        fill=ground,
    )
    draw.rectangle((0, height * 0.78, width, height), fill=tuple(int(c * 0.8) for c in ground))
    cx, cy, r = width * (0.3 + 0.12 * index), height * 0.6, min(width, height) * 0.13
    if index % 4 == 0:
        draw.polygon([(cx - r, cy + r), (cx, cy - r), (cx + r, cy + r)], fill=accent)
    elif index % 4 == 1:
        draw.rectangle((cx - r / 3, cy - 1.6 * r, cx + r / 3, cy + r), fill=(245, 245, 245))
        draw.rectangle((cx - r / 3, cy - 1.6 * r, cx + r / 3, cy - 1.2 * r), fill=accent)
    elif index % 4 == 2:
        draw.ellipse((cx - r, cy - 2 * r, cx + r, cy), fill=accent)
        draw.line([(cx, cy), (cx, cy + r)], fill=(60, 60, 60), width=3)
    else:
        draw.rectangle((cx - r / 6, cy, cx + r / 6, cy + r), fill=(110, 80, 50))
        draw.ellipse((cx - r, cy - 1.5 * r, cx + r, cy + 0.2 * r), fill=accent)
    return image


def sample_jpeg(index: int = 0, size: tuple[int, int] = (1024, 768), quality: int = 88) -> bytes:
    """:func:`sample_image` as JPEG bytes."""
    out = io.BytesIO()
    sample_image(index, size).save(out, "JPEG", quality=quality)
    return out.getvalue()


def save_samples(folder: str | Path, count: int = 4) -> list[Path]:
    """Write ``count`` sample JPEGs into ``folder`` and return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"sample-{index + 1}-{NAMES[index % len(NAMES)]}.jpg"
        path.write_bytes(sample_jpeg(index))
        paths.append(path)
    return paths
