"""One picture's preparation as named steps: sniff, walk, read the header, then send it as it is, cut, or redrawn.

Speed: an image already within the limits is never decoded in full: its metadata (EXIF, GPS, XMP,
comments, trailing MPF images) is cut out of the file losslessly (``image_bytes``) and a reduced-scale
decode confirms the data is intact. Pixels are decoded and re-encoded (``image_pixels``) only when
something must change. Every refusal is a :class:`ValidationError` naming the rule and its limit.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .errors import Problem, ValidationError
from .image_bytes import Damaged, not_a_picture, sniff_format, strip_jpeg, strip_png
from .image_pixels import (
    JPEG_QUALITY,
    check_decodes,
    downscale,
    draft_for,
    encode_within,
    fit_to,
    flatten,
    heif_opener,
    quiet_decoders,
    to_srgb,
)
from .image_rules import (
    ACCEPTED_FORMATS,
    MAX_BYTES,
    MAX_RATIO,
    MIN_SIDE,
    Fit,
    fitted_size,
    megabytes,
    ratio_text,
    scaled_size,
    within_rules,
    within_shape,
)

if TYPE_CHECKING:
    from PIL import Image

# Formats converted with fix=True to PNG (others to JPEG, unless transparency or lossless WebP calls for PNG).
_LOSSLESS = ("GIF", "BMP", "TIFF")
_FIT_WORDS = {"pad": "padding", "crop": "cropping"}
_ON_ITS_SIDE = (5, 6, 7, 8)  # EXIF orientations that store the picture turned a quarter


@dataclass(frozen=True)
class Encoded:
    """The file a preparation ends with, as it will be sent; ``images`` makes it a ``PreparedImage``."""

    data: bytes
    mime: str
    width: int
    height: int
    source: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class _Walk:
    """What walking a JPEG's or PNG's structure found: the file without its metadata, what was cut out,
    and why it is damaged (None when whole). ``header_only``: a JPEG's compressed data is not walked yet."""

    stripped: bytes
    removed: list[str]
    damaged: str | None = None
    header_only: bool = False


