"""Which JPEG quality to send a downscaled picture at: bytes against a perceptual difference, for the
smooth and the noisy test photos (benchmarks/photos.py), in one run.

Each photo is brought to what we send (2048 px on its longest side, as the pipeline does: decoded at
half scale, resized) and encoded at several qualities. Printed for each: the bytes, and the difference
from the unencoded picture — PSNR of the luma (dB) and SSIM of the luma (8×8 windows, the constants of
Wang et al. 2004), both at the sent size and in the frame the model renders (the picture brought to
1080 px high, Kling's largest output: what the model can use at all). Pillow only (no numpy).
"""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path
from typing import Any

from photos import write_photos
from PIL import Image, ImageChops, ImageMath, ImageStat

from kling_widgets.images import DEFAULT_MAX_SIDE, JPEG_QUALITY

QUALITIES = (95, 92, 90, 88, 85, 82, 80, 75)
FRAME_HEIGHT = 1080  # Kling renders at most 1080p


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of the luma, in dB."""
    diff = ImageChops.difference(a.convert("L"), b.convert("L"))
    mse = sum(ImageStat.Stat(diff).sum2) / (a.width * a.height)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def ssim(a: Image.Image, b: Image.Image, window: int = 8) -> float:
    """Mean SSIM of the luma over non-overlapping ``window``-px squares (Wang et al. 2004, C1 and C2
    for 8-bit images). 1.0 is identical; visible JPEG damage starts below about 0.95."""
    x, y = a.convert("L").convert("F"), b.convert("L").convert("F")

    def mean(image: Image.Image) -> Image.Image:
        return image.reduce(window)

    def product(p: Image.Image, q: Image.Image) -> Image.Image:
        result = ImageMath.lambda_eval(lambda v: v["p"] * v["q"], p=p, q=q)
        assert isinstance(result, Image.Image)
        return result

    mx, my = mean(x), mean(y)
    sxx, syy, sxy = mean(product(x, x)), mean(product(y, y)), mean(product(x, y))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def formula(v: dict[str, Any]) -> Any:
        mean_x, mean_y = v["mx"], v["my"]
        var_x, var_y = v["sxx"] - mean_x * mean_x, v["syy"] - mean_y * mean_y
        cov = v["sxy"] - mean_x * mean_y
        top = (2 * mean_x * mean_y + c1) * (2 * cov + c2)
        return top / ((mean_x * mean_x + mean_y * mean_y + c1) * (var_x + var_y + c2))

    index = ImageMath.lambda_eval(formula, mx=mx, my=my, sxx=sxx, syy=syy, sxy=sxy)
    assert isinstance(index, Image.Image)
    return average(index)


def average(image: Image.Image) -> float:
    """The exact mean of a float image (ImageStat bins float images into a histogram: approximate)."""
    value = image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(value, float)
    return value


def sent_size(path: Path) -> Image.Image:
    """The picture as the pipeline makes it before encoding: half-scale decode, resize to 2048 px."""
    image = Image.open(path)
    scale = DEFAULT_MAX_SIDE / max(image.size)
    target = (round(image.width * scale), round(image.height * scale))
    image.draft("RGB", target)
    return image.convert("RGB").resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)


def in_frame(image: Image.Image) -> Image.Image:
    return image.resize((round(image.width * FRAME_HEIGHT / image.height), FRAME_HEIGHT), Image.Resampling.LANCZOS)


def main() -> int:
    print(f"qualities {QUALITIES}; the pipeline sends at q{JPEG_QUALITY}")
    with tempfile.TemporaryDirectory() as folder:
        for noisy in (False, True):
            paths = write_photos(Path(folder), (90, 92), noisy=noisy)
            pictures = [sent_size(p) for p in paths]
            frames = [in_frame(p) for p in pictures]
            print(("noisy" if noisy else "smooth") + f" photos, sent at {pictures[0].width}×{pictures[0].height}:")
            for quality in QUALITIES:
                size, sent_psnr, sent_ssim, frame_ssim = 0, 0.0, 0.0, 0.0
                for picture, frame in zip(pictures, frames, strict=True):
                    out = io.BytesIO()
                    picture.save(out, "JPEG", quality=quality, optimize=True)
                    size += out.tell()
                    decoded = Image.open(out).convert("RGB")
                    sent_psnr += psnr(picture, decoded) / len(paths)
                    sent_ssim += ssim(picture, decoded) / len(paths)
                    frame_ssim += ssim(frame, in_frame(decoded)) / len(paths)
                mark = " ← sent" if quality == JPEG_QUALITY else ""
                print(
                    f"  q{quality}: {size / len(paths) / 1e6:5.2f} MB each, PSNR {sent_psnr:5.1f} dB, "
                    f"SSIM {sent_ssim:.4f} at the sent size, {frame_ssim:.4f} in the 1080p frame{mark}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
