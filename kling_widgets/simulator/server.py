"""A local stand-in for the Kling service, written from API.md alone.

It imports nothing from the client, the models or the image pipeline, so that a misreading of the
contract there cannot hide behind the same misreading here. It speaks both providers' paths, shapes and
auth (it verifies Kling's JWT), validates create bodies with the service's own error codes, moves tasks
submitted → processing → succeeded over ``processing_seconds``, and serves a real MP4 made from the
request's images. Faults can be injected for tests.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import itertools
import json
import random
import re
import socket
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GATEWAY_CREATE = "/kling/v1/videos/multi-image2video"
KLING_CREATE = "/v1/videos/multi-image2video"
MAX_IMAGE_BYTES = 10_000_000
ENUMS = {
    "model_name": ("kling-v1-6",),
    "mode": ("std", "pro"),
    "duration": ("5", "10"),
    "aspect_ratio": ("16:9", "9:16", "1:1"),
}


@dataclass
class Fault:
    """One injected failure. Matches requests by method and a substring of the path."""

    method: str | None = None
    path: str | None = None
    status: int | None = 500  # None: no failure, only the delay (a slow service)
    code: int | str | None = 5000
    message: str = "simulated server error"
    retry_after: float | None = None
    times: int | None = 1  # None: every matching request
    apply: bool = False  # a create is accepted first, then answered with the fault (or dropped)
    drop: bool = False  # close the connection without any answer
    delay: float = 0.0  # seconds to wait before answering
    probability: float = 1.0  # below 1: a flaky fault
    hits: int = 0

    @property
    def fails(self) -> bool:
        """False for a delay-only fault: the request is then served as usual, late."""
        return self.drop or self.status is not None

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.path and self.path not in path:
            return False
        return random.random() < self.probability


@dataclass
class RecordedRequest:
    """What reached the simulator: never the Authorization value, only whether one came."""

    method: str
    path: str
    json: Any
    authorized: bool
    user_agent: str | None
    time: float = field(default_factory=time.time)


@dataclass
class SimTask:
    task_id: str
    external_task_id: str | None
    body: dict[str, Any]
    created: float
    fail_reason: str | None = None
    video: bytes | None = None
    reported_status: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Simulator:
    """A real HTTP server on 127.0.0.1 that behaves like the service in API.md.

    Use it as a context manager (or ``start()`` / ``stop()``); ``url`` and ``api_key`` (or
    ``access_key`` / ``secret_key`` for ``provider="kling"``) are what a client needs.
    A prompt containing ``[fail]`` makes its task fail.
    """

    def __init__(
        self,
        provider: str = "gateway",
        *,
        api_key: str = "sim-key",
        access_key: str = "sim-access-key",
        secret_key: str = "sim-secret-key-for-local-tests-only-0123",
        processing_seconds: float = 3.0,
        host: str = "127.0.0.1",
        port: int = 0,
        max_concurrent: int | None = None,
        video_fps: int = 8,
        redirect_videos: bool = False,
    ) -> None:
        if provider not in ("gateway", "kling"):
            raise ValueError("provider must be 'gateway' or 'kling'")
        self.provider = provider
        self.api_key, self.access_key, self.secret_key = api_key, access_key, secret_key
        self.processing_seconds = processing_seconds
        self.max_concurrent = max_concurrent
        self.video_fps = video_fps
        self.redirect_videos = redirect_videos
        self.host, self.port = host, port
        self.requests: list[RecordedRequest] = []
        self.created: list[dict[str, Any]] = []
        self.video_requests: list[RecordedRequest] = []
        self.callbacks: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._tasks: dict[str, SimTask] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(860260753860210752 + random.randrange(10**9))
        self._fail_next: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"Simulator(provider={self.provider!r}, {state})"

    # -- life cycle --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() or use it in a with block")
        return f"http://{self.host}:{self.port}"

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        handler = type("Handler", (_Handler,), {"sim": self})
        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer((self.host, self.port), handler)
        server.daemon_threads = True
        self._server, self.port = server, server.server_address[1]
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True),
            threading.Thread(target=self._callback_loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; tasks are kept, so ``start()`` again resumes them (same port)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------------
    def inject(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Add a fault: ``sim.inject(method="POST", status=429, code=1302, retry_after=1)``."""
        fault = fault or Fault(**kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def fail_next_task(self, reason: str = "Kling could not generate this video") -> None:
        """The next task created will end in failure with ``reason``."""
        with self._lock:
            self._fail_next.append(reason)

    def task_status(self, task_id: str) -> str | None:
        """Kling's status of a task right now, or None if there is no such task."""
        task = self._find(task_id)
        return self._status(task)[0] if task else None

    @property
    def creates(self) -> int:
        """How many tasks were created: one per intention is what a good client achieves."""
        return len(self.created)

    # -- state -------------------------------------------------------------------------------------
    def _find(self, key: str) -> SimTask | None:
        with self._lock:
            task = self._tasks.get(key)
            if task is None:
                task = next((t for t in self._tasks.values() if t.external_task_id == key), None)
            return task

    def _status(self, task: SimTask) -> tuple[str, int]:
        """(Kling status, progress 0-100) from the time since creation."""
        elapsed = time.time() - task.created
        total = max(self.processing_seconds, 0.001)
        if elapsed >= total:
            return ("failed" if task.fail_reason else "succeed"), 100
        if elapsed < total * 0.15:
            return "submitted", 0
        return "processing", min(99, int(elapsed / total * 100))

    def _running(self) -> int:
        return sum(1 for t in self._tasks.values() if self._status(t)[0] in ("submitted", "processing"))

    def _create(self, body: dict[str, Any]) -> SimTask:
        with self._lock:
            task_id = str(next(self._ids))
            prompt = str(body.get("prompt", ""))
            reason = self._fail_next.pop(0) if self._fail_next else None
            if "[fail]" in prompt:
                reason = reason or "Kling could not generate this video (the prompt asked for a failure)"
            task = SimTask(task_id, body.get("external_task_id"), body, time.time(), fail_reason=reason)
            self._tasks[task_id] = task
            self.created.append({"task_id": task_id, "external_task_id": task.external_task_id, "body": body})
            return task

    def video_url(self, task: SimTask) -> str:
        kind = "redirect" if self.redirect_videos else "videos"
        return f"http://{self.host}:{self.port}/sim/{kind}/{task.task_id}.mp4"

    def kling_object(self, task: SimTask) -> dict[str, Any]:
        """Kling's own task object (the ``data`` of a direct answer, and the callback body)."""
        status, _ = self._status(task)
        body = task.body
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "task_status_msg": task.fail_reason if status == "failed" else "",
            "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
            "final_unit_deduction": "1" if status == "succeed" else "0",
            "watermark_info": {"enabled": bool((body.get("watermark_info") or {}).get("enabled"))},
            "created_at": int(task.created * 1000),
            "updated_at": int(time.time() * 1000),
        }
        if status == "succeed":
            data["task_result"] = {
                "videos": [
                    {
                        "id": f"v{task.task_id}",
                        "url": self.video_url(task),
                        "duration": body.get("duration", "5"),
                    }
                ]
            }
        return data

    def render(self, task: SimTask) -> bytes:
        """The task's MP4, made once from its images on first request."""
        with task.lock:
            if task.video is None:
                from .video import placeholder, render_mp4

                images = []
                for item in task.body.get("image_list", []):
                    decoded = _decode_image(str(item.get("image", "")))
                    images.append(decoded if decoded is not None else placeholder(str(item.get("image"))))
                task.video = render_mp4(
                    images,
                    aspect_ratio=str(task.body.get("aspect_ratio", "16:9")),
                    seconds=int(task.body.get("duration", "5")),
                    fps=self.video_fps,
                )
            return task.video

    def _callback_loop(self) -> None:
        """POST Kling's task object to each task's callback_url on every status change (loopback only)."""
        while not self._stopping.wait(0.2):
            with self._lock:
                tasks = [t for t in self._tasks.values() if t.body.get("callback_url")]
            for task in tasks:
                status, _ = self._status(task)
                if status == task.reported_status:
                    continue
                task.reported_status = status
                url = str(task.body["callback_url"])
                host = urlsplit(url).hostname or ""
                record = {"task_id": task.task_id, "status": status, "url": url, "delivered": False}
                if host in ("127.0.0.1", "localhost", "::1"):
                    request = urllib.request.Request(
                        url,
                        data=json.dumps(self.kling_object(task)).encode(),
                        headers={"Content-Type": "application/json"},
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=2):
                            record["delivered"] = True
                    except OSError:
                        pass
                self.callbacks.append(record)

    # -- validation, as the service does it ----------------------------------------------------------
    def validate(self, body: Any) -> str | None:
        """The service's refusal message for a create body, or None when it is acceptable."""
        if not isinstance(body, dict):
            return "request body must be a JSON object"
        images = body.get("image_list")
        if not isinstance(images, list) or not 1 <= len(images) <= 4:
            return "image_list must hold 1 to 4 items"
        for index, item in enumerate(images):
            problem = _image_problem(item)
            if problem:
                return f"image_list[{index}].image: {problem}"
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "prompt is required"
        for name in ("prompt", "negative_prompt"):
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > 2500):
                return f"{name} must be a string of at most 2500 characters"
        for name, allowed in ENUMS.items():
            if name in body and body[name] not in allowed:
                return f"{name} must be one of {', '.join(allowed)} (strings)"
        watermark = body.get("watermark_info")
        if watermark is not None and not (isinstance(watermark, dict) and isinstance(watermark.get("enabled"), bool)):
            return 'watermark_info must be {"enabled": true|false}'
        for name in ("callback_url", "external_task_id"):
            if name in body and not isinstance(body[name], str):
                return f"{name} must be a string"
        ext = body.get("external_task_id")
        if ext and any(t.external_task_id == ext for t in self._tasks.values()):
            return f"external_task_id {ext} already exists"
        return None


