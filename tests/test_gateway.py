"""The gateway as its documents and its software really behave, against the strict simulator:
uploads of any length, documented query routes, cut answers, the body cap, the gateway's own words,
the lookup window on Kling direct, proof of the simulator, videos without links, and one watcher."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from kling_widgets import KlingClient, TaskHistory, TaskStatus, ValidationError, prepare_image
from kling_widgets.errors import (
    AccountError,
    APIConnectionError,
    CreateOutcomeUnknownError,
    GatewayError,
    KlingError,
    RedirectError,
    RequestTooLargeError,
)
from kling_widgets.simulator import Simulator
from kling_widgets.watcher import TaskUpdate, TaskWatcher

from .conftest import Sleeps, noise_jpeg, web_page_server
from .conftest import fox as req


def big_images(count: int = 3) -> list[Any]:
    """``count`` pictures of about 3.5 MB each, prepared once (about 4.7 MB each in base64)."""
    return [prepare_image(noise_jpeg(seed=i)) for i in range(count)]


def gateway(sim: Simulator, **kwargs: Any) -> KlingClient:
    return KlingClient(sim.api_key, base_url=sim.url, **{"poll_interval": 0.05, **kwargs})


# -- uploads of any length -------------------------------------------------------------------------------
def test_an_upload_longer_than_every_timeout_goes_through(history: TaskHistory) -> None:
    images = big_images(2)
    with Simulator(processing_seconds=0.3, upload_bytes_per_second=3_000_000) as sim:
        client = gateway(sim, timeout=1.0, max_retries=0)  # connect timeout 1 s, read timeout 1 s
        progress: list[tuple[int, int]] = []
        started = time.monotonic()
        task = client.create_task(req(*images), history=history, on_progress=lambda s, t: progress.append((s, t)))
        took = time.monotonic() - started
        assert task.id and sim.creates == 1
        body = sim.requests[0]
        assert body.body_bytes > 9_000_000 and "chunked" not in body.headers.get("Transfer-Encoding", "")
        assert int(body.headers["Content-Length"]) == body.body_bytes
        assert took > 2.0  # the whole upload took longer than any timeout of the client, and went through
        assert progress[-1] == (body.body_bytes, body.body_bytes) and len(progress) > 3


def test_a_break_while_the_body_is_sent_never_arrived_and_is_resent_under_the_same_id(
    history: TaskHistory, sleeps: Sleeps
) -> None:
    images = big_images(3)
    with Simulator(processing_seconds=0.3) as sim:
        sim.inject(method="POST", drop_after=64_000)
        task = gateway(sim, sleep=sleeps, max_retries=1).create_task(req(*images), history=history)
        posts = [r for r in sim.requests if r.method == "POST"]
        assert len(posts) == 2 and posts[0].body_bytes < posts[1].body_bytes  # cut short, then whole
        assert sim.creates == 1 and sim.created[0]["external_task_id"] == task.external_task_id
        assert history.get(task.external_task_id or "").status == "submitted"  # type: ignore[union-attr]
        sim.inject(method="POST", drop_after=64_000)
        with pytest.raises(APIConnectionError) as caught:
            gateway(sim, sleep=sleeps, max_retries=0).create_task(req(*images), history=history)
        assert not caught.value.reached and "never arrived" in str(caught.value)
        assert sim.creates == 1
        assert history.entries()[0].status == "rejected"  # nothing was created: not "unknown", not billed


# -- query routes --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sim_kwargs", "expected"),
    [
        ({}, ["text2video"]),
        ({"query_actions": ("multi-image2video",)}, ["text2video", "image2video", "multi-image2video"]),
        ({"query_actions": ()}, ["text2video", "image2video", "multi-image2video", "/v1/videos/"]),
        (
            {"query_actions": (), "front_end_url": "https://front.example"},
            ["text2video", "image2video", "multi-image2video", "/v1/videos/"],
        ),
    ],
)
def test_query_routes_in_documented_order_html_and_redirects_mean_not_this_route(
    photo: bytes, sim_kwargs: dict[str, Any], expected: list[str]
) -> None:
    with Simulator(processing_seconds=0.3, **sim_kwargs) as sim:
        client = gateway(sim)
        task = client.create_task(req(photo))
        done = client.wait(task, timeout=20)
        assert done.status is TaskStatus.SUCCEEDED and done.video_url and done.video_url.endswith(".mp4")
        gets = [r.path for r in sim.requests if r.method == "GET"]
        tried = gets[: len(expected)]
        assert all(e in p for e, p in zip(expected, tried, strict=True))
        assert all(expected[-1] in p for p in gets[len(expected) :])  # remembered: no more misses


def test_the_remembered_route_is_safe_across_threads(photo: bytes) -> None:
    with Simulator(processing_seconds=5, query_actions=()) as sim:
        client = gateway(sim)
        task = client.create_task(req(photo))
        errors: list[BaseException] = []

        def look() -> None:
            try:
                for _ in range(5):
                    assert client.get_task(task.id).id == task.id
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=look) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and client._query_route == "/v1/videos/{id}"


def test_the_simulator_is_as_strict_as_the_gateway(photo: bytes) -> None:
    with Simulator(max_body_bytes=200_000, max_concurrent=0) as sim:
        page = requests.get(f"{sim.url}/kling/v1/videos/multi-image2video/123", timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        too_big = requests.post(f"{sim.url}/kling/v1/videos/multi-image2video", data=b"x" * 300_000, timeout=5)
        assert too_big.status_code == 413
        body = json.dumps(req(photo).to_payload())
        busy = requests.post(
            f"{sim.url}/kling/v1/videos/multi-image2video",
            data=body,
            headers={"Authorization": f"Bearer {sim.api_key}", "Content-Type": "application/json"},
            timeout=5,
        )
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "1303"  # a string, as relayed


def test_the_flatter_task_shape_gives_the_video_and_the_reason(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3, task_shape="flat") as sim:
        client = gateway(sim)
        done = client.wait(client.create_task(req(photo)), timeout=20)
        assert done.status is TaskStatus.SUCCEEDED and done.video_url == sim.video_url(sim.state.tasks[done.id])
        sim.fail_next_task("the scene could not be composed")
        failed = client.wait(client.create_task(req(photo)), timeout=20)
        assert failed.status is TaskStatus.FAILED and failed.error == "the scene could not be composed"


# -- answers cut after the create's bytes left ----------------------------------------------------------
@pytest.mark.parametrize("fault", [{"cut": True}, {"bad_gzip": True}, {"html": True}, {"drop": True}])
def test_a_broken_answer_to_a_create_is_an_unknown_outcome_never_resent(
    photo: bytes, history: TaskHistory, sleeps: Sleeps, fault: dict[str, Any]
) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        sim.inject(method="POST", apply=True, **fault)
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            gateway(sim, sleep=sleeps).create_task(req(photo), history=history)
        ext = caught.value.external_task_id
        assert sim.creates == 1 and sim.created[0]["external_task_id"] == ext
        assert len([r for r in sim.requests if r.method == "POST"]) == 1
        assert history.get(ext).status == "unknown"  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", [{"cut": True}, {"bad_gzip": True}, {"drop": True}])
def test_no_requests_exception_reaches_a_caller(photo: bytes, fault: dict[str, Any]) -> None:
    with Simulator(processing_seconds=5) as sim:
        client = gateway(sim, max_retries=0)
        task = client.create_task(req(photo))
        sim.inject(method="GET", times=None, **fault)
        with pytest.raises(KlingError) as caught:
            client.get_task(task.id)
        assert not isinstance(caught.value, requests.RequestException)
        assert caught.value.__cause__ is None  # nothing of urllib3's frames chained for a traceback to show


# -- the watcher never dies -------------------------------------------------------------------------------
class FlakyHistory(TaskHistory):
    """A journal whose disk is full for a while."""

    failures = 2

    def record_task(self, task: Any, external_task_id: str | None = None) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        super().record_task(task, external_task_id)


def test_the_watcher_survives_everything_one_poll_raises(photo: bytes, tmp_path: Path) -> None:
    with Simulator(processing_seconds=1.0) as sim:
        client = gateway(sim, max_retries=0)
        tasks = [client.create_task(req(photo, prompt=f"scene {i}")) for i in range(4)]
        for fault in ({"cut": True}, {"bad_gzip": True}, {"html": True}, {"drop": True}, {"status": 500}):
            sim.inject(method="GET", times=2, **fault)
        heard: list[TaskUpdate] = []

        def listener(update: TaskUpdate) -> None:
            heard.append(update)
            raise RuntimeError("a broken listener")

        watcher = TaskWatcher(client, poll_interval=0.05, history=FlakyHistory(tmp_path / "h.jsonl"))
        watcher.on_update(listener)
        for task in tasks:
            watcher.watch(task)
        assert watcher.wait_idle(30)
        finals = {u.task.id: u.task.status for u in heard if u.final}
        assert finals == {t.id: TaskStatus.SUCCEEDED for t in tasks}


def test_the_watcher_honours_retry_after(photo: bytes) -> None:
    with Simulator(processing_seconds=1.5) as sim:
        client = gateway(sim, max_retries=0)
        task = client.create_task(req(photo))
        sim.inject(method="GET", status=429, code=1302, retry_after=1.0)
        watcher = TaskWatcher(client, poll_interval=0.05)
        watcher.watch(task)
        assert watcher.wait_idle(20)
        gets = [r.time for r in sim.requests if r.method == "GET"]
        assert gets[1] - gets[0] >= 0.95  # the refused poll, then nothing for the Retry-After


# -- Kling direct: a lost create answer ------------------------------------------------------------------
def kling(sim: Simulator, **kwargs: Any) -> KlingClient:
    return KlingClient(
        provider="kling", access_key=sim.access_key, secret_key=sim.secret_key, base_url=sim.url, **kwargs
    )


def test_kling_lookup_keeps_looking_over_a_window(photo: bytes, history: TaskHistory) -> None:
    with Simulator("kling", processing_seconds=3, visibility_delay=0.6) as sim:
        sim.inject(method="POST", drop=True, apply=True)
        task = kling(sim, lookup_window=3.0).create_task(req(photo), history=history)
        assert sim.creates == 1 and task.id == sim.created[0]["task_id"]
        lookups = [r for r in sim.requests if r.method == "GET"]
        assert len(lookups) >= 2  # the first lookups found nothing, and that proved nothing
        assert history.get(task.external_task_id or "").status in ("submitted", "processing")  # type: ignore[union-attr]


def test_kling_a_resend_refused_for_its_external_id_proves_the_task_exists(photo: bytes, history: TaskHistory) -> None:
    with Simulator("kling", processing_seconds=3, visibility_delay=1.2) as sim:
        sim.inject(method="POST", drop=True, apply=True)
        task = kling(sim, lookup_window=0.8).create_task(req(photo, external_task_id="mine-1"), history=history)
        assert sim.creates == 1 and task.id == sim.created[0]["task_id"]
        posts = [r for r in sim.requests if r.method == "POST"]
        assert len(posts) == 2  # the resend was refused: that external id exists
        statuses = [json.loads(line).get("status") for line in history.path.read_text().splitlines()]
        assert "rejected" not in statuses


# -- the body cap ------------------------------------------------------------------------------------------
def test_a_body_over_the_cap_is_shrunk_or_refused_before_sending(history: TaskHistory) -> None:
    images = big_images(3)
    with Simulator(processing_seconds=0.3) as sim:
        task = gateway(sim, max_body_bytes=6_000_000).create_task(req(*images), history=history)
        assert task.id and sim.requests[0].body_bytes <= 6_000_000
        with pytest.raises(ValidationError) as caught:
            gateway(sim, max_body_bytes=300_000).create_task(req(*images), history=history)
        problem = caught.value.problems[0]
        assert problem.field == "image_list" and problem.limit == 300_000 and problem.value > 300_000
        assert "0.3 MB" in problem.message
        assert len(sim.requests) == 1 and sim.creates == 1  # the refusal sent nothing


def test_the_default_cap_keeps_four_10mb_pictures_under_the_gateways(history: TaskHistory) -> None:
    images = [prepare_image(noise_jpeg((2800, 2100), quality=97, seed=i)) for i in range(4)]
    assert all(i.size > 6_000_000 for i in images)  # 4 x ~7 MB: 37+ MB once base64-encoded
    with Simulator(processing_seconds=0.3) as sim:
        task = gateway(sim).create_task(req(*images), history=history)
        assert task.id and sim.requests[0].body_bytes <= 32_000_000


def test_a_413_that_still_comes_back_is_clear_and_creates_nothing(photo: bytes, history: TaskHistory) -> None:
    with Simulator(max_body_bytes=10_000) as sim:
        with pytest.raises(RequestTooLargeError) as caught:
            gateway(sim).create_task(req(photo), history=history)
        assert caught.value.status_code == 413 and "size cap" in str(caught.value)
        assert sim.creates == 0 and history.entries()[0].status == "rejected"


# -- what the gateway says itself ------------------------------------------------------------------------
def test_a_redirect_to_a_create_names_where_the_address_points(photo: bytes, history: TaskHistory) -> None:
    with Simulator(front_end_url="https://console.example") as sim:
        client = KlingClient(sim.api_key, base_url=sim.url + "/console")
        with pytest.raises(RedirectError) as caught:
            client.create_task(req(photo), history=history)
        assert caught.value.location and caught.value.location.startswith("https://console.example")
        assert "https://console.example" in str(caught.value)
        assert sim.creates == 0 and history.entries()[0].status == "rejected"


def test_out_of_credit_is_an_account_error(photo: bytes, history: TaskHistory) -> None:
    with Simulator(quota=0) as sim:
        with pytest.raises(AccountError) as caught:
            gateway(sim).create_task(req(photo), history=history)
        assert caught.value.status_code == 403 and "out of credit" in str(caught.value)
        assert history.entries()[0].status == "rejected"


def test_the_gateways_own_refusal_is_said_as_such_and_not_unknown(
    photo: bytes, history: TaskHistory, sleeps: Sleeps
) -> None:
    with Simulator(no_channel=True) as sim:
        with pytest.raises(GatewayError) as caught:
            gateway(sim, sleep=sleeps).create_task(req(photo), history=history)
        assert "before relaying" in str(caught.value) and caught.value.status_code == 503
        assert len(sim.requests) == 1 and sleeps == []  # not retried
        assert history.entries()[0].status == "rejected"


# -- "nothing is billed" only when proven ----------------------------------------------------------------
def test_nothing_is_billed_only_for_the_proven_simulator(sim: Simulator) -> None:
    """A self-hosted gateway on this machine bills like any other."""
    from kling_widgets import MultiImageToVideo

    with web_page_server() as address:
        local = KlingClient("sk-local", base_url=address)
        assert not local.is_simulator()
        app = MultiImageToVideo(local)
        text = " ".join(getattr(child, "value", "") for child in app.children if hasattr(child, "value"))
        assert "billed" in text and "nothing is billed" not in text and "simulator" not in text
        app.close()
        assert gateway(sim).is_simulator()
        assert all(not r.authorized for r in sim.requests)  # the probe carries no key


# -- a task that succeeded without a video link ------------------------------------------------------------
def test_success_without_a_video_link_is_asked_again_then_said(photo: bytes) -> None:
    with Simulator(processing_seconds=0.3) as sim:
        client = gateway(sim)
        sim.omit_next_video_link(2)
        done = client.wait(client.create_task(req(photo)), timeout=20)
        assert done.status is TaskStatus.SUCCEEDED and done.video_url is None
        after = [r for r in sim.requests if r.method == "GET"]
        assert len(after) >= 4  # the first success, then asked again
        heard: list[TaskUpdate] = []
        watcher = TaskWatcher(client, poll_interval=0.05)
        watcher.watch(client.create_task(req(photo)), heard.append)
        assert watcher.wait_idle(20)
        assert heard[-1].final and heard[-1].problem and "no video link" in heard[-1].problem


# -- one watcher per process -------------------------------------------------------------------------------
def test_two_bundles_over_one_journal_poll_each_task_once(sim: Simulator, photo: bytes, history: TaskHistory) -> None:
    from kling_widgets import MultiImageToVideo

    sim.processing_seconds = 2.0
    first = MultiImageToVideo(gateway(sim, history=history), history=history, poll_interval=0.2)
    first.image_picker.add(photo)
    first.prompt_box.value = "a fox"
    future = first.submit()
    assert future is not None
    task = future.result(timeout=20)
    assert task is not None
    again = MultiImageToVideo(gateway(sim, history=history), history=history, poll_interval=0.2)  # the cell re-run
    from kling_widgets.watcher import _ENGINE

    with _ENGINE.cond:  # the task is still running: one watch of it, followed by both bundles
        watches = [w for (_, key), w in _ENGINE.watched.items() if key == task.id]
        assert len(watches) == 1 and {s.watcher for s in watches[0].subscriptions} == {first.watcher, again.watcher}
    assert first.watcher and again.watcher and again.watcher.wait_idle(20) and first.watcher.wait_idle(20)
    assert len([t for t in threading.enumerate() if t.name == "kling-task-watcher"]) == 1
    assert [t.status for t in first.tasks] == [TaskStatus.SUCCEEDED]
    assert [t.status for t in again.tasks] == [TaskStatus.SUCCEEDED]
    first.close()
    again.close()


# -- the simulator CLI and the standard library -----------------------------------------------------------
def test_the_simulator_changes_no_standard_library_class() -> None:
    before = {cls: dict(vars(cls)) for cls in (HTTPServer, ThreadingHTTPServer, BaseHTTPRequestHandler)}
    with Simulator() as sim:
        assert requests.get(sim.url + "/sim/about", timeout=5).json()["service"]
    assert {cls: dict(vars(cls)) for cls in before} == before


def test_the_simulator_cli_serves_on_loopback_by_default() -> None:
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "kling_widgets.simulator", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line
    finally:
        process.terminate()
        process.wait(10)
