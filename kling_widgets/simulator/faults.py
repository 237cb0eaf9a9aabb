"""What tests inject into the simulator (faults) and what it records of every request."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """One injected failure. Matches requests by method and a substring of the path.

    ``status``/``code`` answer with an error; ``drop`` closes the connection without a word; ``cut``
    starts a 200 answer and closes it halfway through the body; ``html`` answers 200 with a web page;
    ``bad_gzip`` declares a gzip body that is not; ``drop_after`` closes the connection after that
    many bytes of the request body (the request never arrives whole); ``apply`` lets a create take
    effect first, so the failure hides a task that does exist.
    """

    method: str | None = None
    path: str | None = None
    status: int | None = 500  # None: no failure, only the delay (a slow service)
    code: int | str | None = 5000
    message: str = "simulated server error"
    retry_after: float | None = None
    times: int | None = 1  # None: every matching request
    apply: bool = False  # a create is accepted first, then answered with the fault (or dropped)
    drop: bool = False  # close the connection without any answer
    cut: bool = False  # send the headers and half the body of a 200 answer, then close
    html: bool = False  # answer 200 with an HTML page, as a web front end does
    bad_gzip: bool = False  # answer 200 declaring gzip with a body that is not
    drop_after: int | None = None  # read this many bytes of the request body, then close the connection
    delay: float = 0.0  # seconds to wait before answering
    probability: float = 1.0  # below 1: a flaky fault
    hits: int = 0

    @property
    def fails(self) -> bool:
        """False for a delay-only fault: the request is then served as usual, late."""
        return (
            self.drop
            or self.cut
            or self.html
            or self.bad_gzip
            or self.drop_after is not None
            or (self.status is not None)
        )

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
    """What reached the simulator: never the Authorization value, only whether one came.
    ``body_bytes`` is the size of the body as received (the upload, before JSON parsing)."""

    method: str
    path: str
    json: Any
    authorized: bool
    user_agent: str | None
    time: float = field(default_factory=time.time)
    body_bytes: int = 0
    headers: dict[str, str] = field(default_factory=dict)