def _decode_image(value: str) -> Any:
    if value.startswith(("http://", "https://")):
        return None
    from PIL import Image

    try:
        return Image.open(io.BytesIO(base64.b64decode(value)))
    except (ValueError, OSError, binascii.Error):
        return None


def _image_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("image"), str) or not item["image"]:
        return 'each item must be {"image": "<url or base64>"}'
    value: str = item["image"]
    if re.match(r"https?://", value):
        return None
    if value.startswith("data:"):
        return "base64 must not carry a data:image/...;base64, prefix"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "neither an http(s) URL nor valid base64"
    if len(raw) > MAX_IMAGE_BYTES:
        return "image is larger than 10 MB"
    if not (raw.startswith(b"\xff\xd8\xff") or raw.startswith(b"\x89PNG\r\n\x1a\n")):
        return "only jpg/jpeg/png are supported"
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
    except (OSError, ValueError):
        return "image cannot be decoded"
    if min(width, height) < 300:
        return f"each side must be at least 300px (got {width}x{height})"
    if max(width, height) / min(width, height) > 2.5:
        return "aspect ratio must be between 1:2.5 and 2.5:1"
    return None


class _Handler(BaseHTTPRequestHandler):
    sim: Simulator
    protocol_version = "HTTP/1.1"
    server_version = "KlingSimulator/1"
    # Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and notebooks should not fill up with access logs

    # -- plumbing ----------------------------------------------------------------------------------
    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int | str, message: str, headers: dict[str, str] | None = None) -> None:
        if not self._is_gateway():
            body: dict[str, Any] = {"code": code, "message": message, "request_id": uuid.uuid4().hex}
        elif code in ("task_not_exist", "task_failed"):
            body = {"code": code, "message": message, "data": None}
        else:
            body = {"error": {"message": message, "type": "upstream_error", "code": code}}
        self._send_json(status, body, headers)

    def _is_gateway(self) -> bool:
        return self.sim.provider == "gateway"

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return ...

    def _authorized(self) -> tuple[bool, int | str, str]:
        header = self.headers.get("Authorization") or ""
        token = header[7:] if header.startswith("Bearer ") else ""
        if self._is_gateway():
            if token == self.sim.api_key:
                return True, 0, ""
            return False, "invalid_api_key", "Invalid API key" if token else "Missing Authorization header"
        if not token:
            return False, 1001, "Authorization is empty"
        import jwt

        try:
            claims = jwt.decode(
                token, self.sim.secret_key, algorithms=["HS256"], options={"require": ["exp", "nbf", "iss"]}
            )
        except jwt.ExpiredSignatureError:
            return False, 1004, "Authorization token has expired"
        except jwt.ImmatureSignatureError:
            return False, 1003, "Authorization token is not yet valid"
        except jwt.PyJWTError:
            return False, 1002, "Authorization is invalid"
        if claims.get("iss") != self.sim.access_key:
            return False, 1002, "Authorization is invalid (unknown access key)"
        return True, 0, ""

    def _handle(self, method: str) -> None:
        sim = self.sim
        parts = urlsplit(self.path)
        path = parts.path
        body = self._read_json() if method == "POST" else None
        if path.startswith("/sim/"):
            self._serve_video(path)
            return
        record = RecordedRequest(
            method,
            path,
            None if body is ... else body,
            bool(self.headers.get("Authorization")),
            self.headers.get("User-Agent"),
        )
        with sim._lock:
            sim.requests.append(record)
            fault = next((f for f in sim.faults if f.matches(method, path)), None)
            if fault:
                fault.hits += 1
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.fails and not fault.apply:
            self._answer_fault(fault)
            return
        ok, code, message = self._authorized()
        if not ok:
            self._error(401, code, message)
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self._route(method, path, body, query, fault)

    def _answer_fault(self, fault: Fault) -> None:
        if fault.drop:
            self._drop()
            return
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
        self._error(fault.status or 500, fault.code if fault.code is not None else "error", fault.message, headers)

    def _route(self, method: str, path: str, body: Any, query: dict[str, str], fault: Fault | None) -> None:
        sim = self.sim
        create_path = GATEWAY_CREATE if self._is_gateway() else KLING_CREATE
        if method == "POST" and path == create_path:
            self._create(body, fault)
        elif method == "GET" and self._is_gateway():
            match = re.fullmatch(r"/kling/v1/videos/(?:([\w-]+)/)?([^/]+)", path)
            task = sim._find(match.group(2)) if match else None
            if match is None:
                self._error(404, "not_found", f"no route for {path}")
            elif task is None:
                self._error(400, "task_not_exist", "task_not_exist")
            elif match.group(1):
                self._send_json(200, self._envelope(task, match.group(1)))
            else:
                self._send_json(200, self._video_object(task))
        elif method == "GET" and path == KLING_CREATE:
            self._list(query)
        elif method == "GET" and path.startswith(KLING_CREATE + "/"):
            task = sim._find(path.rsplit("/", 1)[1])
            if task is None:
                self._error(404, 1203, "task not found")
            else:
                self._send_json(200, self._kling_answer(task))
        else:
            self._error(404, 1203 if not self._is_gateway() else "not_found", f"no route for {method} {path}")

    def _create(self, body: Any, fault: Fault | None) -> None:
        sim = self.sim
        problem = "request body is not valid JSON" if body is ... else sim.validate(body)
        if problem:
            if self._is_gateway():
                self._error(400, "task_failed", f"Kling refused the task: 1201 {problem}")
            else:
                self._error(400, 1201, problem)
            return
        with sim._lock:
            if sim.max_concurrent is not None and sim._running() >= sim.max_concurrent:
                self._error(429, 1303, "parallel task count exceeds the account's limit", {"Retry-After": "1"})
                return
            task = sim._create(body)
        if fault and fault.fails:  # the create took effect; now the answer fails
            self._answer_fault(fault)
            return
        if self._is_gateway():
            self._send_json(
                200,
                {
                    "id": task.task_id,
                    "task_id": task.task_id,
                    "object": "video",
                    "model": body.get("model_name", "kling-v1-6"),
                    "status": "submitted",
                    "progress": 0,
                    "created_at": int(task.created),
                },
            )
        else:
            self._send_json(200, self._kling_answer(task))

    def _kling_answer(self, task: SimTask) -> dict[str, Any]:
        return {
            "code": 0,
            "message": "SUCCEED",
            "request_id": uuid.uuid4().hex,
            "data": self.sim.kling_object(task),
        }

    def _envelope(self, task: SimTask, action: str) -> dict[str, Any]:
        status, progress = self.sim._status(task)
        gateway_status = {
            "submitted": "SUBMITTED",
            "processing": "IN_PROGRESS",
            "succeed": "SUCCESS",
            "failed": "FAILURE",
        }[status]
        finished = status in ("succeed", "failed")
        return {
            "code": "success",
            "message": "",
            "data": {
                "task_id": task.task_id,
                "action": action,
                "status": gateway_status,
                "fail_reason": task.fail_reason if status == "failed" else "",
                "submit_time": int(task.created),
                "start_time": int(task.created) + 1,
                "finish_time": int(task.created + self.sim.processing_seconds) if finished else 0,
                "progress": f"{progress}%",
                "data": {"code": 0, "message": "SUCCEED", "data": self.sim.kling_object(task)},
            },
        }

    def _video_object(self, task: SimTask) -> dict[str, Any]:
        status, progress = self.sim._status(task)
        answer: dict[str, Any] = {
            "id": task.task_id,
            "task_id": task.task_id,
            "object": "video",
            "model": task.body.get("model_name", "kling-v1-6"),
            "status": {
                "submitted": "queued",
                "processing": "in_progress",
                "succeed": "completed",
                "failed": "failed",
            }[status],
            "progress": progress,
            "created_at": int(task.created),
            "seconds": task.body.get("duration", "5"),
        }
        if status == "succeed":
            answer["metadata"] = {"url": self.sim.video_url(task)}
        if status == "failed":
            answer["error"] = {"message": task.fail_reason}
        return answer

    def _list(self, query: dict[str, str]) -> None:
        try:
            page, size = int(query.get("pageNum", 1)), int(query.get("pageSize", 30))
        except ValueError:
            page, size = 0, 0
        if not (1 <= page <= 1000 and 1 <= size <= 500):
            self._error(400, 1201, "pageNum must be 1..1000 and pageSize 1..500")
            return
        with self.sim._lock:
            tasks = sorted(self.sim._tasks.values(), key=lambda t: t.created, reverse=True)
        chosen = tasks[(page - 1) * size : page * size]
        self._send_json(
            200,
            {
                "code": 0,
                "message": "SUCCEED",
                "request_id": uuid.uuid4().hex,
                "data": [self.sim.kling_object(t) for t in chosen],
            },
        )

    def _serve_video(self, path: str) -> None:
        sim = self.sim
        sim.video_requests.append(
            RecordedRequest("GET", path, None, bool(self.headers.get("Authorization")), self.headers.get("User-Agent"))
        )
        match = re.fullmatch(r"/sim/(videos|redirect)/([^/]+)\.mp4", path)
        task = sim._find(match.group(2)) if match else None
        if task is None or sim._status(task)[0] != "succeed":
            self._send_json(404, {"error": "no such video"})
            return
        if match and match.group(1) == "redirect":
            self.send_response(302)  # to another host name, as a CDN would
            self.send_header("Location", f"http://localhost:{sim.port}/sim/videos/{task.task_id}.mp4")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = sim.render(task)
        start, end = 0, len(data) - 1
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
        if ranged and (ranged.group(1) or ranged.group(2)):
            if ranged.group(1):
                start = int(ranged.group(1))
                end = min(end, int(ranged.group(2))) if ranged.group(2) else end
            else:
                start = max(0, len(data) - int(ranged.group(2)))
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        self.wfile.write(data[start : end + 1])

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")
