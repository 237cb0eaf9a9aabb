"""A local stand-in for the Kling service, written from the service contract alone (docs/guide/service.md): the facade.

It imports nothing from the client, the models or the image pipeline, so that a misreading of the
contract there cannot hide behind the same misreading here. It speaks both providers' paths, shapes and
auth (it verifies Kling's JWT), validates create bodies with the service's own error codes, moves tasks
submitted → processing → succeeded over ``processing_seconds``, and serves a real MP4 made from the
request's images. In gateway mode it is the strict twin of the gateway's software: documented query
routes only (an HTML page elsewhere), a body cap, string codes, the flatter task shape on request.

The pieces: ``state`` (tasks and their clock, validation), ``shapes`` (answers), ``handler`` (HTTP),
``faults`` (what tests inject, what is recorded).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import threading
import urllib.request
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._home import simulator_videos_dir
from . import shapes
from .account import Ledger
from .faults import Fault, RecordedRequest
from .handler import Handler
from .state import SimTask, TaskStore, decode_image

GATEWAY_QUERY_ACTIONS = ("text2video", "image2video")  # the GET routes of the gateway's software
MAX_BODY_BYTES = 32 << 20  # the gateway software's MAX_REQUEST_BODY_MB default (32), in its own units
IDENTITY = "kling-widgets-simulator"
# Every simulator serving in this process, oldest first: code shown by a notebook (the bundle's Show code)
# finds the one the notebook already runs through Simulator.shared() instead of starting a second.
_RUNNING: list[Simulator] = []
_RUNNING_LOCK = threading.Lock()

__all__ = ["Fault", "RecordedRequest", "Simulator"]


class _Server(ThreadingHTTPServer):
    """The stdlib server with address reuse set on this class only (the stdlib's stays untouched). It
    knows its open connections, so that a stopped simulator stops answering on kept-alive ones too, as a
    stopped service does (the stdlib's ``shutdown`` only stops accepting new ones)."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.closing = False

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.closing:  # a connection cut by stop() is expected, not worth a traceback
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        self.closing = True
        with self.connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)


class Simulator:
    """A real HTTP server on 127.0.0.1 that behaves like the documented service (the guide's page on the service).

    Use it as a context manager (or ``start()`` / ``stop()``); ``url`` and ``api_key`` (or
    ``access_key`` / ``secret_key`` for ``provider="kling"``) are what a client needs.
    A prompt containing ``[fail]`` makes its task fail.

    Gateway strictness, all configurable: ``query_actions`` (the ``/kling/v1/videos/{action}/{id}``
    forms it routes; other resellers also route ``multi-image2video``), ``openai_video_route``
    (``GET /v1/videos/{id}``), ``front_end_url`` (a 301 there instead of the HTML page on unrouted
    paths), ``max_body_bytes`` (413 beyond), ``task_shape`` (``"envelope"`` or ``"flat"``),
    ``quota`` (creates left before 403 ``insufficient_user_quota``), ``no_channel`` (503 from the
    gateway itself).

    The account, free to ask: ``models`` (what ``GET /v1/models`` lists),
    ``billing`` (the gateway software's billing routes: ``"served"``, or absent as ``"html"`` — the front
    end's page —, ``"404"`` or ``"405"``), ``credit`` (the gateway key's grant in its currency; None: an
    unlimited key; each create charges ``price_per_unit`` per unit, and a create it cannot pay is refused
    403 ``insufficient_user_quota``), ``units`` (Kling direct: one resource pack of that many units,
    falling with each create; None: no pack, so creates are refused 1102), ``account_code`` (Kling direct:
    1101 or 1102 on ``/account/costs`` and on creates).

    For tests: ``upload_bytes_per_second`` (a throttled uplink), ``visibility_delay`` (a created task
    stays invisible to lookups that long), ``video_answer`` (``"html"``/``"json"`` instead of the MP4),
    ``tls`` (certificate and key files: serve HTTPS).

    Every video it makes is kept as ``<task id>.mp4`` in ``keep_videos`` (True: ``simulator/videos``
    under the data directory, ``$KLING_WIDGETS_HOME`` or the user's; a path: there; False: nowhere), so a
    demo restarted tomorrow (a new simulator, a new port) still plays yesterday's videos: the kernel
    reads them from that folder (``kling_widgets.playback``).

    Parameters
    ----------
    provider : {"gateway", "kling"}
        Which contract to speak.
    api_key : str
        The gateway key it accepts.
    access_key, secret_key : str
        The Kling direct key pair whose tokens it accepts.
    processing_seconds : float
        How long a task runs before it succeeds.
    host, port : str, int
        Where to listen (port 0: any free one).
    max_concurrent : int, optional
        Tasks running at once before creates are refused with 1303 (None: no limit).
    video_fps : int
        Frame rate of the videos it makes.
    redirect_videos : bool
        Serve video links as redirects to another host name, as a CDN does.
    query_actions : tuple of str
        The gateway's query forms it routes (see above).
    openai_video_route : bool
        Route ``GET /v1/videos/{id}``.
    front_end_url : str, optional
        Answer unrouted paths with a 301 there instead of an HTML page.
    max_body_bytes : int
        Bodies over this are refused with 413.
    task_shape : {"envelope", "flat"}
        The shape of the gateway's task answers.
    quota : int, optional
        Creates left before 403 ``insufficient_user_quota`` (None: no limit).
    no_channel : bool
        Refuse creates with 503 from the gateway itself.
    upload_bytes_per_second : float, optional
        Throttle the uplink, to test upload progress.
    visibility_delay : float
        Seconds a created task stays invisible to lookups.
    video_answer : {"mp4", "html", "json"}
        What a video link answers (the last two as an expired link does).
    video_redirect_to : str, optional
        The address video redirects point at (default: ``localhost`` on the same port).
    tls : tuple of (str, str), optional
        Certificate and key files: serve HTTPS.
    models : tuple of str
        What ``GET /v1/models`` lists.
    billing : {"served", "html", "404", "405"}
        How the gateway's billing routes answer.
    credit : float, optional
        The gateway key's grant (None: unlimited).
    price_per_unit : float
        What each unit costs against ``credit``.
    units : float, optional
        Kling direct's one resource pack (None: no pack).
    account_code : int, optional
        Kling direct's account refusal (1101 or 1102) on costs and creates.
    keep_videos : bool or path
        Where the videos it makes are kept (see above).
    log : callable, optional
        Called with one line per request (time, client, method, path, status, business code, task id,
        bytes received, time taken; never a header, the query or a body). None, the default, keeps it
        quiet: the command line (``python -m kling_widgets.simulator``) prints them.

    Raises
    ------
    ValueError
        ``provider``, ``task_shape`` or ``billing`` is not one of the values above.
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
        query_actions: tuple[str, ...] = GATEWAY_QUERY_ACTIONS,
        openai_video_route: bool = True,
        front_end_url: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        task_shape: str = "envelope",
        quota: int | None = None,
        no_channel: bool = False,
        upload_bytes_per_second: float | None = None,
        visibility_delay: float = 0.0,
        video_answer: str = "mp4",
        video_redirect_to: str | None = None,
        tls: tuple[str, str] | None = None,
        models: tuple[str, ...] = ("kling-v1-6",),
        billing: str = "served",
        credit: float | None = None,
        price_per_unit: float = 0.14,
        units: float | None = 100_000.0,
        account_code: int | None = None,
        keep_videos: bool | str | os.PathLike[str] = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if provider not in ("gateway", "kling"):
            raise ValueError("provider must be 'gateway' or 'kling'")
        if task_shape not in ("envelope", "flat"):
            raise ValueError("task_shape must be 'envelope' or 'flat'")
        if billing not in ("served", "html", "404", "405"):
            raise ValueError("billing must be 'served', 'html', '404' or '405'")
        self.provider = provider
        self.api_key, self.access_key, self.secret_key = api_key, access_key, secret_key
        self.state = TaskStore(processing_seconds, visibility_delay)
        self.max_concurrent = max_concurrent
        self.video_fps = video_fps
        self.redirect_videos = redirect_videos
        self.query_actions = tuple(query_actions)
        self.openai_video_route = openai_video_route
        self.front_end_url = front_end_url
        self.max_body_bytes = max_body_bytes
        self.task_shape = task_shape
        self.quota = quota
        self.no_channel = no_channel
        self.upload_bytes_per_second = upload_bytes_per_second
        self.video_answer = video_answer
        self.video_redirect_to = video_redirect_to
        self.tls = tls
        self.models = tuple(models)
        self.billing = billing
        self.ledger = Ledger(credit, price_per_unit, units)
        self.account_code = account_code
        self.costs_asked_at = -1.0
        self.videos_dir = (
            simulator_videos_dir() if keep_videos is True else Path(keep_videos) if keep_videos else None
        )
        self.host, self.port = host, port
        self.log = log
        self._log_lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.created: list[dict[str, Any]] = []
        self.video_requests: list[RecordedRequest] = []
        self.callbacks: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"Simulator(provider={self.provider!r}, {state})"

    # -- settings that live with the tasks -----------------------------------------------------------
    @property
    def processing_seconds(self) -> float:
        """How long a task runs before it succeeds (settable while running)."""
        return self.state.processing_seconds

    @processing_seconds.setter
    def processing_seconds(self, value: float) -> None:
        self.state.processing_seconds = value

    @property
    def visibility_delay(self) -> float:
        """Seconds a created task stays invisible to lookups (settable while running)."""
        return self.state.visibility_delay

    @visibility_delay.setter
    def visibility_delay(self, value: float) -> None:
        self.state.visibility_delay = value

    # -- life cycle --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL to give a client (only while it runs)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() or use it in a with block")
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> Simulator:
        """Serve on a background thread (a ``with`` block does this).

        Returns
        -------
        Simulator
            ``self``, running.
        """
        if self._server is not None:
            return self
        handler = type("BoundHandler", (Handler,), {"sim": self})
        server = _Server((self.host, self.port), handler)
        if self.upload_bytes_per_second:  # a slow line, not a slow reader: the kernel must not buffer megabytes
            server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server, self.port = server, server.server_address[1]
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True),
            threading.Thread(target=self._callback_loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        with _RUNNING_LOCK:
            _RUNNING.append(self)
        return self

    def stop(self) -> None:
        """Stop serving; tasks are kept, so ``start()`` again resumes them (same port)."""
        if self._server is None:
            return
        with _RUNNING_LOCK:
            if self in _RUNNING:
                _RUNNING.remove(self)
        self._stopping.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._server = None

    @classmethod
    def running(cls, provider: str | None = None) -> list[Simulator]:
        """Every simulator serving in this process (of ``provider``, when given), oldest first.

        Parameters
        ----------
        provider : str or None
            ``"gateway"`` or ``"kling"``; None: either.

        Returns
        -------
        list of Simulator
            Those started and not stopped since.
        """
        with _RUNNING_LOCK:
            return [sim for sim in _RUNNING if provider is None or sim.provider == provider]

    @classmethod
    def shared(cls, provider: str = "gateway", *, url: str | None = None, **settings: Any) -> Simulator:
        """The simulator this process already serves, or a new one: what code shown by a notebook calls,
        so that it runs on the notebook's own simulator there and alone anywhere else (a fresh kernel, a
        script), never starting a second one beside the first.

        Parameters
        ----------
        provider : str
            ``"gateway"`` or ``"kling"``: only a running simulator of this provider is reused.
        url : str or None
            Reuse the running one at this address (when several run); None: the newest running one. An
            address nothing in this process serves any more is ignored: a new simulator is started.
        **settings
            Passed to ``Simulator(provider, ...)`` when a new one is started (a reused one keeps its own).

        Returns
        -------
        Simulator
            A running simulator.
        """
        candidates = cls.running(provider)
        if url is not None:
            candidates = [sim for sim in candidates if sim.url == url.rstrip("/")]
        if candidates:
            return candidates[-1]
        return cls(provider, **settings).start()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def about(self) -> dict[str, Any]:
        """What ``GET /sim/about`` says: who this is, so a client can prove nothing is billed.

        Returns
        -------
        dict
            The answer's JSON.
        """
        return {"service": IDENTITY, "provider": self.provider, "billed": False}

    # -- test controls -----------------------------------------------------------------------------
    def inject(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Add a fault: ``sim.inject(method="POST", status=429, code=1302, retry_after=1)``.

        Parameters
        ----------
        fault : Fault, optional
            A fault made beforehand.
        **kwargs
            Else the fields of a new :class:`Fault`.

        Returns
        -------
        Fault
            The fault, whose ``hits`` count the requests it answered.
        """
        fault = fault or Fault(**kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self.faults.clear()

    def fail_next_task(self, reason: str = "Kling could not generate this video") -> None:
        """The next task created will end in failure with ``reason``.

        Parameters
        ----------
        reason : str
            The failure's reason, as the service would give it.
        """
        with self.state.lock:
            self.state.fail_next.append(reason)

    def omit_next_video_link(self, count: int = 1) -> None:
        """The next ``count`` tasks succeed without a video link in any answer.

        Parameters
        ----------
        count : int
            How many tasks.
        """
        with self.state.lock:
            self.state.no_video_next += count

    def task_status(self, task_id: str) -> str | None:
        """Kling's status of a task right now.

        Parameters
        ----------
        task_id : str
            The task's id.

        Returns
        -------
        str or None
            ``submitted``, ``processing``, ``succeed`` or ``failed``; None if there is no such task.
        """
        task = self.state.find(task_id, visible_only=False)
        return self.state.status(task)[0] if task else None

    @property
    def balance(self) -> float | None:
        """What is left right now: the gateway key's credit (None when unlimited), or Kling direct's units
        over its online packs."""
        if self.provider == "gateway":
            return self.ledger.left_usd()
        return self.ledger.units_left()

    @property
    def creates(self) -> int:
        """How many tasks were created: one per intention is what a good client achieves."""
        return len(self.created)

    def write_log(self, line: str) -> None:
        """Give ``log`` one request's line, one at a time (requests are served on many threads).

        Parameters
        ----------
        line : str
            The request's line, with no header, query or body in it.
        """
        if self.log is not None:
            with self._log_lock:
                self.log(line)

    # -- videos ------------------------------------------------------------------------------------
    def video_url(self, task: SimTask, *, redirected: bool = False) -> str:
        """The link its answers give for a task's video, or where that link redirects.

        With ``redirect_videos`` the answers' link is ``/sim/redirect/…``, which redirects to the file under
        another host name for the same server (or ``video_redirect_to``), as a CDN would.

        Parameters
        ----------
        task : SimTask
            The task.
        redirected : bool
            Give the redirect's target instead of the answers' link.

        Returns
        -------
        str
            The link.
        """
        kind = "redirect" if self.redirect_videos and not redirected else "videos"
        path = f"/sim/{kind}/{task.task_id}.mp4"
        if not redirected:
            return self.url + path
        if self.video_redirect_to:
            return self.video_redirect_to.rstrip("/") + path
        scheme = "https" if self.tls else "http"
        return f"{scheme}://localhost:{self.port}{path}"

    def render(self, task: SimTask) -> bytes:
        """The task's MP4, made once from its images on first request, and kept (see ``keep_videos``).

        Parameters
        ----------
        task : SimTask
            The task.

        Returns
        -------
        bytes
            The MP4.
        """
        with task.lock:
            if task.video is None:
                task.video = self._kept(task)
            if task.video is None:
                from .video import placeholder, render_mp4

                images = []
                for item in task.body.get("image_list", []):
                    decoded = decode_image(str(item.get("image", "")))
                    images.append(decoded if decoded is not None else placeholder(str(item.get("image"))))
                task.video = render_mp4(
                    images,
                    aspect_ratio=str(task.body.get("aspect_ratio", "16:9")),
                    seconds=int(task.body.get("duration", "5")),
                    fps=self.video_fps,
                    seed=task.task_id,  # each task's own camera: two takes are two videos
                )
                self._keep(task.task_id, task.video)
            return task.video

    def _kept(self, task: SimTask) -> bytes | None:
        path = self.videos_dir / f"{task.task_id}.mp4" if self.videos_dir else None
        return path.read_bytes() if path is not None and path.is_file() else None

    def _keep(self, task_id: str, video: bytes) -> None:
        """Write the video under its task id, whole or not at all (a reader never sees half a file)."""
        if self.videos_dir is None:
            return
        try:
            self.videos_dir.mkdir(parents=True, exist_ok=True)
            partial = self.videos_dir / f".{task_id}.{os.getpid()}.part"
            partial.write_bytes(video)
            os.replace(partial, self.videos_dir / f"{task_id}.mp4")
        except OSError:  # a read-only home: the video is still served, just not kept
            pass

    def _callback_loop(self) -> None:
        """POST Kling's task object to each task's callback_url on every status change (loopback only)."""
        while not self._stopping.wait(0.2):
            with self.state.lock:
                tasks = [t for t in self.state.tasks.values() if t.body.get("callback_url")]
            for task in tasks:
                status, _ = self.state.status(task)
                if status == task.reported_status:
                    continue
                task.reported_status = status
                url = str(task.body["callback_url"])
                host = urlsplit(url).hostname or ""
                record = {"task_id": task.task_id, "status": status, "url": url, "delivered": False}
                if host in ("127.0.0.1", "localhost", "::1"):
                    request = urllib.request.Request(
                        url,
                        data=json.dumps(shapes.kling_object(task, self.state, self.video_url)).encode(),
                        headers={"Content-Type": "application/json"},
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=2):
                            record["delivered"] = True
                    except OSError:
                        pass
                self.callbacks.append(record)
