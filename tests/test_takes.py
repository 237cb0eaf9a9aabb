"""Two takes are two videos: the simulator's camera is seeded by the task (motion, framing, timing), the
same task always gives the same video, and a storyboard's shot card shows a frame of the picked take."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageStat

from kling_widgets import KlingClient, Storyboard, StoryboardView, Task, TaskHistory
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.state import decode_image
from kling_widgets.simulator.video import render_mp4

from .conftest import character, difference, wait_for


def frames(video: bytes | Path) -> list[Image.Image]:
    """Every frame of an MP4, decoded with PyAV."""
    data = video.read_bytes() if isinstance(video, Path) else video
    with av.open(io.BytesIO(data)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]  # type: ignore[no-untyped-call]


def moved(a: list[Image.Image], b: list[Image.Image]) -> float:
    """The share of pixels that differ clearly (more than 40 grey levels), averaged over the frames:
    0 for the same video; a camera that moves otherwise shifts the pictures' edges across many pixels."""
    assert len(a) == len(b)
    shares = []
    for x, y in zip(a, b, strict=True):
        changed = ImageChops.difference(x.convert("L"), y.convert("L")).point(lambda v: 255 if v > 40 else 0)
        shares.append(ImageStat.Stat(changed).mean[0] / 255)
    return sum(shares) / len(shares)


def drawn(number: int) -> Image.Image:
    return Image.open(io.BytesIO(character(number))).convert("RGB")


def two_takes(client: KlingClient, history: TaskHistory, *cast: int) -> tuple[Storyboard, Task, Task]:
    """A storyboard of one shot, "the two meet", with these characters and two takes, generated."""
    story = Storyboard(client, [character(number) for number in cast], history=history)
    shot = story.add_shot("the two meet", takes=2)
    story.generate().wait(timeout=60)
    first, second = shot.takes
    assert first is not None and second is not None
    return story, first, second


def test_two_takes_of_one_shot_are_two_videos_made_from_its_pictures(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    _, first, second = two_takes(story_client, history, 0, 1)
    assert first.id != second.id
    one = frames(story_client.download(first, tmp_path / "one.mp4"))
    two = frames(story_client.download(second, tmp_path / "two.mp4"))
    assert len(one) == len(two) == 5 * story_sim.video_fps  # the same request: the same length
    assert moved(one, two) > 0.01  # measured 0.026 at the least over 30 random pairs; 0 for a slideshow twice
    assert max(difference(a, b) for a, b in zip(one, two, strict=True)) > 5
    for video in (one, two):  # still the request's pictures, in order: the first opens, the second closes
        assert difference(video[0], drawn(0)) < difference(video[0], drawn(1))
        assert difference(video[-1], drawn(1)) < difference(video[-1], drawn(0))
        assert moved(video[:1], video[5:6]) > 0.005  # and the camera moves within a take


def test_the_same_task_gives_the_same_video_and_another_seed_another(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(2)], history=history)
    shot = story.add_shot("a figure waits")
    story.generate().wait(timeout=60)
    [task] = shot.takes
    assert task is not None
    served = frames(story_client.download(task, tmp_path / "served.mp4"))
    body = story_sim.created[0]["body"]
    pictures = [decode_image(item["image"]) for item in body["image_list"]]
    again = frames(render_mp4(pictures, seconds=5, fps=story_sim.video_fps, seed=task.id))
    assert moved(served, again) == 0 and max(difference(a, b) for a, b in zip(served, again, strict=True)) < 0.5
    other = frames(render_mp4(pictures, seconds=5, fps=story_sim.video_fps, seed=task.id + "-other"))
    assert moved(served, other) > 0.01


def card_frame(view: StoryboardView) -> str:
    """The data: URL of the picture on the first shot card ("" when it has none)."""
    card = view._strip.value.split('class="kw-strip-prompt"')[0]
    found = re.search(r'<img alt="Shot 1, take \d" src="(data:image/jpeg;base64,[^"]+)"', card)
    return found.group(1) if found else ""


def picture_of(url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")


def test_the_shot_card_shows_a_frame_of_the_picked_take(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story, first, second = two_takes(story_client, history, 0, 3)
    view = StoryboardView(story)  # the simulator's videos go through the kernel: the kernel makes the frame
    near_start = [frames(story_client.download(t, tmp_path / f"{t.id}.mp4"))[4] for t in (first, second)]

    wait_for(lambda: card_frame(view) != "", timeout=30)
    shown = picture_of(card_frame(view))
    assert "take 1 by default" in view._strip.value
    assert difference(shown, near_start[0]) < difference(shown, near_start[1])  # take 1's frame
    assert difference(shown, near_start[0]) < 6

    view.comparisons[0].picked = 1  # "Pick this take" under take 2
    assert "take 2 picked" in view._strip.value
    before = card_frame(view)
    wait_for(lambda: card_frame(view) not in ("", before), timeout=30)
    shown = picture_of(card_frame(view))
    assert difference(shown, near_start[1]) < difference(shown, near_start[0])  # now take 2's
    assert difference(shown, near_start[1]) < 6
    view.close()
