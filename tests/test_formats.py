"""Any photo a person has, sent in the fewest bytes that keep the video as good: every common format
converted with fix=True (refused by name without), damaged JPEGs that still decode re-encoded, nothing
printed by a decoder, and the default upload size (originals one option away)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageFile

from kling_widgets import ImagePicker, PreparedImage, ValidationError, VideoRequest, prepare_image
from kling_widgets.images import DEFAULT_MAX_SIDE, quiet_decoders, sniff_format
from kling_widgets.simulator.samples import sample_image

from .conftest import encode


def heic(image: Image.Image) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(image, "HEIF", quality=80)


def animated_gif(image: Image.Image) -> bytes:
    out = io.BytesIO()
    frames = [image.convert("P"), image.rotate(90).convert("P"), image.rotate(180).convert("P")]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def mpo(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "MPO", save_all=True, append_images=[image.rotate(5)])
    return out.getvalue()


def transparent_webp(image: Image.Image) -> bytes:
    rgba = image.convert("RGBA")
    rgba.putalpha(128)
    return encode(rgba, "WEBP", lossless=True)


FORMATS: dict[str, tuple[Callable[[Image.Image], bytes], str, str]] = {
    # name: (how to make it, what it must be called, what it becomes)
    "HEIC": (heic, "HEIC", "JPEG"),
    "AVIF": (lambda im: encode(im, "AVIF", quality=70), "AVIF", "JPEG"),
    "WebP": (lambda im: encode(im, "WEBP", quality=80), "WebP", "JPEG"),
    "WebP lossless+alpha": (transparent_webp, "WebP", "PNG"),
    "GIF animated": (animated_gif, "GIF", "PNG"),
    "BMP": (lambda im: encode(im, "BMP"), "BMP", "PNG"),
    "TIFF": (lambda im: encode(im, "TIFF", compression="tiff_lzw"), "TIFF", "PNG"),
    "JPEG 2000": (lambda im: encode(im, "JPEG2000"), "JPEG 2000", "JPEG"),
    "MPO": (mpo, "MPO", "JPEG"),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_common_format_is_converted_with_fix(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    make, called, becomes = FORMATS[name]
    data = make(sample_image(1, (900, 600)))
    prepared = prepare_image(data)
    sent = Image.open(io.BytesIO(prepared.data))
    sent.load()
    assert sent.format == becomes and sent.size == (900, 600) == (prepared.width, prepared.height)
    assert any(called in change and becomes in change for change in prepared.changes), prepared.changes
    if name == "GIF animated":
        assert any("first of 3 frames" in change for change in prepared.changes)
    assert capfd.readouterr() == ("", "")  # nothing a decoder said reached the output


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "MPO"])
def test_without_fix_each_is_refused_naming_its_real_format(name: str) -> None:
    make, called, _ = FORMATS[name]
    with pytest.raises(ValidationError) as caught:
        prepare_image(make(sample_image(1, (900, 600))), fix=False)
    message = str(caught.value)
    assert called in message and "JPEG or PNG" in message


def test_sniffing_tells_heic_avif_and_jpeg2000_apart() -> None:
    image = sample_image(2, (400, 400))
    assert sniff_format(heic(image)) == "HEIC"
    assert sniff_format(encode(image, "AVIF")) == "AVIF"
    assert sniff_format(encode(image, "JPEG2000")) == "JPEG 2000"
    assert sniff_format(b"hello world") is None


def jpeg_with_junk_before_a_marker() -> bytes:
    data = encode(sample_image(3, (800, 600)), "JPEG", quality=90)
    at = data.index(b"\xff\xc0")  # the frame header
    return data[:at] + b"\x00junk\x00" + data[at:]


def test_a_jpeg_the_decoder_reads_past_its_damage_is_re_encoded(capfd: pytest.CaptureFixture[str]) -> None:
    data = jpeg_with_junk_before_a_marker()
    prepared = prepare_image(data)
    assert prepared.mime == "image/jpeg" and (prepared.width, prepared.height) == (800, 600)
    assert any("damaged" in change for change in prepared.changes)
    Image.open(io.BytesIO(prepared.data)).load()
    with pytest.raises(ValidationError, match="damaged"):
        prepare_image(data, fix=False)
    truncated = encode(sample_image(3, (800, 600)), "JPEG")[:-4000]
    with pytest.raises(ValidationError, match="damaged"):
        prepare_image(truncated)  # what cannot be decoded is still refused
    assert capfd.readouterr() == ("", "")


def test_what_a_c_decoder_prints_never_reaches_the_output(capfd: pytest.CaptureFixture[str]) -> None:
    import warnings

    with quiet_decoders():
        os.write(2, b"TIFFReadDirectory: Warning, Unknown field with tag 40000 (0x9c40) encountered.\n")
        warnings.warn("Possibly corrupt EXIF data", UserWarning, stacklevel=1)
    assert capfd.readouterr() == ("", "")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"  # and stderr is back afterwards
    with pytest.warns(UserWarning):
        warnings.warn("still shown outside", UserWarning, stacklevel=1)


# -- the default upload size -----------------------------------------------------------------------------
def big_photo(size: tuple[int, int] = (6000, 4000)) -> bytes:
    return encode(sample_image(4, size), "JPEG", quality=90)


def sent_sizes(request: VideoRequest) -> list[tuple[int, int]]:
    out = []
    for item in request.to_payload()["image_list"]:
        out.append(Image.open(io.BytesIO(base64.b64decode(item["image"]))).size)
    return out


def test_large_photos_are_sent_at_the_default_size_and_originals_are_one_option_away() -> None:
    photo = big_photo()
    assert sent_sizes(VideoRequest([photo], "a fox")) == [(2048, 1365)]
    request = VideoRequest([photo], "a fox")
    assert any("downscaled 6000×4000 → 2048×1365" in c for c in request.prepared_images()[0].changes)  # type: ignore[union-attr]
    assert sent_sizes(VideoRequest([photo], "a fox", max_side=None)) == [(6000, 4000)]
    assert DEFAULT_MAX_SIDE >= 2048


def test_small_pictures_pass_untouched_but_without_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)
    photo = encode(sample_image(5, (1600, 1200)), "JPEG", quality=90, exif=exif)
    prepared = prepare_image(photo, max_side=DEFAULT_MAX_SIDE)
    assert (prepared.width, prepared.height) == (1600, 1200)
    assert not Image.open(io.BytesIO(prepared.data)).getexif()
    assert len(prepared.data) < len(photo) and prepared.data[-4000:] == photo[-4000:]  # same pixels, not re-encoded
    assert all("downscaled" not in c and "re-encoded" not in c for c in prepared.changes)


def test_downscaling_decodes_once_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import JpegImagePlugin

    drafts: list[Any] = []
    loads: list[int] = []
    real_draft, real_load = JpegImagePlugin.JpegImageFile.draft, ImageFile.ImageFile.load

    def draft(self: Any, mode: Any, size: Any) -> Any:
        drafts.append(size)
        return real_draft(self, mode, size)

    def load(self: Any) -> Any:
        if self.tile:  # pixels still to decode: a real decode, not a call on a loaded image
            loads.append(1)
        return real_load(self)

    photo = big_photo()
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    prepared = prepare_image(photo, max_side=2048)
    assert (prepared.width, prepared.height) == (2048, 1365)
    assert drafts == [(2048, 1365)] and len(loads) == 1  # one decode, at 1/2 scale (3000×2000)


def test_the_picker_sends_the_default_size_and_can_send_originals() -> None:
    import time

    picker = ImagePicker()
    added = picker.add(big_photo())
    assert isinstance(added, PreparedImage) and added.width == 2048
    picker.max_side = None
    deadline = time.monotonic() + 20
    while (picker.busy or picker.images[0].width != 6000) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert picker.images[0].width == 6000  # prepared again from the original, not from the small copy
    assert "full size" in picker._status.value


def test_the_bundle_option_sends_originals(sim: Any) -> None:
    from kling_widgets import KlingClient, MultiImageToVideo

    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url))
    assert app.image_picker.max_side == DEFAULT_MAX_SIDE
    app.options.send_originals = True
    assert app.image_picker.max_side is None
    app.close()


def test_deep_and_multi_page_pictures_are_converted() -> None:
    image = sample_image(6, (800, 600))
    deep = prepare_image(encode(image.convert("I;16"), "PNG"))  # 16-bit grey
    assert deep.mime == "image/png" and any("8-bit" in c for c in deep.changes)
    pages = io.BytesIO()
    image.save(pages, "TIFF", save_all=True, append_images=[image.rotate(90)])
    prepared = prepare_image(pages.getvalue())
    assert any("first of 2 pages" in c for c in prepared.changes)


def display_p3_profile() -> bytes:
    """A minimal ICC v2 display profile with Display P3's primaries (D50-adapted, as Apple's), gamma 2.2:
    what an iPhone photo carries, built here because no profile ships with this machine."""
    import struct

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    name = b"Display P3 (test)\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0none\0"),
    ]
    table, body, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + body


def apart(one: tuple[int, ...], other: tuple[int, ...]) -> int:
    """The largest difference of one channel between two colours."""
    return max(abs(a - b) for a, b in zip(one, other, strict=True))


def as_a_colour_managed_viewer_shows(data: bytes) -> tuple[int, ...]:
    """The centre pixel in sRGB, honouring the file's own profile if it kept one."""
    from PIL import ImageCms

    image = Image.open(io.BytesIO(data)).convert("RGB") if b"ICC_PROFILE" not in data else Image.open(io.BytesIO(data))
    profile = image.info.get("icc_profile")
    if profile:
        image = ImageCms.profileToProfile(image, io.BytesIO(profile), ImageCms.createProfile("sRGB"), outputMode="RGB")
    pixel = image.getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


