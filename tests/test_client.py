"""The client against the simulator over real HTTP: paths, bodies, headers, both providers' shapes,
auth (the JWT is verified by the server), errors by business code, retries, downloads."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import jwt
import pytest

from kling_widgets import (
    APIError,
    AuthenticationError,
    KlingClient,
    RateLimitError,
    TaskFailedError,
    TaskStatus,
    ValidationError,
)
from kling_widgets.errors import AccountError, BadRequestError, ContentPolicyError, KlingError, NotFoundError
from kling_widgets.simulator import Simulator

from .conftest import Sleeps, serving
from .conftest import fox as request


def test_gateway_create_get_wait_download(client: KlingClient, sim: Simulator, photo: bytes, tmp_path: Path) -> None:
    task = client.create_task(request(photo, mode="pro", duration=10, aspect_ratio="1:1"))
    assert task.status is TaskStatus.SUBMITTED and task.external_task_id.startswith("kw-")  # type: ignore[union-attr]
    create = sim.requests[0]
    assert (create.method, create.path) == ("POST", "/kling/v1/videos/multi-image2video")
    assert create.json["duration"] == "10" and create.json["external_task_id"] == task.external_task_id
    assert create.authorized and create.user_agent.startswith("kling-widgets/")  # type: ignore[union-attr]
    updates: list[TaskStatus] = []
    done = client.wait(task, on_update=lambda t: updates.append(t.status))
    assert done.status is TaskStatus.SUCCEEDED and done.video_url and done.video_duration == 10
    assert updates[-1] is TaskStatus.SUCCEEDED and done.external_task_id == task.external_task_id
    assert all(r.path == f"/kling/v1/videos/text2video/{task.id}" for r in sim.requests[1:])  # the documented route
    path = client.download(done, tmp_path)
    assert path.read_bytes()[4:8] == b"ftyp" and path.name == f"kling-{task.id}.mp4"
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (480, 480) and stream.codec_context.name == "h264"
        assert abs(float(container.duration / 1e6) - 10) < 0.5  # type: ignore[operator]


def test_kling_direct_round_trip_with_verified_jwt(
    kling_client: KlingClient, kling_sim: Simulator, photo: bytes
) -> None:
    done = kling_client.generate(request(photo, external_task_id="my-own-1"))
    assert done.status is TaskStatus.SUCCEEDED and done.external_task_id == "my-own-1"
    assert kling_sim.requests[0].path == "/v1/videos/multi-image2video"
    by_external = kling_client.get_task("my-own-1")
    assert by_external.id == done.id
    listed = kling_client.list_tasks(page=1, page_size=10)
    assert [t.id for t in listed] == [done.id]


def test_jwt_claims_and_resign_after_expiry(kling_client: KlingClient, kling_sim: Simulator, photo: bytes) -> None:
    token = kling_client._auth.token()  # type: ignore[union-attr]
    claims = jwt.decode(token, kling_sim.secret_key, algorithms=["HS256"])
    assert claims["iss"] == kling_sim.access_key and claims["exp"] - claims["nbf"] == 1805
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    kling_sim.inject(method="POST", status=401, code=1004, message="token expired")
    task = kling_client.create_task(request(photo))
    assert task.id and kling_sim.creates == 1
    assert [r.method for r in kling_sim.requests] == ["POST", "POST"]  # refused once, re-signed, accepted


def test_wrong_key_is_an_authentication_error_without_the_key(sim: Simulator, photo: bytes) -> None:
    client = KlingClient("sk-wrong-key-123456", base_url=sim.url)
    with pytest.raises(AuthenticationError) as caught:
        client.create_task(request(photo))
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert "sk-wrong-key-123456" not in str(caught.value) and "sk-wrong" not in repr(client)


def test_missing_credentials_say_how_to_fix_it() -> None:
    with pytest.raises(AuthenticationError) as caught:
        KlingClient()
    assert "KLING_API_KEY" in str(caught.value) and "Simulator" in str(caught.value)


def test_environment_configuration(monkeypatch: pytest.MonkeyPatch, kling_sim: Simulator) -> None:
    monkeypatch.setenv("KLING_ACCESS_KEY", kling_sim.access_key)
    monkeypatch.setenv("KLING_SECRET_KEY", kling_sim.secret_key)
    monkeypatch.setenv("KLING_BASE_URL", kling_sim.url)
    client = KlingClient()
    assert client.provider == "kling" and client.base_url == kling_sim.url
    assert "secret" not in repr(client._auth).replace("secret_key=***", "")


def test_gateway_unknown_task_is_not_found(client: KlingClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get_task("nope")
    assert caught.value.code == "task_not_exist"


def test_service_side_validation_is_a_bad_request_naming_the_field(
    client: KlingClient, sim: Simulator, photo: bytes
) -> None:
    sim.inject(method="POST", status=400, code=1201, message="prompt contains unsupported characters")
    with pytest.raises(BadRequestError) as caught:
        client.create_task(request(photo))
    assert caught.value.field == "prompt" and caught.value.code == 1201
    assert isinstance(caught.value, ValidationError) and caught.value.problems[0].field == "prompt"
    assert "prompt contains unsupported characters" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 1102, AccountError),
        (403, 1103, APIError),
        (400, 1301, ContentPolicyError),
        (429, 1304, APIError),
    ],
)
def test_business_codes_are_never_retried(
    client: KlingClient, sim: Simulator, photo: bytes, status: int, code: int, kind: type[Exception]
) -> None:
    sim.inject(method="POST", status=status, code=code, message="refused", times=None)
    with pytest.raises(kind) as caught:
        client.create_task(request(photo))
    assert not isinstance(caught.value, RateLimitError)
    assert len([r for r in sim.requests if r.method == "POST"]) == 1


def test_rate_limit_on_read_backs_off_honouring_retry_after(
    client: KlingClient, sim: Simulator, sleeps: Sleeps
) -> None:
    sim.inject(method="GET", status=429, code=1302, message="slow down", retry_after=7, times=2)
    with pytest.raises(NotFoundError):
        client.get_task("missing")
    assert sleeps == [7, 7]


def test_retry_after_is_capped(sim: Simulator, sleeps: Sleeps) -> None:
    client = KlingClient(sim.api_key, base_url=sim.url, sleep=sleeps, max_backoff=5)
    sim.inject(method="GET", status=429, code=1302, retry_after=3600)
    with pytest.raises(NotFoundError):
        client.get_task("x")
    assert sleeps == [5]


def test_server_errors_on_reads_are_retried_with_jittered_backoff(
    client: KlingClient, sim: Simulator, sleeps: Sleeps
) -> None:
    sim.inject(method="GET", status=503, code=5001, message="maintenance", times=2)
    with pytest.raises(NotFoundError):
        client.get_task("x")
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_retries_run_out(client: KlingClient, sim: Simulator) -> None:
    sim.inject(method="GET", status=500, code=5000, times=None)
    with pytest.raises(APIError) as caught:
        client.get_task("x")
    assert caught.value.status_code == 500 and len(sim.requests) == 3


def test_generate_raises_task_failed(client: KlingClient, sim: Simulator, photo: bytes) -> None:
    sim.fail_next_task("The content could not be generated")
    with pytest.raises(TaskFailedError) as caught:
        client.generate(request(photo), poll_interval=0.05)
    assert caught.value.task.error == "The content could not be generated"


def test_download_never_sends_authorization_across_redirects(photo: bytes, tmp_path: Path, sleeps: Sleeps) -> None:
    with Simulator(processing_seconds=0.2, redirect_videos=True) as sim:
        client = KlingClient(sim.api_key, base_url=sim.url, sleep=sleeps)
        done = client.generate(request(photo), poll_interval=0.05)
        assert "/sim/redirect/" in (done.video_url or "")
        client.download(done, tmp_path / "out.mp4")
        assert [r.path.split("/")[2] for r in sim.video_requests] == ["redirect", "videos"]
        assert not any(r.authorized for r in sim.video_requests)
        assert (tmp_path / "out.mp4").stat().st_size > 1000


def test_gateway_has_no_list(client: KlingClient) -> None:
    with pytest.raises(KlingError, match="no list endpoint"):
        client.list_tasks()


def test_no_secret_in_logs_or_errors(sim: Simulator, photo: bytes, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-live-SUPERSECRET-0123456789"
    with Simulator(api_key=secret, processing_seconds=0.1) as server:
        client = KlingClient(secret, base_url=server.url, sleep=lambda s: None)
        server.inject(method="GET", status=500, message=f"upstream echoed Authorization: Bearer {secret}", times=None)
        caplog.set_level(logging.DEBUG)
        logging.getLogger("kling_widgets").info("header was Bearer %s", secret)
        with pytest.raises(APIError) as caught:
            client.get_task("t")
    text = caplog.text + str(caught.value) + repr(caught.value) + repr(client)
    assert secret not in text and "SUPERSECRET" not in text
    assert "***" in str(caught.value)


def test_callbacks_carry_kling_task_objects_that_parse(sim: Simulator, client: KlingClient, photo: bytes) -> None:
    import json
    from http.server import BaseHTTPRequestHandler

    from kling_widgets import Task

    received: list[Task] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(Task.from_payload(json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Receiver) as address:
        task = client.generate(request(photo, callback_url=f"{address}/hook"), poll_interval=0.05)
        deadline = time.monotonic() + 5
        while not any(t.done for t in received) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert received and received[-1].id == task.id and received[-1].status is TaskStatus.SUCCEEDED
    assert received[-1].external_task_id == task.external_task_id and received[-1].video_url
