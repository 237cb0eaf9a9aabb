"""Videos where the browser is not on the kernel's machine: what stays a link, what the kernel carries
through the widget channel, the simulator's kept videos after a restart, and the words when a video is gone."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kling_widgets import KlingClient, Task, TaskStatus
from kling_widgets.download import looks_like_video
from kling_widgets.playback import (
    browser_can_load,
    poster_jpeg,
    simulator_video_file,
    video_bytes,
    video_source,
)
from kling_widgets.simulator import Simulator
from kling_widgets.widgets.status import TaskView
from kling_widgets.widgets.video import VideoPlayer

from .conftest import all_state, fox, sent_to_browser, wait_for


@pytest.mark.parametrize(
    ("url", "loads"),
    [
        ("https://cdn.klingai.com/bs2/upload/v.mp4", True),
        ("https://203.0.113.7/v.mp4", False),  # documentation range: not global
        ("https://8.8.8.8/v.mp4", True),
        ("http://cdn.example.com/v.mp4", False),  # plain http: mixed content on an https Jupyter
        ("http://127.0.0.1:4321/sim/videos/1.mp4", False),
        ("https://localhost:4321/v.mp4", False),
        ("https://[::1]:4321/v.mp4", False),
        ("https://10.0.0.5/v.mp4", False),
        ("https://gateway/v.mp4", False),  # a bare name resolves on the kernel's network only
        ("https://box.local/v.mp4", False),
    ],
)
def test_only_public_https_links_are_left_to_the_browser(url: str, loads: bool) -> None:
    assert browser_can_load(url) is loads


def made_video(client: KlingClient, photo: bytes) -> Task:
    return client.generate(fox(photo), poll_interval=0.05)


def test_the_simulators_video_travels_through_the_kernel_and_stays_out_of_state(
    client: KlingClient, sim: Simulator, photo: bytes
) -> None:
    task = made_video(client, photo)
    assert task.video_url and video_source(task.video_url, client).through_kernel
    view = TaskView(task, client=client)
    player = view.player
    assert player is not None and player.via_kernel and player.src == ""
    [(content, buffers)] = sent_to_browser(player)
    assert content == {"kind": "video", "mime": "video/mp4"} and looks_like_video(buffers[0][:64])
    state = all_state(view)  # the bytes are not state: a saved notebook does not grow with them
    assert "video/mp4;base64" not in state and base64.b64encode(buffers[0]).decode()[:400] not in state
    assert player.filename == f"kling-{task.id}.mp4"


def test_a_restarted_simulator_still_plays_yesterdays_videos(photo: bytes, tmp_path: Path) -> None:
    with Simulator(processing_seconds=0.2) as first:
        client = KlingClient(first.api_key, base_url=first.url)
        task = made_video(client, photo)
        assert task.video_url
        shown = video_bytes(task.video_url, client)  # what the card played (and the simulator kept)
    kept = simulator_video_file(task.video_url)
    assert kept is not None and kept.read_bytes() == shown
    assert kept.parent == Path(os.environ["KLING_WIDGETS_HOME"], "simulator", "videos")  # as the journal
    with Simulator(processing_seconds=0.2) as second:  # today: a new simulator on another port
        player = VideoPlayer.for_url(task.video_url, KlingClient(second.api_key, base_url=second.url))
        [(_, buffers)] = sent_to_browser(player)
        assert buffers[0] == shown and player.error == ""


def test_a_video_that_is_gone_says_so_in_words() -> None:
    dead = "http://127.0.0.1:9/sim/videos/404404.mp4"  # a stopped simulator that kept nothing
    player = VideoPlayer.for_url(dead)
    assert sent_to_browser(player) == []
    assert player.error.startswith("no longer available") and "404404.mp4" in player.error
    view = TaskView(Task("404404", TaskStatus.SUCCEEDED, video_url=dead))
    assert view.player is not None
    view.player.load()
    assert "no longer available" in view.player.get_state()["error"]


def test_a_link_that_fails_in_the_browser_is_reported_in_words() -> None:
    player = VideoPlayer("https://cdn.example.com/expired.mp4")
    player._on_message(player, {"kind": "error", "code": 4}, [])
    assert player.error == "no longer available: the video does not load any more (https://cdn.example.com/expired.mp4)"


def test_a_poster_is_a_small_still_of_the_video(client: KlingClient, photo: bytes) -> None:
    import io

    from PIL import Image

    task = made_video(client, photo)
    assert task.video_url
    jpeg = poster_jpeg(video_bytes(task.video_url, client), width=240)
    assert jpeg is not None and 1_000 < len(jpeg) < 30_000
    with Image.open(io.BytesIO(jpeg)) as still:
        assert still.size == (240, 135)
        assert max(still.convert("L").getextrema()) > 40  # a picture, not a black frame
    assert poster_jpeg(b"not a video") is None


def test_history_cards_show_a_poster_frame_and_say_when_a_video_is_gone(photo: bytes, tmp_path: Path) -> None:
    from kling_widgets import HistoryGallery, TaskHistory

    history = TaskHistory()
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, history=history)
        kept = made_video(client, photo)
        gone = made_video(client, photo)
        assert kept.video_url and gone.video_url
        video_bytes(kept.video_url)  # shown once (so kept by the simulator); the other never was
    path = simulator_video_file(gone.video_url)
    assert path is not None and not path.exists()
    gallery = HistoryGallery(history)  # the simulator has stopped: tomorrow's history
    players = {
        player.filename: player
        for card in gallery._cards.children
        for player in card.children
        if isinstance(player, VideoPlayer)
    }
    shown, lost = players[f"kling-{kept.id}.mp4"], players[f"kling-{gone.id}.mp4"]
    wait_for(lambda: shown.poster.startswith("data:image/jpeg;base64,") and bool(lost.error))
    assert shown.via_kernel and not shown.autoload and shown.error == ""
    assert lost.error.startswith("no longer available") and lost.poster == ""
    assert (history.path.parent / "history.posters" / f"{kept.id}.jpg").is_file()  # made once, kept
    again = HistoryGallery(history)
    posters = [c.poster for card in again._cards.children for c in card.children if isinstance(c, VideoPlayer)]
    assert shown.poster in posters  # from the kept still, without reading the video again


def test_a_new_card_and_a_reused_form_are_brought_into_view(client: KlingClient, photo: bytes) -> None:
    from kling_widgets import MultiImageToVideo, TaskHistory

    history = TaskHistory()
    client.history = history
    app = MultiImageToVideo(client, history=history, poll_interval=0.05)
    told: list[dict[str, Any]] = []
    app._reveal.widget.send = lambda content, buffers=None: told.append(content)  # what the page is told
    app.image_picker.add(photo)
    app.prompt_box.value = "a fox runs through snow"
    future = app.submit()
    assert future is not None and future.result(timeout=10) is not None
    wait_for(lambda: bool(told))
    view = app.gallery.views[0]
    assert told[0]["kind"] == "reveal" and told[0]["css"] in view._dom_classes and told[0]["block"] == "nearest"
    wait_for(lambda: bool(history.entries()) and history.entries()[0].status == "succeeded")
    app.history_gallery.refresh()  # type: ignore[union-attr]
    app.reuse(history.entries()[0])
    assert told[-1]["css"] in app._form._dom_classes and told[-1]["block"] == "start"
    app.close()


def test_save_on_the_server_still_works_after_the_simulator_stopped(photo: bytes, tmp_path: Path) -> None:
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url)
        task = made_video(client, photo)
        assert task.video_url
        shown = video_bytes(task.video_url, client)  # the card played it: the simulator kept it
    view = TaskView(task, client=client)  # tomorrow: the simulator is gone, the card is not
    (tmp_path / "out").mkdir()
    thread = view.save(tmp_path / "out")
    assert thread is not None
    thread.join(10)
    assert (tmp_path / "out" / f"kling-{task.id}.mp4").read_bytes() == shown
    assert "Saved to" in view._saved.value


def test_batch_cards_play_the_simulators_videos_through_the_kernel(client: KlingClient, photo: bytes) -> None:
    from kling_widgets import Batch, BatchView

    batch = Batch(client, [fox(photo, prompt="a fox"), fox(photo, prompt="a hare", aspect_ratio="9:16")])
    view = BatchView(batch.start())
    batch.wait(30)
    wait_for(lambda: len(view.views) == 2 and all(v.player is not None for v in view.views))
    players = [v.player for v in view.views]
    assert all(p is not None and p.via_kernel and p.src == "" for p in players)
    assert [p.ratio for p in players if p is not None] == ["16:9", "9:16"]
    [(_, buffers)] = sent_to_browser(players[1])  # type: ignore[arg-type]
    assert looks_like_video(buffers[0][:64])


def test_a_task_shown_as_html_never_leaves_a_black_player_for_the_simulators_video(photo: bytes) -> None:
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url)
        task = made_video(client, photo)
        assert task.video_url
        unkept = task._repr_html_()  # nobody fetched it yet: nothing kept on this machine
        video_bytes(task.video_url, client)
        kept = task._repr_html_()
        address = sim.url
    assert "<video" not in unkept and "TaskView(task, client=client)" in unkept
    assert '<video src="data:video/mp4;base64,' in kept and address not in kept.split("</video>")[0]
