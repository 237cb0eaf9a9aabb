"""A sweep of hundreds on one BatchView: what the page holds grows with what is on screen, not with the
batch, and every request stays reachable — paged to, filtered, sent again, compared."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests as http

from kling_widgets import Batch, BatchView, KlingClient, TaskHistory, TaskStatus, VideoRequest, sweep
from kling_widgets.batch import interrupted
from kling_widgets.simulator import Simulator
from kling_widgets.widgets.video import VideoPlayer

from .conftest import wait_for, widgets_alive

IMAGE = "https://example.com/reference.jpg"  # a link, sent as it is: this is about the page, not uploads


def many(count: int) -> list[VideoRequest]:
    return sweep(VideoRequest([IMAGE], "x"), prompt=[f"scene {i}" for i in range(count)])


@pytest.mark.usefixtures("brisk_watcher")
def test_a_sweep_of_300_keeps_under_1000_widgets_and_1_5_mb_of_state_once_all_ended() -> None:
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        count_before, bytes_before = widgets_alive()  # what other tests of this process left open
        players_before = _players()
        batch = Batch(client, many(300), max_concurrent=50)
        view = BatchView(batch)
        tasks = batch.start().wait(timeout=240)
        assert all(t.status is TaskStatus.SUCCEEDED for t in tasks)
        wait_for(lambda: view.counts.get("succeeded") == 300)
        alive, weight = widgets_alive()
        assert alive - count_before <= 1000 and weight - bytes_before <= 1_500_000
        assert "300 tasks · 300 done" in view.summary and view.progress.value == 300 and view.pages == 25
        # players only for the cards on screen, made as each card showed its video
        assert len(view.views) == 12 and all(v.player is not None for v in view.views)
        players = [v.player for v in view.views]
        view.page = 24
        assert [item.index for item in view.shown_items] == list(range(288, 300))
        assert [v.player for v in view.views] == players  # each card's player now plays its new video
        assert [p.filename for p in players if p is not None] == [f"kling-{v.task.id}.mp4" for v in view.views]
        assert _players() - players_before == 12
        player, task = players[0], view.views[0].task
        assert player is not None and player.take == 1 and player.via_kernel  # its second video
        sent: list[tuple[dict[str, object], list[bytes]]] = []
        player.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))  # type: ignore[method-assign]
        player._on_message(player, {"kind": "want"}, [])  # what its view asks: the new video's bytes
        wait_for(lambda: bool(sent))
        [(message, [data])] = sent
        assert message["take"] == 1 and data == http.get(task.video_url or "", timeout=10).content
        assert {t.id for t in view.tasks} == {t.id for t in tasks}
        view.close()


def _players() -> int:
    from ipywidgets.widgets.widget import _instances

    return sum(1 for widget in list(_instances.values()) if isinstance(widget, VideoPlayer))


def test_pages_filters_retry_and_a_comparison_chosen_across_pages(tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "history.jsonl")
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        for _ in range(3):
            sim.fail_next_task("the service could not make it")
        batch = Batch(client, many(10), max_concurrent=1, history=history)
        view = BatchView(batch, page_size=4)
        assert view.pages == 3 and view.previous_button.disabled and not view.next_button.disabled
        assert [i.index for i in view.shown_items] == [0, 1, 2, 3] and view._pager.layout.display is None
        batch.start().wait(timeout=60)
        wait_for(lambda: view.counts.get("failed") == 3 and view.counts.get("succeeded") == 7)
        view.next_button.click()
        assert view.page == 1 and [i.index for i in view.shown_items] == [4, 5, 6, 7]

        view.filter_buttons.value = "failed"  # the failed ones, a page of them
        assert view.show == "failed" and view.page == 0 and view.pages == 1
        assert [i.index for i in view.shown_items] == [0, 1, 2]
        assert all(v.task.status is TaskStatus.FAILED for v in view.views)
        assert view.retry_button.layout.display is None and "3" in view.retry_button.description
        failed_ids = [item.external_task_id for item in view.shown_items]

        view.retry_button.click()  # each sent again in its place, as a new intention
        batch.wait(timeout=60)
        wait_for(lambda: view.counts.get("succeeded") == 10)
        assert sim.creates == 13 and view.retry_button.layout.display == "none"
        again = [item.external_task_id for item in batch.items[:3]]
        assert not set(again) & set(failed_ids)
        journaled = {e.external_task_id: e for e in history.entries()}
        assert all(journaled[ext].status == "succeeded" and journaled[ext].index == i for i, ext in enumerate(again))
        assert view.shown_items == []  # nothing failed any more
        assert interrupted(history.entries()) == []  # the failed attempts are not unfinished work

        view.show_item(9)  # reach any request: the filter opens up to show it
        assert view.show == "all" and [i.index for i in view.shown_items] == [8, 9]

        view.page = 0
        view.views[1].choose.value = True  # "Compare" on request 1 here, then on request 9 two pages on
        view.page = 2
        view.views[1].choose.value = True
        assert view.chosen == [1, 9] and view.compare_toggle.layout.display is None
        view.page = 0
        assert view.views[1].choose.value and not view.views[0].choose.value  # the tick stays with its request
        view.compare_toggle.value = True
        sources = view.comparison.sources
        assert [s["key"] for s in sources] == [batch.items[1].task.id, batch.items[9].task.id]  # type: ignore[union-attr]
        view.chosen = []  # none chosen: the page's finished videos
        assert len(view.comparison.sources) == 4
        view.close()


def test_a_retried_request_stands_in_its_place_when_a_batch_is_resumed(tmp_path: Path) -> None:
    """The kernel stops after a failed request was sent again but before the new attempt was: the resume
    sends the new attempt once, in the failed one's place, and never the failed one."""
    history = TaskHistory(tmp_path / "history.jsonl")
    with Simulator(processing_seconds=0.2) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        sim.fail_next_task("no")
        batch = Batch(client, many(3), max_concurrent=1, history=history)
        batch.start().wait(timeout=30)
        batch.stop()  # the kernel is going: what is queued now stays on record, unsent
        [retried] = batch.retry()
        assert retried.index == 0 and retried.state == "queued"
        unit = interrupted(history.entries())
        assert [(e.index, e.status) for e in unit] == [(0, "queued"), (1, "succeeded"), (2, "succeeded")]
        resumed = Batch.resume(client, history)
        tasks = resumed.wait(timeout=30)
        assert [t.status for t in tasks] == [TaskStatus.SUCCEEDED] * 3 and sim.creates == 4