@pytest.mark.parametrize("form", ["JPEG", "HEIC"])
def test_wide_gamut_photos_keep_their_colours_when_re_encoded(form: str) -> None:
    from PIL import ImageCms

    profile = display_p3_profile()
    photo = Image.new("RGB", (3000, 2000), (200, 90, 60))  # a warm P3 colour, inside sRGB's gamut
    data = encode(photo, "JPEG", quality=95, icc_profile=profile) if form == "JPEG" else heic_with(photo, profile)
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (8, 8), (200, 90, 60)), io.BytesIO(profile), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert expected is not None
    want = expected.getpixel((4, 4))
    assert isinstance(want, tuple) and apart(want, (200, 90, 60)) > 8  # a visible shift
    prepared = prepare_image(data, max_side=2048)  # downscaled: re-encoded
    assert prepared.width == 2048
    seen = as_a_colour_managed_viewer_shows(prepared.data)
    assert apart(seen, want) <= 4, (seen, want, prepared.changes)
    # The same picture read as plain sRGB (what a model does) shows the same colours: nothing left to a profile.
    plain = Image.open(io.BytesIO(prepared.data)).convert("RGB").getpixel((1024, 600))
    assert isinstance(plain, tuple) and apart(plain, want) <= 4


def heic_with(image: Image.Image, profile: bytes) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(image, "HEIF", quality=90, icc_profile=profile)


