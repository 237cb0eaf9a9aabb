"""A real, playable H.264 MP4 made from the request's images: a slow slideshow with cross-fades,
at the requested aspect ratio and duration. Low frame rate and small frames keep it quick to make."""

from __future__ import annotations

import os
import tempfile

from PIL import Image, ImageDraw, ImageOps

FRAME_SIZES = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480)}


def placeholder(text: str, size: tuple[int, int] = (640, 360)) -> Image.Image:
    """A card standing in for an image the simulator cannot fetch (it never goes online)."""
    card = Image.new("RGB", size, (52, 58, 74))
    draw = ImageDraw.Draw(card)
    draw.text((16, size[1] // 2 - 8), text[:70], fill=(230, 230, 230))
    return card


def render_mp4(images: list[Image.Image], *, aspect_ratio: str = "16:9", seconds: int = 5, fps: int = 8) -> bytes:
    """Encode ``seconds * fps`` frames: each image framed to the aspect ratio, slowly zooming,
    cross-fading into the next."""
    width, height = FRAME_SIZES.get(aspect_ratio, FRAME_SIZES["16:9"])
    stills = [
        ImageOps.fit(im.convert("RGB"), (width + width // 8, height + height // 8))
        for im in images or [placeholder("no image")]
    ]
    total = max(1, seconds * fps)
    per_image = total / len(stills)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "video.mp4")  # faststart rewrites the file, so it needs a real one
        _encode(path, stills, total, per_image, fps, (width, height))
        with open(path, "rb") as handle:
            return handle.read()


def _encode(
    path: str, stills: list[Image.Image], total: int, per_image: float, fps: int, size: tuple[int, int]
) -> None:
    import av

    width, height = size
    with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "30", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(total):
            position = index / per_image
            current = min(int(position), len(stills) - 1)
            local = position - current
            frame = _zoom(stills[current], local, (width, height))
            if local > 0.75 and current + 1 < len(stills):
                following = _zoom(stills[current + 1], 0.0, (width, height))
                frame = Image.blend(frame, following, (local - 0.75) / 0.25)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _zoom(still: Image.Image, amount: float, size: tuple[int, int]) -> Image.Image:
    """A crop of ``still`` that tightens from the whole picture to its centre as ``amount`` goes 0 → 1."""
    extra_w, extra_h = still.width - size[0], still.height - size[1]
    left, top = int(extra_w * amount / 2), int(extra_h * amount / 2)
    box = (left, top, still.width - left, still.height - top)
    return still.resize(size, Image.Resampling.BILINEAR, box=box)
