"""A storyboard's export against its floor, in one run: three 5-second 1280×720 24 fps takes (what Kling
returns) are made here, then joined into the film

- as they are (``film.join`` on takes that agree: their packets one after another), against decoding every
  frame of the takes — which any export that re-encodes must at least do. Goal: under a quarter of it.
- re-encoded (``reencode=True``: what happens when takes differ in size or frame rate), reported against
  the same floor and against the film's own length (how many times faster than real time).

The takes are written to a temporary folder removed afterwards.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
from PIL import Image, ImageDraw

from kling_widgets.film import join

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 24, 5
COPY_GOAL = 0.25


def make_take(path: Path, seed: int) -> None:
    """A take with motion everywhere (a moving gradient and shapes), encoded like the service's."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "23", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        base = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
        for index in range(FPS * SECONDS):
            picture = Image.merge(
                "RGB", (base, base.rotate(index * 3 + seed * 40), base.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
            )
            draw = ImageDraw.Draw(picture)
            x = (index * 17 + seed * 200) % WIDTH
            draw.ellipse((x, 200, x + 220, 420), fill=(240, 200, 40))
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_all(paths: list[Path]) -> None:
    for path in paths:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                pass


def best(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times) if runs < 3 else statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        takes = [Path(folder) / f"take{i}.mp4" for i in range(3)]
        for seed, take in enumerate(takes):
            make_take(take, seed)
        floor = best(3, lambda: decode_all(takes))
        copied = best(3, lambda: join(takes, Path(folder) / "copied.mp4"))
        encoded = best(1, lambda: join(takes, Path(folder) / "encoded.mp4", reencode=True))
    film = 3 * SECONDS
    print(f"three {SECONDS} s {WIDTH}×{HEIGHT} {FPS} fps takes, a {film} s film")
    print(f"  decode every frame (floor):    {floor:6.2f} s")
    print(
        f"  join, takes as they are:       {copied:6.2f} s  = {copied / floor:4.2f}× the floor (goal < {COPY_GOAL:g}×)"
    )
    print(f"  join, re-encoded:              {encoded:6.2f} s  = {encoded / floor:4.1f}× the floor, "
          f"{film / encoded:.1f}× real time")  # fmt: skip
    print("goal met" if copied / floor < COPY_GOAL else "GOAL MISSED")


if __name__ == "__main__":
    main()
