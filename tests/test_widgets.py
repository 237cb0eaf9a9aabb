"""Every widget built and driven without a browser: set traits, click(), assert on traits and state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
import traitlets

from kling_widgets import (
    ImagePicker,
    KlingClient,
    MultiImageToVideo,
    OptionsPanel,
    PromptBox,
    Task,
    TaskHistory,
    TaskStatus,
    TaskView,
)
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_image, sample_jpeg
from kling_widgets.widgets.video import VideoPlayer

from .conftest import all_state, encode, fill, wait_for


# -- ImagePicker ------------------------------------------------------------------------------------
def test_picker_adds_removes_reorders_and_limits_to_four(photo: bytes) -> None:
    picker = ImagePicker()
    seen: list[int] = []
    picker.observe(lambda change: seen.append(len(change["new"])), names="images")
    for index in range(4):
        assert picker.add(sample_jpeg(index, (640, 480))) is not None
    assert picker.add(photo) is None and "at most 4 images" in picker.message
    assert len(picker.images) == 4 and seen == [1, 2, 3, 4]
    first, second = picker.images[0], picker.images[1]
    picker.move(0, 1)
    assert picker.images[:2] == [second, first]
    picker.remove(0)
    assert picker.images[0] is first and len(picker.images) == 3
    assert len(picker._cards.children) == 3


def test_picker_refusal_is_shown_and_nothing_added() -> None:
    picker = ImagePicker()
    assert picker.add(encode(sample_image(0, (200, 200)))) is None
    assert "too small: 200×200, each side must be at least 300 px" in picker.message
    assert "too small" in picker._status.value and picker.images == []


def test_picker_url_and_path_via_the_text_field(tmp_path: Path) -> None:
    picker = ImagePicker()
    picker.source.value = "https://example.com/cat.jpg"
    picker.add_button.click()
    path = tmp_path / "dog.jpg"
    path.write_bytes(sample_jpeg(1))
    picker.source.value = str(path)
    picker.add_button.click()
    assert picker.images[0] == "https://example.com/cat.jpg" and picker.images[1].source == "dog.jpg"
    assert picker.source.value == ""


def test_upload_is_prepared_off_thread_side_by_side_and_dropped_from_state(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from kling_widgets import images

    threads: set[str] = set()
    prepare = images.prepare_image
    both_in = threading.Barrier(2, timeout=20)  # the first two pictures meet here: prepared at the same time

    def recorded(source: Any, **kwargs: Any) -> Any:
        with lock:
            first = len(threads) < 2 and threading.current_thread().name not in threads
            threads.add(threading.current_thread().name)
        if first:
            both_in.wait()
        return prepare(source, **kwargs)

    lock = threading.Lock()

    monkeypatch.setattr(images, "prepare_image", recorded)
    monkeypatch.setattr(images.os, "cpu_count", lambda: 2)  # two cores, whatever runs the tests
    picker = ImagePicker()
    big = encode(sample_image(0, (4000, 3000)), quality=95)
    files = [
        {
            "name": f"photo{i}.jpg",
            "type": "image/jpeg",
            "size": len(big),
            "content": memoryview(big),
            "last_modified": datetime.now(timezone.utc),
        }
        for i in range(5)
    ]
    picker.upload.value = tuple(files)
    assert picker.upload.value == ()  # the full bytes left widget state at once
    wait_for(lambda: not picker.busy and len(picker.images) == 4)
    assert "photo4.jpg not added: at most 4 images" in picker.message
    assert [item.source for item in picker.images] == [f"photo{i}.jpg" for i in range(4)]  # in their order
    assert len(threads) == 2 and all(name.startswith("kling-prepare") for name in threads)  # side by side
    state = all_state(picker)
    assert len(state) < 200_000  # thumbnails only, never the photos themselves


# -- PromptBox --------------------------------------------------------------------------------------
def test_prompt_counter_turns_into_an_error_past_the_limit() -> None:
    box = PromptBox()
    box.prompt_area.value = "a" * 12
    assert box.value == "a" * 12 and "12 / 2,500" in box._prompt_count.value
    box.value = "b" * 2510
    assert box.prompt_area.value == "b" * 2510
    assert "kw-error" in box._prompt_count.value and "10 characters over the limit" in box._prompt_count.value
    assert [p.field for p in box.problems] == ["prompt"]
    box.negative_area.value = "n" * 2501
    assert "1 character over" in box._negative_count.value


# -- OptionsPanel -----------------------------------------------------------------------------------
def test_options_offer_exactly_the_service_values_and_are_observable() -> None:
    panel = OptionsPanel()
    assert [v for _, v in panel.mode_buttons.options] == ["std", "pro"]
    assert [v for _, v in panel.duration_buttons.options] == [5, 10]
    assert [v for _, v in panel.aspect_buttons.options] == ["16:9", "9:16", "1:1"]
    assert list(panel.model_dropdown.options) == ["kling-v1-6"]
    changes: list[Any] = []
    panel.observe(lambda c: changes.append((c["name"], c["new"])), names=["duration", "mode"])
    panel.duration_buttons.value = 10
    panel.mode = "pro"
    assert changes == [("duration", 10), ("mode", "pro")] and panel.mode_buttons.value == "pro"
    assert "higher quality" in panel._mode_help.value
    with pytest.raises(traitlets.TraitError):
        panel.duration = 7
    with pytest.raises(traitlets.TraitError):
        panel.aspect_ratio = "4:3"
    other = widgets.IntText()
    traitlets.link((panel, "duration"), (other, "value"))
    panel.duration = 5
    assert other.value == 5


def test_options_constructor_values() -> None:
    panel = OptionsPanel(mode="pro", duration=10, aspect_ratio="9:16", watermark=True)
    assert (panel.mode_buttons.value, panel.duration_buttons.value, panel.aspect_buttons.value) == (
        "pro",
        10,
        "9:16",
    )
    assert panel.watermark_box.value is True


# -- TaskView ---------------------------------------------------------------------------------------
def test_task_view_shows_progress_failure_and_video() -> None:
    task = Task("t1", TaskStatus.PROCESSING, raw_status="IN_PROGRESS", progress=40)
    view = TaskView(task, label="a fox")
    assert view.progress.value == 40 and "Generating · 40%" in view._header.value
    view.update(Task("t1", TaskStatus.FAILED, raw_status="failed", error="Image failed the safety check"))
    assert "Image failed the safety check" in view._message.value and view.progress.bar_style == "danger"
    view.update(Task("t1", TaskStatus.SUCCEEDED, video_url="http://127.0.0.1:1/v.mp4", video_duration=5))
    video = view._media.children[0]  # on the kernel's loopback: a remote browser could not load the link
    assert isinstance(video, VideoPlayer) and video.via_kernel and video.get_state()["src"] == ""
    assert view._actions.layout.display is None
    view = TaskView(Task("t3", TaskStatus.SUCCEEDED, video_url="https://cdn.example/v.mp4"))
    video = view._media.children[0]  # the real service's public HTTPS link stays a link
    assert isinstance(video, VideoPlayer) and video.src == "https://cdn.example/v.mp4" and not video.via_kernel


def test_task_view_never_renders_a_non_http_video_link() -> None:
    view = TaskView(Task("t2", TaskStatus.SUCCEEDED, video_url="javascript:alert(1)"))
    assert view._media.children == () and "javascript" not in view._saved.value


def test_task_view_saves_the_video_off_thread(client: KlingClient, photo: bytes, tmp_path: Path) -> None:
    from kling_widgets import VideoRequest

    done = client.generate(VideoRequest([photo], "a fox"), poll_interval=0.05)
    view = TaskView(done, client=client)
    thread = view.save(tmp_path)
    assert thread is not None
    thread.join(10)
    assert (tmp_path / f"kling-{done.id}.mp4").stat().st_size > 1000
    assert "Saved to" in view._saved.value and not view.download_button.disabled


# -- the bundle ---------------------------------------------------------------------------------------
@pytest.fixture
def app(client: KlingClient) -> Iterator[MultiImageToVideo]:
    bundle = MultiImageToVideo(client, poll_interval=0.05)
    yield bundle
    bundle.close()


def test_submit_is_disabled_with_the_reason_while_invalid(app: MultiImageToVideo, photo: bytes) -> None:
    assert app.submit_button.disabled and "add 1 to 4 reference images" in app.reason
    assert app.request is None and {p.field for p in app.problems} == {"images", "prompt"}
    assert app.submit() is None
    fill(app, photo)
    assert not app.submit_button.disabled and app.problems == [] and app.request is not None
    assert "nothing is billed" in app.reason


def test_double_click_is_one_task_and_the_kernel_is_not_blocked(
    app: MultiImageToVideo, sim: Simulator, photo: bytes
) -> None:
    fill(app, photo)
    sim.inject(method="POST", status=None, delay=0.5)  # a slow service: the create answers late
    app.submit_button.click()
    app.submit_button.click()
    # Both clicks have returned while the create is still on its way: the kernel was not blocked.
    assert app.submit_button.disabled and app.submitting and sim.creates == 0
    wait_for(lambda: not app.submitting)
    assert sim.creates == 1 and len(app.tasks) == 1
    wait_for(lambda: app.tasks[0].status is TaskStatus.SUCCEEDED)
    assert not app.submit_button.disabled
    view = app.gallery.views[0]
    # The view's task is set an instant before it draws the video (the watcher's thread does both).
    wait_for(lambda: len(view._media.children) == 1)
    assert isinstance(view._media.children[0], VideoPlayer) and view._media.children[0].via_kernel


def test_a_double_click_handled_late_by_a_busy_kernel_is_still_one_task(
    app: MultiImageToVideo, sim: Simulator, photo: bytes
) -> None:
    """The two clicks of a double click can reach a busy kernel after the first create already came back
    (the button was never seen disabled): still one task. A click a moment later is a new intention."""
    from kling_widgets.widgets.app import DOUBLE_CLICK_SECONDS

    fill(app, photo)
    app.submit_button.click()
    wait_for(lambda: not app.submitting and sim.creates == 1)
    app.submit_button.click()  # the second click of the same double click, handled late
    time.sleep(0.3)
    assert sim.creates == 1 and len(app.tasks) == 1
    time.sleep(DOUBLE_CLICK_SECONDS)
    app.submit_button.click()  # pressed again on purpose
    wait_for(lambda: sim.creates == 2 and len(app.tasks) == 2)


def test_slow_create_keeps_submit_disabled(app: MultiImageToVideo, sim: Simulator, photo: bytes) -> None:
    fill(app, photo)
    from kling_widgets.simulator import Fault

    sim.inject(Fault(method="POST", delay=0.6, apply=True, status=503, code=5001, times=1))
    future = app.submit()
    assert future is not None and app.submit() is None
    time.sleep(0.2)
    assert app.submit_button.disabled and app.submit_button.description == "Submitting…"
    assert future.result(timeout=10) is None
    assert "outcome is unknown" in app.status and sim.creates == 1


def test_service_refusal_is_shown_and_the_form_keeps_its_values(
    app: MultiImageToVideo, sim: Simulator, photo: bytes
) -> None:
    fill(app, photo)
    app.options.mode, app.options.duration = "pro", 10
    sim.inject(method="POST", status=400, code=1301, message="The prompt violates the content policy")
    future = app.submit()
    assert future is not None and future.result(timeout=10) is None
    assert "content safety policy" in app.status and "1301" in app.status
    assert app.prompt_box.value == "a fox runs through snow" and len(app.image_picker.images) == 1
    assert (app.options.mode, app.options.duration) == ("pro", 10) and not app.submit_button.disabled


def test_on_submit_callbacks_and_tasks_newest_first(app: MultiImageToVideo, sim: Simulator, photo: bytes) -> None:
    fill(app, photo)
    heard: list[Task] = []
    app.on_submit(heard.append)
    first = app.submit().result(timeout=10)  # type: ignore[union-attr]
    second = app.submit().result(timeout=10)  # type: ignore[union-attr]
    app.on_submit(heard.append, remove=True)
    assert heard == [first, second] and [t.id for t in app.tasks] == [second.id, first.id]  # type: ignore[union-attr]
    assert sim.creates == 2
    assert len({c["external_task_id"] for c in sim.created}) == 2  # a fresh id per intention


def test_bundle_without_credentials_says_how_to_get_going() -> None:
    app = MultiImageToVideo()
    assert app.client is None and app.submit_button.disabled
    assert "KLING_API_KEY" in all_state(app) and "Simulator" in all_state(app)
    assert app.submit() is None


def test_no_secret_in_any_widget_state(photo: bytes, tmp_path: Path) -> None:
    secret = "sk-test-NEVER-IN-STATE-42424242"
    with Simulator(api_key=secret, processing_seconds=0.2) as sim:
        app = MultiImageToVideo(
            KlingClient(secret, base_url=sim.url), history=TaskHistory(tmp_path / "h.jsonl"), poll_interval=0.05
        )
        fill(app, photo)
        app.submit().result(timeout=10)  # type: ignore[union-attr]
        wait_for(lambda: app.tasks[0].done)
        assert secret not in all_state(app) and secret not in repr(app)
        assert secret not in (tmp_path / "h.jsonl").read_text()


def test_bundle_parts_are_the_documented_types(app: MultiImageToVideo) -> None:
    assert isinstance(app.image_picker, ImagePicker) and isinstance(app.prompt_box, PromptBox)
    assert isinstance(app.options, OptionsPanel) and isinstance(app.submit_button, widgets.Button)
    app.options.negative_prompt = "blur"
    assert app.prompt_box.negative_area.value == "blur"


def test_concurrency_limit_queues_the_click_and_sends_it_when_a_task_ends(photo: bytes) -> None:
    with Simulator(processing_seconds=0.6, max_concurrent=1) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, max_retries=0)
        app = MultiImageToVideo(client, poll_interval=0.05)
        fill(app, photo)
        first = app.submit().result(timeout=10)  # type: ignore[union-attr]
        assert first is not None
        assert app.submit().result(timeout=10) is None  # type: ignore[union-attr]
        assert "1303" in app.status and "queued" in app.status and sim.creates == 1
        refused = [r for r in sim.requests if r.method == "POST"][1].json["external_task_id"]
        wait_for(lambda: len(app.tasks) == 2)
        assert sim.creates == 2 and sim.created[1]["external_task_id"] == refused  # the same intention
        app.close()


def test_pictures_dropped_or_pasted_in_the_browser_are_added(photo: bytes) -> None:
    picker = ImagePicker()
    half = len(photo) // 2  # a big picture comes in pieces, under the server's message limit
    for index, piece in enumerate((photo[:half], photo[half:])):
        message = {"kind": "piece", "id": "p1", "index": index, "count": 2, "name": "dropped.jpg"}
        picker.drop._handle_custom_msg(message, [memoryview(piece)])
    wait_for(lambda: len(picker.images) == 1 and not picker.busy)
    assert picker.images[0].source == "dropped.jpg"
    assert "dropped" not in all_state(picker.drop)  # nothing of the picture stays in widget state


def test_the_bundle_follows_an_old_task_once_a_minute_and_never_gives_up(
    app: MultiImageToVideo, sim: Simulator, photo: bytes
) -> None:
    """A task running for hours (busy hours at Kling) is still followed, about once a minute."""
    from kling_widgets.watcher import _ENGINE

    sim.processing_seconds = 600
    fill(app, photo)
    task = app.submit().result(timeout=10)  # type: ignore[union-attr]
    assert task is not None and app.watcher is not None
    gets = lambda: sum(1 for r in sim.requests if r.method == "GET")  # noqa: E731
    with _ENGINE.cond:  # the task has been running for three hours
        watched = next(w for w in _ENGINE.watched.values() if w.key == task.id)
        watched.started -= 3 * 3600
        watched.next_poll = time.monotonic()
        before = gets()
        _ENGINE.cond.notify()
    wait_for(lambda: gets() > before)
    wait_for(lambda: watched.next_poll - time.monotonic() > 50)  # the next look in about a minute
    assert watched.next_poll - time.monotonic() <= 60
    assert app.watcher.live == [task.id] and "Stopped" not in app.gallery.get(task.id).problem  # type: ignore[union-attr]


def test_a_card_whose_watch_stopped_offers_watch_again(app: MultiImageToVideo, sim: Simulator, photo: bytes) -> None:
    sim.processing_seconds = 1.0
    wait_for(lambda: app.account_kind == "ok")  # the key checked when the bundle opened, before the refusals
    sim.inject(method="GET", status=401, code=1000, message="key refused", times=None)
    fill(app, photo)
    task = app.submit().result(timeout=10)  # type: ignore[union-attr]
    assert task is not None
    view = app.gallery.get(task.id)
    assert view is not None
    wait_for(lambda: view.stopped)  # the service refused the lookups: the watch ended, the task did not
    assert "Stopped watching" in view.problem and view.watch_button.layout.display is None
    sim.clear_faults()
    view.watch_button.click()
    assert not view.stopped and view.watch_button.layout.display == "none"
    wait_for(lambda: view.task.status is TaskStatus.SUCCEEDED, timeout=20)
    assert view.task.video_url and not view.stopped and view.problem == ""
