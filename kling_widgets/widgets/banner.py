"""The bundle's account banner: where it is connected, and what the free account check found."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from urllib.parse import urlparse

import ipywidgets as widgets

from .._home import is_loopback
from ..account_status import KLING_UNIT, AccountStatus
from ..client import KlingClient
from ..connection import proves_key
from ..errors import AuthenticationError, KlingError
from ..pricing import RATE_CARD
from ._style import esc

log = logging.getLogger("kling_widgets")
ACCOUNT_REFRESH_SECONDS = 3.0  # after a task ends, the account is asked again at most this often


def account_words(status: AccountStatus) -> tuple[str, str]:
    """What the banner says of the account: what is left where the service tells, in videos where it
    counts Kling's units; never a currency it cannot read.

    Parameters
    ----------
    status : AccountStatus
        What the account check found.

    Returns
    -------
    tuple of (str, str)
        The words and their kind (``ok`` or ``warning``).
    """
    if status.problem:
        return f"The account cannot create now: {status.problem}", "warning"
    if status.balance is not None and status.unit == KLING_UNIT:
        videos = int(status.balance // RATE_CARD[("kling-v1-6", "std", 5)])
        left = f"{status.balance:g} units in your resource packs; Kling's figure may lag"
        return f"≈ {videos} std 5 s videos left ({left})", "ok" if videos else "warning"
    if status.balance is not None:
        kind = "ok" if status.balance > 0 else "warning"
        return f"Key checked · {status.balance:.2f} left on this key ({status.unit})", kind
    if status.unlimited:
        return "Key checked · no spending limit of its own (the gateway does not show the account's credit)", "ok"
    if status.models is not None:
        return "Key checked · the service does not say what is left on the account", "ok"
    return "The service does not say what is left on the account, nor check keys for free", "ok"


class AccountBanner:
    """The line atop the bundle (``html``): the built-in simulator (proven by the service, never guessed
    from the address) or the service's host, and what the account check found. The check is a free read,
    made off the kernel's thread, one at a time; a refused key is remembered (``key_refused``) so that the
    bundle keeps Generate off.

    Parameters
    ----------
    client : KlingClient or None
        The bundle's client (None: it could not be made, and ``setup_error`` says why).
    setup_error : str
        Why there is no client (empty when there is one).
    tell : callable
        Called with ``(text, kind)`` each time the account line changes (the bundle's traits).
    on_refused : callable
        Called with no arguments once the service refused the key.
    """

    def __init__(
        self,
        client: KlingClient | None,
        *,
        setup_error: str,
        tell: Callable[[str, str], None],
        on_refused: Callable[[], None],
    ) -> None:
        self.client = client
        self.setup_error = setup_error
        self.status: AccountStatus | None = None  #: what the last account check found
        self.key_refused = ""  #: why the service refused the key (empty while it was not)
        self.text = ""  #: the account line: what is left, or why the key was refused (empty until known)
        self.kind = ""  #: checking, ok, warning, refused, or empty (not checked)
        self.closed = False
        self._tell = tell
        self._on_refused = on_refused
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()
        self.html = widgets.HTML(self.render())

    def may_check(self) -> bool:
        """Whether the account may be asked: free reads, but never the built-in simulator's key sent to a
        server that is not the simulator.

        Returns
        -------
        bool
            True when a check may be made now.
        """
        client = self.client
        if client is None or self.closed or self.key_refused:
            return False
        return client.is_simulator() or not client.has_simulator_key()

    def check_soon(self, delay: float = ACCOUNT_REFRESH_SECONDS) -> None:
        """Ask the account off the kernel's thread, once at a time (at most every ``delay`` seconds).

        Parameters
        ----------
        delay : float
            Seconds before asking.
        """
        if not self.may_check():
            return
        with self._lock:
            if self._timer is not None and self._timer.is_alive():
                return
            if not self.text:
                self.tell("Checking your key and what is left on the account (free)…", "checking")
            self._timer = threading.Timer(delay, self.check)
            self._timer.daemon = True
            self._timer.start()

    def check(self) -> None:
        """Ask the account now, and say what was found (a refused key, a failed check, or what is left)."""
        client = self.client
        if client is None or self.closed:
            return
        try:
            status = client.account_status()
        except AuthenticationError as error:
            self.key_was_refused(error)
            return
        except KlingError as error:
            self.tell(f"Could not check the account just now ({error}); Generate still works.", "warning")
            return
        except Exception:
            log.exception("the account check failed")
            return
        self.status = status
        words = account_words(status)
        if client.is_simulator() and status.unlimited and status.balance is None and not status.problem:
            # The simulator's own key, no credit set: "Key checked · no spending limit … the gateway does
            # not show the account's credit" read as a warning about a gateway the person never set up.
            words = ("The simulator's own key · no credit to run out of", "ok")
        self.tell(*words)

    def key_was_refused(self, error: AuthenticationError) -> None:
        """The service refused the key (the free check, or a create): say so, and tell the bundle.

        Parameters
        ----------
        error : AuthenticationError
            The refusal, with the service's words.
        """
        if self.client is None or self.key_refused:
            return
        where = urlparse(self.client.base_url).hostname or self.client.base_url
        self.key_refused = f"{where} refused this key ({error.message})"
        self.tell(
            f"{self.key_refused}: set a valid one (KLING_API_KEY, or KLING_ACCESS_KEY and KLING_SECRET_KEY) "
            "and open the bundle again. Generate stays off until then.",
            "refused",
        )
        self._on_refused()

    def tell(self, text: str, kind: str) -> None:
        """Set the account line, and show it.

        Parameters
        ----------
        text : str
            What the check found, in words.
        kind : str
            checking, ok, warning or refused.
        """
        if self.closed:  # the check outlived the bundle: nothing to show it on
            return
        self.text, self.kind = text, kind
        self._tell(text, kind)
        self.html.value = self.render()

    def render(self) -> str:
        """The banner's HTML.

        Returns
        -------
        str
            Where the bundle is connected, whether a task is billed, and the account line.
        """
        if self.client is None:
            return f'<div class="kw-banner kw-warning">{esc(self.setup_error)}</div>'
        where = self.client.base_url
        if self.client.is_simulator():  # proven by the service itself, never guessed from the address
            text = f"Connected to the built-in simulator at {where} — nothing is billed."
        else:  # "every task is billed" once the key is known to be accepted (the account line says what was found)
            host = urlparse(where).hostname or where
            text = f"Connected to {host} ({self.client.provider}{', on this machine' if is_loopback(host) else ''})"
            if self.key_refused:
                text += "."
            elif self.status is not None and proves_key(self.status):
                text += " — every task is billed."
            else:
                text += " — a task the service accepts is billed."
        kind = esc(self.kind or "ok")
        account = f'<div class="kw-account kw-account-{kind}">{esc(self.text)}</div>' if self.text else ""
        return f'<div class="kw-banner"><b>Kling · multi-image to video</b> · {esc(text)}{account}</div>'

    def close(self) -> None:
        """Check no more: a pending check is cancelled, and one under way says nothing."""
        self.closed = True
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
