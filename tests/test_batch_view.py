"""The batch on screen: BatchView alone, a sweep from the bundle's form shown as one, the cost before
and after, the bundle's status as traits, and Kling direct refreshing many tasks with one request."""

from __future__ import annotations

from typing import Any

import requests as http

from kling_widgets import Batch, BatchView, KlingClient, MultiImageToVideo, TaskStatus, TaskView, sweep
from kling_widgets.simulator import Simulator
from kling_widgets.watcher import TaskWatcher
from kling_widgets.widgets.batch import compare_labels

from .conftest import billed_gateway, fill, fox, wait_for


def test_batch_view_shows_progress_estimate_and_units_charged(photo: bytes) -> None:
    with billed_gateway("sk-billed-batch-view", processing_seconds=0.5) as (url, _):
        client = KlingClient("sk-billed-batch-view", base_url=url, poll_interval=0.05)
        requests = sweep(fox(photo), prompt=["a fox", "[fail] a hare"], mode=["std", "pro"])
        batch = Batch(client, requests, max_concurrent=2)
        view = BatchView(batch)
        assert view.summary.startswith("4 tasks · 0 done") and "4 queued" in view.summary
        assert "about 9 units estimated" in view.summary  # 1 + 3.5 per prompt, before anything is sent
        batch.start().wait(timeout=30)
        wait_for(lambda: "charged" in view.summary and "running" not in view.summary)
        assert "2 done · 2 failed" in view.summary and "4.5 units charged" in view.summary
        assert [v.task.status for v in view.views] == [
            TaskStatus.SUCCEEDED, TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.FAILED,
        ]  # fmt: skip
        assert all(v.compact for v in view.views) and view.progress.value == 4
        labels = [v.label for v in view.views]
        assert labels[0] == "a fox · std · 5 s · 16:9" and labels[1] == "a fox · pro · 5 s · 16:9"
        view.close()


def test_a_simulated_batch_is_never_said_to_be_charged(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        view = BatchView(Batch(client, sweep(fox(photo), mode=["std", "pro"])))
        view.batch.start().wait(timeout=30)
        wait_for(lambda: "2 done" in view.summary and "nothing billed" in view.summary)
        assert "charged" not in view.summary
        view.close()


def test_the_bundle_sends_a_sweep_of_its_form_as_one_batch(photo: bytes) -> None:
    with Simulator(processing_seconds=0.5) as sim:
        app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), poll_interval=0.05)
        fill(app, photo, "a fox in snow\n\na hare in rain")
        app.prompt_per_line = True
        app.both_modes = True
        assert len(app.requests) == 4 and "4 videos: 2 prompt lines × Standard and Pro · about 9 units" in app.reason
        future = app.submit()
        assert future is not None
        first = future.result(timeout=10)
        assert first is not None and first.id == sim.created[0]["task_id"]
        assert "4 videos: 2 prompt lines × Standard and Pro queued" in app.status and app.status_kind == "ok"
        wait_for(lambda: len(app.tasks) == 4 and all(t.done for t in app.tasks), timeout=30)
        bodies = [c["body"] for c in sim.created]
        assert [(b["prompt"], b["mode"]) for b in bodies] == [
            ("a fox in snow", "std"), ("a fox in snow", "pro"), ("a hare in rain", "std"), ("a hare in rain", "pro"),
        ]  # fmt: skip
        assert isinstance(app.gallery.children[0], BatchView)
        app.close()


def test_a_sweep_cannot_share_one_external_id(photo: bytes, sim: Simulator) -> None:
    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url))
    fill(app, photo)
    app.options.external_task_id = "mine-1"
    assert not app.problems
    app.both_durations = True
    assert [p.field for p in app.problems] == ["external_task_id"] and app.submit_button.disabled
    assert "external_task_id" in app.reason and app.reason_kind == "error"
    app.close()


def test_what_was_said_of_a_click_clears_when_the_form_changes(photo: bytes, sim: Simulator) -> None:
    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), poll_interval=0.05)
    fill(app, photo)
    future = app.submit()
    assert future is not None and future.result(timeout=10) is not None
    assert app.status.startswith("Task ") and app.status_kind == "ok"
    app.prompt_box.value = "a fox runs through deep snow"
    assert app.status == "" and "Ready" in app.reason
    sim.inject(method="POST", status=400, code=1301, message="refused by the content policy")
    future = app.submit()
    assert future is not None and future.result(timeout=10) is None
    wait_for(lambda: "content safety" in app.status)
    assert app.status_kind == "error"
    app.prompt_box.value = "a calm fox"
    assert app.status == ""
    app.close()


