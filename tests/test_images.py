"""prepare_image: every rule checked before upload, what can be fixed fixed, hostile files refused."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kling_widgets import KlingClient, PreparedImage, ValidationError, VideoRequest, prepare_image
from kling_widgets.images import (
    DEFAULT_MAX_SIDE,
    MAX_BYTES,
    fitted_size,
    scaled_size,
    shrink_to,
    sniff_format,
    within_rules,
    within_shape,
)
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_image

from .conftest import encode, noise_jpeg


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


# -- the shape rule, exactly as the service reads it ---------------------------------------------------
def service_refusal(prepared: PreparedImage) -> str | None:
    """What the simulator (the service's strict twin) says of this picture: None when it takes it."""
    from kling_widgets.simulator.state import image_problem

    return image_problem({"image": base64.b64encode(prepared.data).decode("ascii")})


def raw_create(sim: Simulator, picture: bytes) -> requests.Response:
    """A create sent by hand, past every check of ours: what the service itself says of ``picture``."""
    from kling_widgets.auth import JWTAuth

    body = {
        "model_name": "kling-v1-6",
        "image_list": [{"image": base64.b64encode(picture).decode("ascii")}],
        "prompt": "a wide shore at dusk",
        "mode": "std",
        "duration": "5",
        "aspect_ratio": "16:9",
    }
    auth = JWTAuth(sim.access_key, sim.secret_key)
    return requests.post(sim.url + "/v1/videos/multi-image2video", json=body, headers={"Authorization": auth.header()})


def test_the_simulator_refuses_a_shape_just_past_the_limit_with_1201(kling_sim: Simulator) -> None:
    refused = raw_create(kling_sim, encode(Image.new("RGB", (2048, 819), (90, 120, 160))))
    assert refused.status_code == 400 and refused.json()["code"] == 1201  # 2.5006:1 is outside 2.5:1
    taken = raw_create(kling_sim, encode(Image.new("RGB", (2048, 820), (90, 120, 160))))
    assert taken.status_code == 200 and taken.json()["code"] == 0
    assert kling_sim.creates == 1


@pytest.mark.parametrize("fit", ["pad", "crop"])
def test_a_fitted_panorama_is_sent_from_the_bundle_and_taken(
    fit: str, kling_sim: Simulator, kling_client: KlingClient
) -> None:
    from kling_widgets import MultiImageToVideo

    app = MultiImageToVideo(kling_client, poll_interval=0.05)
    try:
        assert app.image_picker.max_side == DEFAULT_MAX_SIDE == 2048  # the bundle's own upload size
        assert app.image_picker.add(encode(sample_image(1, (4000, 1200)))) is None  # refused for its shape
        (picture,) = app.image_picker.fix(fit)  # type: ignore[arg-type]  # the Pad / Crop to fit buttons
        assert isinstance(picture, PreparedImage) and (picture.width, picture.height) == (2048, 820)
        app.prompt_box.value = "a wide shore at dusk"
        assert app.problems == [] and not app.submit_button.disabled
        task = app.submit().result(timeout=10)  # type: ignore[union-attr]
        assert task is not None and kling_sim.creates == 1
        (sent,) = kling_sim.created[0]["body"]["image_list"]
        assert Image.open(io.BytesIO(base64.b64decode(sent["image"]))).size == (2048, 820)
    finally:
        app.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    long_side=st.integers(300, 6000),
    short_side=st.integers(100, 3000),
    portrait=st.booleans(),
    rotated=st.booleans(),
    fit=st.sampled_from(["pad", "crop"]),
    max_side=st.one_of(st.none(), st.integers(300, 4096)),
)
def test_property_pad_and_crop_land_inside_the_rules_at_every_size_and_max_side(
    long_side: int, short_side: int, portrait: bool, rotated: bool, fit: str, max_side: int | None
) -> None:
    short_side = min(short_side, long_side)
    width, height = (short_side, long_side) if portrait else (long_side, short_side)
    # A photo turned by EXIF is stored on its side: the upright picture is width×height.
    stored = (height, width) if rotated else (width, height)
    exif = Image.Exif()
    if rotated:
        exif[0x0112] = 6
    data = encode(Image.new("RGB", stored, (90, 120, 160)), exif=exif)
    fitted = (width, height) if within_shape(width, height) else fitted_size(width, height, fit)  # type: ignore[arg-type]
    try:
        prepared = prepare_image(data, fit=fit, max_side=max_side)  # type: ignore[arg-type]
    except ValidationError as error:  # only a picture too small once fitted, and said so in numbers
        assert min(fitted) < 300 and "too small" in str(error) and "300 px" in str(error)
        return
    w, h = prepared.width, prepared.height
    assert decoded(prepared).size == (w, h)
    assert 2 * max(w, h) <= 5 * min(w, h) and min(w, h) >= 300  # the rule in whole numbers
    assert service_refusal(prepared) is None
    assert (w >= h) == (fitted[0] >= fitted[1])  # landscape stays landscape
    if max_side is not None and max(fitted) > max_side:
        # at max_side, unless that would take the short side under 300 (then 300 exactly, nothing more)
        assert max(w, h) == max_side or min(w, h) == 300
    else:
        assert (w, h) == fitted


