"""Saving a result video safely: from a host that never sees our credentials, as a video or not at all.

The video host gets no Authorization header (across redirects too) and no .netrc credentials, but the
user's proxy settings and CA bundle are honoured. An answer that is not a video (an HTML page for an
expired link, a JSON error) is refused and leaves no file: bytes go to a temporary name in the target
folder and are renamed only when complete. A size cap and an overall deadline bound the download; an
https link is never followed to plain http; an existing file is never overwritten silently.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from ._version import __version__
from .errors import APIConnectionError, KlingError

MAX_VIDEO_BYTES = 2_000_000_000
DOWNLOAD_DEADLINE = 600.0
MAX_REDIRECTS = 5
SNIFF_BYTES = 512  # held back until they show the answer is a video
_NOT_VIDEO_TYPES = ("text/", "application/json", "application/xml", "application/problem")


class DownloadError(KlingError):
    """The video could not be saved; no partial file was left behind."""


def bare_session() -> requests.Session:
    """A session that adds no credentials of any kind (no .netrc either): for the video host."""
    session = requests.Session()
    session.trust_env = False  # no .netrc; proxies and CA bundle are read per request below
    session.headers["User-Agent"] = f"kling-widgets/{__version__}"
    return session


def looks_like_video(head: bytes) -> bool:
    """MP4/MOV (an ``ftyp`` box), WebM/Matroska (EBML) or an MPEG transport stream."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")
        or head.startswith(b"\x1aE\xdf\xa3")
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
    )


def unique_path(path: Path) -> Path:
    """``path``, or ``name (2).mp4``, ``name (3).mp4``… when it exists."""
    if not path.exists():
        return path
    for number in range(2, 10_000):
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        if not candidate.exists():
            return candidate
    raise DownloadError(f"too many files named like {path.name}")


def video_chunks(
    session: requests.Session,
    url: str,
    *,
    max_bytes: int = MAX_VIDEO_BYTES,
    deadline: float = DOWNLOAD_DEADLINE,
    read_timeout: float = 30.0,
) -> Generator[bytes, None, None]:
    """The video at ``url``, chunk by chunk, with every check a download needs: no credentials, no
    https→http, a video by its type and its first bytes, within ``max_bytes`` and ``deadline``.
    Raises :class:`DownloadError` (or :class:`APIConnectionError` for the network)."""
    started = time.monotonic()
    response = _open(session, url, read_timeout)
    try:
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind.startswith(_NOT_VIDEO_TYPES):
            raise DownloadError(f"the video link answered with {kind}, not a video (an expired link?)")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise DownloadError(f"the video is {int(declared):,} bytes, over the {max_bytes:,}-byte cap")
        head: bytes | None = b""  # the first bytes, held back until they show a video
        total = 0
        for chunk in response.iter_content(1 << 16):
            total += len(chunk)
            if total > max_bytes:
                raise DownloadError(f"the video is over the {max_bytes:,}-byte cap")
            if time.monotonic() - started > deadline:
                raise DownloadError(f"the download took longer than {deadline:g} s")
            if head is not None:
                head += chunk
                if len(head) < SNIFF_BYTES:
                    continue
                _check_video(head)
                chunk, head = head, None
            yield chunk
        if head is not None:  # the whole body was shorter than SNIFF_BYTES
            _check_video(head)
            yield head
    except requests.exceptions.RequestException as error:
        raise APIConnectionError(f"video download failed: {type(error).__name__}", reached=True) from None
    finally:
        response.close()


def _check_video(head: bytes) -> None:
    if len(head) < 12:
        raise DownloadError("the video link answered with an empty or tiny body, not a video")
    if not looks_like_video(head):
        raise DownloadError("the video link answered with something that is not a video")


def fetch_video(session: requests.Session, url: str, target: Path, *, overwrite: bool, **limits: Any) -> Path:
    """Download ``url`` to ``target`` (``limits``: those of :func:`video_chunks`); returns the path
    written. Bytes go to a temporary name beside it, renamed at the end: nothing is left on failure."""
    if target.exists() and not overwrite:
        raise DownloadError(f"{target} already exists: pass overwrite=True to replace it, or another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle, contextlib.closing(video_chunks(session, url, **limits)) as chunks:
            for chunk in chunks:
                handle.write(chunk)
        return _place(partial, target, overwrite)
    finally:
        partial.unlink(missing_ok=True)


def fetch_bytes(session: requests.Session, url: str, **limits: Any) -> bytes:
    """The video at ``url`` in memory, with the same checks as a download."""
    with contextlib.closing(video_chunks(session, url, **limits)) as chunks:
        return b"".join(chunks)


def copy_video(source: Path, target: Path, *, overwrite: bool) -> Path:
    """Copy a video kept on this machine (the built-in simulator's) to ``target`` with the same rules
    as a download: a video or nothing, no silent overwrite, never half a file."""
    if target.exists() and not overwrite:
        raise DownloadError(f"{target} already exists: pass overwrite=True to replace it, or another path")
    data = source.read_bytes()
    _check_video(data[:SNIFF_BYTES])
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return _place(partial, target, overwrite)
    finally:
        partial.unlink(missing_ok=True)


def _place(partial: Path, target: Path, overwrite: bool) -> Path:
    """Move the finished file into place; without ``overwrite`` a file that appeared meanwhile wins."""
    if overwrite:
        os.replace(partial, target)
        return target
    try:
        os.link(partial, target)  # fails if the target exists: no silent overwrite, even in a race
    except FileExistsError:
        raise DownloadError(f"{target} already exists: pass overwrite=True to replace it") from None
    except OSError:  # a filesystem without hard links
        if target.exists():
            raise DownloadError(f"{target} already exists: pass overwrite=True to replace it") from None
        os.replace(partial, target)
    return target  # the temporary name, if still there, is removed by the caller


def _open(session: requests.Session, url: str, read_timeout: float) -> requests.Response:
    """GET ``url``, following redirects by hand: never from https to http, never with credentials."""
    for _ in range(MAX_REDIRECTS + 1):
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise DownloadError(f"the video link is not an http(s) URL: {url[:80]}")
        try:
            response = session.get(
                url,
                stream=True,
                timeout=(10.0, read_timeout),
                allow_redirects=False,
                proxies=_proxies_for(url),
                verify=_ca_bundle(),
            )
        except requests.exceptions.RequestException as error:
            raise APIConnectionError(f"video download failed: {type(error).__name__}", reached=True) from None
        if response.is_redirect:
            location = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if scheme == "https" and urlsplit(location).scheme.lower() == "http":
                raise DownloadError("the video link redirects from https to plain http: refused")
            url = location
            continue
        if not response.ok:
            response.close()
            raise DownloadError(f"video download failed: HTTP {response.status_code} {response.reason}")
        return response
    raise DownloadError(f"the video link redirected more than {MAX_REDIRECTS} times")


def _proxies_for(url: str) -> dict[str, str]:
    """The user's proxy settings for this URL (``NO_PROXY`` honoured), as requests would read them."""
    return dict(requests.utils.get_environ_proxies(url))


def _ca_bundle() -> str | bool:
    """The user's CA bundle (``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``), else the default store."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
