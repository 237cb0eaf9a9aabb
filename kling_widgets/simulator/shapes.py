"""The answers, in each shape the service documents: Kling's own task object and answer, the gateway's
create answer, its task envelope (and the flatter variant of the same software), the OpenAI-style
video object, both providers' error bodies, and the page a web front end serves on unrouted paths."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from .account import units_of
from .state import SimTask, TaskStore

VideoUrl = Callable[[SimTask], str]

FRONT_END_HTML = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AnyFast</title>'
    b'<script type="module" src="/assets/index.js"></script></head>'
    b'<body><div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript></body></html>'
)

_GATEWAY_STATUS = {"submitted": "SUBMITTED", "processing": "IN_PROGRESS", "succeed": "SUCCESS", "failed": "FAILURE"}
_FLAT_STATUS = {"submitted": "queued", "processing": "processing", "succeed": "succeeded", "failed": "failed"}
_VIDEO_STATUS = {"submitted": "queued", "processing": "in_progress", "succeed": "completed", "failed": "failed"}


def kling_object(task: SimTask, store: TaskStore, video_url: VideoUrl) -> dict[str, Any]:
    """Kling's own task object (the ``data`` of a direct answer, and the callback body)."""
    status, _ = store.status(task)
    body = task.body
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": status,
        "task_status_msg": task.fail_reason if status == "failed" else "",
        "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
        "final_unit_deduction": unit_deduction(body) if status == "succeed" else "0",
        "watermark_info": {"enabled": bool((body.get("watermark_info") or {}).get("enabled"))},
        "created_at": int(task.created * 1000),
        # when the task last changed: its end once it ended (the service's own times), not "now"
        "updated_at": int(min(time.time(), task.created + store.processing_seconds) * 1000),
    }
    if status == "succeed":
        video: dict[str, Any] = {"id": f"v{task.task_id}", "duration": body.get("duration", "5")}
        if not task.no_video_link:
            video["url"] = video_url(task)
        data["task_result"] = {"videos": [video]}
    return data


def unit_deduction(body: dict[str, Any]) -> str:
    """The units the simulator reports as charged: its own stand-in rate (``account.units_of``), so that
    tests can see units add up; the real service reports its own figure."""
    return f"{units_of(body):g}"


def kling_answer(task: SimTask, store: TaskStore, video_url: VideoUrl) -> dict[str, Any]:
    return {
        "code": 0,
        "message": "SUCCEED",
        "request_id": uuid.uuid4().hex,
        "data": kling_object(task, store, video_url),
    }


def gateway_created(task: SimTask) -> dict[str, Any]:
    """The gateway's answer to a create: OpenAI-video-like, ``id == task_id``."""
    return {
        "id": task.task_id,
        "task_id": task.task_id,
        "object": "video",
        "model": task.body.get("model_name", "kling-v1-6"),
        "status": "submitted",
        "progress": 0,
        "created_at": int(task.created),
    }


def envelope(task: SimTask, action: str, store: TaskStore, video_url: VideoUrl) -> dict[str, Any]:
    """The gateway's task envelope around Kling's own answer."""
    status, progress = store.status(task)
    finished = status in ("succeed", "failed")
    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": task.task_id,
            "action": action,
            "status": _GATEWAY_STATUS[status],
            "fail_reason": task.fail_reason if status == "failed" else "",
            "submit_time": int(task.created),
            "start_time": int(task.created) + 1,
            "finish_time": int(task.created + store.processing_seconds) if finished else 0,
            "progress": f"{progress}%",
            "data": {"code": 0, "message": "SUCCEED", "data": kling_object(task, store, video_url)},
        },
    }


def flat(task: SimTask, store: TaskStore, video_url: VideoUrl) -> dict[str, Any]:
    """The flatter variant of the same software: the video at ``data.url``, the reason at
    ``data.error.message``."""
    status, progress = store.status(task)
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "status": _FLAT_STATUS[status],
        "format": "mp4",
        "url": video_url(task) if status == "succeed" and not task.no_video_link else "",
        "error": {"message": task.fail_reason, "code": "task_failed"} if status == "failed" else None,
        "metadata": {"progress": progress, "duration": task.body.get("duration", "5")},
    }
    return {"code": "success", "message": "", "data": data}


def video_object(task: SimTask, store: TaskStore, video_url: VideoUrl) -> dict[str, Any]:
    """The OpenAI-style video object of ``GET /v1/videos/{id}``."""
    status, progress = store.status(task)
    answer: dict[str, Any] = {
        "id": task.task_id,
        "task_id": task.task_id,
        "object": "video",
        "model": task.body.get("model_name", "kling-v1-6"),
        "status": _VIDEO_STATUS[status],
        "progress": progress,
        "created_at": int(task.created),
        "seconds": task.body.get("duration", "5"),
    }
    if status == "succeed" and not task.no_video_link:
        answer["metadata"] = {"url": video_url(task)}
    if status == "failed":
        answer["error"] = {"message": task.fail_reason}
    return answer


def kling_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": uuid.uuid4().hex}


def gateway_error(code: int | str, message: str, *, own: bool = False) -> dict[str, Any]:
    """The gateway's ``error`` object. Kling's codes are relayed as strings ("1303"); the gateway's
    own refusals (no channel, quota, body too large) carry ``type: new_api_error``."""
    if code in ("task_not_exist", "task_failed"):
        return {"code": code, "message": message, "data": None}
    kind = "new_api_error" if own else "upstream_error"
    return {"error": {"message": message, "type": kind, "code": str(code)}}
