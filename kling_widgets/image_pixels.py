"""The Pillow steps on a picture's pixels: decode quietly, flatten, convert colours, fit, resize, encode under a cap.

Each step is a function of an image that returns the new image and, where something a person would
want to know was done, a note in plain words; the pipeline (``image_pipeline``) decides which steps a
picture needs. Pillow is imported on first use, not at package import.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .image_rules import Fit, fitted_size, megabytes, scaled_size

if TYPE_CHECKING:
    from PIL import Image

#: The JPEG quality of a picture that is downscaled anyway (benchmarks/quality.py; README, "Fewer bytes").
JPEG_QUALITY = 85

_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr: int | None = None
_saved_filters: list[Any] = []


@contextlib.contextmanager
def quiet_decoders() -> Iterator[None]:
    """Keep what C decoders print (libtiff's "Unknown field with tag", libjpeg's "Corrupt JPEG data")
    and Pillow's warnings out of the notebook: ipykernel shows whatever reaches file descriptor 2.
    Shared by parallel preparations: fd 2 points at /dev/null, and warnings are ignored, from the first
    one in to the last one out, and only then (the process's state is saved and restored once)."""
    global _quiet_depth, _saved_stderr, _saved_filters
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_filters = list(warnings.filters)
            warnings.simplefilter("ignore")
            try:
                sys.stderr.flush()
                _saved_stderr = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            except (OSError, ValueError):
                _saved_stderr = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                warnings.filters[:] = _saved_filters  # type: ignore[index]  # read live at each warning; "ignore" left no registry
                if _saved_stderr is not None:
                    os.dup2(_saved_stderr, 2)
                    os.close(_saved_stderr)
                    _saved_stderr = None


@functools.cache
def heif_opener() -> bool:
    """Teach Pillow HEIC/HEIF (iPhone photos) through pillow-heif, once, when the first one comes.

    Returns
    -------
    bool
        Whether pillow-heif is installed (and now registered).
    """
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def thumbnail(data: bytes, max_side: int) -> bytes:
    """A small JPEG of a picture, decoded at reduced scale (cheap even for 24 MP photos).

    Parameters
    ----------
    data : bytes
        A JPEG or PNG file.
    max_side : int
        The thumbnail's longest side, in pixels.

    Returns
    -------
    bytes
        The thumbnail, a JPEG.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (max_side, max_side))
        small = flatten(im.convert("RGBA") if im.mode in ("P", "LA") else im)[0]
        small.thumbnail((max_side, max_side))
        out = io.BytesIO()
        small.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


def check_decodes(data: bytes) -> None:
    """Decode a file once at 1/8 scale, to prove compressed pixels a structure walk cannot check are whole.

    Parameters
    ----------
    data : bytes
        The file (a PNG, in the pipeline).

    Raises
    ------
    OSError, SyntaxError, ValueError
        What the decoder raises for a damaged or truncated file.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.draft(im.mode, (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
        im.load()


def draft_for(im: Image.Image, target: tuple[int, int], orientation: int) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the image will be downscaled that far anyway.

    Parameters
    ----------
    im : PIL.Image.Image
        An opened, not yet loaded, image.
    target : tuple of int
        The upright size it will be sent at.
    orientation : int
        Its EXIF orientation (5–8 store it on its side).
    """
    if im.format != "JPEG":
        return
    stored = (target[1], target[0]) if orientation in (5, 6, 7, 8) else target
    if stored[0] * 2 <= im.size[0]:
        im.draft("RGB", stored)


def flatten(im: Image.Image) -> tuple[Image.Image, str | None]:
    """An RGB or L image the service can take, and a note of what was converted.

    Parameters
    ----------
    im : PIL.Image.Image
        A loaded image of any mode.

    Returns
    -------
    tuple of (PIL.Image.Image, str or None)
        The image (the same one when it is already RGB or L) and the note, if any.
    """
    from PIL import Image

    if im.mode in ("RGB", "L"):
        return im, None
    if im.mode == "P" and "transparency" not in im.info:
        return im.convert("RGB"), None
    if im.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background, "flattened transparency onto white"
    if im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return im.convert("RGB"), f"converted {im.mode} → RGB"
    if im.mode.startswith("I") or im.mode == "F":
        deep = im.convert("I")
        high = deep.getextrema()[1]
        scale = 1 / 256 if isinstance(high, (int, float)) and high > 255 else 1.0  # 16-bit down to 8-bit
        return deep.point(lambda v: v * scale).convert("L"), "converted to 8-bit"
    return im.convert("RGB"), f"converted {im.mode} → RGB"


def to_srgb(im: Image.Image, profile: bytes) -> tuple[Image.Image, str]:
    """Pixels in sRGB, the colours a model reads a file without a profile as. A re-encoded picture
    loses its ICC profile, so a wide-gamut one (an iPhone's Display P3, a print CMYK) is converted here
    rather than sent with its numbers reinterpreted as sRGB (duller or shifted colours). Pictures
    already in sRGB are left as they are; a profile that cannot be read is ignored, and said so.

    Parameters
    ----------
    im : PIL.Image.Image
        A loaded RGB, RGBA or CMYK image.
    profile : bytes
        Its embedded ICC profile.

    Returns
    -------
    tuple of (PIL.Image.Image, str)
        The image in sRGB and a note of what was done ("" when it was sRGB already).
    """
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        name = (ImageCms.getProfileDescription(source) or "").strip() or "an embedded profile"
        if "srgb" in name.lower().replace(" ", "") and im.mode != "CMYK":
            return im, ""
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            im, source, ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode=mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return (im.convert("RGB") if im.mode == "CMYK" else im), "ignored a colour profile that cannot be read"
    assert converted is not None
    converted.info.pop("icc_profile", None)
    return converted, f"converted colours from {name} to sRGB"


def fit_to(im: Image.Image, fit: Fit, target: tuple[int, int]) -> tuple[Image.Image, list[str]]:
    """Pad or crop an out-of-shape picture and resize it in one step, straight to ``target``.

    One step, so that the size sent is exactly the one worked out (``fitted_size``, then any downscale to
    ``max_side``), inside the rule. Pad fills the bars with the picture's mean colour.

    Parameters
    ----------
    im : PIL.Image.Image
        The upright picture, outside 1:2.5–2.5:1.
    fit : {"pad", "crop"}
        How to bring it inside.
    target : tuple of int
        The size to send.

    Returns
    -------
    tuple of (PIL.Image.Image, list of str)
        The picture at ``target`` and what was done, in words.
    """
    from PIL import Image, ImageOps

    before = im.size
    fitted = fitted_size(*im.size, fit)
    if fit == "pad":
        fill = im.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        colour = fill if isinstance(fill, (int, tuple)) else None
        im = ImageOps.pad(im, target, Image.Resampling.BICUBIC, color=colour)
        done = "padded"
    else:
        im = ImageOps.fit(im, target, Image.Resampling.LANCZOS)
        done = "cropped"
    notes = [f"{done} {before[0]}×{before[1]} → {fitted[0]}×{fitted[1]} to fit the 2.5:1 limit"]
    if target != fitted:
        notes.append(f"downscaled {fitted[0]}×{fitted[1]} → {target[0]}×{target[1]}")
    return im, notes


def downscale(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The picture resized to ``size`` (bicubic; Pillow reduces by whole factors first, which is faster).

    Parameters
    ----------
    im : PIL.Image.Image
        The picture.
    size : tuple of int
        The new size, no larger than the picture.

    Returns
    -------
    PIL.Image.Image
        The resized picture.
    """
    from PIL import Image

    return im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def encode_within(
    im: Image.Image, fmt: str, cap: int, *, quality: int, optimize: bool, png: bool
) -> tuple[Image.Image, bytes, list[str]]:
    """Encode a picture, then shrink it (the shape and 300 px kept) until the file is at most ``cap`` bytes.

    A PNG over the cap becomes a JPEG first; a JPEG over it is downscaled by the square root of the
    overshoot (and 5 % more), at most six encodes in all.

    Parameters
    ----------
    im : PIL.Image.Image
        An RGB or L picture at the size wanted.
    fmt : {"JPEG", "PNG"}
        The format wanted.
    cap : int
        The most bytes the file may have.
    quality : int
        The JPEG quality.
    optimize : bool
        Whether to let the JPEG encoder optimise its Huffman tables (slower, a little smaller).
    png : bool
        False writes a JPEG even where ``fmt`` is PNG (the original was already over the cap as PNG).

    Returns
    -------
    tuple of (PIL.Image.Image, bytes, list of str)
        The picture as last encoded, the file (over ``cap`` only when it could not be brought under: the
        caller refuses it), and what was done, in words.
    """
    notes: list[str] = []
    for _ in range(6):
        out = io.BytesIO()
        if fmt == "PNG" and png:
            im.save(out, "PNG", compress_level=6)
        else:
            im.save(out, "JPEG", quality=quality, optimize=optimize)
        data = out.getvalue()
        if len(data) <= cap:
            break
        if fmt == "PNG":
            fmt = "JPEG"
            notes.append(f"converted PNG → JPEG to fit {megabytes(cap)}")
            continue
        scale = (cap / len(data)) ** 0.5 * 0.95
        smaller = scaled_size(*im.size, int(max(im.size) * scale))  # the shape and 300 px kept
        if smaller == im.size:
            break
        im = downscale(im, smaller)
    return im, data, notes
