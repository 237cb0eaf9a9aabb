"""image_bytes, fuzzed: any bytes get an answer (a format, None, or Damaged), and a cut file stays cut."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from kling_widgets import ValidationError, prepare_image
from kling_widgets.image_bytes import Damaged, not_a_picture, sniff_format, strip_jpeg, strip_png

from .conftest import encode

FORMATS = {"JPEG", "PNG", "GIF", "WebP", "BMP", "TIFF", "AVIF", "HEIC", "JPEG 2000"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment: the marker, its length (which counts itself), the payload."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs"}


def chunk_kinds(png: bytes) -> list[bytes]:
    """The kinds of a whole PNG's chunks, in order."""
    kinds, pos = [], len(PNG_SIGNATURE)
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kinds.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def chunk(kind: bytes, payload: bytes) -> bytes:
    """A PNG chunk with the right checksum."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


# The pieces a JPEG is made of, metadata among them, in any order and with any contents: enough structure
# for the walk to go deep, enough noise to meet every way a file can be broken.
jpeg_pieces = st.one_of(
    st.builds(segment, st.sampled_from([0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xFE, 0xDB, 0xC0, 0xC4]), st.binary(max_size=40)),
    st.builds(segment, st.just(0xE0), st.binary(max_size=20).map(lambda b: b"JFIF\x00" + b)),
    st.builds(segment, st.just(0xE2), st.binary(max_size=20).map(lambda b: b"ICC_PROFILE\x00" + b)),
    st.builds(lambda header, scan: segment(0xDA, header) + scan, st.binary(max_size=12), st.binary(max_size=80)),
    st.sampled_from([b"\xff\xd0", b"\xff\xd7", b"\xff\xff", b"\xff\x01"]),
    st.binary(max_size=8),
)
jpeg_like = st.builds(
    lambda pieces, end, trailing: b"\xff\xd8" + b"".join(pieces) + (b"\xff\xd9" if end else b"") + trailing,
    st.lists(jpeg_pieces, max_size=8),
    st.booleans(),
    st.binary(max_size=40),
)

png_kinds = st.sampled_from([b"IHDR", b"PLTE", b"IDAT", b"tRNS", b"iCCP", b"tEXt", b"eXIf", b"acTL", b"fcTL", b"zzZz"])
png_like = st.builds(
    lambda chunks, end, tail: PNG_SIGNATURE + b"".join(chunks) + (chunk(b"IEND", b"") if end else b"") + tail,
    st.lists(st.builds(chunk, png_kinds, st.binary(max_size=30)), max_size=6),
    st.booleans(),
    st.binary(max_size=16),
)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_are_named_or_not_never_a_crash(data: bytes) -> None:
    assert sniff_format(data) in FORMATS | {None}
    words = not_a_picture(data)
    assert words is None or (isinstance(words, str) and words)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(jpeg_like, st.binary(max_size=200).map(lambda b: b"\xff\xd8" + b)))
def test_a_jpeg_is_cut_or_called_damaged_and_a_cut_one_stays_as_it_is(data: bytes) -> None:
    try:
        stripped, removed = strip_jpeg(data)
    except Damaged:
        return
    assert stripped.startswith(b"\xff\xd8") and stripped.endswith(b"\xff\xd9") and len(stripped) <= len(data)
    assert all(isinstance(name, str) and name for name in removed)
    assert strip_jpeg(stripped) == (stripped, [])  # idempotent: nothing more to cut the second time
    header_stripped, header_removed = strip_jpeg(data, scan=False)
    assert header_stripped in (b"", stripped)  # nothing copied, unless it ended before any scan
    assert header_removed == removed[: len(header_removed)]  # the header's part of the same walk


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(png_like, st.binary(max_size=200).map(lambda b: PNG_SIGNATURE + b)))
def test_a_png_is_cut_or_called_damaged_and_keeps_only_the_chunks_of_its_pixels(data: bytes) -> None:
    try:
        stripped, removed = strip_png(data)
    except Damaged:
        return
    assert stripped.startswith(PNG_SIGNATURE) and stripped.endswith(chunk(b"IEND", b""))
    assert strip_png(stripped) == (stripped, [])  # idempotent
    kinds = chunk_kinds(stripped)
    assert set(kinds) <= PIXEL_CHUNKS  # what is sent holds nothing but what draws the pixels
    assert not {name.encode() for name in removed} & set(kinds)  # and nothing said to be removed


def test_metadata_is_cut_out_of_a_real_photo_losslessly() -> None:
    photo = Image.new("RGB", (320, 320), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "a phone maker"
    data = encode(photo, exif=exif.tobytes()) + b"\x00" * 20_000  # with EXIF and trailing data
    stripped, removed = strip_jpeg(data)
    assert len(removed) == 2 and b"a phone maker" not in stripped and len(stripped) < len(data) - 20_000
    assert strip_jpeg(stripped) == (stripped, [])
    with Image.open(io.BytesIO(stripped)) as cut, Image.open(io.BytesIO(data)) as whole:
        assert cut.tobytes() == whole.tobytes()  # the same pixels: nothing was re-encoded


# Pillow warns when it opens a broken animated PNG (and reads its default picture instead): its words, not ours.
@pytest.mark.filterwarnings("ignore:Invalid APNG")
@settings(max_examples=150, deadline=None)
@given(data=st.one_of(jpeg_like, png_like, st.binary(max_size=300)))
def test_prepare_image_answers_any_bytes_with_a_picture_or_a_validation_error(data: bytes) -> None:
    try:
        prepared = prepare_image(data)
    except ValidationError as refusal:
        assert refusal.problems and all(p.field == "image" for p in refusal.problems)
    else:  # a few random files are pictures after all: what comes out is a whole one
        assert sniff_format(prepared.data) in ("JPEG", "PNG")
