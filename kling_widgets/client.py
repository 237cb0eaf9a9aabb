"""KlingClient: one small client for the gateway and for Kling direct.

Everything goes through :meth:`KlingClient._request`: auth, an explicit timeout, the User-Agent,
error mapping, and a retry policy that knows a create is paid and not idempotent. Reads are retried
on 429/5xx/connection errors with capped, jittered backoff that honours Retry-After. A create is
resent only when it provably never arrived whole (connection refused, or broken while its body was
still being sent) or the service said to come back (429 with 1302/1303); any other failure after
sending makes its outcome *unknown*: Kling direct is asked for the task by its ``external_task_id``
over a short window; on the gateway the error names that id and the journal keeps it, so nobody pays
twice for one click. The body is streamed (see ``transport``), so an upload may take as long as the
line needs, and it never exceeds the gateway's body cap.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from ._home import simulator_video_file
from ._redact import SecretHeader, install_log_filter, redact
from ._version import __version__
from .account_status import AccountStatus
from .auth import GatewayAuth, JWTAuth
from .download import (
    DOWNLOAD_DEADLINE,
    MAX_VIDEO_BYTES,
    bare_session,
    copy_video,
    fetch_bytes,
    fetch_video,
    unique_path,
)
from .embedded import EmbeddedVideo
from .errors import (
    AccountError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    CreateOutcomeUnknownError,
    KlingError,
    NotFoundError,
    PayloadError,
    RateLimitError,
    RedirectError,
    ServerError,
    TaskFailedError,
    WaitTimeoutError,
)
from .http_errors import error_from_body, parse_retry_after
from .request import VideoRequest, encode_body
from .retry import BACKOFF_CAP, PASSING, POLL_INTERVAL, backoff_delay, poll_delay
from .task import Task, TaskStatus
from .transport import Progress, UploadBody, api_session, json_or_none, send

if TYPE_CHECKING:
    from .history import Service, TaskHistory

log = logging.getLogger("kling_widgets")

PROVIDERS: dict[str, dict[str, Any]] = {
    "gateway": {
        "base_url": "https://www.anyfast.ai",
        "create": "/kling/v1/videos/multi-image2video",
        # The gateway documents no multi-image query. Its software finds a task by id whatever the action
        # segment and routes GET for text2video and image2video only; other resellers also route
        # multi-image2video; /v1/videos/{id} is its OpenAI-style read. Tried in this order (docs/guide/service.md).
        "get": (
            "/kling/v1/videos/text2video/{id}",
            "/kling/v1/videos/image2video/{id}",
            "/kling/v1/videos/multi-image2video/{id}",
            "/v1/videos/{id}",
        ),
        "list": None,
        "models": "/v1/models",
        "billing": ("/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage"),
    },
    "kling": {
        "base_url": "https://api-singapore.klingai.com",
        "create": "/v1/videos/multi-image2video",
        "get": ("/v1/videos/multi-image2video/{id}",),
        "list": "/v1/videos/multi-image2video",
        "costs": "/account/costs",
    },
}
NO_CREDENTIALS = (
    "No Kling credentials found. Set KLING_API_KEY (gateway key), or KLING_ACCESS_KEY and "
    "KLING_SECRET_KEY (Kling direct) in the environment, or pass them to KlingClient(...). "
    "To try everything without a key, start the built-in simulator: "
    "sim = Simulator().start(); client = KlingClient(sim.api_key, base_url=sim.url)  "
    "(from kling_widgets.simulator import Simulator)."
)
DEFAULT_POLL_INTERVAL = POLL_INTERVAL
MAX_BODY_BYTES = 32_000_000  # the gateway's 32 MB cap, read the safe way (its software counts 32 MiB)
LOOKUP_WINDOW = 60.0  # Kling direct: how long a lost create is looked up before it counts as not created
LOOKUP_INTERVAL = 5.0
MISSING_VIDEO_POLLS = 3  # a task that succeeded without a video link is asked again this many times
SIMULATOR_IDENTITY = "kling-widgets-simulator"  # what the built-in simulator says at GET /sim/about
ABOUT_RETRY = 10.0  # seconds before a service that did not answer GET /sim/about is asked again
SIMULATOR_KEYS = ("sim-key", "sim-access-key")  # the built-in simulator's default credentials
COSTS_WINDOW_MS = 365 * 86_400_000  # Kling direct: the resource packs of the last year
COSTS_SPACING = 1.0  # Kling direct allows one /account/costs per second


class _RouteMiss(PayloadError):
    """A query path this service does not route: an HTML page, a redirect, a 404 or a 405."""

    def __init__(self, why: str, not_found: NotFoundError | None = None) -> None:
        self.not_found = not_found
        super().__init__(why)


def new_external_task_id() -> str:
    """A fresh id for one create: every attempt of that create carries it."""
    return f"kw-{uuid.uuid4().hex}"


class KlingClient:
    """Create, watch and download Kling multi-image-to-video tasks.

    With no arguments the credentials come from the environment: ``KLING_API_KEY`` (gateway),
    or ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY`` (Kling direct); ``KLING_BASE_URL`` overrides the
    address. ``sleep`` can be replaced so that tests never wait.

    Parameters
    ----------
    api_key : str, optional
        The gateway's key (default: ``KLING_API_KEY``). Kept in this object only, never shown.
    base_url : str, optional
        The service's address (default: ``KLING_BASE_URL``, else the provider's own).
    provider : {"gateway", "kling"}
        Which contract to speak; given only access and secret keys, ``"kling"`` is chosen.
    access_key, secret_key : str, optional
        Kling direct's key pair (default: ``KLING_ACCESS_KEY``, ``KLING_SECRET_KEY``), signed into
        short-lived tokens.
    timeout : float
        Seconds allowed for each HTTP call.
    max_retries : int
        Retries of a call that failed in a way that is safe to retry.
    poll_interval : float, optional
        Seconds between polls while waiting (default: the watcher's own pacing).
    history : TaskHistory, optional
        Where each create is journaled before it is sent, so a created task is never lost.
    max_backoff : float
        The longest pause between retries, in seconds, ``Retry-After`` included.
    sleep : callable
        How to pause (``time.sleep``); tests pass one that does not wait.
    max_body_bytes : int
        The service's cap on a create's body: pictures are re-encoded smaller to fit under it.
    lookup_window : float
        Seconds spent looking for a task whose create lost its answer, before reporting it unknown.

    Raises
    ------
    AuthenticationError
        No credentials were given or found in the environment.
    KlingError
        ``provider`` is not one of the known ones.
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
        max_backoff: float = BACKOFF_CAP,
        sleep: Callable[[float], None] = time.sleep,
        max_body_bytes: int = MAX_BODY_BYTES,
        lookup_window: float = LOOKUP_WINDOW,
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
        self.max_body_bytes = max_body_bytes
        self.lookup_window = lookup_window
        self._sleep = sleep
        self._paths: dict[str, Any] = PROVIDERS[provider]
        self._route_lock = threading.Lock()
        self._query_route: str | None = None  # the query form that answered last (per client)
        self._simulator: bool | None = None
        self._about_retry_at = 0.0
        self._costs_lock = threading.Lock()
        self._costs_at = -COSTS_SPACING
        self._session = api_session(f"kling-widgets/{__version__} python-requests/{requests.__version__}")
        self._video_session = bare_session()
        install_log_filter()

    def __repr__(self) -> str:
        return f"KlingClient(provider={self.provider!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connections (also done on leaving a ``with`` block)."""
        self._session.close()
        self._video_session.close()

    def __enter__(self) -> KlingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one request path ----------------------------------------------------------------------
    @property
    def account(self) -> str:
        """Who the tasks belong to (provider, address and a fingerprint of the credential, never the
        credential): one process watches each account's task once, whatever client asked."""
        return f"{self.provider}|{self.base_url}|{self._auth.identity()}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        retries: int | None = None,
        on_progress: Progress | None = None,
        probe: bool = False,
        retry_concurrency: bool = True,
    ) -> Any:
        """Send one call; retry only what is safe to retry; return the JSON body or raise.
        ``body``: the request's JSON, already encoded (``request.encode_body``).
        ``probe``: a path this service may not route; a miss raises :class:`_RouteMiss`."""
        attempt, refreshed = 0, False
        max_retries = self.max_retries if retries is None else retries
        while True:
            headers: dict[str, str] = {"Authorization": SecretHeader(self._auth.header())}
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = send(
                    self._session,
                    method,
                    self.base_url + path,
                    headers=headers,
                    body=None if body is None else UploadBody(body, on_progress),
                    params=params,
                    timeout=(min(10.0, self.timeout), self.timeout),
                    where=self.base_url,
                )
            except APIConnectionError as error:
                if (idempotent or not error.reached) and attempt < max_retries:
                    self._backoff(attempt, None, f"{method} {path}: {error}")
                    attempt += 1
                    continue
                raise
            with response:
                return_body, failure = self._read_answer(method, path, response, probe)
            if failure is None:
                return return_body
            if isinstance(failure, AuthenticationError) and failure.code == 1004 and not refreshed:
                refreshed = self._auth.refresh()  # expired token: sign a fresh one, retry once
                if refreshed:
                    continue
            busy = isinstance(failure, RateLimitError) and failure.code == 1303 and not retry_concurrency
            retry = (isinstance(failure, RateLimitError) and not busy) or (
                idempotent and isinstance(failure, ServerError)
            )
            if retry and attempt < max_retries:
                self._backoff(attempt, failure.retry_after, f"{method} {path}: {failure}")
                attempt += 1
                continue
            raise failure

    def _read_answer(
        self, method: str, path: str, response: requests.Response, probe: bool
    ) -> tuple[Any, APIError | None]:
        """The JSON body of a good answer, or the error it stands for (raised at once when it is no
        answer of the API at all: a redirect, a web page)."""
        status = response.status_code
        if 300 <= status < 400:
            location = urljoin(self.base_url + path, response.headers.get("Location") or "") or None
            if probe:
                raise _RouteMiss(f"{path}: redirected (HTTP {status})")
            raise RedirectError(
                f"{self.base_url} answered {method} {path} with a redirect to {location or 'nowhere'}: this is not "
                "the API's address (set base_url to the API itself, e.g. https://www.anyfast.ai); nothing was created",
                status_code=status,
                location=location,
            )
        body = json_or_none(response)
        if probe and (status in (404, 405) or (body is None and status < 500 and status not in (401, 429))):
            not_found = error_from_body(status, body) if status == 404 and body is not None else None
            kind = "a web page" if _is_html(response) else "no JSON"
            raise _RouteMiss(
                f"{path}: HTTP {status} with {kind}", not_found if isinstance(not_found, NotFoundError) else None
            )
        if response.ok:
            if body is None:
                page = " (a web page: is the base URL the API's?)" if _is_html(response) else ""
                raise PayloadError(f"{method} {path}: the answer was not JSON (HTTP {status}){page}")
            if isinstance(body, dict) and body.get("code") not in (None, 0, "0", "success"):
                return None, error_from_body(status, body)  # an error dressed as HTTP 200
            return body, None
        return None, error_from_body(
            status,
            body,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            text=response.text if body is None and not _is_html(response) else "",
        )

    def _backoff(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = backoff_delay(attempt, retry_after, cap=self.max_backoff)
        log.info("retrying in %.1f s after %s", delay, redact(why))
        self._sleep(delay)

    # -- endpoints ---------------------------------------------------------------------------------
    def create_task(
        self,
        request: VideoRequest,
        *,
        history: TaskHistory | None = None,
        on_progress: Progress | None = None,
        retry_concurrency: bool = True,
    ) -> Task:
        """Send one create. It carries an ``external_task_id`` and is journaled before it is sent (in
        ``history``, else the client's own); a create whose outcome is unknown is never blindly resent.
        A body over ``max_body_bytes`` gets its pictures re-encoded smaller, or is refused before sending.
        ``on_progress(sent, total)`` hears how the upload goes (bytes of the body).
        ``retry_concurrency=False``: a 1303 (the account runs all the tasks it may) is raised at once as
        :class:`RateLimitError`, for a queue that waits for a slot instead of retrying.

        Parameters
        ----------
        request : VideoRequest
            What to make; it is validated (and its pictures prepared) before anything is sent.
        history : TaskHistory, optional
            The journal for this create (default: the client's own).
        on_progress : callable, optional
            ``on_progress(sent, total)``, bytes of the body sent so far.
        retry_concurrency : bool
            Whether a "too many running tasks" answer is retried here or raised at once.

        Returns
        -------
        Task
            The created task, as the service first reports it.

        Raises
        ------
        ValidationError
            The request is invalid or cannot fit the body cap; nothing was sent.
        CreateOutcomeUnknownError
            The answer was lost and the task could not be found; it stays on record, not resent.
        APIError
            The service refused the create (a subclass says why: :class:`RateLimitError`, …).
        """
        history = history or self.history
        request.validate()
        external_id = request.external_task_id or new_external_task_id()
        if request.external_task_id != external_id:
            request = request.with_external_task_id(external_id)
        data = encode_body(request.to_payload())  # encoded once: measured against the cap, then sent
        if len(data) > self.max_body_bytes:  # shrink the pictures to fit, or refuse before sending
            request = request.within_body_cap(self.max_body_bytes)
            data = encode_body(request.to_payload())
        if history is not None:
            history.record_submission(
                external_id, request, provider=self.provider, base_url=self.base_url, service=self.service().name
            )
        resent = False
        while True:
            try:
                body = self._request(
                    "POST",
                    self._paths["create"],
                    body=data,
                    idempotent=False,
                    on_progress=on_progress,
                    retry_concurrency=retry_concurrency,
                )
                task = Task.from_payload(body).with_external_id(external_id)
            except APIConnectionError as error:
                if not error.reached:  # it never arrived whole: nothing can have been created
                    if history is not None:
                        history.record_rejected(external_id, f"not sent: {error}")
                    raise
                failure = str(error)
            except (ServerError, PayloadError) as error:  # it arrived, but what became of it is not known
                failure = str(error)
            except BadRequestError as error:
                if resent and _says_external_id_exists(error):  # the first send did create it
                    return self._find_existing(external_id, history)
                if history is not None:
                    history.record_rejected(external_id, str(error))
                raise
            except (APIError, KlingError) as error:  # refused, or never sent (a bad address)
                if history is not None:
                    history.record_rejected(external_id, str(error))
                raise
            except Exception as error:  # anything else after sending: the task may exist
                log.exception("create %s: unexpected failure", external_id)
                failure = f"unexpected {type(error).__name__}"
            else:
                if history is not None:
                    history.record_task(task, external_id)
                return task
            found = self._settle_unknown(external_id, failure, history, resend_allowed=not resent)
            if found is not None:
                return found
            resent = True

    def _settle_unknown(
        self, external_id: str, reason: str, history: TaskHistory | None, *, resend_allowed: bool
    ) -> Task | None:
        """After a create whose answer was lost: find the task, or decide it may be resent, or give up
        loudly. Returns the task, or None when a resend is safe. A lookup that finds nothing at once is
        no proof (the task may not be visible yet): Kling direct is asked over ``lookup_window``."""
        if self.provider == "kling":
            task, lookup_error = self._look_up(external_id)
            if task is not None:
                if history is not None:
                    history.record_task(task, external_id)
                return task
            if lookup_error is None and resend_allowed:
                log.warning(
                    "create %s: %s; no such task after %.0f s of looking, resending once under the same id",
                    external_id,
                    redact(reason),
                    self.lookup_window,
                )
                return None
            if lookup_error is not None:
                reason = f"{reason}; looking it up failed too: {lookup_error}"
        if history is not None:
            history.record_unknown(external_id, reason)
        raise CreateOutcomeUnknownError(external_id, redact(reason))

    def _look_up(self, external_id: str) -> tuple[Task | None, KlingError | None]:
        """Ask for the task by its external id until it appears or ``lookup_window`` has passed.
        Returns the task, or None and the last error other than "no such task"."""
        interval = min(LOOKUP_INTERVAL, max(self.lookup_window / 4, 0.05))
        looks = 1 + max(0, int(self.lookup_window / interval + 0.5))
        last_error: KlingError | None = None
        for look in range(looks):
            try:
                return self.get_task(external_id, retry=False).with_external_id(external_id), None
            except NotFoundError:
                last_error = None
            except KlingError as error:
                last_error = error
            if look < looks - 1:
                self._sleep(interval)
        return None, last_error

    def _find_existing(self, external_id: str, history: TaskHistory | None) -> Task:
        """The service refused a resend because the external id exists: the first create went through."""
        task, _ = self._look_up(external_id) if self.provider == "kling" else (None, None)
        if task is not None:
            if history is not None:
                history.record_task(task, external_id)
            return task
        reason = "the service says a task with this external id exists, but it could not be read yet"
        if history is not None:
            history.record_unknown(external_id, reason)
        raise CreateOutcomeUnknownError(external_id, reason)

    def get_task(self, task_id: str, *, retry: bool = True) -> Task:
        """The task's current state. Kling direct also accepts the ``external_task_id`` here.
        ``retry=False`` makes one attempt (a poller that keeps its own schedule wants that).
        On the gateway the documented query forms are tried in turn until one answers with JSON; the
        one that did is remembered (per client, safe across threads).

        Parameters
        ----------
        task_id : str
            The service's task id (or, on Kling direct, the ``external_task_id``).
        retry : bool
            Whether failures that are safe to retry are retried.

        Returns
        -------
        Task
            The task now.

        Raises
        ------
        NotFoundError
            The service has no such task.
        PayloadError
            No documented query form answered with a task.
        """
        quoted = quote(str(task_id), safe="")
        with self._route_lock:
            remembered = self._query_route
        order = [t for t in (remembered, *self._paths["get"]) if t]
        order = list(dict.fromkeys(order))
        misses: list[_RouteMiss] = []
        for template in order:
            try:
                body = self._request("GET", template.format(id=quoted), retries=None if retry else 0, probe=True)
            except _RouteMiss as miss:
                misses.append(miss)
                continue
            if template != remembered:
                with self._route_lock:
                    self._query_route = template
            return Task.from_payload(body)
        with self._route_lock:
            if self._query_route == remembered:
                self._query_route = None
        not_found = [m.not_found for m in misses if m.not_found is not None]
        if len(not_found) == len(misses):
            raise not_found[-1]  # every route exists and says there is no such task
        raise PayloadError(
            f"{self.base_url} answered none of the task query routes with the API's JSON "
            f"({'; '.join(str(m) for m in misses)})"
        )

    def list_tasks(self, *, page: int = 1, page_size: int = 30) -> list[Task]:
        """Recent tasks, newest first (Kling direct only: the gateway documents no list).

        Parameters
        ----------
        page : int
            Which page, from 1 (at most 1000).
        page_size : int
            Tasks per page (1-500).

        Returns
        -------
        list of Task
            The page's tasks, newest first.

        Raises
        ------
        KlingError
            On the gateway (it has no list), or when ``page``/``page_size`` are out of range.
        """
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
        network or the service never end the watch; the deadline does, with :class:`WaitTimeoutError`.
        A task that succeeded without a video link is asked again a few times before it is returned.

        Parameters
        ----------
        task_or_id : Task or str
            The task to watch.
        timeout : float
            Seconds to watch before giving up (the task itself goes on).
        poll_interval : float, optional
            Seconds between polls (default: the client's, else the watcher's pacing).
        on_update : callable, optional
            Called with each new state of the task.

        Returns
        -------
        Task
            The final task, succeeded or failed.

        Raises
        ------
        WaitTimeoutError
            ``timeout`` passed before the task ended.
        """
        task = task_or_id if isinstance(task_or_id, Task) else None
        task_id = task.id if task else str(task_or_id)
        external_id = task.external_task_id if task else None
        if task is not None and task.complete:
            return task
        base = poll_interval or self.poll_interval or DEFAULT_POLL_INTERVAL
        start = time.monotonic()
        missing_video = 0
        while True:
            try:
                current: Task | None = self.get_task(task_id).with_external_id(external_id)
            except PASSING as error:
                log.info("polling %s failed, will try again: %s", task_id, error)
                current = None
            if current is not None:
                if task is None or (current.status, current.progress, current.video_url) != (
                    task.status,
                    task.progress,
                    task.video_url,
                ):
                    self._journal(current, external_id)
                    if on_update is not None:
                        on_update(current)
                task = current
                if task.done:
                    if task.complete or missing_video >= MISSING_VIDEO_POLLS:
                        return task
                    missing_video += 1  # succeeded, but no link yet: ask again a few times
            elapsed = time.monotonic() - start
            if elapsed >= timeout:
                raise WaitTimeoutError(task or Task(task_id, TaskStatus.SUBMITTED), elapsed)
            self._sleep(min(poll_delay(base, elapsed), max(0.0, timeout - elapsed)))

    def generate(self, request: VideoRequest, **wait_kwargs: Any) -> Task:
        """Create and wait: the one call for a script.

        Parameters
        ----------
        request : VideoRequest
            What to make.
        **wait_kwargs
            ``timeout``, ``poll_interval``, ``on_update``, as for :meth:`wait`.

        Returns
        -------
        Task
            The succeeded task.

        Raises
        ------
        TaskFailedError
            The task failed (``error.task`` holds it).
        WaitTimeoutError
            The wait's ``timeout`` passed first.
        """
        task = self.wait(self.create_task(request), **wait_kwargs)
        if task.status is TaskStatus.FAILED:
            raise TaskFailedError(task)
        return task

    def download(
        self,
        task: Task,
        path: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        max_bytes: int = MAX_VIDEO_BYTES,
        deadline: float = DOWNLOAD_DEADLINE,
    ) -> Path:
        """Save the task's video (the service deletes it after 30 days) and return the file's path.

        ``path``: a file, or a folder (default: the current one) where ``kling-<task id>.mp4`` is written
        — as ``… (2).mp4`` when that name is taken. An existing file given by name is replaced only with
        ``overwrite=True``. The video host never sees the Authorization header, across redirects too;
        your proxy settings and CA bundle (``REQUESTS_CA_BUNDLE``) are honoured. An answer that is not
        a video, over ``max_bytes`` or slower than ``deadline`` seconds leaves no file behind.

        Parameters
        ----------
        task : Task
            A succeeded task (with its video link).
        path : str or os.PathLike, optional
            The file to write, or the folder to write into.
        overwrite : bool
            Whether an existing file named by ``path`` may be replaced.
        max_bytes : int
            The largest video accepted.
        deadline : float
            Seconds allowed for the whole download.

        Returns
        -------
        pathlib.Path
            The saved file.

        Raises
        ------
        DownloadError
            The video could not be saved (no partial file is left).
        KlingError
            The task has no video yet.
        """
        url = _video_url(task)
        target = Path(path) if path is not None else Path.cwd()
        if target.is_dir():
            target = unique_path(target / f"kling-{task.id}.mp4")
        try:
            final = fetch_video(
                self._video_session,
                url,
                target,
                overwrite=overwrite,
                max_bytes=max_bytes,
                deadline=deadline,
                read_timeout=self.timeout,
            )
        except APIConnectionError:  # nobody answers there any more: a stopped simulator?
            kept = simulator_video_file(url)  # the built-in simulator's video, kept after it stopped
            if kept is None or not kept.is_file():
                raise
            final = copy_video(kept, target, overwrite=overwrite)
        if self.history is not None and task.external_task_id:
            self.history.record_download(task.external_task_id, final.resolve())
        return final

    def embed(self, task: Task, *, max_bytes: int = 25_000_000) -> EmbeddedVideo:
        """The task's video carried in the notebook itself, for publishing: display the result at the end
        of a cell and the saved notebook (or its HTML export) plays it offline, after the service has
        deleted it. Kept under ``max_bytes`` (a notebook is not a video store).

        Parameters
        ----------
        task : Task
            A succeeded task.
        max_bytes : int
            The largest video carried in a notebook.

        Returns
        -------
        EmbeddedVideo
            An object that displays as a self-contained player.

        Raises
        ------
        DownloadError
            The video could not be read or is over ``max_bytes``.
        """
        data = fetch_bytes(self._video_session, _video_url(task), max_bytes=max_bytes, read_timeout=self.timeout)
        return EmbeddedVideo(task, data)

    def is_simulator(self) -> bool:
        """True only when the service proves it is the built-in simulator (``GET /sim/about`` says so):
        then, and only then, nothing is billed. An address on this machine proves nothing — a
        self-hosted gateway on localhost bills like any other. Asked without the key, once per client
        once the service has answered (nobody answering proves nothing: it is asked again, at most every
        ``ABOUT_RETRY`` seconds, so that a simulator started after its client is still recognised).

        Returns
        -------
        bool
            Whether the service is the built-in simulator.
        """
        if self._simulator is None and time.monotonic() >= self._about_retry_at:
            about = simulator_about(self._session, self.base_url)
            if about is None:
                self._about_retry_at = time.monotonic() + ABOUT_RETRY
            else:
                self._simulator = about
        return bool(self._simulator)

    @property
    def proven_simulator(self) -> bool:
        """True when the service has already proven it is the built-in simulator; never asks (for a
        thread that must not wait on the network to choose its words)."""
        return self._simulator is True

    def service(self) -> Service:
        """Whose tasks this client makes, as the journal names them: the built-in simulator (any port,
        any restart), or this account — provider, address and a fingerprint of the key, never the key
        (see :attr:`account`). A bundle, a history, a resume show and pick up that service's alone.

        Returns
        -------
        Service
            The service, for ``TaskHistory.entries(service)`` and the like.
        """
        from .history import SIMULATOR, Service

        return Service(SIMULATOR if self.is_simulator() else self.account, self.provider, self.base_url)

    def has_simulator_key(self) -> bool:
        """True when the credential is the built-in simulator's default one: a real service refuses it,
        so the bundle never sends it anywhere but to a proven simulator.

        Returns
        -------
        bool
            Whether the key is the simulator's default one.
        """
        auth = self._auth
        if isinstance(auth, JWTAuth):
            return auth.access_key in SIMULATOR_KEYS
        return auth.matches(SIMULATOR_KEYS)

    # -- the account ---------------------------------------------------------------------------------
    def account_status(self) -> AccountStatus:
        """What the account holds, asked with free requests only (nothing is created or billed).

        Gateway: ``GET /v1/models`` proves the key and lists its models; the billing routes of the
        gateway's software give what is left where the deployment answers them — an HTML page, a 404 or a
        405 leaves ``balance`` None. Kling direct: ``/account/costs`` gives the resource packs. A refused
        key raises :class:`AuthenticationError`; an account the service says cannot create (in arrears,
        packs used up) comes back with ``problem`` set.

        Returns
        -------
        AccountStatus
            Models, balance and packs, as far as the service tells.

        Raises
        ------
        AuthenticationError
            The service refused the key.
        """
        if self.provider == "kling":
            return self._kling_account()
        models = self._free_read(self._paths["models"], proven=False)
        subscription = self._free_read(self._paths["billing"][0], proven=models is not _MISSING)
        usage = _MISSING if subscription is _MISSING else self._free_read(self._paths["billing"][1], proven=True)
        return AccountStatus.from_gateway(
            None if models is _MISSING else models,
            None if subscription is _MISSING else subscription,
            None if usage is _MISSING else usage,
            provider=self.provider,
        )

    def _free_read(self, path: str, *, proven: bool) -> Any:
        """One free account read; ``_MISSING`` where this deployment does not route it. Once the key is
        proven (``proven``), nothing but a refused key on the first read is an error."""
        try:
            return self._request("GET", path, retries=1, probe=True)
        except _RouteMiss:
            return _MISSING
        except AuthenticationError:
            if proven:
                return _MISSING
            raise
        except KlingError as error:
            if not proven and isinstance(error, APIError) and error.status_code == 401:
                raise
            log.info("account: %s answered %s", path, redact(str(error)))
            return _MISSING

    def _kling_account(self) -> AccountStatus:
        now = int(time.time() * 1000)
        params = {"start_time": now - COSTS_WINDOW_MS, "end_time": now}
        with self._costs_lock:  # one per second, as Kling allows
            wait = self._costs_at + COSTS_SPACING - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            try:
                body = self._request("GET", self._paths["costs"], params=params, retries=1, probe=True)
            except _RouteMiss:
                return AccountStatus(self.provider)
            except AccountError as error:  # 1101 in arrears, 1102 packs used up or expired
                return AccountStatus(
                    self.provider,
                    balance=0.0 if error.code == 1102 else None,
                    unit="units",
                    problem=error.message,
                )
            finally:
                self._costs_at = time.monotonic()
        return AccountStatus.from_costs(body, provider=self.provider)

    # -- journal -----------------------------------------------------------------------------------
    def _journal(self, task: Task, external_id: str | None) -> None:
        if self.history is not None and (external_id or task.external_task_id):
            self.history.record_task(task, external_id)


_MISSING: Any = object()  # a free route this deployment does not answer


def simulator_about(session: requests.Session, base_url: str) -> bool | None:
    """Whether the service at ``base_url`` says it is the built-in simulator (``GET /sim/about``, no key).

    Parameters
    ----------
    session : requests.Session
        The session to ask with (it carries no key for this path).
    base_url : str
        The service's address.

    Returns
    -------
    bool or None
        True or False when it answered, None when nobody answered there.
    """
    try:
        with session.get(base_url + "/sim/about", timeout=(2.0, 2.0), allow_redirects=False) as response:
            about = json_or_none(response) if response.status_code == 200 else None
    except requests.exceptions.RequestException:
        return None
    return isinstance(about, dict) and about.get("service") == SIMULATOR_IDENTITY


def simulator_answers(base_url: str) -> bool:
    """Whether a built-in simulator still answers at ``base_url`` (its tasks can still be asked there).

    Parameters
    ----------
    base_url : str
        The simulator's address.

    Returns
    -------
    bool
        False when it has stopped or something else answers.
    """
    with bare_session() as session:
        return bool(simulator_about(session, base_url))


def elsewhere(base_url: str | None) -> tuple[bool, str]:
    """A simulated task this client cannot follow: made by the built-in simulator at ``base_url`` (an
    earlier run, another port), which alone knew it.

    Parameters
    ----------
    base_url : str or None
        Where that simulator was (the entry's ``base_url``).

    Returns
    -------
    tuple of (bool, str)
        Whether that simulator still answers, and what to say of the task in words (a stopped simulator
        is said as such, not as a network failure).
    """
    where = urlsplit(base_url or "").netloc or "an address no longer known"
    if base_url and simulator_answers(base_url):
        return True, (
            f"Made by the built-in simulator at {where}, which still runs: only a client of that simulator can "
            "follow it. Nothing is billed."
        )
    return False, (
        f"Made by the built-in simulator at {where}, which has stopped: a simulated task ends with the "
        "simulator that ran it. Nothing was billed."
    )


def _video_url(task: Task) -> str:
    if not task.video_url:
        raise KlingError(f"task {task.id} has no video yet (status {task.status.value})")
    return task.video_url


def _says_external_id_exists(error: APIError) -> bool:
    """A refusal because the external id is taken: proof that a task with it exists."""
    text = error.message.lower()
    return "external_task_id" in text and any(
        word in text for word in ("exist", "duplicate", "already", "repeat", "used")
    )


def _is_html(response: requests.Response) -> bool:
    kind = (response.headers.get("Content-Type") or "").lower()
    return "html" in kind or response.content[:200].lstrip().lower().startswith((b"<!doctype html", b"<html"))
