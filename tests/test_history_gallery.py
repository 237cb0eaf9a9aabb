"""The history gallery: every past generation, newest first, filtered and paged; "reuse these
settings" that sends what the original sent (a new intention), and says which pictures are gone."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from kling_widgets import HistoryGallery, KlingClient, MultiImageToVideo, Task, TaskHistory, TaskStatus, VideoRequest
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_image
from kling_widgets.widgets.video import VideoPlayer

from .conftest import all_state, encode, wait_for


def photo_file(folder: Path, name: str, seed: int = 0) -> Path:
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)
    path = folder / name
    path.write_bytes(encode(sample_image(seed, (1600, 1200)), "JPEG", quality=90, exif=exif))
    return path


def generate(app: MultiImageToVideo) -> Task:
    future = app.submit()
    assert future is not None
    task = future.result(timeout=20)
    assert task is not None
    wait_for(lambda: any(t.id == task.id and t.done for t in app.tasks), timeout=20)
    return task


def test_reuse_sends_what_the_original_sent_and_names_what_is_gone(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "journal" / "history.jsonl")
    fox, keeper = photo_file(tmp_path, "fox.jpg", 1), photo_file(tmp_path, "keeper.jpg", 2)
    with Simulator(processing_seconds=0.3) as sim:
        first = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), history=history, poll_interval=0.05)
        first.image_picker.add(str(fox))
        first.image_picker.add(str(keeper))
        first.prompt_box.value = "The fox and the keeper wave"
        first.prompt_box.negative_prompt = "blur"
        first.options.mode, first.options.duration, first.options.aspect_ratio = "pro", 10, "9:16"
        first.options.watermark = True
        original = generate(first)
        first.image_picker.clear()
        first.image_picker.add(encode(sample_image(3, (900, 900))))  # an upload: bytes, no path
        first.prompt_box.value = "Another one"
        generate(first)
        first.close()

        again = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), history=history, poll_interval=0.05)
        gallery = again.history_gallery
        assert gallery is not None and [e.prompt for e in gallery.entries] == [
            "Another one",
            "The fox and the keeper wave",
        ]
        old = gallery.entries[1]
        assert again.reuse(old) == []
        assert again.prompt_box.value == "The fox and the keeper wave" and again.prompt_box.negative_prompt == "blur"
        assert (again.options.mode, again.options.duration, again.options.aspect_ratio) == ("pro", 10, "9:16")
        assert again.options.watermark and again.options.external_task_id == "" and sim.creates == 2  # nothing sent
        reused = generate(again)
        bodies = {c["task_id"]: c["body"] for c in sim.created}
        before, after = bodies[original.id], bodies[reused.id]
        assert after["image_list"] == before["image_list"]  # the same pictures, byte for byte
        assert {k: v for k, v in after.items() if k != "external_task_id"} == {
            k: v for k, v in before.items() if k != "external_task_id"
        }
        assert after["external_task_id"] != before["external_task_id"]  # a new intention

        keeper.unlink()  # now a picture is gone
        missing = again.reuse(old.external_task_id)
        assert len(missing) == 1 and "keeper.jpg" in missing[0]
        assert "keeper.jpg" in again.image_picker.message and len(again.image_picker.images) == 1
        assert "could not be brought back" in again.status
        uploaded = again.reuse(gallery.entries[0])
        assert len(uploaded) == 1 and "uploaded" in uploaded[0] and again.submit_button.disabled
        again.close()


def fill_journal(history: TaskHistory, count: int, picture: bytes, base_url: str = "http://x") -> None:
    request = VideoRequest([picture], "p")
    request.prepared_images()
    for index in range(count):
        copy = VideoRequest(list(request.prepared_images()), f"scene {index}", mode="pro" if index % 2 else "std")
        ext = f"ext-{index}"
        history.record_submission(ext, copy.with_external_task_id(ext), provider="gateway", base_url=base_url)
        status = TaskStatus.FAILED if index % 5 == 0 else TaskStatus.SUCCEEDED
        ok = status is TaskStatus.SUCCEEDED
        task = Task(
            f"t{index}", status, video_url=f"https://cdn.example/{index}.mp4" if ok else None,
            error=None if ok else "the scene could not be composed", units=3.5,
        )  # fmt: skip
        history.record_task(task, ext)


def test_filters_and_pages(tmp_path: Path, photo: bytes) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    fill_journal(history, 30, photo)
    gallery = HistoryGallery(history)
    assert len(gallery.entries) == 30 and gallery.pages == 3 and len(gallery.shown) == 12
    assert [e.prompt for e in gallery.shown[:2]] == ["scene 29", "scene 28"]  # newest first
    gallery.page = 2
    assert len(gallery.shown) == 6 and len(gallery._cards.children) == 6
    gallery.status = "failed"
    assert gallery.page == 0 and {e.prompt for e in gallery.entries} == {f"scene {i}" for i in range(0, 30, 5)}
    gallery.status, gallery.query = "", "scene 1"
    assert {e.prompt for e in gallery.entries} == {"scene 1", *(f"scene {i}" for i in range(10, 20))}
    gallery.query = "nothing like this"
    assert gallery.entries == [] and "Nothing matches" in all_state(gallery)


def test_cards_load_videos_only_when_played_and_keep_small_private_thumbnails(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "journal" / "history.jsonl")
    picture = photo_file(tmp_path, "fox.jpg")
    fill_journal(history, 3, picture.read_bytes())
    gallery = HistoryGallery(history)
    players = [c for card in gallery._cards.children for c in card.children if isinstance(c, VideoPlayer)]
    assert len(players) == 2 and all(not p.autoload and p.data is None for p in players)  # bytes on ▶ only
    state = all_state(gallery)
    assert "the scene could not be composed" in state and "3.5 units" in state
    thumbs = list(history.thumbnails.iterdir())
    assert len(thumbs) == 1 and oct(thumbs[0].stat().st_mode & 0o777) == "0o600"
    with Image.open(thumbs[0]) as thumb:
        assert max(thumb.size) <= 256 and not thumb.getexif()
    journal = history.path.read_text()
    assert len(journal) < 20_000 and base64.b64encode(picture.read_bytes()[:300]).decode()[:60] not in journal


def test_download_writes_the_video_and_a_sidecar(tmp_path: Path, photo: bytes) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, history=history, poll_interval=0.05)
        task = client.generate(VideoRequest([photo], "a fox", mode="pro"))
        gallery = HistoryGallery(history, client=client)
        video, sidecar = gallery.download(gallery.entries[0], tmp_path / "out")
    assert video is not None and video.read_bytes()[4:8] == b"ftyp"
    meta = json.loads(sidecar.read_text())
    assert meta["prompt"] == "a fox" and meta["settings"]["mode"] == "pro" and meta["task_id"] == task.id
    assert meta["external_task_id"] == task.external_task_id
    assert sidecar.stem == video.stem
    assert "download=" in all_state(gallery) and "settings (JSON)" in all_state(gallery)


def test_thumbnails_on_cards_are_small(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    fill_journal(history, 1, photo_file(tmp_path, "fox.jpg").read_bytes())
    gallery = HistoryGallery(history)
    data = gallery._thumb(gallery.entries[0].images[0]["sha256"])
    assert data is not None and len(data) < 8_000
    assert max(Image.open(io.BytesIO(data)).size) <= 144


def test_the_newest_entries_are_read_from_the_journal_end_as_the_whole_fold_gives_them(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from kling_widgets import history as journal_module

    history = TaskHistory(tmp_path / "history.jsonl")
    lines = []
    for index in range(40):
        lines.append({"time": index, "event": "submit", "external_task_id": f"e{index}", "prompt": f"p{index} " * index,
                      "status": "sending"})  # fmt: skip
        if index % 3 == 0:  # some finish at once, some later, after newer submissions
            lines.append({"time": index + 0.5, "event": "task", "external_task_id": f"e{index}", "task_id": f"t{index}",
                          "status": "succeeded"})  # fmt: skip
    lines.append({"time": 50, "event": "task", "external_task_id": "e37", "task_id": "t37", "status": "failed"})
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"time": 51, "event": "task", "exter'  # torn
    history.path.write_text(text)
    whole = [(e.external_task_id, e.status, e.prompt) for e in history.entries()]
    for block in (64, 500, 1 << 16):  # boundaries inside lines, lines longer than a block, all at once
        monkeypatch.setattr(journal_module, "RECENT_BLOCK", block)
        newest, complete = TaskHistory(history.path).recent(5)
        assert [(e.external_task_id, e.status, e.prompt) for e in newest][:5] == whole[:5]
        assert complete is (block == 1 << 16) and len(newest) == (40 if complete else 5)  # all, once all was read
        everything, complete = TaskHistory(history.path).recent(1000)
        assert complete and [(e.external_task_id, e.status, e.prompt) for e in everything] == whole


def test_the_first_page_is_drawn_before_the_whole_journal_is_read(
    tmp_path: Path, photo: bytes, monkeypatch: Any
) -> None:
    import threading

    from kling_widgets import history as journal_module

    history = TaskHistory(tmp_path / "history.jsonl")
    fill_journal(history, 30, photo)
    monkeypatch.setattr(journal_module, "RECENT_BLOCK", 2000)  # a long journal: its end is a small part of it
    fresh = TaskHistory(history.path)
    whole_read = threading.Event()
    fold = fresh.entries

    def slow_fold(*service: Any) -> list[Any]:  # the whole journal takes its time (a year of use)
        assert whole_read.wait(20)
        return fold(*service)

    monkeypatch.setattr(fresh, "entries", slow_fold)
    gallery = HistoryGallery(fresh)  # returns with the first page drawn, the fold still waiting
    cards = all_state(gallery)
    assert "scene 29" in cards and "scene 18" in cards and "scene 17" not in cards
    assert "reading the rest" in gallery._where.value and not gallery.next_button.disabled
    whole_read.set()
    assert len(gallery.entries) == 30 and gallery.pages == 3  # the rest, once read
    wait_for(lambda: "30 generations · page 1 of 3" in gallery._where.value)
    gallery.page = 2
    assert [e.prompt for e in gallery.shown] == [f"scene {i}" for i in range(5, -1, -1)]
    gallery.close()


def test_a_bundle_shows_its_newest_past_tasks_however_short_the_journal(tmp_path: Path, photo: bytes) -> None:
    from kling_widgets.widgets.app import RESUME_LIMIT

    history = TaskHistory(tmp_path / "history.jsonl")
    with Simulator() as sim:
        fill_journal(history, 40, photo, base_url=sim.url)  # read whole from its end: every entry at hand
        app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), history=TaskHistory(history.path))
        try:
            shown = [view.task.id for view in app.gallery.views]
            assert shown == [f"t{index}" for index in range(39, 39 - RESUME_LIMIT, -1)]  # the newest, newest first
            assert len(app.history_gallery.entries) == 40  # History holds every one
        finally:
            app.close()


def test_a_bundle_reads_the_rest_of_a_long_journal_once_it_is_built(
    tmp_path: Path, photo: bytes, monkeypatch: Any
) -> None:
    import time

    from kling_widgets import history as journal_module
    from kling_widgets.widgets import gallery as gallery_module

    history = TaskHistory(tmp_path / "history.jsonl")
    fill_journal(history, 30, photo)
    monkeypatch.setattr(journal_module, "RECENT_BLOCK", 2000)  # a long journal: its end is a small part of it
    monkeypatch.setattr(gallery_module, "READ_REST_AFTER", 0.0)  # as soon as it may
    fresh = TaskHistory(history.path)
    folds: list[str] = []  # each whole read of the journal
    ends: list[int] = []  # reads from the journal's end, and how many whole reads had begun by the second
    fold, recent = fresh.entries, fresh.recent

    def watched_fold(*service: Any) -> list[Any]:  # a whole read holds the lock the bundle builds with
        folds.append("read")
        return fold(*service)

    def slow_recent(*args: Any) -> Any:
        if ends:  # the bundle's past cards, after its gallery's first page: the bundle is still being built
            time.sleep(0.3)
        ends.append(len(folds))
        return recent(*args)

    monkeypatch.setattr(fresh, "entries", watched_fold)
    monkeypatch.setattr(fresh, "recent", slow_recent)
    app = MultiImageToVideo(history=fresh)
    try:
        gallery = app.history_gallery
        assert gallery is not None
        assert ends == [0, 0]  # nothing read whole while the bundle was built
        wait_for(lambda: "30 generations · page 1 of 3" in gallery._where.value)  # the rest, read after
        assert folds == ["read"]
    finally:
        app.close()


def test_galleries_built_within_an_opening_read_the_rest_when_it_ends(
    tmp_path: Path, photo: bytes, monkeypatch: Any
) -> None:
    from kling_widgets import history as journal_module
    from kling_widgets.widgets import gallery as gallery_module

    history = TaskHistory(tmp_path / "history.jsonl")
    fill_journal(history, 30, photo)
    monkeypatch.setattr(journal_module, "RECENT_BLOCK", 2000)
    monkeypatch.setattr(gallery_module, "READ_REST_AFTER", 0.0)
    with gallery_module.after_opening():
        with gallery_module.after_opening():  # nested: the outermost starts the reads
            first = HistoryGallery(TaskHistory(history.path))
        second = HistoryGallery(TaskHistory(history.path))
        assert not first._complete.wait(0.3) and not second._complete.is_set()
    assert first._complete.wait(10) and second._complete.wait(10)
    wait_for(lambda: "30 generations" in first._where.value and "30 generations" in second._where.value)
    first.close()
    second.close()
