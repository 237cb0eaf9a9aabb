"""KlingClient: one small client for the gateway and for Kling direct.

Everything goes through :meth:`KlingClient._request`: auth, an explicit timeout, the User-Agent,
error mapping, and a retry policy that knows a create is paid and not idempotent. Reads are retried
on 429/5xx/connection errors with capped, jittered backoff that honours Retry-After. A create is
resent only when it provably never arrived (connection refused) or the service said to come back
(429 with 1302/1303); any other failure after sending makes its outcome *unknown*: Kling direct is
asked for the task by its ``external_task_id``; on the gateway the error names that id and the
journal keeps it, so nobody pays twice for one click.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from ._redact import install_log_filter, redact
from ._version import __version__
from .auth import GatewayAuth, JWTAuth
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CreateOutcomeUnknownError,
    KlingError,
    NotFoundError,
    PayloadError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    WaitTimeoutError,
)
from .http_errors import error_from_body, parse_retry_after
from .models import Task, TaskStatus, VideoRequest

if TYPE_CHECKING:
    from .history import TaskHistory

log = logging.getLogger("kling_widgets")

PROVIDERS: dict[str, dict[str, Any]] = {
    "gateway": {
        "base_url": "https://www.anyfast.ai",
        "create": "/kling/v1/videos/multi-image2video",
        # The gateway documents no multi-image query; it finds a task by id whatever the action segment.
        "get": (
            "/kling/v1/videos/multi-image2video/{id}",
            "/kling/v1/videos/text2video/{id}",
            "/kling/v1/videos/{id}",
        ),
        "list": None,
    },
    "kling": {
        "base_url": "https://api-singapore.klingai.com",
        "create": "/v1/videos/multi-image2video",
        "get": ("/v1/videos/multi-image2video/{id}",),
        "list": "/v1/videos/multi-image2video",
    },
}
NO_CREDENTIALS = (
    "No Kling credentials found. Set KLING_API_KEY (gateway key), or KLING_ACCESS_KEY and "
    "KLING_SECRET_KEY (Kling direct) in the environment, or pass them to KlingClient(...). "
    "To try everything without a key, start the built-in simulator: "
    "sim = Simulator().start(); client = KlingClient(sim.api_key, base_url=sim.url)  "
    "(from kling_widgets.simulator import Simulator)."
)
DEFAULT_POLL_INTERVAL = 2.0


def new_external_task_id() -> str:
    """A fresh id for one create: every attempt of that create carries it."""
    return f"kw-{uuid.uuid4().hex}"


def poll_delay(base: float, elapsed: float, cap: float = 30.0) -> float:
    """How long to wait before the next poll: ``base`` for the first minute, then slowly longer,
    so a task that runs for many minutes costs few requests."""
    if elapsed <= 60:
        return base
    return min(cap, base * (1.0 + (elapsed - 60.0) / 60.0))


class KlingClient:
    """Create, watch and download Kling multi-image-to-video tasks.

    With no arguments the credentials come from the environment: ``KLING_API_KEY`` (gateway),
    or ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY`` (Kling direct); ``KLING_BASE_URL`` overrides the
    address. ``sleep`` can be replaced so that tests never wait.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        provider: str = "gateway",
        access_key: str | None = None,
        secret_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        poll_interval: float | None = None,
        history: TaskHistory | None = None,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if provider not in PROVIDERS:
            raise KlingError(f"provider must be one of {', '.join(PROVIDERS)} (got {provider!r})")
        env = os.environ
        if api_key is None and access_key is None and secret_key is None:
            api_key = env.get("KLING_API_KEY") or None
            access_key = env.get("KLING_ACCESS_KEY") or None
            secret_key = env.get("KLING_SECRET_KEY") or None
        if provider == "gateway" and api_key is None and access_key and secret_key:
            provider = "kling"
        self.provider = provider
        self._auth: GatewayAuth | JWTAuth
        if provider == "kling":
            if not (access_key and secret_key):
                raise AuthenticationError(NO_CREDENTIALS)
            self._auth = JWTAuth(access_key, secret_key)
        else:
            if not api_key:
                raise AuthenticationError(NO_CREDENTIALS)
            self._auth = GatewayAuth(api_key)
        self.base_url = (base_url or env.get("KLING_BASE_URL") or PROVIDERS[provider]["base_url"]).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.poll_interval = poll_interval
        self.history = history
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._paths: dict[str, Any] = PROVIDERS[provider]
        self._query_order: list[str] = list(self._paths["get"])
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"kling-widgets/{__version__} python-requests/{requests.__version__}"
        self._video_session = _bare_session()
        install_log_filter()

    def __repr__(self) -> str:
        return f"KlingClient(provider={self.provider!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()
        self._video_session.close()

    def __enter__(self) -> KlingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one request path ----------------------------------------------------------------------
    def _send(self, method: str, path: str, json: Any, params: dict[str, Any] | None) -> requests.Response:
        headers = {"Authorization": self._auth.header()}
        if json is not None:
            headers["Content-Type"] = "application/json"
        try:
            return self._session.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=headers,
                timeout=(min(10.0, self.timeout), self.timeout),
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as error:
            raise APIConnectionError(f"could not connect to {self.base_url}: timed out", reached=False) from error
        except requests.exceptions.Timeout as error:
            raise APIConnectionError(
                f"no answer from {self.base_url} within {self.timeout:g} s", reached=True
            ) from error
        except requests.exceptions.ConnectionError as error:
            reached = not _never_connected(error)
            what = "the connection broke before an answer" if reached else "could not connect"
            raise APIConnectionError(f"{what} ({self.base_url})", reached=reached) from error

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        retries: int | None = None,
    ) -> Any:
        """Send one call; retry only what is safe to retry; return the JSON body or raise."""
        attempt, refreshed = 0, False
        max_retries = self.max_retries if retries is None else retries
        while True:
            try:
                response = self._send(method, path, json, params)
            except APIConnectionError as error:
                if (idempotent or not error.reached) and attempt < max_retries:
                    self._backoff(attempt, None, f"{method} {path}: {error}")
                    attempt += 1
                    continue
                raise
            body = _json_or_none(response)
            if response.ok:
                if body is None:
                    raise PayloadError(f"{method} {path}: the answer was not JSON (HTTP {response.status_code})")
                if isinstance(body, dict) and body.get("code") not in (None, 0, "0", "success"):
                    raise error_from_body(response.status_code, body)  # an error dressed as HTTP 200
                return body
            failure = error_from_body(
                response.status_code,
                body,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                text=response.text,
            )
            if isinstance(failure, AuthenticationError) and failure.code == 1004 and not refreshed:
                refreshed = self._auth.refresh()  # expired token: sign a fresh one, retry once
                if refreshed:
                    continue
            retry = isinstance(failure, RateLimitError) or (idempotent and isinstance(failure, ServerError))
            if retry and attempt < max_retries:
                self._backoff(attempt, failure.retry_after, f"{method} {path}: {failure}")
                attempt += 1
                continue
            raise failure

    def _backoff(self, attempt: int, retry_after: float | None, why: str) -> None:
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self.max_backoff)
        else:
            delay = min(self.max_backoff, 1.0 * 2**attempt) * (0.5 + random.random() / 2)
        log.info("retrying in %.1f s after %s", delay, redact(why))
        self._sleep(delay)

    # -- endpoints ---------------------------------------------------------------------------------
    def create_task(self, request: VideoRequest, *, history: TaskHistory | None = None) -> Task:
        """Send one create. It carries an ``external_task_id`` and is journaled before it is sent (in
        ``history``, else the client's own); a create whose outcome is unknown is never blindly resent."""
        history = history or self.history
        request.validate()
        external_id = request.external_task_id or new_external_task_id()
        if request.external_task_id != external_id:
            request = request.with_external_task_id(external_id)
        payload = request.to_payload()
        if history is not None:
            history.record_submission(external_id, request, provider=self.provider, base_url=self.base_url)
        for attempt in range(2):
            try:
                body = self._request("POST", self._paths["create"], json=payload, idempotent=False)
                task = Task.from_payload(body).with_external_id(external_id)
            except APIConnectionError as error:
                if not error.reached:
                    if history is not None:
                        history.record_rejected(external_id, str(error))
                    raise
                outcome = self._settle_unknown(external_id, str(error), history, resend_allowed=attempt == 0)
            except (ServerError, PayloadError) as error:  # it arrived, but what became of it is not known
                outcome = self._settle_unknown(external_id, str(error), history, resend_allowed=attempt == 0)
            except APIError as error:
                if history is not None:
                    history.record_rejected(external_id, str(error))
                raise
            else:
                if history is not None:
                    history.record_task(task, external_id)
                return task
            if outcome is not None:
                return outcome
        raise CreateOutcomeUnknownError(external_id, "the create failed twice")  # pragma: no cover

    def _settle_unknown(
        self, external_id: str, reason: str, history: TaskHistory | None, *, resend_allowed: bool
    ) -> Task | None:
        """After a create whose answer was lost: find the task, or decide it may be resent, or give up
        loudly. Returns the task, or None when a resend is safe (the service says it has no such task)."""
        if self.provider == "kling":
            try:
                task = self.get_task(external_id)
            except NotFoundError:
                if resend_allowed:
                    log.warning("create %s: %s; the service has no such task, resending once", external_id, reason)
                    return None
            except KlingError as lookup_error:
                reason = f"{reason}; looking it up failed too: {lookup_error}"
            else:
                task = task.with_external_id(external_id)
                if history is not None:
                    history.record_task(task, external_id)
                return task
        if history is not None:
            history.record_unknown(external_id, reason)
        raise CreateOutcomeUnknownError(external_id, redact(reason))

    def get_task(self, task_id: str, *, retry: bool = True) -> Task:
        """The task's current state. Kling direct also accepts the ``external_task_id`` here.
        ``retry=False`` makes one attempt (a poller that keeps its own schedule wants that)."""
        last_error: NotFoundError | None = None
        for template in list(self._query_order):
            try:
                body = self._request(
                    "GET", template.format(id=quote(str(task_id), safe="")), retries=None if retry else 0
                )
            except NotFoundError as error:
                if error.status_code != 404:
                    raise
                last_error = error  # this path may not exist on this gateway: try the next form
                continue
            if template != self._query_order[0]:
                self._query_order.remove(template)
                self._query_order.insert(0, template)  # remember the form that worked
            return Task.from_payload(body)
        assert last_error is not None
        raise last_error

    def list_tasks(self, *, page: int = 1, page_size: int = 30) -> list[Task]:
        """Recent tasks, newest first (Kling direct only: the gateway documents no list)."""
        path = self._paths["list"]
        if path is None:
            raise KlingError("the gateway has no list endpoint; use TaskHistory for your own submissions")
        if not (1 <= page <= 1000 and 1 <= page_size <= 500):
            raise KlingError("page must be 1..1000 and page_size 1..500")
        body = self._request("GET", path, params={"pageNum": page, "pageSize": page_size})
        items = body.get("data") if isinstance(body, dict) else None
        return [Task.from_payload(item) for item in items or [] if isinstance(item, dict)]

    def wait(
        self,
        task_or_id: Task | str,
        *,
        timeout: float = 1800,
        poll_interval: float | None = None,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Poll until the task succeeds or fails and return it (failed or not). Passing failures of the
        network or the service never end the watch; the deadline does, with :class:`WaitTimeoutError`."""
        task = task_or_id if isinstance(task_or_id, Task) else None
        task_id = task.id if task else str(task_or_id)
        external_id = task.external_task_id if task else None
        if task is not None and task.done:
            return task
        base = poll_interval or self.poll_interval or DEFAULT_POLL_INTERVAL
        start = time.monotonic()
        while True:
            try:
                current: Task | None = self.get_task(task_id).with_external_id(external_id)
            except (ServerError, RateLimitError, APIConnectionError, PayloadError) as error:
                log.info("polling %s failed, will try again: %s", task_id, error)
                current = None
            if current is not None:
                if task is None or (current.status, current.progress) != (task.status, task.progress):
                    self._journal(current, external_id)
                    if on_update is not None:
                        on_update(current)
                task = current
                if task.done:
                    return task
            elapsed = time.monotonic() - start
            if elapsed >= timeout:
                raise WaitTimeoutError(task or Task(task_id, TaskStatus.SUBMITTED), elapsed)
            self._sleep(min(poll_delay(base, elapsed), max(0.0, timeout - elapsed)))

    def generate(self, request: VideoRequest, **wait_kwargs: Any) -> Task:
        """Create and wait. Returns the succeeded task; raises :class:`TaskFailedError` on failure."""
        task = self.wait(self.create_task(request), **wait_kwargs)
        if task.status is TaskStatus.FAILED:
            raise TaskFailedError(task)
        return task

    def download(self, task: Task, path: str | os.PathLike[str] | None = None) -> Path:
        """Save the task's video (the service deletes it after 30 days). The video host never sees
        the Authorization header, across redirects too. Returns the file's path."""
        if not task.video_url:
            raise KlingError(f"task {task.id} has no video yet (status {task.status.value})")
        target = Path(path) if path is not None else Path.cwd()
        if target.is_dir():
            target = target / f"kling-{task.id}.mp4"
        partial = target.with_name(target.name + ".part")
        try:
            with self._video_session.get(task.video_url, stream=True, timeout=(10.0, self.timeout)) as response:
                if not response.ok:
                    raise error_from_body(response.status_code, None, text=f"video download failed: {response.reason}")
                with open(partial, "wb") as handle:
                    for chunk in response.iter_content(1 << 16):
                        handle.write(chunk)
        except requests.exceptions.RequestException as error:
            partial.unlink(missing_ok=True)
            raise APIConnectionError(f"video download failed: {type(error).__name__}", reached=True) from error
        partial.replace(target)
        if self.history is not None and task.external_task_id:
            self.history.record_download(task.external_task_id, target.resolve())
        return target

    # -- journal -----------------------------------------------------------------------------------
    def _journal(self, task: Task, external_id: str | None) -> None:
        if self.history is not None and (external_id or task.external_task_id):
            self.history.record_task(task, external_id)


def _never_connected(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established (refused, unresolvable): nothing was sent."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, (NewConnectionError, NameResolutionError))


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _bare_session() -> requests.Session:
    """A session that adds no credentials of any kind (no .netrc either): for the video host."""
    import urllib.request

    session = requests.Session()
    session.trust_env = False
    session.proxies.update({k: v for k, v in urllib.request.getproxies().items() if k != "no"})
    session.headers["User-Agent"] = f"kling-widgets/{__version__}"
    return session
