"""One data folder, services kept apart: the simulator (any port, any restart) and a billed account share a
journal, and each bundle shows and resumes its own service's tasks alone. One task, one duration: a task
reads as long in the notebook as in the history. Real HTTP: simulators, and a stand-in of the billed
gateway at another address."""

from __future__ import annotations

import re
import time

from kling_widgets import HistoryGallery, KlingClient, MultiImageToVideo, Task, TaskHistory, TaskStatus, TaskView
from kling_widgets.history import Service
from kling_widgets.simulator import Simulator

from .conftest import all_state, billed_gateway, fox, wait_for

KEY = "sk-kw-7Qm2x9Lr4Tz8Vb1Nc6Hd3Jf5Kg0WpE"  # a real-looking key of a billed account


def made(client: KlingClient, photo: bytes, prompt: str) -> Task:
    task = client.wait(client.create_task(fox(photo, prompt=prompt)), timeout=20)
    assert task.status is TaskStatus.SUCCEEDED
    return task


def asked_for(sim: Simulator, task_id: str) -> list[str]:
    return [r.path for r in sim.requests if task_id in r.path]


def test_one_data_folder_keeps_the_simulator_and_a_billed_account_apart(photo: bytes) -> None:
    history = TaskHistory()  # the default journal, in KLING_WIDGETS_HOME: one folder for both
    with Simulator(processing_seconds=0.3) as sim, billed_gateway(KEY, processing_seconds=0.3) as (gateway, behind):
        simulated = KlingClient(sim.api_key, base_url=sim.url, history=history, poll_interval=0.05)
        billed = KlingClient(KEY, base_url=gateway, history=history, poll_interval=0.05)
        assert simulated.service().simulated and not billed.service().simulated
        played = made(simulated, photo, "a simulated fox")
        paid = made(billed, photo, "a billed fox")
        behind.processing_seconds = 120  # one billed task still runs when the kernel restarts
        running = billed.create_task(fox(photo, prompt="a billed fox still running"))
        journal = history.path.read_text()
        assert KEY not in journal and billed.account in journal  # named by a fingerprint, never the key

        sim_client = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        on_sim = MultiImageToVideo(sim_client, history=TaskHistory())
        try:
            assert [t.id for t in on_sim.tasks] == [played.id]
            assert on_sim.resumed is None  # the billed task is not the simulator's to watch
            assert on_sim.history_gallery is not None
            assert [e.prompt for e in on_sim.history_gallery.entries] == ["a simulated fox"]
            state = all_state(on_sim)
            assert "billed fox" not in state and "charged" not in state  # a simulated task claims no charge
            assert asked_for(sim, running.id) == []
        finally:
            on_sim.close()

        seen = len(asked_for(behind, running.id))
        on_account = MultiImageToVideo(KlingClient(KEY, base_url=gateway, poll_interval=0.05), history=TaskHistory())
        try:
            assert {t.id for t in on_account.tasks} == {paid.id, running.id}
            assert on_account.resumed is not None
            assert [i.task.id for i in on_account.resumed.items if i.task] == [running.id]
            wait_for(lambda: len(asked_for(behind, running.id)) > seen)  # watched again, on its own service
            assert on_account.history_gallery is not None
            prompts = {e.prompt for e in on_account.history_gallery.entries}
            assert prompts == {"a billed fox", "a billed fox still running"}
            paid_view = on_account.gallery.get(paid.id)
            assert paid_view is not None and "1 unit charged" in paid_view._header.value  # the real charge
            assert KEY not in all_state(on_account)
        finally:
            on_account.close()


