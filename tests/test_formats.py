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
