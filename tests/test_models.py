"""Task.from_payload on the documented samples of every shape, and VideoRequest's rules field by field."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from kling_widgets import PreparedImage, Task, TaskStatus, ValidationError, VideoRequest
from kling_widgets.errors import PayloadError
from kling_widgets.models import parse_progress, parse_time

GATEWAY_CREATE = {
    "id": "860260753860210752",
    "task_id": "860260753860210752",
    "object": "video",
    "model": "kling-v1-6",
    "status": "submitted",
    "progress": 0,
    "created_at": 1773130665,
}
GATEWAY_ENVELOPE = {
    "code": "success",
    "message": "",
    "data": {
        "task_id": "860260753860210752",
        "action": "multi-image2video",
        "status": "SUCCESS",
        "fail_reason": "",
        "submit_time": 1773130665,
        "start_time": 1773130670,
        "finish_time": 1773130720,
        "progress": "100%",
        "data": {
            "code": 0,
            "message": "SUCCEED",
            "data": {
                "task_id": "860260753860210752",
                "task_status": "succeed",
                "task_info": {"external_task_id": "my-1"},
                "task_result": {"videos": [{"id": "v1", "url": "https://cdn.example/v.mp4", "duration": "5.1"}]},
                "created_at": 1773130665000,
                "updated_at": 1773130720000,
            },
        },
    },
}
KLING_DIRECT = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "req-1",
    "data": {
        "task_id": "abc",
        "task_status": "failed",
        "task_status_msg": "Image contains sensitive content",
        "task_info": {"external_task_id": "ext-9"},
        "final_unit_deduction": "0",
        "watermark_info": {"enabled": False},
        "created_at": 1773130665123,
        "updated_at": 1773130700456,
    },
}


def test_gateway_create_shape() -> None:
    task = Task.from_payload(GATEWAY_CREATE)
    assert task.id == "860260753860210752"
    assert task.status is TaskStatus.SUBMITTED and task.progress == 0
    assert task.created_at == datetime.fromtimestamp(1773130665, tz=timezone.utc)
    assert not task.done


def test_gateway_video_object_completed() -> None:
    payload = {
        **GATEWAY_CREATE,
        "status": "completed",
        "metadata": {"url": "https://cdn/x.mp4"},
        "seconds": "10",
    }
    task = Task.from_payload(payload)
    assert task.status is TaskStatus.SUCCEEDED and task.video_url == "https://cdn/x.mp4"
    assert task.video_duration == 10.0 and task.progress == 100


def test_gateway_envelope_shape() -> None:
    task = Task.from_payload(GATEWAY_ENVELOPE)
    assert task.status is TaskStatus.SUCCEEDED and task.raw_status == "SUCCESS"
    assert task.video_url == "https://cdn.example/v.mp4" and task.video_duration == 5.1
    assert task.external_task_id == "my-1"
    assert task.created_at == datetime.fromtimestamp(1773130665, tz=timezone.utc)
    assert task.updated_at == datetime.fromtimestamp(1773130720, tz=timezone.utc)
    assert task.raw is GATEWAY_ENVELOPE


def test_gateway_envelope_progress_string_and_failure() -> None:
    running = {"code": "success", "data": {"task_id": "t", "status": "IN_PROGRESS", "progress": "30%"}}
    assert Task.from_payload(running).progress == 30.0
    failed = {"code": "success", "data": {"task_id": "t", "status": "FAILURE", "fail_reason": "policy"}}
    task = Task.from_payload(failed)
    assert task.status is TaskStatus.FAILED and task.error == "policy" and task.done
    assert Task.from_payload({"code": "success", "data": {"task_id": "t", "status": "FAILED"}}).done


def test_gateway_answers_other_versions_of_its_software_give_are_tolerated() -> None:
    submitted = Task.from_payload({"code": "success", "message": "", "data": "task-7"})  # the id alone
    assert submitted.id == "task-7" and not submitted.done
    done = {"code": "success", "data": {"task_id": "t", "status": "SUCCESS", "result_url": "https://cdn.example/r.mp4"}}
    assert Task.from_payload(done).video_url == "https://cdn.example/r.mp4"
    with pytest.raises(PayloadError):  # a refusal's words are not a task id
        Task.from_payload({"code": "task_failed", "message": "no", "data": "bad image"})


def test_kling_direct_shape_milliseconds_and_failure_reason() -> None:
    task = Task.from_payload(KLING_DIRECT)
    assert task.status is TaskStatus.FAILED and task.error == "Image contains sensitive content"
    assert task.external_task_id == "ext-9"
    assert task.created_at == datetime.fromtimestamp(1773130665.123, tz=timezone.utc)
    assert task.created_at.utcoffset() == timedelta(0)  # an aware time, in UTC


def test_kling_callback_body_is_the_bare_data_object() -> None:
    task = Task.from_payload(KLING_DIRECT["data"])
    assert task.id == "abc" and task.status is TaskStatus.FAILED


@pytest.mark.parametrize("raw", ["DANCING", "UNKNOWN", "NOT_START", "QUEUED", "", "weird"])
def test_unknown_statuses_are_kept_raw_and_still_running(raw: str) -> None:
    task = Task.from_payload({"code": "success", "data": {"task_id": "t", "status": raw}})
    assert not task.done
    assert task.raw_status == (raw or None)


@pytest.mark.parametrize("payload", [{}, {"code": 0}, {"foo": 1}, {"data": []}, {"code": 0, "data": {"x": 1}}])
def test_unrecognised_payloads_raise_payload_error(payload: dict[str, object]) -> None:
    with pytest.raises(PayloadError):
        Task.from_payload(payload)


def test_parsers() -> None:
    assert parse_time(1773130665) == parse_time(1773130665000) == parse_time("1773130665")
    assert parse_time("2026-03-10T08:17:45Z") == datetime(2026, 3, 10, 8, 17, 45, tzinfo=timezone.utc)
    assert parse_time(None) is None and parse_time("nonsense") is None and parse_time(0) is None
    assert parse_progress("45%") == 45 and parse_progress(150) == 100 and parse_progress("x") is None


def test_task_repr_is_cheap() -> None:
    assert (
        repr(Task.from_payload(GATEWAY_ENVELOPE)) == "Task(id='860260753860210752', status='succeeded', progress=100)"
    )


# -- VideoRequest ---------------------------------------------------------------------------------
URL = "https://example.com/a.jpg"


def test_to_payload_is_the_exact_body(photo: bytes) -> None:
    request = VideoRequest(
        [URL, photo],
        "two friends wave",
        negative_prompt="blur",
        mode="pro",
        duration=10,
        aspect_ratio="9:16",
        watermark=True,
        callback_url="https://example.com/cb",
        external_task_id="mine-1",
    )
    body = request.to_payload()
    assert body["image_list"][0] == {"image": URL}
    encoded = body["image_list"][1]["image"]
    assert not encoded.startswith("data:") and base64.b64decode(encoded)[:3] == b"\xff\xd8\xff"
    assert body["duration"] == "10" and isinstance(body["duration"], str)
    assert {k: v for k, v in body.items() if k != "image_list"} == {
        "model_name": "kling-v1-6",
        "prompt": "two friends wave",
        "negative_prompt": "blur",
        "mode": "pro",
        "duration": "10",
        "aspect_ratio": "9:16",
        "watermark_info": {"enabled": True},
        "callback_url": "https://example.com/cb",
        "external_task_id": "mine-1",
    }


def test_none_fields_are_left_out() -> None:
    body = VideoRequest([URL], "hi").to_payload()
    assert set(body) == {"model_name", "image_list", "prompt", "mode", "duration", "aspect_ratio"}
    assert body["duration"] == "5" and body["mode"] == "std" and body["aspect_ratio"] == "16:9"


def test_every_problem_is_reported_at_once() -> None:
    request = VideoRequest(
        [],
        "x" * 2501,
        negative_prompt="y" * 2600,
        model_name="kling-v9",
        mode="ultra",
        duration=7,
        aspect_ratio="4:3",
        watermark="yes",
        callback_url="ftp://x",
        external_task_id="has space",  # type: ignore[arg-type]
    )
    with pytest.raises(ValidationError) as caught:
        request.validate()
    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) == {
        "images",
        "prompt",
        "negative_prompt",
        "model_name",
        "mode",
        "duration",
        "aspect_ratio",
        "watermark",
        "callback_url",
        "external_task_id",
    }
    assert "2500" in problems["prompt"].message and "2501" in problems["prompt"].message
    assert problems["prompt"].limit == 2500 and problems["prompt"].value == 2501
    assert "5 s, 10 s" in problems["duration"].message and "7" in problems["duration"].message
    assert "16:9, 9:16, 1:1" in problems["aspect_ratio"].message
    assert "1 to 4" in problems["images"].message


def test_too_many_images_and_empty_prompt() -> None:
    problems = VideoRequest([URL] * 5, "   ").problems()
    assert [p.field for p in problems] == ["images", "prompt"]
    assert "got 5" in problems[0].message


def test_duration_string_is_accepted_as_its_number() -> None:
    assert VideoRequest([URL], "a", duration="10").to_payload()["duration"] == "10"  # type: ignore[arg-type]


def test_image_problems_name_the_index(tmp_path: object) -> None:
    problems = VideoRequest([URL, b"GIF89a" + b"\0" * 100, "/no/such/file.jpg"], "a").problems()
    assert [p.field for p in problems] == ["images[1]", "images[2]"]
    assert "damaged" in problems[0].message and "no such file" in problems[1].message


def test_prepared_images_are_not_prepared_twice(photo: bytes) -> None:
    request = VideoRequest([photo], "a")
    first = request.prepared_images()[0]
    assert isinstance(first, PreparedImage)
    assert request.prepared_images()[0] is first
    assert request.with_external_task_id("e").prepared_images()[0] is first


def test_repr_holds_no_image_bytes(photo: bytes) -> None:
    assert len(repr(VideoRequest([photo], "a"))) < 200


def test_a_refused_image_is_examined_once(monkeypatch: pytest.MonkeyPatch, photo: bytes) -> None:
    import kling_widgets.request as request_module

    calls: list[object] = []
    real = request_module.prepare_image

    def counting(source: object, **kwargs: object) -> PreparedImage:
        calls.append(source)
        return real(source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(request_module, "prepare_image", counting)
    request = VideoRequest([b"GIF89a" + bytes(50), photo], "a")
    assert [p.field for p in request.problems()] == ["images[0]"]
    with pytest.raises(ValidationError):
        request.validate()
    with pytest.raises(ValidationError):
        request.prepared_images()
    assert len(calls) == 2  # each image once, the refused one included
