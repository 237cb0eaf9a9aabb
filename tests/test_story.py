"""Storyboards against the simulator over real HTTP: what each create carries, continuity from the real
last frame of the picked take, the exported film, the journal and a reopen that sends nothing twice."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from kling_widgets import KlingClient, KlingError, Storyboard, TaskHistory, TaskStatus, ValidationError
from kling_widgets.film import first_frame, last_frame, probe
from kling_widgets.simulator import Simulator

from .conftest import character, difference


def picture(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def sim_video(sim: Simulator, client: KlingClient, task_id: str, folder: Path) -> Path:
    """The simulator's own MP4 of a task, fetched apart from the storyboard's copy."""
    task = client.get_task(task_id)
    return client.download(task, folder / f"own-{task_id}.mp4")


def test_each_create_carries_the_cast_in_order_and_the_shared_settings(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory
) -> None:
    cast = [character(0), character(1), character(2)]
    story = Storyboard(story_client, cast, mode="pro", aspect_ratio="1:1", history=history)
    story.add_shot("the three meet at the campfire", takes=2)
    story.add_shot("they sing", negative_prompt="rain", duration=10)
    assert story.estimate_units() == 2 * 3.5 + 7.0
    assert story_sim.creates == 0  # nothing is sent before generate
    story.generate().wait(timeout=60)

    assert story_sim.creates == 3
    sent = [picture(item["image"]) for item in story_sim.created[0]["body"]["image_list"]]
    drawn = [Image.open(io.BytesIO(c)).convert("RGB") for c in cast]
    assert [difference(a, b) for a, b in zip(sent, drawn, strict=True)] == [0.0, 0.0, 0.0]  # the cast, in order
    for create in story_sim.created:
        body = create["body"]
        assert [i["image"] for i in body["image_list"]] == [
            i["image"] for i in story_sim.created[0]["body"]["image_list"]
        ]
        assert (body["model_name"], body["mode"], body["aspect_ratio"]) == ("kling-v1-6", "pro", "1:1")
    bodies = {c["external_task_id"]: c["body"] for c in story_sim.created}
    first, second = story.shots
    assert [bodies[e]["prompt"] for e in first.external_ids] == ["the three meet at the campfire"] * 2
    assert [bodies[e]["duration"] for e in first.external_ids] == ["5", "5"]
    assert bodies[second.external_ids[0]]["duration"] == "10"
    assert bodies[second.external_ids[0]]["negative_prompt"] == "rain"
    assert "negative_prompt" not in bodies[first.external_ids[0]]
    assert [t.status for t in first.takes] == [TaskStatus.SUCCEEDED] * 2
    assert first.picked == first.takes[0]  # the default pick: the first take that succeeded

    labels = sorted(e.story_label or "" for e in history.entries())
    assert labels == ["Storyboard · shot 1 · take 1", "Storyboard · shot 1 · take 2", "Storyboard · shot 2 · take 1"]
    assert {e.story for e in history.entries()} == {story.id}
    from kling_widgets import HistoryGallery

    gallery = HistoryGallery(history)  # the history shows a storyboard's clips as such
    cards = "".join(card.children[0].value for card in gallery._cards.children)
    assert cards.count("Storyboard · shot 1 · take") == 2 and "Storyboard · shot 2 · take 1" in cards
    assert "shot 1 · take 1 · in the film" in cards and "shot 1 · take 2 · in the film" not in cards
    story.pick(0, 1)
    gallery.refresh()
    cards = "".join(card.children[0].value for card in gallery._cards.children)
    assert "shot 1 · take 2 · in the film" in cards and "shot 1 · take 1 · in the film" not in cards
    assert "shot 2 · take 1 · in the film" in cards
    gallery.query = story.id
    assert len(gallery.entries) == 3


def test_bad_input_is_named_and_nothing_is_sent(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory
) -> None:
    with pytest.raises(ValidationError) as caught:
        Storyboard(story_client, [character(0)] * 5, mode="cheap", history=history)
    assert {p.field for p in caught.value.problems} == {"cast", "mode"}
    story = Storyboard(story_client, [character(0)], history=history)
    with pytest.raises(ValidationError) as caught:
        story.add_shot("", duration=7, takes=0, continue_from_previous=True)
    assert {p.field for p in caught.value.problems} == {"prompt", "duration", "takes", "continue_from_previous"}
    crowded = Storyboard(story_client, [character(0), character(1), character(2)], history=history)
    with pytest.raises(ValidationError) as caught:
        crowded.add_shot("and a dog", images=[character(3), character(3)])
    assert [p.field for p in caught.value.problems] == ["images"] and "add 1 more at most" in str(caught.value)
    assert story.shots == [] and crowded.shots == [] and story_sim.creates == 0
    unjournaled = Storyboard(story_client, character(1))  # one picture alone; no history given: the default
    assert unjournaled.history.path == Path(os.environ["KLING_WIDGETS_HOME"]) / "history.jsonl"
    assert unjournaled.history.stories() == [unjournaled.id] and len(unjournaled.cast) == 1


def test_a_continuing_shot_carries_the_last_frame_of_the_picked_take(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(0), character(1)], history=history)
    opening = story.add_shot("the two walk to the lake", takes=2)
    follow = story.add_shot("they jump in", continue_from_previous=True)
    story_sim.fail_next_task("the first take fails")  # so the first take that succeeded is the second
    story.generate().wait(timeout=60)

    assert [t.status for t in opening.takes] == [TaskStatus.FAILED, TaskStatus.SUCCEEDED]
    assert opening.picked == opening.takes[1] and follow.continued_from == (0, 1)
    assert story_sim.creates == 3
    body = next(c["body"] for c in story_sim.created if c["external_task_id"] == follow.external_ids[0])
    images = body["image_list"]
    assert len(images) == 3  # the cast, then the frame
    assert [i["image"] for i in images[:2]] == [i["image"] for i in story_sim.created[0]["body"]["image_list"]]
    assert opening.takes[1] is not None
    video = sim_video(story_sim, story_client, opening.takes[1].id, tmp_path)
    sent_frame = picture(images[2]["image"])
    assert sent_frame.size == last_frame(video).size
    assert difference(sent_frame, last_frame(video)) < 3  # the end of the picked take (JPEG aside)
    assert difference(sent_frame, first_frame(video)) > 20  # not its beginning
    assert follow.note is None and follow.frame is not None
    assert follow.takes[0] is not None and follow.takes[0].status is TaskStatus.SUCCEEDED
    story.pick(1, 0)
    assert follow.note is None  # picking what it is


def test_a_cast_of_four_gives_its_last_place_to_the_frame_and_says_so(
    kling_sim: Simulator, kling_client: KlingClient, history: TaskHistory
) -> None:
    story = Storyboard(kling_client, [character(i) for i in range(4)], history=history)  # Kling direct, this time
    story.add_shot("four friends around a campfire")
    follow = story.add_shot("the fire flares up", continue_from_previous=True)
    story.wait(timeout=60)  # wait sends what generate would
    first, second = (c["body"]["image_list"] for c in kling_sim.created)
    assert len(second) == 4 and [i["image"] for i in second[:3]] == [i["image"] for i in first[:3]]
    assert second[3]["image"] != first[3]["image"]
    assert follow.note is not None and "takes the place of picture 4" in follow.note and "shot 1" in follow.note


def test_the_film_joins_the_picked_takes_in_order(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(0), character(1)], history=history)
    story.add_shot("the red one waves", takes=2)
    story.add_shot("the green one answers", duration=10, images=[character(3)])  # the cast, then a prop
    story.add_shot("they leave together", continue_from_previous=True)
    story.generate(max_concurrent=2).wait(timeout=60)
    story.pick(0, 1)
    assert story.shots[1].note is None  # shot 2 does not continue shot 1
    assert story.shots[2].continued_from == (1, 0)
    steps: list[tuple[float, str]] = []
    film = story.export(tmp_path / "film.mp4", on_progress=lambda f, what: steps.append((f, what)))

    info = probe(film)
    assert info.seconds == pytest.approx(5 + 10 + 5, abs=0.2)
    assert (info.width, info.height) == (640, 360)
    import av

    with av.open(str(film)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert sum(1 for _ in container.decode(stream)) == (5 + 10 + 5) * 8  # every frame, none twice
    assert any("joining clip" in what for _, what in steps)  # takes that agree are joined as they are
    bodies = {c["external_task_id"]: c["body"] for c in story_sim.created}
    with_prop = [picture(i["image"]) for i in bodies[story.shots[1].external_ids[0]]["image_list"]]
    drawn = [Image.open(io.BytesIO(character(n))).convert("RGB") for n in (0, 1, 3)]
    assert [difference(a, b) for a, b in zip(with_prop, drawn, strict=True)] == [0.0, 0.0, 0.0]
    picked = story.shots[0].picked
    assert picked is not None and picked == story.shots[0].takes[1]
    assert difference(first_frame(film), first_frame(sim_video(story_sim, story_client, picked.id, tmp_path))) < 4
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any("downloading" in w for _, w in steps)
    videos = sorted(p.name for p in (story.folder / "videos").iterdir())  # downloaded privately, beside the journal
    assert len(videos) == 3 and story.folder.parent.parent == history.path.parent
    if os.name == "posix":
        for folder in (story.folder.parent, story.folder, story.folder / "videos", story.folder / "cast"):
            assert folder.stat().st_mode & 0o077 == 0, folder
    with pytest.raises(KlingError, match="already exists"):
        story.export(film)


def test_export_is_refused_while_a_shot_has_no_successful_take(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(0)], history=history)
    story.add_shot("a calm morning")
    story.add_shot("the sky burns [fail]", takes=2)
    after = story.add_shot("the morning after", continue_from_previous=True)
    with pytest.raises(KlingError, match="shot 1"):
        story.export(tmp_path / "early.mp4")  # nothing made yet
    story.generate().wait(timeout=60)
    assert after.state == "blocked" and after.problem and "shot 2" in after.problem
    with pytest.raises(KlingError) as caught:
        story.export(tmp_path / "film.mp4")
    assert "shot 2 (takes: failed, failed)" in str(caught.value) and "shot 3" in str(caught.value)
    assert not (tmp_path / "film.mp4").exists()
    with pytest.raises(KlingError, match="has not succeeded"):
        story.pick(1, 0)
    assert story_sim.creates == 3  # the blocked shot was never sent


def test_reopen_from_the_journal_sends_nothing_and_keeps_the_picks(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(2), character(3)], aspect_ratio="9:16", history=history)
    story.add_shot("a duel at noon", takes=2)
    story.add_shot("the dust settles", continue_from_previous=True)
    story.generate().wait(timeout=60)
    story.pick(0, 1)  # after the continuing shot was sent: it says what it was sent with
    assert story.shots[1].note == "it was sent with the last frame of shot 1 take 1, before take 2 was picked"
    sent = story_sim.creates

    client = KlingClient(story_sim.api_key, base_url=story_sim.url, poll_interval=0.05)  # a new kernel
    again = Storyboard.reopen(client, TaskHistory(history.path), story.id)
    again.wait(timeout=30)
    assert story_sim.creates == sent == 3
    assert again.id == story.id and (again.aspect_ratio, again.mode) == ("9:16", "std")
    assert [s.prompt for s in again.shots] == ["a duel at noon", "the dust settles"]
    assert [[t.id if t else None for t in s.takes] for s in again.shots] == [
        [t.id if t else None for t in s.takes] for s in story.shots
    ]
    picked, take = again.shots[0].picked, story.shots[0].takes[1]
    assert picked is not None and take is not None and picked.id == take.id
    assert again.shots[1].continued_from == (0, 0)
    assert [c if isinstance(c, str) else c.sha256 for c in again.cast] == [
        c if isinstance(c, str) else c.sha256 for c in story.cast
    ]
    assert again.export(tmp_path / "film.mp4").exists()
    with pytest.raises(KlingError, match="no storyboard"):
        Storyboard.reopen(client, history, "story-nope")


KILLED_STORY = textwrap.dedent(
    """
    import sys, time
    from kling_widgets import KlingClient, Storyboard, TaskHistory
    from kling_widgets.simulator.samples import sample_jpeg

    url, key, journal = sys.argv[1:4]
    client = KlingClient(key, base_url=url, poll_interval=0.1)
    story = Storyboard(client, [sample_jpeg(0), sample_jpeg(1)], history=TaskHistory(journal))
    story.add_shot("a knock at the door", takes=2)
    story.add_shot("the door opens", continue_from_previous=True)
    story.add_shot("a garden at night")
    story.generate(max_concurrent=1)
    print(story.id, flush=True)
    time.sleep(600)
    """
)


def test_a_storyboard_interrupted_halfway_is_reopened_and_sends_each_take_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "history.jsonl"
    with Simulator(processing_seconds=1.5) as sim:
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_STORY, sim.url, sim.api_key, str(journal)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            story_id = process.stdout.readline().strip()
            deadline = time.monotonic() + 30
            watching = TaskHistory(journal)
            while not any(e.task_id for e in watching.entries()) and time.monotonic() < deadline:
                time.sleep(0.02)  # until the first take's task is on record (not only sent)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        assert sim.creates == 1  # one take was running; the others were queued when the kernel died
        history = TaskHistory(journal)
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        story = Storyboard.reopen(client, history, story_id, max_concurrent=2)
        story.wait(timeout=60)
        assert sim.creates == 4 and len({c["external_task_id"] for c in sim.created}) == 4
        assert all(t is not None and t.status is TaskStatus.SUCCEEDED for s in story.shots for t in s.takes)
        continuing = next(c["body"] for c in sim.created if c["external_task_id"] == story.shots[1].external_ids[0])
        assert len(continuing["image_list"]) == 3 and story.shots[1].continued_from == (0, 0)
        assert story.export(tmp_path / "film.mp4").exists()


def test_takes_of_other_sizes_and_frame_rates_are_brought_to_the_film_s(tmp_path: Path) -> None:
    from kling_widgets.film import join
    from kling_widgets.simulator.video import render_mp4

    wide, square = Image.open(io.BytesIO(character(0))), Image.open(io.BytesIO(character(2)))
    clips = [tmp_path / "wide.mp4", tmp_path / "square.mp4"]
    clips[0].write_bytes(render_mp4([wide], aspect_ratio="16:9", seconds=5, fps=8))
    clips[1].write_bytes(render_mp4([square], aspect_ratio="1:1", seconds=5, fps=12))
    steps: list[str] = []
    film = join(clips, tmp_path / "film.mp4", on_progress=lambda _, what: steps.append(what))
    assert "encoding clip 2 of 2" in steps  # takes that differ are encoded again, once
    info = probe(film)
    assert (info.width, info.height, info.fps) == (640, 360, 8) and info.seconds == pytest.approx(10, abs=0.2)
    end = last_frame(film)  # the square take, letterboxed into the wide frame: black bars, not stretched
    assert end.getpixel((5, 180)) == pytest.approx((0, 0, 0), abs=12)
    assert difference(end.crop((140, 0, 500, 360)), last_frame(clips[1]).resize((360, 360))) < 6


def test_a_retake_unblocks_what_waited_and_is_journaled(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory, tmp_path: Path
) -> None:
    story = Storyboard(story_client, [character(0), character(1)], history=history)
    opening = story.add_shot("the lamp goes out")
    follow = story.add_shot("darkness, then a match", continue_from_previous=True)
    story_sim.fail_next_task("no luck this time")
    story.generate().wait(timeout=60)
    assert follow.state == "blocked" and story_sim.creates == 1
    with pytest.raises(KlingError, match="retake shot 1 first"):
        story.retake(1)
    story.retake(0)  # one more take of the first shot: it succeeds, and the second shot goes on with it
    story.wait(timeout=60)
    assert [t.status for t in opening.takes if t] == [TaskStatus.FAILED, TaskStatus.SUCCEEDED]
    assert opening.picked == opening.takes[1] and follow.continued_from == (0, 1) and follow.problem is None
    assert story_sim.creates == 3 and story.export(tmp_path / "film.mp4").exists()
    again = Storyboard.reopen(story_client, TaskHistory(history.path), story.id)
    again.wait(timeout=30)
    assert again.shots[0].take_count == 2 and [t.id for t in again.shots[0].takes if t] == [
        t.id for t in opening.takes if t
    ]
    assert story_sim.creates == 3


def test_story_lines_leave_the_journal_readable_as_before(tmp_path: Path) -> None:
    import json

    path = tmp_path / "history.jsonl"
    old = {"time": 1.0, "event": "submit", "external_task_id": "kw-old", "prompt": "a fox", "status": "sending"}
    story = {"time": 2.0, "event": "story", "story": "story-1", "kind": "pick", "shot": 0, "take": 1}
    path.write_text(json.dumps(old) + "\n" + json.dumps(story) + "\n" + '{"event": "story", "sto')  # torn last line
    history = TaskHistory(path)
    assert [(e.external_task_id, e.tags, e.story_label) for e in history.entries()] == [("kw-old", {}, None)]
    assert history.stories() == ["story-1"] and history.story_records("story-1")[0]["take"] == 1
    history.record_story("story-2", "created", cast=[])
    assert history.stories() == ["story-2", "story-1"] and len(history.entries()) == 1


def test_picks_by_index_or_by_the_objects_and_the_storyboard_reads_as_its_shots(
    story_sim: Simulator, story_client: KlingClient, history: TaskHistory
) -> None:
    story = Storyboard(story_client, [character(3)], history=history)
    assert len(story) == 0 and bool(story)
    shot = story.add_shot("a lighthouse in the fog", takes=2)
    story.wait(timeout=60)
    second = shot.takes[1]
    assert second is not None and story.pick(shot, second) is shot and shot.pick_index == 1
    assert list(story) == [shot] and story[0] is shot and len(story) == 1
    with pytest.raises(ValidationError) as caught:
        story.pick(0, 2)
    assert caught.value.problems[0].field == "take_index"
    with pytest.raises(ValidationError):
        story.pick(3, 0)
    assert [r["take"] for r in history.story_records(story.id) if r["kind"] == "pick"] == [1]
