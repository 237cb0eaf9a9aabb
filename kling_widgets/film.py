"""Video files in the kernel, with PyAV: the last frame of a clip, and clips joined into one film.

A storyboard continues a shot from the *last frame of the previous shot's picked take*, decoded from the
video itself; and it exports its picked takes as one MP4 that plays everywhere: H.264 in yuv420p (what
every browser, phone and editor reads), even dimensions, one size and one frame rate, the index at the
front (faststart). Takes that agree (H.264 yuv420p, one size, one frame rate, the same encoder
parameters — takes of one model usually do) are joined packet by packet: nothing is lost and it takes a
blink. Takes that differ cannot be (each encode carries its own parameters), so then the film is encoded
once from the decoded frames; a take of another size is scaled into the film's frame (letterboxed, never
stretched) and one of another frame rate is resampled to it. PyAV is imported on first use.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import KlingError

if TYPE_CHECKING:
    from PIL import Image

#: ``on_progress(fraction, what)``: 0.0 → 1.0, and what is being done, in words
Progress = Callable[[float, str], None]

FILM_CRF = "20"  # visually lossless for the model's 720p/1080p output, a fraction of its bitrate
DEFAULT_FPS = 24


class FilmError(KlingError):
    """A video could not be read or the film could not be written; no partial film is left behind."""


@dataclass(frozen=True)
class ClipInfo:
    """What a clip is made of: its frame size, frame rate and length in seconds."""

    path: Path
    width: int
    height: int
    fps: Fraction
    seconds: float


def _open(path: str | os.PathLike[str]) -> Any:
    import av

    try:
        return av.open(os.fspath(path))
    except (av.FFmpegError, OSError) as error:
        raise FilmError(f"{Path(path).name}: cannot be read as a video ({error})") from None


def probe(path: str | os.PathLike[str]) -> ClipInfo:
    """Size, frame rate and length of a clip (the length counted from its frames when the file's own
    figure is missing)."""
    with _open(path) as container:
        if not container.streams.video:
            raise FilmError(f"{Path(path).name}: has no video track")
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if not seconds and container.duration:
            seconds = container.duration / 1_000_000
        if not seconds:
            frames = sum(1 for _ in container.decode(stream))
            seconds = frames / float(fps)
        return ClipInfo(Path(path), stream.codec_context.width, stream.codec_context.height, fps, seconds)


def last_frame(path: str | os.PathLike[str]) -> Image.Image:
    """The clip's last frame as an RGB picture, decoded from the video. Long clips are entered a couple
    of seconds before their end (a seek to the keyframe before), so only the tail is decoded."""
    with _open(path) as container:
        if not container.streams.video:
            raise FilmError(f"{Path(path).name}: has no video track")
        stream = container.streams.video[0]
        last = None
        if stream.duration and stream.time_base and stream.duration * stream.time_base > 3:
            try:
                container.seek(int(stream.duration - 2 / stream.time_base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    last = frame
            except Exception:  # a file that will not seek is read from the start
                last = None
            if last is None:
                container.seek(0)
        if last is None:
            for frame in container.decode(stream):
                last = frame
        if last is None:
            raise FilmError(f"{Path(path).name}: has no frames")
        picture: Image.Image = last.to_image().convert("RGB")
        return picture


def first_frame(path: str | os.PathLike[str]) -> Image.Image:
    """The clip's first frame as an RGB picture."""
    with _open(path) as container:
        for frame in container.decode(video=0):
            picture: Image.Image = frame.to_image().convert("RGB")
            return picture
    raise FilmError(f"{Path(path).name}: has no frames")


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _frames(info: ClipInfo) -> Iterator[tuple[float, Any]]:
    """Each decoded frame of a clip with its time in seconds from the clip's start."""
    with _open(info.path) as container:
        stream = container.streams.video[0]
        start: float | None = None
        for index, frame in enumerate(container.decode(stream)):
            when = float(frame.time) if frame.time is not None else index / float(info.fps)
            start = when if start is None else start
            yield when - start, frame