def test_a_cmyk_photo_with_a_print_profile_is_not_sent_with_inverted_or_raw_inks() -> None:
    cmyk = Image.new("CMYK", (800, 600), (0, 0, 0, 0))  # no ink: white paper
    prepared = prepare_image(encode(cmyk, "JPEG", quality=95))
    pixel = Image.open(io.BytesIO(prepared.data)).convert("RGB").getpixel((400, 300))
    assert isinstance(pixel, tuple) and min(pixel) >= 245 and prepared.mime == "image/jpeg"


def test_an_animated_png_is_sent_as_its_first_frame_and_says_so() -> None:
    image = sample_image(7, (800, 600))
    out = io.BytesIO()
    image.save(out, "PNG", save_all=True, append_images=[image.rotate(180)], duration=100)
    prepared = prepare_image(out.getvalue())
    assert any("first frame" in c for c in prepared.changes)
    sent = Image.open(io.BytesIO(prepared.data))
    assert not getattr(sent, "is_animated", False) and sent.size == (800, 600)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"/>', "SVG"),
        (b"<!DOCTYPE html><html><head><title>Photo</title></head></html>", "web page"),
        (b"", "empty"),
    ],
)
@pytest.mark.parametrize("fix", [True, False])
def test_files_no_option_can_convert_say_what_they_are(content: bytes, named: str, fix: bool) -> None:
    with pytest.raises(ValidationError) as caught:
        prepare_image(content, fix=fix)
    assert named in str(caught.value) and "fix=True" not in str(caught.value)
    assert caught.value.problems[0].field == "image"


def test_a_truncated_photo_is_refused_even_when_it_would_be_downscaled() -> None:
    data = big_photo((3000, 2000))
    for cut in (len(data) // 2, len(data) - 64):
        with pytest.raises(ValidationError) as caught:
            prepare_image(data[:cut], max_side=2048)
        assert "damaged" in str(caught.value) or "truncated" in str(caught.value)