def test_a_restarted_simulator_shows_its_past_and_says_what_ended_with_the_old_one(photo: bytes) -> None:
    history = TaskHistory()
    with Simulator(processing_seconds=0.3) as first:
        client = KlingClient(first.api_key, base_url=first.url, history=history, poll_interval=0.05)
        done = made(client, photo, "yesterday's fox")
        first.processing_seconds = 120
        cut = client.create_task(fox(photo, prompt="a fox cut short"))
        old = first.url.split("//")[1]
    with Simulator(processing_seconds=0.3) as second:  # today: a new simulator, on another port
        app = MultiImageToVideo(
            KlingClient(second.api_key, base_url=second.url, poll_interval=0.05), history=TaskHistory()
        )
        try:
            views = {view.task.id: view for view in app.gallery.views}
            assert set(views) == {done.id, cut.id}
            assert views[done.id].task.status is TaskStatus.SUCCEEDED and views[done.id].problem == ""
            said = views[cut.id].problem
            assert "simulator" in said and old in said and "stopped" in said
            assert "connect" not in said.lower() and "refused" not in said.lower()
            assert app.resumed is None and asked_for(second, cut.id) == []  # nobody asks the new one for it
            assert app.history_gallery is not None
            cards = all_state(app.history_gallery)
            assert "yesterday's fox" in cards and said in cards  # the history says it the same way
            assert "charged" not in all_state(app)
        finally:
            app.close()


def test_a_simulator_that_stops_under_a_running_task_is_said_to_have_stopped(photo: bytes) -> None:
    sim = Simulator(processing_seconds=120).start()
    client = KlingClient(sim.api_key, base_url=sim.url)
    app = MultiImageToVideo(client, history=TaskHistory(), poll_interval=0.05)
    try:
        app.image_picker.add(photo)
        app.prompt_box.value = "a fox"
        task = app.submit().result(timeout=10)  # type: ignore[union-attr]
        assert task is not None
        view = app.gallery.get(task.id)
        assert view is not None
        sim.stop()
        wait_for(lambda: view.problem != "")
        assert "simulator" in view.problem and "stopped" in view.problem
        assert "connect" not in view.problem.lower() and "trouble" not in view.problem.lower()
    finally:
        app.close()
        sim.stop()


def test_a_task_takes_as_long_in_the_notebook_as_in_the_history(photo: bytes) -> None:
    took = re.compile(r"took \d+ (?:min \d+ )?s")
    history = TaskHistory()
    with Simulator("kling", processing_seconds=2.2) as sim:
        client = KlingClient(
            provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url,
            history=history, poll_interval=0.05,
        )  # fmt: skip
        task = client.wait(client.create_task(fox(photo)), timeout=20)
        live = TaskView(task, client=client)
        time.sleep(1.2)  # the video is saved well after the task ended: the journal's last line is no end
        client.download(task, history.path.parent)
        [in_notebook] = took.findall(live._header.value)
        assert in_notebook in ("took 2 s", "took 3 s")  # the service's own times: created to finished
        gallery = HistoryGallery(history, client=client)
        assert took.findall(all_state(gallery)) == [in_notebook]
        app = MultiImageToVideo(client, history=history)  # the app's history, after a restart
        try:
            resumed = app.gallery.get(task.id)
            assert resumed is not None and took.findall(resumed._header.value) == [in_notebook]
        finally:
            app.close()


def test_entries_from_before_services_were_named_go_with_their_address(photo: bytes) -> None:
    history = TaskHistory()
    with Simulator(processing_seconds=0.3) as sim, billed_gateway(KEY) as (gateway, _):
        simulated = KlingClient(sim.api_key, base_url=sim.url, poll_interval=0.05)
        old = fox(photo, prompt="an entry of an older journal", external_task_id="kw-old-1")
        history.record_submission("kw-old-1", old, provider="gateway", base_url=sim.url)  # no service named
        assert history.entries()[0].service is None
        assert [e.external_task_id for e in history.entries(simulated.service())] == ["kw-old-1"]
        billed = KlingClient(KEY, base_url=gateway)
        assert history.entries(billed.service()) == []
        elsewhere = Service("gateway|https://www.anyfast.ai|key:0", "gateway", "https://www.anyfast.ai")
        assert history.recent(5, elsewhere) == ([], True)
        assert [e.prompt for e in history.recent(5, simulated.service())[0]] == ["an entry of an older journal"]