def join(
    clips: Sequence[str | os.PathLike[str]],
    target: str | os.PathLike[str],
    *,
    on_progress: Progress | None = None,
    progress_range: tuple[float, float] = (0.0, 1.0),
    reencode: bool | None = None,
) -> Path:
    """Join ``clips`` in order into one H.264/yuv420p MP4 at ``target``, each clip keeping its length.

    Clips that already agree — H.264 in yuv420p, one size, one frame rate, the same encoder parameters —
    are joined as they are (no quality lost, in a blink). Otherwise (or with ``reencode=True``) the film
    is encoded once at the first clip's size and frame rate, the others letterboxed and resampled to
    them. The file is written under a temporary name beside ``target`` and renamed when whole."""
    import av

    if not clips:
        raise FilmError("there is no clip to join")
    infos = [probe(clip) for clip in clips]
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part.mp4", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    low, high = progress_range

    def tell(fraction: float, what: str) -> None:
        if on_progress is not None:
            on_progress(low + (high - low) * fraction, what)

    try:
        if reencode is False or (reencode is None and _joinable_as_they_are(infos)):
            _copy(infos, partial, tell)
        else:
            _encode(infos, partial, tell)
        os.replace(partial, target)
    except av.FFmpegError as error:
        raise FilmError(f"the film could not be written: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    tell(1.0, "film written")
    return target


def _signature(path: Path) -> tuple[Any, ...]:
    """What must agree for clips to be joined packet by packet: codec, pixel format, size, frame rate,
    time base and the encoder's parameter sets (SPS/PPS)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        return (
            context.name,
            context.pix_fmt,
            context.width,
            context.height,
            stream.average_rate,
            stream.time_base,
            bytes(context.extradata or b""),
        )


def _joinable_as_they_are(infos: Sequence[ClipInfo]) -> bool:
    signatures = {_signature(info.path) for info in infos}
    if len(signatures) != 1:
        return False
    name, pix_fmt, width, height, *_ = next(iter(signatures))
    return bool(name == "h264" and pix_fmt == "yuv420p" and width % 2 == 0 and height % 2 == 0)


def _copy(infos: Sequence[ClipInfo], partial: Path, tell: Callable[[float, str], None]) -> None:
    """The clips' packets one after another in one stream, each clip's clock moved to where the
    previous one ended (what ffmpeg's concat demuxer does)."""
    with _open_output(partial) as output:
        with _open(infos[0].path) as first:
            stream = output.add_stream_from_template(first.streams.video[0])
        offset = 0
        for number, info in enumerate(infos, start=1):
            tell((number - 1) / len(infos), f"joining clip {number} of {len(infos)}")
            with _open(info.path) as source:
                video = source.streams.video[0]
                shift = offset - (video.start_time or 0)  # the clip's first picture right after the last one
                for packet in source.demux(video):
                    if packet.dts is None or packet.pts is None:
                        continue  # the demuxer's closing empty packet
                    packet.pts += shift
                    packet.dts += shift
                    offset = max(offset, packet.pts + (packet.duration or 0))
                    packet.stream = stream
                    output.mux(packet)


def _open_output(path: Path) -> Any:
    """An MP4 being written, its index at the front (faststart): a browser plays it before it has it all."""
    import av

    return av.open(str(path), "w", format="mp4", options={"movflags": "faststart"})


def _encode(infos: Sequence[ClipInfo], partial: Path, tell: Callable[[float, str], None]) -> None:
    """Decode every clip and encode the film once, on its own clock (the first clip's frame rate)."""
    from PIL import ImageOps

    width, height = _even(infos[0].width), _even(infos[0].height)
    fps = infos[0].fps if infos[0].fps > 0 else Fraction(DEFAULT_FPS)
    total = sum(max(1, round(info.seconds * fps)) for info in infos)
    with _open_output(partial) as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": FILM_CRF, "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        tick = 1 / fps
        stream.codec_context.time_base = tick
        count = 0

        def put(frame: Any) -> None:
            nonlocal count
            frame.pts, frame.time_base = count, tick  # the film's own clock, whatever the clip's
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1

        for number, info in enumerate(infos, start=1):
            tell(count / total, f"encoding clip {number} of {len(infos)}")
            wanted = max(1, round(info.seconds * fps))
            same_size = (info.width, info.height) == (width, height)
            emitted = 0
            held = None
            for when, frame in _frames(info):
                # output ticks that fall before this frame show the frame held until now
                while held is not None and emitted < wanted and emitted / fps < when:
                    put(held)
                    emitted += 1
                held = _fit(frame, width, height, same_size, ImageOps)
            while held is not None and emitted < wanted:  # the last frame, to the clip's end
                put(held)
                emitted += 1
        for packet in stream.encode():
            container.mux(packet)


def _fit(frame: Any, width: int, height: int, same_size: bool, image_ops: Any) -> Any:
    """The frame in the film's pixel format and size: converted as it is when the size matches, else
    scaled into the frame with black bars (a clip is never stretched)."""
    import av

    if same_size:
        return frame.reformat(format="yuv420p")
    picture = image_ops.pad(frame.to_image().convert("RGB"), (width, height), color=(0, 0, 0))
    return av.VideoFrame.from_image(picture).reformat(format="yuv420p")
