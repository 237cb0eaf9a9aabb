"""Where a client is connected and what the free account check found, in words a person reads before
the first click: the built-in simulator (proven by the service, never guessed from the address: nothing is
billed), or a service at an address — on this machine or not — and whether it accepted the key, refused
it (and why), or could not be asked. "Every task is billed" is said only once a service that is not the
simulator has accepted the key. No widgets here: the quickstart prints it, the bundle's banner says the
same in its own place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._home import is_loopback
from .errors import AuthenticationError, KlingError

if TYPE_CHECKING:
    from .account_status import AccountStatus
    from .client import KlingClient

__all__ = ["KeyCheck", "check_key", "connection_words", "proves_key", "service_words"]


@dataclass(frozen=True)
class KeyCheck:
    """What the free account check found: ``outcome`` is ``"accepted"``, ``"refused"`` or ``"unchecked"``
    (the service could not be asked, or does not check keys for free); ``reason`` says why in words
    (the service's own for a refusal); ``status`` is what it said of the account when it accepted."""

    outcome: str
    reason: str = ""
    status: AccountStatus | None = None


def check_key(client: KlingClient) -> KeyCheck:
    """Ask the service about the key with free requests only (``client.account_status()``).

    Parameters
    ----------
    client : KlingClient
        The client whose key and address are checked; nothing is created or billed.

    Returns
    -------
    KeyCheck
        Accepted (with what is left where the service tells), refused (with the service's words), or
        unchecked (with the reason; the built-in simulator's own key is not sent to a service that is not
        the simulator). Never raises for the service's answers.
    """
    if client.has_simulator_key() and not client.is_simulator():  # as the bundle: that key goes nowhere else
        return KeyCheck("unchecked", "it is the built-in simulator's own key, never sent to another service")
    try:
        status = client.account_status()
    except AuthenticationError as error:
        return KeyCheck("refused", error.message or str(error))
    except KlingError as error:
        return KeyCheck("unchecked", f"the check failed: {error}")
    if not proves_key(status):
        return KeyCheck("unchecked", "the service answered none of the free account requests", status)
    return KeyCheck("accepted", "", status)


def proves_key(status: AccountStatus) -> bool:
    """True when the service's answer could only come to an accepted key: it listed the key's models, or
    told what is left, or said why the account cannot create. An empty status (no free route answered)
    proves nothing.

    Parameters
    ----------
    status : AccountStatus
        What ``client.account_status()`` returned.

    Returns
    -------
    bool
        Whether the key was accepted.
    """
    return (
        status.models is not None
        or status.balance is not None
        or bool(status.packs or status.unlimited or status.problem)
    )


def service_words(client: KlingClient) -> str:
    """Where ``client`` is connected: ``"the built-in simulator at <url>"`` when the service proves it is
    (``client.is_simulator()``), else ``"<url> (<provider>)"``, adding ``", on this machine"`` for a loopback
    address — a self-hosted gateway there bills like any other.

    Parameters
    ----------
    client : KlingClient
        The client whose address is described.

    Returns
    -------
    str
        The address in words (never the key).
    """
    if client.is_simulator():
        return f"the built-in simulator at {client.base_url}"
    local = ", on this machine" if is_loopback(urlsplit(client.base_url).hostname or "") else ""
    return f"{client.base_url} ({client.provider}{local})"


def connection_words(client: KlingClient, check: KeyCheck | None = None) -> str:
    """Two lines: where ``client`` is connected, and what the free account check found — with "every task
    is billed" only when a service that is not the simulator accepted the key.

    Parameters
    ----------
    client : KlingClient
        The client to describe.
    check : KeyCheck, optional
        A check already made; by default :func:`check_key` asks the service now (free requests only).

    Returns
    -------
    str
        What to print before the first click, e.g. in the quickstart.
    """
    check = check or check_key(client)
    simulator = client.is_simulator()
    first = f"Connected to {service_words(client)}" + (": nothing is billed." if simulator else ".")
    if check.outcome == "refused":
        second = (
            f"The key was refused ({check.reason}): nothing can be created with it. Set a valid one "
            "(KLING_API_KEY, or KLING_ACCESS_KEY and KLING_SECRET_KEY) and run this again."
        )
    elif check.outcome == "unchecked":
        second = f"The key could not be checked ({check.reason})."
        if not simulator:
            second += " If the service accepts it, every task created here is billed."
    elif simulator:
        second = "Key accepted."
    elif check.status is not None and check.status.problem:
        second = f"Key accepted · {check.status}"  # nothing can be created now: no word of billing
    else:
        second = f"Key accepted · {check.status} Every task created here is billed."
    return f"{first}\n{second}"
