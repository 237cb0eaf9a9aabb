"""What a picture file is, and the same file without its metadata, read from its bytes alone (no decoder).

Nothing here imports an image library, and every function takes any bytes: a hostile or broken file
gets an answer (a format, None, or :class:`Damaged`), never a crash, which the fuzz tests hold it to.
Cutting metadata out this way is lossless: a picture already within the limits is sent without being
decoded and re-encoded.
"""

from __future__ import annotations

import re
import zlib


class Damaged(Exception):
    """The file's structure is broken (truncated, bad checksum)."""


def sniff_format(data: bytes) -> str | None:
    """The real format from the first bytes, whatever the file name says.

    Parameters
    ----------
    data : bytes
        The file, or at least its first 64 bytes.

    Returns
    -------
    str or None
        ``"JPEG"``, ``"PNG"``, ``"GIF"``, ``"WebP"``, ``"BMP"``, ``"TIFF"``, ``"AVIF"``, ``"HEIC"`` or
        ``"JPEG 2000"``; None for anything else (a decoder may still know it).
    """
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


def not_a_picture(data: bytes) -> str | None:
    """What a file that no option can convert is, in words a person can act on.

    Parameters
    ----------
    data : bytes
        The file.

    Returns
    -------
    str or None
        The words (an empty file, an SVG drawing, a web page); None when a decoder should try it.
    """
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return "this file is empty"
    if b"<svg" in head:
        return "this is an SVG drawing, whatever its name says: export it as PNG"
    if head.startswith((b"<!doctype html", b"<html")) or b"<head" in head:
        return "this is a web page, whatever its name says, not the picture: save the picture itself"
    return None


_JPEG_KEEP_APP = {0xE0: b"JFIF", 0xE2: b"ICC_PROFILE", 0xEE: b"Adobe"}
_JPEG_APP_NAMES = {0xE1: "EXIF/XMP", 0xE2: "extra images (MPF)", 0xED: "IPTC"}
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def strip_jpeg(data: bytes, *, scan: bool = True) -> tuple[bytes, list[str]]:
    """Copy a JPEG without its metadata segments and anything after the end of the image. Lossless.

    Parameters
    ----------
    data : bytes
        A file that starts as a JPEG does (``sniff_format`` said so).
    scan : bool
        False walks the header only (up to the first scan) and copies nothing: what a picture that will
        be re-encoded needs to know, without a pass over megabytes of compressed data.

    Returns
    -------
    tuple of (bytes, list of str)
        The copy (empty with ``scan=False``, unless the file ends before any scan) and the names of what
        was cut out, in order.

    Raises
    ------
    Damaged
        When a marker is broken or the file ends before its end-of-image.
    """
    out, removed, pos, n = bytearray(b"\xff\xd8"), [], 2, len(data)
    while True:
        if pos >= n or data[pos] != 0xFF:
            raise Damaged("truncated" if pos >= n else "corrupt marker")
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise Damaged("truncated")
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
            raise Damaged("truncated")
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
                raise Damaged("truncated")
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


def strip_png(data: bytes) -> tuple[bytes, list[str]]:
    """Copy a PNG with only the chunks that shape the pixels, checking every CRC. Lossless.

    Parameters
    ----------
    data : bytes
        A file that starts as a PNG does (``sniff_format`` said so).

    Returns
    -------
    tuple of (bytes, list of str)
        The copy and the names of the chunks left out (``"animation"`` for an animated PNG's).

    Raises
    ------
    Damaged
        When a chunk's checksum is wrong or the file ends before ``IEND``.
    """
    out, removed, pos, n = bytearray(data[:8]), [], 8, len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise Damaged("truncated")
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            raise Damaged(f"bad checksum in {kind.decode('latin-1')} chunk")
        if kind in _PNG_KEEP:
            out += data[pos:end]
        else:
            name = {b"eXIf": "EXIF", b"acTL": "animation"}.get(kind, kind.decode("latin-1"))
            if name not in removed and kind not in (b"fcTL", b"fdAT"):
                removed.append(name)
        pos = end
        if kind == b"IEND":
            return bytes(out), removed
    raise Damaged("truncated")
