"""A real, playable H.264 MP4 made from the request's images: a slow slideshow with cross-fades,
at the requested aspect ratio and duration. Low frame rate and small frames keep it quick to make.

Every task's video is its own: the task id seeds the camera (which way it pans, whether it pushes in or
pulls out, and by how much), the framing of each picture, how long each picture holds and how long the
cross-fades take. Two takes of one request are two different videos, as they are at the service; the
same task id always gives the same video."""

from __future__ import annotations

import hashlib
import math
import os
import random
import tempfile
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

FRAME_SIZES = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480)}
MARGIN = 0.5  # each picture is framed this much larger than the video, so the camera has room to move


@dataclass(frozen=True)
class Camera:
    """How one video moves, drawn from its seed (see :func:`camera`).

    ``zoom``: (start, end) tightness of the crop, 0 the whole framed picture, 1 the video's own size;
    ``pan``: (x, y) drift of the crop's centre over a picture's hold, as a fraction of the room there is;
    ``framing``: (x, y) where the crop sits at rest, -1 (left/top) to 1 (right/bottom);
    ``holds``: each picture's share of the video (they sum to 1); ``fade``: the share of a picture's hold
    spent cross-fading into the next."""

    zoom: tuple[float, float]
    pan: tuple[float, float]
    framing: tuple[float, float]
    holds: tuple[float, ...]
    fade: float


def camera(seed: str, pictures: int) -> Camera:
    """The camera of the video seeded by ``seed`` (a task id), for ``pictures`` pictures.

    Parameters
    ----------
    seed : str
        What makes the video its own; the same seed always gives the same camera.
    pictures : int
        How many pictures the video shows (at least one).

    Returns
    -------
    Camera
        Zoom, pan, framing, holds and fade, each varied enough to be seen.
    """
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    # never quite the whole picture nor the video's own size: there is always room for the framing to show
    wide, tight = rng.uniform(0.05, 0.3), rng.uniform(0.55, 0.8)
    zoom = (wide, tight) if rng.random() < 0.5 else (tight, wide)  # push in, or pull out
    # one of eight headings (a little off the compass), so two takes seldom move alike
    heading, reach = (rng.randrange(8) + rng.uniform(-0.15, 0.15)) * math.pi / 4, rng.uniform(0.9, 1.4)
    pan = (reach * math.cos(heading), reach * math.sin(heading))
    framing = (rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5))
    weights = [rng.uniform(0.6, 1.4) for _ in range(max(1, pictures))]
    holds = tuple(w / sum(weights) for w in weights)
    return Camera(zoom, pan, framing, holds, rng.uniform(0.12, 0.4))


def placeholder(text: str, size: tuple[int, int] = (640, 360)) -> Image.Image:
    """A card standing in for an image the simulator cannot fetch (it never goes online)."""
    card = Image.new("RGB", size, (52, 58, 74))
    draw = ImageDraw.Draw(card)
    draw.text((16, size[1] // 2 - 8), text[:70], fill=(230, 230, 230))
    return card


def render_mp4(
    images: list[Image.Image], *, aspect_ratio: str = "16:9", seconds: int = 5, fps: int = 8, seed: str = ""
) -> bytes:
    """Encode ``seconds * fps`` frames: each image framed to the aspect ratio, the camera moving over
    it, cross-fading into the next.

    Parameters
    ----------
    images : list of PIL.Image.Image
        The request's pictures, in order (none: a placeholder card).
    aspect_ratio : str
        ``"16:9"``, ``"9:16"`` or ``"1:1"``; anything else is made 16:9.
    seconds : int
        The video's length.
    fps : int
        Frames per second (low keeps it quick to make).
    seed : str
        The task id: it picks the camera (:func:`camera`), so each task's video differs and one task's is
        always the same.

    Returns
    -------
    bytes
        The MP4 (H.264, yuv420p, faststart).
    """
    width, height = FRAME_SIZES.get(aspect_ratio, FRAME_SIZES["16:9"])
    room = (round(width * (1 + MARGIN)), round(height * (1 + MARGIN)))
    stills = [ImageOps.fit(im.convert("RGB"), room) for im in images or [placeholder("no image")]]
    total = max(1, seconds * fps)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "video.mp4")  # faststart rewrites the file, so it needs a real one
        _encode(path, stills, total, camera(seed, len(stills)), fps, (width, height))
        with open(path, "rb") as handle:
            return handle.read()


def _encode(path: str, stills: list[Image.Image], total: int, cam: Camera, fps: int, size: tuple[int, int]) -> None:
    import av

    width, height = size
    starts = [0.0]
    for share in cam.holds:
        starts.append(starts[-1] + share * total)
    with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "30", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        current = 0
        for index in range(total):
            while current + 1 < len(stills) and index >= starts[current + 1]:
                current += 1
            hold = starts[current + 1] - starts[current]
            local = min(1.0, (index - starts[current]) / hold) if hold else 0.0
            frame = _shot(stills[current], local, cam, size)
            if local > 1 - cam.fade and current + 1 < len(stills):
                following = _shot(stills[current + 1], 0.0, cam, size)
                frame = Image.blend(frame, following, (local - (1 - cam.fade)) / cam.fade)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _shot(still: Image.Image, amount: float, cam: Camera, size: tuple[int, int]) -> Image.Image:
    """The crop of ``still`` the camera sees ``amount`` (0 → 1) of the way through the picture's hold."""
    tight = cam.zoom[0] + (cam.zoom[1] - cam.zoom[0]) * amount
    crop_w = still.width - (still.width - size[0]) * tight
    crop_h = still.height - (still.height - size[1]) * tight
    spare_w, spare_h = (still.width - crop_w) / 2, (still.height - crop_h) / 2
    # where the crop sits: its framing, drifting along the pan as the hold goes on (kept inside the picture)
    x = max(-1.0, min(1.0, cam.framing[0] + cam.pan[0] * (amount - 0.5)))
    y = max(-1.0, min(1.0, cam.framing[1] + cam.pan[1] * (amount - 0.5)))
    left, top = spare_w * (1 + x), spare_h * (1 + y)
    return still.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + crop_w, top + crop_h))
