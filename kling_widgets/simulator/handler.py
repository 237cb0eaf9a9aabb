"""The simulator's HTTP handler: routing as each provider routes, auth, the body cap, a throttled
uplink, injected faults, and the answers from ``shapes``.

In gateway mode it is strict the way the gateway's software is: only the documented routes answer
with JSON; any other path is served by the web front end (HTTP 200 with an HTML page, or a 301 where
a front-end address is configured); a body over the cap is refused with 413.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import shapes
from .account import models_answer
from .faults import Fault, RecordedRequest

if TYPE_CHECKING:
    from .server import Simulator

GATEWAY_CREATE = "/kling/v1/videos/multi-image2video"
KLING_CREATE = "/v1/videos/multi-image2video"
GATEWAY_MODELS = "/v1/models"
GATEWAY_BILLING = ("/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage")
KLING_COSTS = "/account/costs"
_GATEWAY_QUERY = re.compile(r"/kling/v1/videos/([\w-]+)/([^/]+)")
_OPENAI_QUERY = re.compile(r"/v1/videos/([^/]+)")
_READ_BLOCK = 64 * 1024
_ACCOUNT_WORDS = {
    1100: "account exception",
    1101: "account in arrears: settle the bill to use the API",
    1102: "resource pack exhausted or expired",
}


def _size(count: int) -> str:
    return f"{count} B" if count < 10_000 else f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


def _answer_notes(body: Any) -> list[str]:
    """What a log line says of a JSON answer: its business code and the task it is about (ids only)."""
    if not isinstance(body, dict):
        return []
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else body.get("code")
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    task = data.get("task_id") if isinstance(data, dict) else None
    status = data.get("task_status") or data.get("status") if isinstance(data, dict) and task else None
    notes = [] if code is None else [f"code={code}"]
    if task:
        notes.append(f"task={task}" + (f" ({status})" if status else ""))
    return notes


class Handler(BaseHTTPRequestHandler):
    sim: Simulator
    _status: str = ""
    _notes: list[str]
    _received: int = 0
    _written = True  # a line already written for this request (True outside ``_logged``: nothing to write)
    _method: str = ""
    _started: float = 0.0
    protocol_version = "HTTP/1.1"
    server_version = "KlingSimulator/1"
    # Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the stdlib's own lines (with the raw request line) stay quiet: ours is ``_log_line``

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Called by ``send_response``, before the answer leaves: this request's log line is written now, so
        a client that waits for each answer sees its requests logged in the order it made them."""
        self._status = str(int(code)) if str(code).isdigit() else str(code)
        if self.sim.log is not None and not self._written:
            self._written = True
            self.sim.write_log(self._log_line(self._method, time.monotonic() - self._started))

    def do_GET(self) -> None:
        self._logged("GET")

    def do_POST(self) -> None:
        self._logged("POST")

    def do_PUT(self) -> None:
        self._logged("PUT")

    def do_DELETE(self) -> None:
        self._logged("DELETE")

    # -- the request log -------------------------------------------------------------------------------
    def _logged(self, method: str) -> None:
        """Handle one request, then give the simulator's ``log`` one line about it (when it has one)."""
        self._status, self._notes, self._received, self._written = "", [], 0, False
        self._method, self._started = method, time.monotonic()
        try:
            self._handle(method)
        finally:
            if self.sim.log is not None and not self._written:  # no answer was sent: the connection dropped
                self._written = True
                self.sim.write_log(self._log_line(method, time.monotonic() - self._started))

    def _log_line(self, method: str, seconds: float) -> str:
        """One access-log line: when, who, method, path, status, business code and task, sizes, time taken.
        Never a header (the Authorization value is a key), the query or a body (pictures are base64)."""
        status = self._status or "-"
        if not self._status or "cut" in self._notes:
            status += " (connection dropped)"
        words = [
            time.strftime("%Y-%m-%d %H:%M:%S"),
            self.client_address[0],
            method,
            urlsplit(self.path).path,
            status,
            *(note for note in self._notes if note != "cut"),
        ]
        if self._received:
            words.append(f"body {_size(self._received)}")
        words.append(f"{seconds * 1000:.0f} ms")
        return " ".join(words)

    # -- sending ---------------------------------------------------------------------------------------
    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._notes.extend(_answer_notes(body))
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _error(self, status: int, code: int | str, message: str, headers: dict[str, str] | None = None) -> None:
        """An error as the provider words it; a Kling code relayed by the gateway becomes a string."""
        if self._is_gateway():
            self._send_json(status, shapes.gateway_error(code, message), headers)
        else:
            self._send_json(status, shapes.kling_error(int(code) if str(code).isdigit() else 5000, message), headers)

    def _gateway_refusal(self, status: int, code: str, message: str) -> None:
        """The gateway refusing on its own, before anything reaches Kling."""
        self._send_json(status, shapes.gateway_error(code, message, own=True))

    def _front_end(self) -> None:
        """What the gateway's web front end answers on a path its API does not route."""
        if self.sim.front_end_url:
            self.send_response(301)
            self.send_header("Location", self.sim.front_end_url.rstrip("/") + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(200, shapes.FRONT_END_HTML, "text/html; charset=utf-8")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _cut(self, body: Any) -> None:
        """Start a 200 answer and break it off halfway through the body."""
        data = json.dumps(body).encode()
        self._notes.append("cut")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self._drop()

    # -- reading -------------------------------------------------------------------------------------
    def _read_body(self, limit: int | None) -> tuple[bytes, int]:
        """Read the body as a throttled uplink would deliver it; stop at ``limit`` (then the rest is
        never read). Returns the bytes read and the declared length."""
        declared = int(self.headers.get("Content-Length") or 0)
        wanted = declared if limit is None else min(declared, limit + 1)
        rate = self.sim.upload_bytes_per_second
        chunks, got, started = [], 0, time.monotonic()
        while got < wanted:
            block = self.rfile.read(min(_READ_BLOCK, wanted - got))
            if not block:
                break
            chunks.append(block)
            got += len(block)
            if rate:
                ahead = got / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        return b"".join(chunks), declared

    # -- the request -----------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        sim = self.sim
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/sim/"):
            self._read_body(None)
            self._serve_sim(path)
            return
        routed = self._routed(method, path)
        with sim._lock:
            fault = next((f for f in sim.faults if f.matches(method, path)), None) if routed else None
            if fault:
                fault.hits += 1
        if fault and fault.drop_after is not None:
            raw, _ = self._read_body(fault.drop_after)
            self._record(method, path, None, len(raw))
            self._drop()
            return
        cap = sim.max_body_bytes if self._is_gateway() else None
        raw, declared = self._read_body(cap)
        if cap is not None and declared > cap:
            self.close_connection = True  # the rest of the body is never read
            self._record(method, path, None, len(raw))
            self._gateway_refusal(413, "read_request_body_failed", f"request body too large (limit {cap} bytes)")
            return
        if not routed:
            self._record(method, path, None, len(raw))
            if self._is_gateway() and path in GATEWAY_BILLING and sim.billing in ("404", "405"):
                # what a deployment whose proxy routes /v1 to the API alone answers: the router's own text
                status = int(sim.billing)
                text = "404 page not found" if status == 404 else "405 method not allowed"
                self._send(status, text.encode(), "text/plain")
            elif self._is_gateway():
                self._front_end()
            else:
                self._error(404, 1203, f"no route for {method} {path}")
            return
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = ...
        self._record(method, path, None if body is ... else body, len(raw))
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.fails and not fault.apply:
            self._answer_fault(fault, None)
            return
        ok, code, message = self._authorized()
        if not ok:
            if self._is_gateway():  # the gateway's own token check: nothing reaches Kling
                self._gateway_refusal(401, str(code), message)
            else:
                self._error(401, code, message)
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self._route(method, path, body, query, fault)

    def _record(self, method: str, path: str, body: Any, size: int) -> None:
        self._received = size
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "cookie")}
        record = RecordedRequest(
            method,
            path,
            body,
            bool(self.headers.get("Authorization")),
            self.headers.get("User-Agent"),
            body_bytes=size,
            headers=headers,
        )
        with self.sim._lock:
            self.sim.requests.append(record)

    def _routed(self, method: str, path: str) -> bool:
        if not self._is_gateway():
            return (method in ("GET", "POST") and path == KLING_CREATE) or (
                method == "GET" and (path.startswith(KLING_CREATE + "/") or path == KLING_COSTS)
            )
        if method == "POST":
            return path == GATEWAY_CREATE
        if method != "GET":
            return False
        if path == GATEWAY_MODELS:
            return True
        if path in GATEWAY_BILLING:
            return self.sim.billing == "served"
        match = _GATEWAY_QUERY.fullmatch(path)
        if match:
            return match.group(1) in self.sim.query_actions
        return self.sim.openai_video_route and _OPENAI_QUERY.fullmatch(path) is not None

    def _answer_fault(self, fault: Fault, success: Any) -> None:
        if fault.drop:
            self._drop()
        elif fault.cut:
            self._cut(success if success is not None else {"code": "success", "message": "", "data": {}})
        elif fault.html:
            self._send(200, shapes.FRONT_END_HTML, "text/html; charset=utf-8")
        elif fault.bad_gzip:
            self._send(
                200, b"\x1f\x8b\x08\x00 this is not gzip at all", "application/json", {"Content-Encoding": "gzip"}
            )
        else:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            self._error(fault.status or 500, fault.code if fault.code is not None else "error", fault.message, headers)

    def _is_gateway(self) -> bool:
        return self.sim.provider == "gateway"

    def _authorized(self) -> tuple[bool, int | str, str]:
        header = self.headers.get("Authorization") or ""
        token = header[7:] if header.startswith("Bearer ") else ""
        if self._is_gateway():
            if token == self.sim.api_key:
                return True, 0, ""
            return False, "invalid_api_key", "Invalid token" if token else "No token provided"
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

    # -- routes ----------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: Any, query: dict[str, str], fault: Fault | None) -> None:
        sim, store = self.sim, self.sim.state
        if method == "POST":
            self._create(body, fault)
            return
        if path in (GATEWAY_MODELS, KLING_COSTS, *GATEWAY_BILLING):
            self._account(path, query, fault)
            return
        if not self._is_gateway():
            if path == KLING_CREATE:
                self._list(query)
                return
            task = store.find(path.rsplit("/", 1)[1])
            if task is None:
                self._error(404, 1203, "task not found")
            else:
                self._send_or_fault(fault, shapes.kling_answer(task, store, sim.video_url))
            return
        match = _GATEWAY_QUERY.fullmatch(path)
        openai = _OPENAI_QUERY.fullmatch(path)
        task = store.find(match.group(2) if match else openai.group(1) if openai else "")
        if task is None:
            self._error(400, "task_not_exist", "task_not_exist")
        elif match is None:
            self._send_or_fault(fault, shapes.video_object(task, store, sim.video_url))
        elif sim.task_shape == "flat":
            self._send_or_fault(fault, shapes.flat(task, store, sim.video_url))
        else:
            self._send_or_fault(fault, shapes.envelope(task, match.group(1), store, sim.video_url))

    def _send_or_fault(self, fault: Fault | None, answer: Any) -> None:
        if fault and fault.fails:
            self._answer_fault(fault, answer)
        else:
            self._send_json(200, answer)

    def _create(self, body: Any, fault: Fault | None) -> None:
        sim, store = self.sim, self.sim.state
        if self._is_gateway() and sim.no_channel:
            model = body.get("model_name", "kling-v1-6") if isinstance(body, dict) else "?"
            self._gateway_refusal(503, "model_not_found", f"No available channel for model {model} under group default")
            return
        paying = isinstance(body, dict)
        if self._is_gateway() and (
            (sim.quota is not None and sim.quota <= 0) or (paying and not sim.ledger.can_pay(body))
        ):
            self._gateway_refusal(403, "insufficient_user_quota", "user quota is not enough")
            return
        if not self._is_gateway() and sim.account_code is not None:
            self._error(429, sim.account_code, _ACCOUNT_WORDS.get(sim.account_code, "account problem"))
            return
        if not self._is_gateway() and paying and not sim.ledger.pack_covers(body):
            self._error(429, 1102, _ACCOUNT_WORDS[1102])
            return
        from .state import refusal

        problem = "request body is not valid JSON" if body is ... else refusal(body, store)
        if problem:
            if self._is_gateway():
                self._error(400, "task_failed", f"Kling refused the task: 1201 {problem}")
            else:
                self._error(400, 1201, problem)
            return
        with store.lock:
            if sim.max_concurrent is not None and store.running() >= sim.max_concurrent:
                self._error(429, 1303, "parallel task count exceeds the account's limit", {"Retry-After": "1"})
                return
            task = store.create(body)
            if sim.quota is not None:
                sim.quota -= 1
            sim.ledger.charge(body, kling=not self._is_gateway())
        with sim._lock:
            sim.created.append({"task_id": task.task_id, "external_task_id": task.external_task_id, "body": body})
        answer = shapes.gateway_created(task) if self._is_gateway() else shapes.kling_answer(task, store, sim.video_url)
        self._send_or_fault(fault, answer)

    def _account(self, path: str, query: dict[str, str], fault: Fault | None) -> None:
        """The free account routes: the key's models, the gateway's billing, Kling's resource packs."""
        sim = self.sim
        if path == GATEWAY_MODELS:
            self._send_or_fault(fault, models_answer(sim.models))
        elif path == GATEWAY_BILLING[0]:
            self._send_or_fault(fault, sim.ledger.subscription())
        elif path == GATEWAY_BILLING[1]:
            self._send_or_fault(fault, sim.ledger.usage())
        elif sim.account_code is not None:
            self._error(429, sim.account_code, _ACCOUNT_WORDS.get(sim.account_code, "account problem"))
        else:
            try:
                start, end = int(query["start_time"]), int(query["end_time"])
            except (KeyError, ValueError):
                self._error(400, 1201, "start_time and end_time are required (Unix milliseconds)")
                return
            if start > end:
                self._error(400, 1201, "start_time must not be after end_time")
                return
            with sim._lock:  # QPS <= 1 on this route
                now, last = time.monotonic(), sim.costs_asked_at
                sim.costs_asked_at = now
            if now - last < 1.0:
                self._error(429, 1302, "too many requests: /account/costs allows 1 per second", {"Retry-After": "1"})
                return
            self._send_or_fault(fault, sim.ledger.costs())

    def _list(self, query: dict[str, str]) -> None:
        sim = self.sim
        try:
            page, size = int(query.get("pageNum", 1)), int(query.get("pageSize", 30))
        except ValueError:
            page, size = 0, 0
        if not (1 <= page <= 1000 and 1 <= size <= 500):
            self._error(400, 1201, "pageNum must be 1..1000 and pageSize 1..500")
            return
        chosen = sim.state.newest_first()[(page - 1) * size : page * size]
        data = [shapes.kling_object(t, sim.state, sim.video_url) for t in chosen]
        self._send_json(200, {"code": 0, "message": "SUCCEED", "request_id": uuid.uuid4().hex, "data": data})

    # -- the simulator's own paths: videos and who it is ----------------------------------------------
    def _serve_sim(self, path: str) -> None:
        sim = self.sim
        if path == "/sim/about":
            self._send_json(200, sim.about())
            return
        sim.video_requests.append(
            RecordedRequest("GET", path, None, bool(self.headers.get("Authorization")), self.headers.get("User-Agent"))
        )
        match = re.fullmatch(r"/sim/(videos|redirect)/([^/]+)\.mp4", path)
        task = sim.state.find(match.group(2), visible_only=False) if match else None
        if task is None or sim.state.status(task)[0] != "succeed":
            self._send_json(404, {"error": "no such video"})
            return
        if sim.video_answer == "html":  # an expired link answered by a web page, as CDNs do
            self._send(200, b"<html><body>This link has expired.</body></html>", "text/html")
            return
        if sim.video_answer == "json":
            self._send_json(200, {"error": {"message": "video not found"}})
            return
        if match and match.group(1) == "redirect":
            self.send_response(302)  # to another host name, as a CDN would
            self.send_header("Location", sim.video_url(task, redirected=True))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._serve_video(sim.render(task))

    def _serve_video(self, data: bytes) -> None:
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
