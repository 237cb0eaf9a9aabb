"""Keep credentials out of text: exception messages, log records, reprs.

Secrets are registered by the auth objects that hold them; anything that formats text from outside
(service messages, log records) passes through :func:`redact`.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref

_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_lock = threading.Lock()
_secrets: weakref.WeakValueDictionary[int, _Secret] = weakref.WeakValueDictionary()


class _Secret:
    """A registered secret; unregistered when its owner is collected."""

    __slots__ = ("__weakref__", "value")

    def __init__(self, value: str) -> None:
        self.value = value


def register_secret(value: str) -> _Secret:
    """Remember ``value`` as a secret for as long as the returned handle is alive."""
    handle = _Secret(value)
    with _lock:
        _secrets[id(handle)] = handle
    return handle


def redact(text: str) -> str:
    """Replace every known secret and every bearer token in ``text`` by ``***``."""
    with _lock:
        values = [s.value for s in _secrets.values() if len(s.value) >= 4]
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    return _BEARER.sub(r"\1***", text)


class SecretHeader(str):
    """A credential header value that sends as itself but shows as ``'Bearer ***'``: a verbose
    traceback (``%xmode Verbose``) prints the locals of every frame by their repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'Bearer ***'"


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets and bearer tokens from records, whatever logged them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# Where records are made: a logger's filters see only the records created on that very logger, not
# those of its children that propagate through it, so urllib3's own module loggers each need one.
_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.poolmanager",
    "urllib3.util.retry",
    "requests",
    "filelock",
)


def install_log_filter(logger_name: str = "kling_widgets") -> None:
    """Attach the redacting filter to our logger and to every logger urllib3 and requests log through
    (their records are made on per-module loggers such as ``urllib3.connectionpool``)."""
    known = [name for name in logging.Logger.manager.loggerDict if name.startswith(("urllib3.", "requests."))]
    for name in {logger_name, f"{logger_name}.client", *_LOGGERS, *known}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