def test_kling_direct_refreshes_many_tasks_with_one_list_request(photo: bytes, kling_sim: Simulator) -> None:
    kling_sim.processing_seconds = 1.5
    client = KlingClient(
        provider="kling", access_key=kling_sim.access_key, secret_key=kling_sim.secret_key, base_url=kling_sim.url,
        poll_interval=0.1,
    )  # fmt: skip
    tasks = [client.create_task(fox(photo, prompt=f"scene {i}")) for i in range(6)]
    finals: dict[str, Any] = {}
    watcher = TaskWatcher(client, poll_interval=0.1)
    for task in tasks:
        watcher.watch(task, lambda u: finals.__setitem__(u.task.id, u.task.status) if u.final else None)
    assert watcher.wait_idle(30)
    assert finals == {t.id: TaskStatus.SUCCEEDED for t in tasks}
    gets = [r.path for r in kling_sim.requests if r.method == "GET"]
    lists = [p for p in gets if p == "/v1/videos/multi-image2video"]
    singles = [p for p in gets if p != "/v1/videos/multi-image2video"]
    assert lists and len(singles) < len(tasks)  # most refreshes came six at a time


def test_to_code_makes_the_same_request_with_the_client_alone(photo: bytes, tmp_path: Any, monkeypatch: Any) -> None:
    """Shown in the demo (the built-in simulator, no key set), the code builds the simulator's client as
    the notebook did, names an uploaded picture by a file it saved, and sends the same request."""
    from kling_widgets.simulator.samples import sample_image

    picture = tmp_path / "fox.jpg"
    sample_image(0, (1600, 1200)).save(picture)
    secret = "sk-code-never-printed-0001"
    monkeypatch.chdir(tmp_path)  # the notebook's folder
    with Simulator(api_key=secret, processing_seconds=0.2) as sim:
        app = MultiImageToVideo(KlingClient(secret, base_url=sim.url), poll_interval=0.05)
        app.image_picker.add(str(picture))
        app.image_picker.add(photo)  # uploaded in the form: only its bytes exist
        app.prompt_box.value = 'The fox\'s "big" day'
        app.prompt_box.negative_prompt = "blur"
        app.options.mode, app.options.duration, app.options.aspect_ratio = "pro", 10, "1:1"
        app.options.watermark = True
        code = app.to_code()
        assert secret not in code and sim.url not in code and "path/to" not in code
        assert "Simulator.shared(" in code and "KlingClient(sim.api_key, base_url=sim.url)" in code
        [saved] = (tmp_path / "kling-pictures").iterdir()
        assert f"'kling-pictures/{saved.name}'" in code
        app.code_toggle.value = True
        assert "VideoRequest(" in app._code.value and app._code.layout.display is None
        future = app.submit()
        assert future is not None and future.result(timeout=10) is not None
        namespace: dict[str, Any] = {}
        exec(compile(code, "to_code", "exec"), namespace)  # no KLING_API_KEY anywhere: as in the demo
        assert namespace["sim"] is sim and len(sim.created) == 2  # the running simulator, not a second one
        by_form, by_code = (c["body"] for c in sim.created)
        assert {k: v for k, v in by_code.items() if k != "external_task_id"} == {
            k: v for k, v in by_form.items() if k != "external_task_id"
        }
        app.both_modes = True
        sweep_code = app.to_code()
        assert "sweep(request, mode=['std', 'pro'])" in sweep_code and "Batch(" in sweep_code
        app.close()


def test_a_task_renders_as_plain_html_for_saved_notebooks() -> None:
    from kling_widgets import Task

    done = Task("t1", TaskStatus.SUCCEEDED, video_url="https://cdn.example/v.mp4", units=3.5)
    html = done._repr_html_()
    assert '<video src="https://cdn.example/v.mp4"' in html and "3.5 units" in html
    failed = Task("t2", TaskStatus.FAILED, error="<script>alert(1)</script> refused")
    assert "&lt;script&gt;" in failed._repr_html_() and "<script>" not in failed._repr_html_()
    assert "javascript:" not in Task("t3", TaskStatus.SUCCEEDED, video_url="javascript:alert(1)")._repr_html_()


def test_the_bundle_and_task_views_carry_a_static_html_fallback(photo: bytes, sim: Simulator) -> None:
    from kling_widgets import TaskView

    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), poll_interval=0.05)
    app.image_picker.add(photo)
    app.prompt_box.value = "a fox <b>runs</b>"
    future = app.submit()
    assert future is not None and future.result(timeout=10) is not None
    wait_for(lambda: app.tasks[0].done)
    bundle = app._repr_mimebundle_()
    assert bundle is not None and "application/vnd.jupyter.widget-view+json" in bundle
    assert "a fox &lt;b&gt;runs&lt;/b&gt;" in bundle["text/html"] and "<video src=" in bundle["text/html"]
    view = app.gallery.views[0]
    assert isinstance(view, TaskView)
    assert "<video src=" in view._repr_mimebundle_()["text/html"]  # type: ignore[index]
    app.close()