class Preparer:
    """One preparation: the state that the steps share, so each step stays short.

    Parameters
    ----------
    data : bytes or None
        The file (None for a PIL image, prepared by :meth:`from_pixels`).
    name : str
        What to call the picture in messages.
    fix : bool
        Repair what can be repaired instead of refusing it.
    fit : {"pad", "crop"} or None
        How to bring an out-of-shape picture inside the rule.
    max_side : int or None
        The longest side wanted, in pixels.
    max_bytes : int
        The byte cap (never above the service's ``MAX_BYTES``).
    """

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
        """The refusal to raise, naming the picture."""
        return ValidationError(Problem("image", f"{self.name}: {message}", limit, value))

    def run(self) -> Encoded:
        """Prepare the file: the steps below, each named for what it does."""
        data = self.data
        assert data is not None
        fmt = self._sniff(data)
        if fmt not in ACCEPTED_FORMATS:
            return self._convert(fmt)
        walk = self._walk(data, fmt)
        with self._open(data, fmt) as im:
            exif = self._exif(im)
            orientation, target = self._orient(exif.get(0x0112, 1) if self.fix else 1, *im.size)
            needs_pixels = walk.damaged is not None or self._pixels_change(im, orientation, target)
            if walk.header_only and not needs_pixels:  # it may be sent as it is: walk its compressed data too
                walk = self._walk_scan(data, walk)
                needs_pixels = walk.damaged is not None
            if not self.fix and not needs_pixels:
                return self._as_is(data, fmt, im)
            self._note_removed(walk.removed, exif)
            if not needs_pixels and len(walk.stripped) <= self.max_bytes:
                return self._cut(walk.stripped, fmt, *im.size)
            return self._redraw(im, fmt, orientation, target, walk.damaged)

    def _sniff(self, data: bytes) -> str | None:
        """The file's real format; a JPEG or PNG goes on, another format is converted with ``fix``;
        refuses what no option converts, and other formats without ``fix``."""
        fmt = sniff_format(data)
        plainly = None if fmt else not_a_picture(data)
        if plainly:  # no option converts these: say what the file is, and what to do
            raise self.refuse(f"must be JPEG or PNG: {plainly}", ACCEPTED_FORMATS, None)
        if fmt not in ACCEPTED_FORMATS and not self.fix:
            what = f"this file is {fmt}" if fmt else "this is not an image file"
            convert = "convert it" if fmt else "try converting it"
            raise self.refuse(
                f"must be JPEG or PNG ({what}, whatever its name says); pass fix=True to {convert}",
                ACCEPTED_FORMATS,
                fmt,
            )
        return fmt

    def _walk(self, data: bytes, fmt: str) -> _Walk:
        """Walk the file's structure before any decoder sees it: a truncated file must not reach one unasked.

        With ``fix``, a JPEG's header is walked first and its compressed data only if it is sent as it is
        (:meth:`_walk_scan`): one that is re-encoded is checked by the decoder itself. A damaged file is
        refused without ``fix``, and with it re-encoded if the decoder reads past the damage."""
        header_only = fmt == "JPEG" and self.fix
        try:
            stripped, removed = strip_jpeg(data, scan=not header_only) if fmt == "JPEG" else strip_png(data)
        except Damaged as error:
            if not self.fix:
                raise self.refuse(f"cannot be decoded: the file is damaged ({error})") from error
            return _Walk(data, [], str(error))
        return _Walk(stripped, removed, None, header_only)

    @staticmethod
    def _walk_scan(data: bytes, walk: _Walk) -> _Walk:
        """Walk a JPEG's compressed data too, for one that may be sent as it is; damage found there
        means it is re-encoded (what the header named as metadata is still noted)."""
        try:
            stripped, removed = strip_jpeg(data)
        except Damaged as error:
            return replace(walk, damaged=str(error))
        return _Walk(stripped, removed)

    def _open(self, data: bytes, fmt: str) -> Image.Image:
        """Open a JPEG or PNG (its header only: pixels are decoded later, if at all); refuses a bomb."""
        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, as an error
                im = Image.open(io.BytesIO(data), formats=[fmt])
        except Image.DecompressionBombError as error:
            raise self._bomb(None) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise self.refuse("cannot be decoded: the file is damaged", None, str(error)) from error
        width, height = im.size
        if width * height > (Image.MAX_IMAGE_PIXELS or 0) > 0:
            im.close()
            raise self._bomb(im.size)
        return im

    def _exif(self, im: Image.Image) -> Image.Exif:
        """The picture's EXIF (its orientation, whether it holds a location); refuses one too broken to read."""
        try:
            return im.getexif()
        except (OSError, SyntaxError, ValueError, struct.error) as error:
            raise self.refuse("cannot be decoded: the file is damaged", None, str(error)) from error

    def _pixels_change(self, im: Image.Image, orientation: int, target: tuple[int, int]) -> bool:
        """Whether the pixels must be redrawn: turned upright, resized, or (with ``fix``) a colour mode
        or transparency the service cannot take."""
        return (
            orientation != 1
            or target != self.upright
            or (self.fix and im.mode not in ("RGB", "L", "P"))
            or (self.fix and im.mode == "P" and "transparency" in im.info)
        )

    def _note_removed(self, removed: list[str], exif: Image.Exif) -> None:
        """Say what is left behind, whichever way the image is sent (cut out, or not re-encoded)."""
        if "extra images (MPF)" in removed:  # a multi-picture (MPO) file: its first picture is the JPEG
            removed = [r for r in removed if r != "extra images (MPF)" and not r.startswith("trailing data")]
            self.changes.append("converted MPO (multi-picture) → JPEG: kept the first picture")
        if "animation" in removed:  # an animated PNG: its default picture is the first frame
            removed = [r for r in removed if r != "animation"]
            self.changes.append("used the first frame of an animated PNG")
        if removed:
            gps = " with GPS location" if exif.get_ifd(0x8825) else ""
            self.changes.append(f"removed metadata ({', '.join(removed)}{gps})")

    def _cut(self, stripped: bytes, fmt: str, width: int, height: int) -> Encoded:
        """Send the file without its metadata, not re-encoded (a PNG's pixels decoded once to prove them whole)."""
        if fmt == "PNG":
            self._verify_pixels(stripped)
        return self._result(stripped, fmt, width, height)

    def _redraw(
        self, im: Image.Image, fmt: str, orientation: int, target: tuple[int, int], damaged: str | None
    ) -> Encoded:
        """Decode the pixels (at reduced scale where the picture shrinks anyway), turn them upright, encode."""
        from PIL import ImageOps

        if orientation != 1:
            self.changes.append(f"rotated per EXIF (orientation {orientation})")
        if self.fit is None:
            draft_for(im, target, orientation)
        try:
            with quiet_decoders():
                im.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise self.refuse("cannot be decoded: the file is damaged or truncated", None, str(error)) from error
        if damaged is not None:
            self.changes.append(f"re-encoded a damaged {fmt} that still decodes ({damaged})")
        pixels = ImageOps.exif_transpose(im) if orientation != 1 else im
        assert self.data is not None
        return self._encode(pixels, fmt, original_size=len(self.data), target=target)

    def _convert(self, fmt: str | None) -> Encoded:
        """Any other picture Pillow can read (HEIC, AVIF, WebP, GIF, BMP, TIFF, JPEG 2000…) → JPEG, or
        PNG for lossless or transparent content; decoded once, quietly."""
        from PIL import Image, ImageOps, UnidentifiedImageError

        data = self.data
        assert data is not None
        if fmt == "HEIC" and not heif_opener():
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
        self.upright = (height, width) if orientation in _ON_ITS_SIDE else (width, height)
        return orientation, self._check_geometry(*self.upright)

    def from_pixels(self, im: Image.Image) -> Encoded:
        """Prepare a PIL image (no file: nothing to sniff, walk or cut)."""
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
                    f"aspect ratio {ratio_text(width, height)} is outside 1:{MAX_RATIO}–{MAX_RATIO}:1; "
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

    def _as_is(self, data: bytes, fmt: str, im: Image.Image) -> Encoded:
        """Send the file exactly as given (``fix=False``): only the byte cap and whole pixels are checked."""
        if len(data) > MAX_BYTES:
            raise self.refuse(
                f"{megabytes(len(data))} is over the 10 MB limit; pass fix=True to re-encode it",
                MAX_BYTES,
                len(data),
            )
        if fmt == "PNG":
            self._verify_pixels(data)
        return self._result(data, fmt, *im.size)

    def _verify_pixels(self, data: bytes) -> None:
        """A file sent without re-encoding must be whole. A JPEG's structure was walked marker by marker
        to its end-of-image (a truncated one has none); a PNG's chunk checksums were checked, but its
        compressed pixels can still be broken, so a PNG is decoded once."""
        try:
            check_decodes(data)
        except (OSError, SyntaxError, ValueError) as error:
            raise self.refuse("cannot be decoded: the file is damaged or truncated", None, str(error)) from error

    def _encode(self, im: Image.Image, fmt: str, original_size: int | None, target: tuple[int, int]) -> Encoded:
        """Flatten, convert colours, fit or resize to ``target``, and encode under the byte cap."""
        profile = im.info.get("icc_profile") if self.fix else None
        if profile and im.mode == "CMYK":  # a print profile says what the inks look like: use it
            im, converted = to_srgb(im, profile)
            profile = None
            self.changes.append(converted)
        im, note = flatten(im)
        if note:
            self.changes.append(note)
        reported = self.upright or im.size  # the size the notes last spoke of
        if self.fit is not None and not within_shape(*im.size):
            im, notes = fit_to(im, self.fit, target)
            self.changes.extend(notes)
            reported = target
        elif target != im.size:
            im = downscale(im, target)
        if profile and im.mode in ("RGB", "RGBA"):  # after any downscale: fewer pixels to convert
            im, converted = to_srgb(im, profile)
            if converted:
                self.changes.append(converted)
        cap = self.max_bytes
        quality = JPEG_QUALITY if self.downscaled else 90 if original_size and original_size > cap else 95
        png = (original_size or 0) <= cap
        im, data, notes = encode_within(im, fmt, cap, quality=quality, optimize=self.downscaled, png=png)
        if len(data) > cap:
            raise self.refuse(f"cannot be brought under {megabytes(cap)}", cap, len(data))
        self.changes.extend(notes)
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

    def _result(self, data: bytes, fmt: str, width: int, height: int) -> Encoded:
        mime = "image/png" if fmt == "PNG" else "image/jpeg"
        return Encoded(data, mime, width, height, self.name, tuple(self.changes))
