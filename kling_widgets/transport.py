"""How bytes move: the request body handed to the socket in blocks, and every way a send can break
mapped to one question — could the service have acted on it?

urllib3 applies the connect timeout to sending the body, and ``socket.sendall`` counts that timeout
over the whole call. Handed over as one ``bytes`` object, a 20 MB body over a 20 Mbit/s uplink dies
after 10 s. :class:`UploadBody` is read in blocks, so the timeout bounds each block: it means "no
progress for N seconds", however long the whole upload takes. It also counts what left, so a break
while the body was still being sent is known to be "never arrived whole" (the service cannot have
parsed such a request), and it reports progress for the screen.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import requests.adapters

from .errors import APIConnectionError, KlingError

Progress = Callable[[int, int], None]
BLOCK = 64 * 1024
PROGRESS_EVERY = 0.2  # seconds between progress reports (the last one always comes)


class UploadBody:
    """A request body read in blocks, with its length known up front (so no chunked encoding)."""

    def __init__(self, data: bytes, on_progress: Progress | None = None, *, block: int = BLOCK) -> None:
        self._data = memoryview(data)
        self._block = block
        self._on_progress = on_progress
        self._reported = 0.0
        self.sent = 0  # bytes handed to the socket so far

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[bytes]:  # requests recognises a stream by this
        while chunk := self.read(self._block):
            yield chunk

    def __repr__(self) -> str:
        return f"UploadBody({self.sent}/{len(self)} bytes)"

    @property
    def complete(self) -> bool:
        """True once every byte was handed to the socket."""
        return self.sent >= len(self._data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = len(self._data) - self.sent
        chunk = self._data[self.sent : self.sent + min(size, self._block)].tobytes()
        self.sent += len(chunk)
        self._report()
        return chunk

    def _report(self) -> None:
        if self._on_progress is None:
            return
        now = time.monotonic()
        if self.complete or now - self._reported >= PROGRESS_EVERY:
            self._reported = now
            try:
                self._on_progress(self.sent, len(self._data))
            except Exception:  # a broken progress display must not break the upload
                self._on_progress = None


SEND_BUFFER = 512 * 1024  # bytes the kernel may hold unsent (Linux doubles it): see api_session


class _Adapter(requests.adapters.HTTPAdapter):
    """Connections with a bounded send buffer. The read timeout starts when the last block entered the
    kernel; with the default buffer (up to 4 MB) a slow uplink could still be sending it for longer
    than that timeout. Bounded, "sent" means nearly "left", and progress reports tell the truth."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        from urllib3.connection import HTTPConnection

        options = [*HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)]
        kwargs["socket_options"] = options
        super().init_poolmanager(*args, **kwargs)


def api_session(user_agent: str) -> requests.Session:
    """The session for the API: keep-alive, our User-Agent, bounded send buffers."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    for prefix in ("https://", "http://"):
        session.mount(prefix, _Adapter())
    return session


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: UploadBody | None,
    params: dict[str, Any] | None,
    timeout: tuple[float, float],
    where: str,
) -> requests.Response:
    """One HTTP exchange. Every failure becomes :class:`APIConnectionError` saying whether the request
    may have reached the service (``reached``); no ``requests`` or ``urllib3`` exception escapes, and
    none is chained (their frames hold the raw header bytes, which a verbose traceback would print)."""
    failure: APIConnectionError | KlingError
    try:
        return session.request(
            method, url, data=body, params=params, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.exceptions.ConnectTimeout:
        failure = APIConnectionError(f"could not connect to {where}: timed out", reached=False)
    except requests.exceptions.ReadTimeout:
        failure = APIConnectionError(f"no answer from {where} within {timeout[1]:g} s", reached=True)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as error:
        failure = APIConnectionError(f"the answer from {where} was cut off ({type(error).__name__})", reached=True)
    except requests.exceptions.SSLError:  # the handshake failed: not a byte of the request was sent
        failure = APIConnectionError(
            f"the TLS certificate of {where} could not be verified (a private CA? set REQUESTS_CA_BUNDLE)",
            reached=False,
        )
    except requests.exceptions.ConnectionError as error:
        if never_connected(error):
            failure = APIConnectionError(f"could not connect to {where}", reached=False)
        elif body is not None and not body.complete:
            stalled = "sending stalled" if _timed_out(error) else "the connection broke"
            failure = APIConnectionError(
                f"{stalled} after {body.sent:,} of {len(body):,} bytes ({where}): the request never arrived whole",
                reached=False,
            )
        else:
            failure = APIConnectionError(f"the connection to {where} broke before an answer", reached=True)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        failure = KlingError(f"{where} is not a usable address: give the base URL as https://host")
    except (requests.exceptions.RequestException, http.client.HTTPException, OSError, ValueError) as error:
        sent_whole = body is None or body.complete
        failure = APIConnectionError(f"the request to {where} failed ({type(error).__name__})", reached=sent_whole)
    raise failure from None


def never_connected(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established (refused, unresolvable): nothing was sent."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, NameResolutionError))


def _timed_out(error: BaseException) -> bool:
    return "timed out" in str(error)  # urllib3: ProtocolError('Connection aborted.', TimeoutError('timed out'))


def json_or_none(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