@settings(max_examples=300, deadline=None)
@given(
    width=st.integers(1, 100_000),
    height=st.integers(1, 100_000),
    fit=st.sampled_from(["pad", "crop"]),
    max_side=st.integers(300, 20_000),
)
def test_property_the_size_arithmetic_keeps_the_rules(width: int, height: int, fit: str, max_side: int) -> None:
    fitted = fitted_size(width, height, fit)  # type: ignore[arg-type]
    assert within_shape(*fitted)
    assert fitted == (width, height) or (fit == "pad") == (fitted[0] * fitted[1] > width * height)
    final = scaled_size(*fitted, max_side)
    assert within_shape(*final) and max(final) <= max(fitted)  # never enlarged
    if min(fitted) >= 300:
        assert min(final) >= 300
        assert max(final) <= max_side or min(final) == 300


def test_exactly_the_service_rule_nothing_looser() -> None:
    assert within_shape(2500, 1000) and within_shape(820, 2048) and within_shape(2048, 820)
    assert not within_shape(2048, 819) and not within_shape(819, 2048) and not within_shape(2501, 1000)
    assert scaled_size(2500, 1000, 2048) == (2048, 820)  # 819.2 rounds to 819: raised to 820


def test_a_picture_at_the_limit_downscaled_without_fit_stays_inside() -> None:
    prepared = prepare_image(encode(sample_image(0, (2500, 1000))), max_side=2048)
    assert (prepared.width, prepared.height) == (2048, 820) and service_refusal(prepared) is None


def test_a_prepared_picture_made_outside_the_rule_is_refused_before_sending(
    kling_sim: Simulator, kling_client: KlingClient
) -> None:
    """A PreparedImage made elsewhere (by an older version, by hand) at 2048×819 is not sent as it is."""
    data = encode(Image.new("RGB", (2048, 819), (90, 120, 160)))
    made = PreparedImage(data, "image/jpeg", 2048, 819, "wide.jpg")
    request = VideoRequest([made], "a wide shore at dusk")
    (problem,) = request.problems()
    assert problem.field == "images[0]" and problem.limit == 2.5 and "2.501:1" in problem.message
    with pytest.raises(ValidationError):
        kling_client.create_task(request)
    assert kling_sim.creates == 0
    assert prepare_image(made, fit="pad").height == 820


def test_max_side_never_takes_a_wide_picture_under_300_px() -> None:
    """max_side is a wish for smaller uploads; 300 px a side is the service's rule: the rule wins."""
    prepared = prepare_image(encode(sample_image(0, (4000, 1200))), fit="pad", max_side=300)
    assert (prepared.width, prepared.height) == (750, 300) and service_refusal(prepared) is None
    assert any("short side" in change and "max_side 300" in change for change in prepared.changes)


def test_a_picture_too_small_once_fitted_is_refused_with_its_fitted_size() -> None:
    message = refusal(encode(sample_image(0, (700, 200))), fit="pad")
    assert "too small: 700×200" in message and "700×280" in message and "at least 300 px" in message


@pytest.mark.parametrize("cap", [600_000, 1_500_000])
def test_shrinking_under_a_byte_cap_keeps_the_shape_at_the_limit(cap: int) -> None:
    noisy = prepare_image(noise_jpeg((2500, 1000)))
    smaller = shrink_to(noisy, cap, "to fit the body")
    assert smaller.size <= cap and max(smaller.width, smaller.height) < 2500
    assert within_rules(smaller.width, smaller.height) and service_refusal(smaller) is None
