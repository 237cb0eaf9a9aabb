"""The upload meter: how a large request's body goes to the service, said beside the bundle's button."""

from __future__ import annotations

import time
from collections.abc import Callable

# A body under this many bytes goes in a moment: "Sending the request…" says enough.
SMALL_BODY_BYTES = 1_000_000


class UploadMeter:
    """Hears a queue's upload progress (``Batch.on_progress``) and says bytes sent of the total, and the
    rate, once a body is large enough to take a while.

    Parameters
    ----------
    say : callable
        Called with the words, from the sending thread.
    """

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.started = time.monotonic()
        self._body = (0, 0)  # (bytes sent, total) last heard: a new body restarts the clock

    def __call__(self, sent: int, total: int) -> None:
        """Say how far the upload is.

        Parameters
        ----------
        sent : int
            Bytes sent so far.
        total : int
            Bytes in the body.
        """
        last_sent, last_total = self._body
        self._body = (sent, total)
        if sent < last_sent or total != last_total:  # another body (the next click): its rate from its start
            self.started = time.monotonic()
        if total < SMALL_BODY_BYTES:
            return
        seconds = max(time.monotonic() - self.started, 1e-3)
        text = f"Uploading {sent / 1e6:.1f} of {total / 1e6:.1f} MB · {sent / seconds / 1e6:.1f} MB/s"
        if sent >= total:
            text = f"Uploaded {total / 1e6:.1f} MB · waiting for the service to accept the task…"
        self.say(text)
