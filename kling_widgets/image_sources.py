"""Where a picture comes from: a path as people paste it, a URL, bytes or an upload, read into bytes and a name.

No image library here: this only finds the file's bytes (refusing what cannot be read, in words that
say what to give instead) and remembers where a file lives so that it can be found again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from .errors import Problem, ValidationError
from .image_rules import MAX_BYTES, megabytes

MAX_INPUT_BYTES = 200_000_000  # larger than any photo worth fixing; refused without reading it all


def is_url(value: str) -> bool:
    """True for an http(s) URL, which is sent to the service as it is.

    Parameters
    ----------
    value : str
        What a person gave as a picture.

    Returns
    -------
    bool
        Whether it is an http or https address.
    """
    return bool(re.match(r"https?://[^\s/]+", value.strip(), re.IGNORECASE))


def as_path(text: str | bytes) -> Path:
    """A path as people paste it: quotes around it, a ``file://`` URL, ``~`` — all taken as meant.

    Parameters
    ----------
    text : str or bytes
        The path as given.

    Returns
    -------
    pathlib.Path
        The path meant (not checked to exist).
    """
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = text.strip().strip("'\"").strip()
    if text.lower().startswith("file://"):
        from urllib.parse import unquote, urlsplit

        text = unquote(urlsplit(text).path)
    return Path(text).expanduser()


def read_source(source: object) -> tuple[bytes, str]:
    """The bytes of a file, bytes object or FileUpload value, and a name for messages.

    Parameters
    ----------
    source : path, bytes, upload value (a dict with ``content``, or a one-item list of one)
        Where the picture is.

    Returns
    -------
    tuple of (bytes, str)
        The file's bytes and a name to use in messages (the file name, ``"upload"`` or ``"bytes"``).

    Raises
    ------
    ValidationError
        For a URL (sent as it is, never read here), a folder, a missing file, a file far over the byte
        cap, or anything that is not a picture's source at all.
    """
    if isinstance(source, (tuple, list)) and len(source) == 1:
        source = source[0]
    if isinstance(source, Mapping) and "content" in source:
        return bytes(source["content"]), str(source.get("name") or "upload")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "bytes"
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, str) and is_url(text):
            raise ValidationError(Problem("image", "URLs are sent as they are and not prepared locally", None, text))
        path = as_path(text)
        if path.is_dir():
            raise ValidationError(Problem("image", f"{path} is a folder: give one picture in it", None, str(path)))
        if not path.is_file():
            start = "" if Path(text).expanduser().is_absolute() else f" (relative paths start from {Path.cwd()})"
            raise ValidationError(Problem("image", f"no such file: {path}{start}", None, str(path)))
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise ValidationError(
                Problem("image", f"{path.name} is {megabytes(size)}, far over the 10 MB limit", MAX_BYTES, size)
            )
        return path.read_bytes(), path.name
    raise ValidationError(
        Problem(
            "image",
            f"cannot read an image from {type(source).__name__}: give a path, URL, bytes or PIL image",
        )
    )


def file_origin(source: object) -> str | None:
    """The absolute path of the file a picture was read from, so that it can be found again.

    Parameters
    ----------
    source : object
        What the picture was prepared from.

    Returns
    -------
    str or None
        The resolved path for a local path; None for a URL, bytes, an upload, or a path that cannot be
        resolved.
    """
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and is_url(source)):
        try:
            return str(as_path(os.fspath(source)).resolve())
        except (OSError, RuntimeError, TypeError):
            return None
    return None
