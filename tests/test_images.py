"""prepare_image: every rule checked before upload, what can be fixed fixed, hostile files refused."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kling_widgets import PreparedImage, ValidationError, prepare_image
from kling_widgets.images import MAX_BYTES, sniff_format
from kling_widgets.simulator.samples import sample_image

from .conftest import encode


def refusal(source: object, **kwargs: object) -> str:
    with pytest.raises(ValidationError) as caught:
        prepare_image(source, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def decoded(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    return image


def test_an_image_within_the_limits_is_sent_as_it_is(photo: bytes) -> None:
    prepared = prepare_image(photo)
    assert prepared.data == photo and prepared.changes == ()
    assert (prepared.width, prepared.height, prepared.mime) == (800, 600, "image/jpeg")


def test_without_fix_a_gif_named_png_is_refused_by_content(tmp_path: Path) -> None:
    path = tmp_path / "holiday.png"
    sample_image(0, (400, 400)).save(path, "GIF")
    message = refusal(path, fix=False)
    assert "must be JPEG or PNG" in message and "GIF" in message and "holiday.png" in message


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF"])
def test_without_fix_other_formats_are_refused_naming_the_accepted_ones(fmt: str) -> None:
    assert "must be JPEG or PNG" in refusal(encode(sample_image(0, (400, 400)), fmt), fix=False)


def test_garbage_is_refused() -> None:
    assert "not an image file" in refusal(b"hello world" * 100)


def test_tiny_images_are_refused_not_upscaled() -> None:
    message = refusal(encode(sample_image(0, (200, 200))))
    assert "too small: 200×200" in message and "at least 300 px" in message


def test_out_of_ratio_images_are_refused_with_the_way_out() -> None:
    message = refusal(encode(sample_image(0, (1500, 500))))
    assert "3.00:1" in message and "2.5" in message and "fit='pad'" in message and "fit='crop'" in message


@pytest.mark.parametrize(("fit", "expected"), [("pad", (1500, 600)), ("crop", (1250, 500))])
def test_fit_brings_the_ratio_inside(fit: str, expected: tuple[int, int]) -> None:
    prepared = prepare_image(encode(sample_image(0, (1500, 500))), fit=fit)  # type: ignore[arg-type]
    assert (prepared.width, prepared.height) == expected == decoded(prepared).size
    assert any(fit[:3] in change for change in prepared.changes)


def test_portrait_fit_pad() -> None:
    prepared = prepare_image(encode(sample_image(0, (400, 1200))), fit="pad")
    assert prepared.height / prepared.width <= 2.5 and min(prepared.width, prepared.height) >= 300


def test_exif_rotation_is_applied_and_metadata_stripped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 0.0)  # GPSLatitude
    data = encode(sample_image(0, (800, 400)), exif=exif)
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == (400, 800) == decoded(prepared).size
    assert "rotated per EXIF (orientation 6)" in prepared.changes
    assert not decoded(prepared).getexif()
    assert b"Exif" not in prepared.data


def test_gps_is_stripped_losslessly_from_an_upright_photo() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 0.0)
    data = encode(sample_image(1, (800, 600)), exif=exif, comment=b"my home")
    prepared = prepare_image(data)
    assert b"Exif" not in prepared.data and b"my home" not in prepared.data
    assert any("GPS location" in change for change in prepared.changes)
    original, cleaned = Image.open(io.BytesIO(data)), decoded(prepared)
    assert original.tobytes() == cleaned.tobytes()  # the pixels are untouched


def test_png_metadata_chunks_are_stripped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Location", "48.85, 2.35")
    prepared = prepare_image(encode(sample_image(2, (600, 600)), "PNG", pnginfo=info))
    assert b"48.85" not in prepared.data and prepared.mime == "image/png"


def test_over_cap_photo_is_reencoded_under_the_cap() -> None:
    noisy = Image.effect_noise((3000, 2400), 90).convert("RGB")
    data = encode(noisy, quality=100)
    assert len(data) > MAX_BYTES
    prepared = prepare_image(data)
    assert prepared.size <= MAX_BYTES and prepared.mime == "image/jpeg"
    assert any(change.startswith("re-encoded") and "→" in change for change in prepared.changes)
    assert decoded(prepared).size == (prepared.width, prepared.height)


def test_over_cap_without_fix_is_refused() -> None:
    data = encode(Image.effect_noise((3000, 2400), 90).convert("RGB"), quality=100)
    message = refusal(data, fix=False)
    assert "10 MB" in message and "fix=True" in message


def test_max_side_downscales_and_says_so(photo: bytes) -> None:
    prepared = prepare_image(encode(sample_image(0, (4000, 3000))), max_side=1000)
    assert (prepared.width, prepared.height) == (1000, 750) == decoded(prepared).size
    assert "downscaled 4000×3000 → 1000×750" in prepared.changes


def test_rgba_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (400, 400), (255, 0, 0, 0))
    prepared = prepare_image(encode(image, "PNG"))
    assert decoded(prepared).convert("RGB").getpixel((5, 5)) == (255, 255, 255)
    assert "flattened transparency onto white" in prepared.changes


def test_cmyk_is_converted() -> None:
    prepared = prepare_image(encode(sample_image(0, (500, 400)).convert("CMYK")))
    assert decoded(prepared).mode == "RGB" and "converted CMYK → RGB" in prepared.changes


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(fmt: str) -> None:
    data = encode(sample_image(0, (800, 600)), fmt)
    assert "damaged" in refusal(data[: len(data) * 2 // 3])


def test_png_with_a_bad_checksum_is_refused() -> None:
    data = bytearray(encode(sample_image(0, (400, 400)), "PNG"))
    data[60] ^= 0xFF
    assert "damaged" in refusal(bytes(data))


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [12_000, 60_000])
def test_decompression_bombs_are_refused_from_the_header_without_decoding(
    side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    def never(*args: object) -> None:
        raise AssertionError("the pixels of a decompression bomb were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    message = refusal(_png_claiming(side, side))
    assert "pixels" in message and "bomb" in message


def test_a_fileupload_value_and_a_pil_image_are_accepted(photo: bytes) -> None:
    upload = ({"name": "cat.jpg", "type": "image/jpeg", "size": len(photo), "content": memoryview(photo)},)
    assert prepare_image(upload).source == "cat.jpg"
    from_pil = prepare_image(sample_image(3, (640, 480)))
    assert from_pil.mime == "image/jpeg" and (from_pil.width, from_pil.height) == (640, 480)


def test_missing_file_and_url_sources() -> None:
    assert "no such file" in refusal("/nope/missing.jpg")
    assert "URLs are sent as they are" in refusal("https://example.com/a.jpg")


def test_thumbnail_is_small(photo: bytes) -> None:
    thumb = prepare_image(encode(sample_image(0, (4000, 3000)))).thumbnail(160)
    assert len(thumb) < 20_000 and max(Image.open(io.BytesIO(thumb)).size) <= 160


def test_sniff_format() -> None:
    assert sniff_format(b"\xff\xd8\xff\xe0") == "JPEG" and sniff_format(b"GIF89a....") == "GIF"


RULES = ("JPEG or PNG", "too small", "aspect ratio", "10 MB", "damaged")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(60, 1400),
    height=st.integers(60, 1400),
    mode=st.sampled_from(["RGB", "RGBA", "L", "P", "CMYK", "LA"]),
    fmt=st.sampled_from(["JPEG", "PNG", "GIF"]),
    fit=st.sampled_from([None, "pad", "crop"]),
)
def test_property_every_output_is_within_the_limits_or_refused_by_rule(
    width: int, height: int, mode: str, fmt: str, fit: str | None
) -> None:
    image = sample_image(width % 4, (width, height)).convert(mode)
    if fmt == "JPEG" and mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    if fmt in ("PNG", "GIF") and mode == "CMYK":
        image = image.convert("RGB")
    data = encode(image, fmt)
    try:
        prepared = prepare_image(data, fit=fit)  # type: ignore[arg-type]
    except ValidationError as error:
        assert any(rule in str(error) for rule in RULES), str(error)
        ratio = max(width, height) / min(width, height)
        assert min(width, height) < 300 or (fit is None and ratio > 2.5)
        return
    w, h = prepared.width, prepared.height
    assert min(w, h) >= 300 and max(w, h) / min(w, h) <= 2.5 and prepared.size <= MAX_BYTES
    assert prepared.mime in ("image/jpeg", "image/png") and decoded(prepared).size == (w, h)


def quantization_at(quality: int) -> dict[int, list[int]]:
    """The JPEG quantization tables Pillow writes at ``quality``: how a file's quality is read back."""
    return dict(Image.open(io.BytesIO(encode(sample_image(0, (64, 64)), quality=quality))).quantization)


def test_a_downscaled_picture_is_sent_at_the_quality_chosen_for_the_model() -> None:
    from kling_widgets.images import JPEG_QUALITY

    photo = encode(sample_image(3, (2400, 1600)), quality=92)
    smaller = prepare_image(photo, max_side=1200)
    assert (smaller.width, smaller.height) == (1200, 800)
    assert dict(decoded(smaller).quantization) == quantization_at(JPEG_QUALITY) != quantization_at(95)
    assert JPEG_QUALITY < 95 and smaller.size < len(encode(decoded(smaller), quality=95))


def test_a_picture_re_encoded_at_full_size_keeps_a_high_quality() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the pixels must be re-encoded, at full size (originals asked for)
    rotated = prepare_image(encode(sample_image(3, (900, 600)), quality=92, exif=exif))
    assert (rotated.width, rotated.height) == (600, 900)
    assert dict(decoded(rotated).quantization) == quantization_at(95)
