"""Turn a picture into what the service accepts: load -> check -> fix -> encode.

The service takes JPEG or PNG, at most 10 MB, each side at least 300 px, aspect ratio within
1:2.5-2.5:1, and does not crop. Everything is checked here, before upload, where a refusal costs
nothing. Pillow is imported on first use, not at package import.

Speed: an image already within the limits is never decoded in full: its metadata (EXIF, GPS, XMP,
comments, trailing MPF images) is cut out of the file losslessly and a reduced-scale decode confirms
the data is intact. Pixels are decoded and re-encoded only when something must change.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import re
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

from .errors import Problem, ValidationError

if TYPE_CHECKING:
    from PIL import Image

MAX_BYTES = 10_000_000  # "10 MB": the decimal reading, the safe one whichever the service means
MIN_SIDE = 300
MAX_RATIO = 2.5  # the limit as people read it; compared as the fraction 5/2 in whole numbers (within_shape)
MAX_INPUT_BYTES = 200_000_000  # larger than any photo worth fixing; refused without reading it all
ACCEPTED_FORMATS = ("JPEG", "PNG")
# The upload size used unless you ask for originals. Kling renders at most 1080p (1920×1080): a reference
# picture 2048 px on its longest side covers every pixel of that frame, crops included, and four of
# them stay near 1 MB each — a 24 MP phone photo (6000×4000) carries nothing more the model can use.
DEFAULT_MAX_SIDE = 2048
#: The JPEG quality of a picture that is downscaled anyway (benchmarks/quality.py; README, "Fewer bytes").
JPEG_QUALITY = 85
# Formats converted with fix=True to PNG (others to JPEG, unless transparency or lossless WebP calls for PNG).
_LOSSLESS = ("GIF", "BMP", "TIFF")

#: At most this many pictures are prepared at once (the service takes four; a core each, where there are).
PREPARE_THREADS = 4
_In = TypeVar("_In")
_Out = TypeVar("_Out")

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "Image.Image", Mapping[str, Any]]
Fit = Literal["pad", "crop"]


def is_url(value: str) -> bool:
    """True for an http(s) URL, which is sent to the service as it is."""
    return bool(re.match(r"https?://[^\s/]+", value.strip(), re.IGNORECASE))


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def within_shape(width: int, height: int) -> bool:
    """True when the service takes this shape: between 1:2.5 and 2.5:1, compared exactly.

    The rule is long / short ≤ 5/2, so it is tested as ``2 * long <= 5 * short`` in whole numbers: no
    float and no tolerance (2048×819 is 2.5006:1, which reads as "2.50:1" and which the service refuses).

    Parameters
    ----------
    width, height : int
        The picture's size in pixels, as sent.

    Returns
    -------
    bool
        Whether the aspect ratio is inside 1:2.5–2.5:1.
    """
    return 2 * max(width, height) <= 5 * min(width, height)


def within_rules(width: int, height: int) -> bool:
    """True when the service takes a picture of this size: the shape rule and each side ≥ ``MIN_SIDE``.

    Parameters
    ----------
    width, height : int
        The picture's size in pixels, as sent.

    Returns
    -------
    bool
        Whether both size rules of the service hold.
    """
    return min(width, height) >= MIN_SIDE and within_shape(width, height)


def fitted_size(width: int, height: int, fit: Fit | None) -> tuple[int, int]:
    """The size after padding or cropping a picture into the shape rule (unchanged when it is inside).

    Pad grows the short side to ``ceil(2 * long / 5)``; crop trims the long side to ``floor(5 * short / 2)``:
    the nearest whole sizes on the right side of the limit.

    Parameters
    ----------
    width, height : int
        The upright picture's size in pixels.
    fit : {"pad", "crop"} or None
        How to bring it inside; None leaves it as it is.

    Returns
    -------
    tuple of int
        ``(width, height)`` after the fit.
    """
    if fit is None or within_shape(width, height):
        return width, height
    long_side, short_side = max(width, height), min(width, height)
    if fit == "crop":
        long_side = short_side * 5 // 2
    else:
        short_side = -(-2 * long_side // 5)
    return (long_side, short_side) if width >= height else (short_side, long_side)


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size of a picture downscaled so its long side is ``long_side``, still within the service's rules.

    The short side is rounded to the nearest pixel, then raised where rounding would push a shape at
    the limit outside it (4000×1600 at 2048 is 2048×819.2: 819 is refused, 820 is sent). The short side
    never goes under ``MIN_SIDE``: ``max_side`` is a wish for smaller uploads, 300 px is the service's
    rule, so a wide picture keeps 300 px on its short side and its long side ends past ``long_side``.
    A picture is never enlarged.

    Parameters
    ----------
    width, height : int
        The current size in pixels.
    long_side : int
        The long side wanted, in pixels.

    Returns
    -------
    tuple of int
        ``(width, height)`` at the new scale (the same size when it is already small enough).
    """
    long_now, short_now = max(width, height), min(width, height)
    if long_now <= long_side:
        return width, height
    inside = within_shape(width, height)
    new_long = long_side
    new_short = (2 * short_now * new_long + long_now) // (2 * long_now)  # rounded, in whole numbers
    if inside:
        new_short = max(new_short, -(-2 * new_long // 5))
    if new_short < MIN_SIDE <= short_now:
        new_short = MIN_SIDE
        new_long = min(long_now, (2 * long_now * MIN_SIDE + short_now) // (2 * short_now))
        if inside:
            new_long = min(new_long, MIN_SIDE * 5 // 2)
    return (new_long, new_short) if width >= height else (new_short, new_long)


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send: ``data`` is the file's bytes (JPEG or PNG) within every limit;
    ``changes`` says in plain words what was done to it.

    Made by :func:`prepare_image`; plain data.

    Parameters
    ----------
    data : bytes
        The file's bytes, as they will be sent.
    mime : str
        ``"image/jpeg"`` or ``"image/png"``.
    width, height : int
        Pixels, after any fix.
    source : str
        Where it came from, in words (a file name, "upload"…), for messages.
    changes : tuple of str
        What was done to it, in plain words (rotated, converted, downscaled…).
    origin : str, optional
        The absolute path of the file it came from, when it can be found again (for "reuse").
    """

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    source: str
    changes: tuple[str, ...] = ()
    _thumbnails: dict[int, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Where it came from, when that can be found again: the absolute path of a file (None for bytes,
    #: uploads and PIL images). The journal keeps it, so that "reuse" can bring the picture back.
    origin: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        changes = f", changes={list(self.changes)!r}" if self.changes else ""
        return (
            f"PreparedImage({self.source!r}, {self.width}×{self.height} {self.mime}, {megabytes(self.size)}{changes})"
        )

    @property
    def size(self) -> int:
        """Bytes that will be uploaded (before base64)."""
        return len(self.data)

    @functools.cached_property
    def sha256(self) -> str:
        """A fingerprint of the bytes sent: the journal keeps this, never the image."""
        return hashlib.sha256(self.data).hexdigest()

    def thumbnail(self, max_side: int = 160) -> bytes:
        """A small JPEG for previews; decoded at reduced scale, so cheap even for 24 MP photos, and
        kept with the image (a picker redraws its cards often).

        Parameters
        ----------
        max_side : int
            The thumbnail's longest side, in pixels.

        Returns
        -------
        bytes
            The JPEG.
        """
        cached = self._thumbnails.get(max_side)
        if cached is None:
            cached = self._thumbnails[max_side] = _thumbnail(self.data, max_side)
        return cached


@functools.cache
def _heif_opener() -> bool:
    """Teach Pillow HEIC/HEIF (iPhone photos) through pillow-heif, once, when the first one comes."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _thumbnail(data: bytes, max_side: int) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (max_side, max_side))
        small = _flatten(im.convert("RGBA") if im.mode in ("P", "LA") else im)[0]
        small.thumbnail((max_side, max_side))
        out = io.BytesIO()
        small.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


def prepare_image(
    source: ImageSource | PreparedImage,
    *,
    fix: bool = True,
    fit: Fit | None = None,
    max_side: int | None = None,
) -> PreparedImage:
    """Check an image against every rule of the service and, with ``fix``, repair what can be repaired.

    ``source``: a path, bytes, a PIL image, or an ipywidgets ``FileUpload`` value (one file).
    ``fix`` applies EXIF rotation, strips metadata (location never leaves the machine), converts
    CMYK/alpha images and re-encodes (then downscales, only if needed) to fit 10 MB.
    ``fit="pad"`` or ``"crop"`` brings an image outside 1:2.5-2.5:1 inside it; never by default.
    ``max_side`` downscales so the longest side is at most that many pixels (faster uploads), keeping the
    shape inside the rule and the short side at 300 px or more (a very wide picture ends a little longer).

    Parameters
    ----------
    source : path, bytes, PIL image, upload value or PreparedImage
        The picture.
    fix : bool
        Repair what can be repaired (rotation, colour mode, size) instead of refusing it.
    fit : {"pad", "crop"}, optional
        How to bring an image of an extreme shape inside the service's ratios.
    max_side : int, optional
        The longest side allowed, in pixels.

    Returns
    -------
    PreparedImage
        The picture as it will be sent, with ``changes`` saying what was done.

    Raises
    ------
    ValidationError
        Naming the rule, for anything that cannot be fixed.
    """
    as_it_is = fit is None and max_side is None
    if isinstance(source, PreparedImage) and as_it_is and within_rules(source.width, source.height):
        return source  # one made elsewhere outside the rules is checked again, from its bytes, below
    if fit not in (None, "pad", "crop"):
        raise ValidationError(Problem("fit", "must be None, 'pad' or 'crop'", ("pad", "crop"), fit))
    if max_side is not None and (not isinstance(max_side, int) or max_side < MIN_SIDE):
        raise ValidationError(Problem("max_side", f"must be a whole number ≥ {MIN_SIDE}", MIN_SIDE, max_side))
    from PIL import Image

    if isinstance(source, Image.Image):
        return _Preparer(None, "PIL image", fix=fix, fit=fit, max_side=max_side).from_pixels(source)
    data, name = _read(source)
    try:
        prepared = _Preparer(data, name, fix=fix, fit=fit, max_side=max_side).run()
    except ValidationError:
        raise
    except Exception as error:  # a hostile file can trip a decoder in ways no rule names: refuse it, in words
        logging.getLogger("kling_widgets").debug("preparing %s failed", name, exc_info=True)
        raise ValidationError(
            Problem("image", f"{name}: cannot be decoded ({type(error).__name__}): the file is damaged or unusual")
        ) from None
    origin = _origin(source)
    return replace(prepared, origin=origin) if origin else prepared


def side_by_side(work: Callable[[_In], _Out], items: Sequence[_In], threads: int | None = None) -> list[_Out]:
    """``work`` on each item, in order, on a small thread pool (one thread per core, at most
    ``PREPARE_THREADS``): Pillow's decoders, resizes and encoders release the GIL, so four photos on two
    cores take about half the time of one after another. One item, or one core: no thread at all."""
    count = min(len(items), threads or PREPARE_THREADS, os.cpu_count() or 1)
    if count <= 1:
        return [work(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="kling-prepare") as pool:
        return list(pool.map(work, items))


def prepare_many(
    sources: Sequence[ImageSource | PreparedImage],
    *,
    fit: Fit | None = None,
    max_side: int | None = None,
    threads: int | None = None,
) -> list[PreparedImage | ValidationError]:
    """The pictures of one click or one upload, prepared side by side (see :func:`side_by_side`): each
    result in its place, a picture that cannot be used as its :class:`ValidationError`."""

    def one(source: ImageSource | PreparedImage) -> PreparedImage | ValidationError:
        try:
            return prepare_image(source, fit=fit, max_side=max_side)
        except ValidationError as refusal:
            return refusal

    return side_by_side(one, sources, threads)


def _origin(source: object) -> str | None:
    if isinstance(source, PreparedImage):
        return source.origin
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and is_url(source)):
        try:
            return str(as_path(os.fspath(source)).resolve())
        except (OSError, RuntimeError, TypeError):
            return None
    return None


def shrink_to(image: PreparedImage, max_bytes: int, why: str) -> PreparedImage:
    """``image`` re-encoded (and downscaled only if that is not enough) to at most ``max_bytes``;
    its ``changes`` keep what was done before and say why this was."""
    if image.size <= max_bytes:
        return image
    smaller = _Preparer(image.data, image.source, fix=True, fit=None, max_side=None, max_bytes=max_bytes).run()
    notes = tuple(f"{note} {why}" for note in smaller.changes if note.startswith(("re-encoded", "downscaled")))
    return PreparedImage(
        smaller.data, smaller.mime, smaller.width, smaller.height, image.source, (*image.changes, *notes)
    )


def as_path(text: str | bytes) -> Path:
    """A path as people paste it: quotes around it, a ``file://`` URL, ``~`` — all taken as meant."""
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = text.strip().strip("'\"").strip()
    if text.lower().startswith("file://"):
        from urllib.parse import unquote, urlsplit

        text = unquote(urlsplit(text).path)
    return Path(text).expanduser()


def _read(source: object) -> tuple[bytes, str]:
    """The bytes of a file, bytes object or FileUpload value, and a name for messages."""
    if isinstance(source, PreparedImage):
        return source.data, source.source
    if isinstance(source, (tuple, list)) and len(source) == 1:
        source = source[0]
    if isinstance(source, Mapping) and "content" in source:
        return bytes(source["content"]), str(source.get("name") or "upload")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "bytes"
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, str) and is_url(text):
            raise ValidationError(Problem("image", "URLs are sent as they are and not prepared locally", None, text))
        path = as_path(text)
        if path.is_dir():
            raise ValidationError(Problem("image", f"{path} is a folder: give one picture in it", None, str(path)))
        if not path.is_file():
            start = "" if Path(text).expanduser().is_absolute() else f" (relative paths start from {Path.cwd()})"
            raise ValidationError(Problem("image", f"no such file: {path}{start}", None, str(path)))
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise ValidationError(
                Problem("image", f"{path.name} is {megabytes(size)}, far over the 10 MB limit", MAX_BYTES, size)
            )
        return path.read_bytes(), path.name
    raise ValidationError(
        Problem(
            "image",
            f"cannot read an image from {type(source).__name__}: give a path, URL, bytes or PIL image",
        )
    )


def sniff_format(data: bytes) -> str | None:
    """The real format from the first bytes, whatever the file name says."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[4:8] == b"ftyp":
        brands = {data[i : i + 4] for i in range(8, min(len(data), 64), 4)}
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        if brands & {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}:
            return "HEIC"
        return None
    if data.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG 2000"
    return None


def _not_a_picture(data: bytes) -> str | None:
    """What a file that no option can convert is, in words a person can act on (None: try a decoder)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return "this file is empty"
    if b"<svg" in head:
        return "this is an SVG drawing, whatever its name says: export it as PNG"
    if head.startswith((b"<!doctype html", b"<html")) or b"<head" in head:
        return "this is a web page, whatever its name says, not the picture: save the picture itself"
    return None


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


class _Damaged(Exception):
    """The file's structure is broken (truncated, bad checksum)."""


_JPEG_KEEP_APP = {0xE0: b"JFIF", 0xE2: b"ICC_PROFILE", 0xEE: b"Adobe"}
_JPEG_APP_NAMES = {0xE1: "EXIF/XMP", 0xE2: "extra images (MPF)", 0xED: "IPTC"}
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def _strip_jpeg(data: bytes, *, scan: bool = True) -> tuple[bytes, list[str]]:
    """Copy a JPEG without its metadata segments and anything after the end of the image. Lossless.
    ``scan=False`` walks the header only (up to the first scan) and copies nothing: what a picture that
    will be re-encoded needs to know, without a pass over megabytes of compressed data."""
    out, removed, pos, n = bytearray(b"\xff\xd8"), [], 2, len(data)
    while True:
        if pos >= n or data[pos] != 0xFF:
            raise _Damaged("truncated" if pos >= n else "corrupt marker")
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise _Damaged("truncated")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            out += b"\xff\xd9"
            if n - pos > 16:
                removed.append(f"trailing data ({(n - pos) // 1000} KB)")
            return bytes(out), removed
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += bytes((0xFF, marker))
            continue
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > n:
            raise _Damaged("truncated")
        segment_start, pos = pos - 2, pos + length
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            keep = _JPEG_KEEP_APP.get(marker)
            if keep is None or not data.startswith(keep, segment_start + 4):
                removed.append("comment" if marker == 0xFE else _JPEG_APP_NAMES.get(marker, f"APP{marker - 0xE0}"))
                continue
        if marker == 0xDA and not scan:
            return b"", removed
        out += data[segment_start:pos]
        if marker == 0xDA:  # entropy-coded data runs to the next real marker
            match = _SCAN_END.search(data, pos)
            if match is None:
                raise _Damaged("truncated")
            out += data[pos : match.start()]
            pos = match.start()


_PNG_KEEP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"pHYs",
}


def _strip_png(data: bytes) -> tuple[bytes, list[str]]:
    """Copy a PNG with only the chunks that shape the pixels, checking every CRC. Lossless."""
    out, removed, pos, n = bytearray(data[:8]), [], 8, len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise _Damaged("truncated")
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            raise _Damaged(f"bad checksum in {kind.decode('latin-1')} chunk")
        if kind in _PNG_KEEP:
            out += data[pos:end]
        else:
            name = {b"eXIf": "EXIF", b"acTL": "animation"}.get(kind, kind.decode("latin-1"))
            if name not in removed and kind not in (b"fcTL", b"fdAT"):
                removed.append(name)
        pos = end
        if kind == b"IEND":
            return bytes(out), removed
    raise _Damaged("truncated")


def _flatten(im: Image.Image) -> tuple[Image.Image, str | None]:
    """An RGB or L image the service can take, and a note of what was converted."""
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


def _to_srgb(im: Image.Image, profile: bytes) -> tuple[Image.Image, str]:
    """Pixels in sRGB, the colours a model reads a file without a profile as. A re-encoded picture
    loses its ICC profile, so a wide-gamut one (an iPhone's Display P3, a print CMYK) is converted here
    rather than sent with its numbers reinterpreted as sRGB (duller or shifted colours). Pictures
    already in sRGB are left as they are; a profile that cannot be read is ignored, and said so."""
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


def _ratio_text(w: int, h: int) -> str:
    """The ratio in words, with enough decimals that one just outside the limit does not read as 2.50."""
    ratio = max(w, h) / min(w, h)
    digits = 2
    while digits < 6 and f"{ratio:.{digits}f}" == f"{MAX_RATIO:.{digits}f}" and not within_shape(w, h):
        digits += 1
    return f"{ratio:.{digits}f}:1" if w >= h else f"1:{ratio:.{digits}f}"


_FIT_WORDS = {"pad": "padding", "crop": "cropping"}


class _Preparer:
    """One preparation: the state that the steps share, so each step stays short."""

    def __init__(
        self,
        data: bytes | None,
        name: str,
        *,
        fix: bool,
        fit: Fit | None,
        max_side: int | None,
        max_bytes: int = MAX_BYTES,
    ):
        self.data, self.name, self.fix, self.fit, self.max_side = data, name, fix, fit, max_side
        self.max_bytes = min(max_bytes, MAX_BYTES)
        self.changes: list[str] = []
        self.upright: tuple[int, int] | None = None
        self.downscaled = False  # brought under max_side: sent at JPEG_QUALITY

    def refuse(self, message: str, limit: object = None, value: object = None) -> ValidationError:
        return ValidationError(Problem("image", f"{self.name}: {message}", limit, value))

    def run(self) -> PreparedImage:
        from PIL import Image, UnidentifiedImageError

        data = self.data
        assert data is not None
        fmt = sniff_format(data)
        plainly = None if fmt else _not_a_picture(data)
        if plainly:  # no option converts these: say what the file is, and what to do
            raise self.refuse(f"must be JPEG or PNG: {plainly}", ACCEPTED_FORMATS, None)
        if fmt not in ACCEPTED_FORMATS:
            if self.fix:
                return self._convert(fmt)
            what = f"this file is {fmt}" if fmt else "this is not an image file"
            convert = "convert it" if fmt else "try converting it"
            raise self.refuse(
                f"must be JPEG or PNG ({what}, whatever its name says); pass fix=True to {convert}",
                ACCEPTED_FORMATS,
                fmt,
            )
        damaged: str | None = None
        # With fix, a JPEG's header is walked first and its compressed data only if it is sent as it is:
        # one that is re-encoded is checked by the decoder itself.
        header_only = fmt == "JPEG" and self.fix
        try:  # walk the file's structure first: a truncated file must not reach the decoder unasked
            stripped, removed = _strip_jpeg(data, scan=not header_only) if fmt == "JPEG" else _strip_png(data)
        except _Damaged as error:
            if not self.fix:
                raise self.refuse(f"cannot be decoded: the file is damaged ({error})") from error
            stripped, removed, damaged = data, [], str(error)  # re-encoded below if the decoder reads past it
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, as an error
                im = Image.open(io.BytesIO(data), formats=[fmt])
        except Image.DecompressionBombError as error:
            raise self._bomb(None) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise self.refuse("cannot be decoded: the file is damaged", None, str(error)) from error
        with im:
            width, height = im.size
            if width * height > (Image.MAX_IMAGE_PIXELS or 0) > 0:
                raise self._bomb(im.size)
            try:
                exif = im.getexif()
            except (OSError, SyntaxError, ValueError, struct.error) as error:
                raise self.refuse("cannot be decoded: the file is damaged", None, str(error)) from error
            orientation, target = self._orient(exif.get(0x0112, 1) if self.fix else 1, width, height)
            upright = self.upright
            needs_pixels = (
                damaged is not None
                or orientation != 1
                or target != upright
                or (self.fix and im.mode not in ("RGB", "L", "P"))
                or (self.fix and im.mode == "P" and "transparency" in im.info)
            )
            if header_only and not needs_pixels:  # it may be sent as it is: walk its compressed data too
                try:
                    stripped, removed = _strip_jpeg(data)
                except _Damaged as error:
                    damaged, needs_pixels = str(error), True
            if not self.fix and not needs_pixels:
                return self._as_is(data, fmt, im)
            if "extra images (MPF)" in removed:  # a multi-picture (MPO) file: its first picture is the JPEG
                removed = [r for r in removed if r != "extra images (MPF)" and not r.startswith("trailing data")]
                self.changes.append("converted MPO (multi-picture) → JPEG: kept the first picture")
            if "animation" in removed:  # an animated PNG: its default picture is the first frame
                removed = [r for r in removed if r != "animation"]
                self.changes.append("used the first frame of an animated PNG")
            if removed:  # gone whichever way the image is sent: cut out below, or not re-encoded
                gps = " with GPS location" if exif.get_ifd(0x8825) else ""
                self.changes.append(f"removed metadata ({', '.join(removed)}{gps})")
            if not needs_pixels and len(stripped) <= self.max_bytes:
                if fmt == "PNG":
                    self._verify_png_pixels(stripped)
                return self._result(stripped, fmt, width, height)
            if orientation != 1:
                self.changes.append(f"rotated per EXIF (orientation {orientation})")
            self._draft(im, target, orientation)
            try:
                with quiet_decoders():
                    im.load()
            except (OSError, SyntaxError, ValueError) as error:
                raise self.refuse("cannot be decoded: the file is damaged or truncated", None, str(error)) from error
            if damaged is not None:
                self.changes.append(f"re-encoded a damaged {fmt} that still decodes ({damaged})")
            from PIL import ImageOps

            pixels = ImageOps.exif_transpose(im) if orientation != 1 else im
            return self._encode(pixels, fmt, original_size=len(data), target=target)

    def _convert(self, fmt: str | None) -> PreparedImage:
        """Any other picture Pillow can read (HEIC, AVIF, WebP, GIF, BMP, TIFF, JPEG 2000…) → JPEG, or
        PNG for lossless or transparent content; decoded once, quietly."""
        from PIL import Image, ImageOps, UnidentifiedImageError

        data = self.data
        assert data is not None
        if fmt == "HEIC" and not _heif_opener():
            raise self.refuse("is HEIC: install pillow-heif to convert it (pip install pillow-heif)", None, fmt)
        try:
            with quiet_decoders():
                im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as error:
            raise self._bomb(None) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as error:
            if fmt is None:
                raise self.refuse(
                    "must be JPEG or PNG (this is not an image file, whatever its name says)", ACCEPTED_FORMATS
                ) from error
            raise self.refuse(f"cannot be decoded: this {fmt} file is damaged", None, str(error)) from error
        with im:
            name = fmt or str(im.format or "image")
            width, height = im.size
            if width * height > (Image.MAX_IMAGE_PIXELS or 0) > 0:
                raise self._bomb(im.size)
            frames = int(getattr(im, "n_frames", 1) or 1)
            try:
                with quiet_decoders():
                    stated = im.getexif().get(0x0112, 1)
            except (OSError, SyntaxError, ValueError, TypeError, struct.error):
                stated = 1
            orientation, target = self._orient(stated, width, height)
            try:
                with quiet_decoders():
                    im.seek(0)
                    im.load()
            except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
                raise self.refuse(f"cannot be decoded: this {name} file is damaged", None, str(error)) from error
            transparent = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
            lossless = name in _LOSSLESS or (name == "WebP" and data[12:16] == b"VP8L") or transparent
            out = "PNG" if lossless else "JPEG"
            self.changes.append(f"converted {name} → {out}")
            if frames > 1:
                kind = "pages" if name == "TIFF" else "frames (an animation)"
                self.changes.append(f"used the first of {frames} {kind}")
            if orientation != 1:
                self.changes.append(f"rotated per EXIF (orientation {orientation})")
            pixels = ImageOps.exif_transpose(im) if orientation != 1 else im
            return self._encode(pixels, out, original_size=None, target=target)

    def _orient(self, stated: object, width: int, height: int) -> tuple[int, tuple[int, int]]:
        """The EXIF orientation (1 when absent or invalid), and the size the picture will be sent at;
        remembers the upright size."""
        orientation = stated if isinstance(stated, int) and stated in range(1, 9) else 1
        self.upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        return orientation, self._check_geometry(*self.upright)

    def from_pixels(self, im: Image.Image) -> PreparedImage:
        width, height = im.size
        self.upright = im.size
        target = self._check_geometry(width, height)
        return self._encode(im, "PNG" if im.mode in ("RGBA", "LA", "P") else "JPEG", None, target)

    def _bomb(self, size: tuple[int, int] | None) -> ValidationError:
        from PIL import Image

        shown = f"{size[0]}×{size[1]} " if size else ""
        return self.refuse(
            f"{shown}has more pixels than the {Image.MAX_IMAGE_PIXELS:,} allowed (a decompression bomb?)",
            Image.MAX_IMAGE_PIXELS,
            size,
        )

    def _check_geometry(self, width: int, height: int) -> tuple[int, int]:
        """Refuse what cannot be fixed; return the size the image will have after fit and max_side."""
        problems: list[tuple[str, float]] = []
        if not min(width, height):
            raise self.refuse(f"has no pixels ({width}×{height})", MIN_SIDE, (width, height))
        if not within_shape(width, height) and self.fit is None:
            problems.append(
                (
                    f"aspect ratio {_ratio_text(width, height)} is outside 1:{MAX_RATIO}–{MAX_RATIO}:1; "
                    "pass fit='pad' or fit='crop' to bring it inside",
                    MAX_RATIO,
                )
            )
        target = fitted_size(width, height, self.fit)
        if min(target) < MIN_SIDE:
            # Refused, not enlarged: a bigger copy adds no detail the model could use, and a person who picked
            # a small picture would rather hear so and pick a larger one than have it blown up unseen.
            fitting = _FIT_WORDS[self.fit or "pad"]
            fitted = "" if target == (width, height) else f" ({target[0]}×{target[1]} after {fitting} to fit)"
            small = (
                f"too small: {width}×{height}{fitted}, each side must be at least {MIN_SIDE} px "
                "(images are never upscaled)"
            )
            problems.append((small, MIN_SIDE))
        if problems:  # each with its rule's limit: the picker offers fit="pad"/"crop" for the MAX_RATIO one
            raise ValidationError([Problem("image", f"{self.name}: {p}", lim, (width, height)) for p, lim in problems])
        if self.max_side and max(target) > self.max_side:
            self.downscaled = True
            target = scaled_size(*target, self.max_side)
        return target

    def _as_is(self, data: bytes, fmt: str, im: Image.Image) -> PreparedImage:
        if len(data) > MAX_BYTES:
            raise self.refuse(
                f"{megabytes(len(data))} is over the 10 MB limit; pass fix=True to re-encode it",
                MAX_BYTES,
                len(data),
            )
        if fmt == "PNG":
            self._verify_png_pixels(data)
        return self._result(data, fmt, *im.size)

    def _verify_png_pixels(self, data: bytes) -> None:
        """A file sent without re-encoding must be whole. A JPEG's structure was walked marker by marker
        to its end-of-image (a truncated one has none); a PNG's chunk checksums were checked, but its
        compressed pixels can still be broken, so a PNG is decoded once."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                im.draft(im.mode, (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
                im.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise self.refuse("cannot be decoded: the file is damaged or truncated", None, str(error)) from error

    def _draft(self, im: Image.Image, target: tuple[int, int], orientation: int) -> None:
        """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the image will be downscaled that far anyway."""
        if im.format != "JPEG":
            return
        stored = (target[1], target[0]) if orientation in (5, 6, 7, 8) else target
        if stored[0] * 2 <= im.size[0] and self.fit is None:
            im.draft("RGB", stored)

    def _encode(self, im: Image.Image, fmt: str, original_size: int | None, target: tuple[int, int]) -> PreparedImage:
        from PIL import Image, ImageOps

        profile = im.info.get("icc_profile") if self.fix else None
        if profile and im.mode == "CMYK":  # a print profile says what the inks look like: use it
            im, converted = _to_srgb(im, profile)
            profile = None
            self.changes.append(converted)
        im, note = _flatten(im)
        if note:
            self.changes.append(note)
        reported = self.upright or im.size  # the size the notes last spoke of
        if self.fit is not None and not within_shape(*im.size):
            # Straight to ``target`` (the fitted size, already downscaled to max_side): pad or crop and resize
            # in one step, so the size sent is exactly the one worked out, inside the rule.
            before = im.size
            fitted = reported = fitted_size(*im.size, self.fit)
            if self.fit == "pad":
                fill = im.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
                colour = fill if isinstance(fill, (int, tuple)) else None
                im = ImageOps.pad(im, target, Image.Resampling.BICUBIC, color=colour)
                done = "padded"
            else:
                im = ImageOps.fit(im, target, Image.Resampling.LANCZOS)
                done = "cropped"
            self.changes.append(f"{done} {before[0]}×{before[1]} → {fitted[0]}×{fitted[1]} to fit the 2.5:1 limit")
            if target != fitted:
                self.changes.append(f"downscaled {fitted[0]}×{fitted[1]} → {target[0]}×{target[1]}")
                reported = target
        elif target != im.size:
            im = im.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
        if profile and im.mode in ("RGB", "RGBA"):  # after any downscale: fewer pixels to convert
            im, converted = _to_srgb(im, profile)
            if converted:
                self.changes.append(converted)
        cap, cap_text = self.max_bytes, megabytes(self.max_bytes)
        quality = JPEG_QUALITY if self.downscaled else 90 if original_size and original_size > cap else 95
        for _ in range(6):
            out = io.BytesIO()
            if fmt == "PNG" and (original_size or 0) <= cap:
                im.save(out, "PNG", compress_level=6)
            else:
                im.save(out, "JPEG", quality=quality, optimize=self.downscaled)
            data = out.getvalue()
            if len(data) <= cap:
                break
            if fmt == "PNG":
                fmt = "JPEG"
                self.changes.append(f"converted PNG → JPEG to fit {cap_text}")
                continue
            scale = (cap / len(data)) ** 0.5 * 0.95
            smaller = scaled_size(*im.size, int(max(im.size) * scale))  # the shape and 300 px kept
            if smaller == im.size:
                raise self.refuse(f"cannot be brought under {cap_text}", cap, len(data))
            im = im.resize(smaller, Image.Resampling.BICUBIC, reducing_gap=3.0)
        else:
            raise self.refuse(f"cannot be brought under {cap_text}", cap, len(data))
        if original_size and original_size > cap:
            self.changes.append(f"re-encoded {megabytes(original_size)} → {megabytes(len(data))}")
        if im.size != reported:
            self.changes.append(f"downscaled {reported[0]}×{reported[1]} → {im.size[0]}×{im.size[1]}")
        if self.max_side and max(im.size) > self.max_side:
            self.changes.append(
                f"kept {min(im.size)} px on the short side (the service's minimum is {MIN_SIDE} px): the long side "
                f"is {max(im.size)} px, over max_side {self.max_side}"
            )
        if not within_rules(*im.size):  # never reached by the sizes above; a last guard before anything is sent
            raise self.refuse(f"came out at {im.size[0]}×{im.size[1]}, outside the service's size rules")
        return self._result(data, "PNG" if data.startswith(b"\x89PNG") else "JPEG", *im.size)

    def _result(self, data: bytes, fmt: str, width: int, height: int) -> PreparedImage:
        mime = "image/png" if fmt == "PNG" else "image/jpeg"
        return PreparedImage(data, mime, width, height, self.name, tuple(self.changes))