def test_a_sweep_interrupted_by_a_restart_comes_back_whole_as_one_batch_view(photo: bytes, tmp_path: Any) -> None:
    """The kernel stops while a sweep of three runs under a limit of one: the first task has finished, the
    second runs, the third is queued. The next bundle over the journal shows the sweep as one BatchView
    with all three in their places (the finished one too, not as a loose card) and sends only the third."""
    from kling_widgets import TaskHistory

    history = TaskHistory(tmp_path / "history.jsonl")
    with Simulator(processing_seconds=2.0, max_concurrent=1) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        first = MultiImageToVideo(client, history=history, poll_interval=0.05)
        fill(first, photo, "a fox\na hare\nan owl")
        first.prompt_per_line = True
        assert first.submit() is not None

        def second_running() -> bool:
            by_prompt = {e.prompt: e for e in TaskHistory(history.path).entries()}
            return by_prompt["a fox"].status == "succeeded" and by_prompt["a hare"].task_id is not None

        wait_for(second_running, timeout=30)
        first.close()  # the kernel stops: the owl was never sent
        assert sim.creates == 2
        again = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), history=history, poll_interval=0.05)
        shown = [c for c in again.gallery.children if isinstance(c, (BatchView, TaskView))]
        assert len(shown) == 1 and isinstance(shown[0], BatchView) and "Sweep of 3" in shown[0]._header.value
        wait_for(lambda: len(again.tasks) == 3 and all(t.done for t in again.tasks), timeout=30)
        assert [v.label.split(" · ")[0] for v in shown[0].views] == ["a fox", "a hare", "an owl"]
        assert all(t.status is TaskStatus.SUCCEEDED for t in again.tasks)
        assert sim.creates == 3 and [c["body"]["prompt"] for c in sim.created] == ["a fox", "a hare", "an owl"]
        again.close()


def test_a_batch_follows_its_tasks_without_a_deadline_and_a_stopped_card_offers_watch_again(photo: bytes) -> None:
    from kling_widgets.retry import OLD_AFTER, OLD_POLL, poll_delay

    assert poll_delay(2.0, OLD_AFTER, 120.0) == OLD_POLL == poll_delay(2.0, 10 * OLD_AFTER, 120.0) == 60.0
    with Simulator(processing_seconds=1.0) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        batch = Batch(client, sweep(fox(photo), prompt=["a fox", "a hare"]))
        assert batch.watcher.timeout is None  # followed as long as the kernel lives; wait() has its own timeout
        view = BatchView(batch)
        sim.inject(method="GET", status=401, code=1000, message="key refused", times=None)
        tasks = batch.start().wait(timeout=20)  # every watch stopped: the service refused the lookups
        assert not any(t.done for t in tasks)
        wait_for(lambda: len(view.views) == 2 and all(v.stopped for v in view.views))
        assert all(v.watch_button.layout.display is None for v in view.views)
        sim.clear_faults()
        for card in view.views:
            card.watch_button.click()
        assert batch.counts()["running"] == 2
        tasks = batch.wait(timeout=20)
        assert all(t.status is TaskStatus.SUCCEEDED for t in tasks) and sim.creates == 2
        wait_for(lambda: not any(v.stopped for v in view.views))


def test_a_sweep_is_compared_side_by_side_once_two_videos_are_done(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        batch = Batch(client, sweep(fox(photo), prompt=["a fox", "[fail] a hare", "a lynx"]), max_concurrent=3)
        view = BatchView(batch)
        assert view.compare_toggle.layout.display == "none" and view.comparison is None  # nothing to compare yet
        batch.start().wait(timeout=30)
        wait_for(lambda: view.compare_toggle.layout.display is None)
        view.compare_toggle.value = True
        comparison = view.comparison
        assert comparison is not None and view._compare_box.children == (comparison,)
        sources = comparison.get_state()["sources"]
        tasks = batch.tasks
        # the failed one is left out; the simulator's videos travel through the kernel (no loopback link
        # in the page: a remote browser could not load it), each key answered with the task's MP4
        assert [s["key"] for s in sources] == [tasks[0].id, tasks[2].id] and not any("url" in s for s in sources)
        for source, task in zip(sources, (tasks[0], tasks[2]), strict=True):
            data = comparison.loaders[source["key"]]()
            assert data[4:8] == b"ftyp" and data == http.get(task.video_url, timeout=10).content
        assert [s["label"] for s in sources] == ["a fox", "a lynx"]  # what differs; the rest in the tooltip
        assert sources[0]["title"].startswith("a fox · std · 5 s")
        assert comparison.width == 300 and not comparison.pickable
        view.compare_toggle.value = False
        assert view._compare_box.children == ()
        view.close()


def test_compared_videos_are_named_by_what_sets_them_apart(photo: bytes) -> None:
    """A portrait tile shows two short lines: the settings the sweep varies come first, then the prompt
    only if it varies too (four labels starting 'The fox and the lighthouse keeper…' said nothing)."""
    base = fox(photo)
    long = "The fox and the lighthouse keeper wave at each other on the pier"
    both = sweep(base, prompt=[long, "The fox runs along the shore"], mode=["std", "pro"])
    assert compare_labels(both) == [
        f"std · {long[:59]}…",
        f"pro · {long[:59]}…",
        "std · The fox runs along the shore",
        "pro · The fox runs along the shore",
    ]
    assert compare_labels(sweep(base, mode=["std", "pro"], duration=[5, 10])) == [
        "std · 5 s",
        "std · 10 s",
        "pro · 5 s",
        "pro · 10 s",
    ]
    assert compare_labels([base, base]) == [base.prompt, base.prompt]  # nothing differs: the prompt
