"""Turn a picture into what the service accepts: load -> check -> fix -> encode.

The service takes JPEG or PNG, at most 10 MB, each side at least 300 px, aspect ratio within
1:2.5-2.5:1, and does not crop. Everything is checked before upload, where a refusal costs nothing.
This module is the pipeline's face: :class:`PreparedImage`, :func:`prepare_image` (one picture, or many
side by side) and the names the rest of the package reads. The work is done, one concern a module, in
``image_rules`` (the limits and the sizes within them), ``image_sources`` (reading a path, bytes or an
upload), ``image_bytes`` (the format and the metadata, from the bytes alone), ``image_pixels`` (the
Pillow steps) and ``image_pipeline`` (one preparation as named steps). Pillow is imported on first use,
not at package import.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, Union

from .errors import Problem, ValidationError
from .image_bytes import sniff_format
from .image_pipeline import Encoded
from .image_pipeline import Preparer as _Preparer
from .image_pixels import JPEG_QUALITY, quiet_decoders
from .image_pixels import thumbnail as _thumbnail
from .image_rules import (
    DEFAULT_MAX_SIDE,
    MAX_BYTES,
    MAX_RATIO,
    MIN_SIDE,
    Fit,
    fitted_size,
    megabytes,
    scaled_size,
    within_rules,
    within_shape,
)
from .image_sources import file_origin, is_url, read_source

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_MAX_SIDE",
    "JPEG_QUALITY",
    "MAX_BYTES",
    "MAX_RATIO",
    "MIN_SIDE",
    "PREPARE_THREADS",
    "Fit",
    "ImageSource",
    "PreparedImage",
    "fitted_size",
    "is_url",
    "megabytes",
    "prepare_image",
    "prepare_many",
    "quiet_decoders",
    "scaled_size",
    "shrink_to",
    "side_by_side",
    "sniff_format",
    "within_rules",
    "within_shape",
]

#: At most this many pictures are prepared at once (the service takes four; a core each, where there are).
PREPARE_THREADS = 4
_In = TypeVar("_In")
_Out = TypeVar("_Out")

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "Image.Image", Mapping[str, Any]]


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
        return _prepared(_Preparer(None, "PIL image", fix=fix, fit=fit, max_side=max_side).from_pixels(source))
    data, name = _read(source)
    try:
        prepared = _prepared(_Preparer(data, name, fix=fix, fit=fit, max_side=max_side).run())
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


def _prepared(encoded: Encoded) -> PreparedImage:
    """The pipeline's answer as the public, frozen :class:`PreparedImage`."""
    return PreparedImage(encoded.data, encoded.mime, encoded.width, encoded.height, encoded.source, encoded.changes)


def _origin(source: object) -> str | None:
    if isinstance(source, PreparedImage):
        return source.origin
    return file_origin(source)


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


def _read(source: object) -> tuple[bytes, str]:
    """The bytes of a PreparedImage, file, bytes object or FileUpload value, and a name for messages."""
    if isinstance(source, PreparedImage):
        return source.data, source.source
    return read_source(source)
