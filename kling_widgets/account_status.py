"""What the service says of the account, for free: models, what is left, resource packs.

Plain data beside ``Task``, read from the answers of the account's free routes (the gateway's
``/v1/models`` and billing routes, Kling direct's ``/account/costs``); the client asks, this reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .fields import as_dict, as_number, as_text, parse_time

UNLIMITED_GRANT = 100_000_000.0  # what the gateway's software shows for a key with no limit of its own
GATEWAY_UNIT = "USD as the gateway reports it"  # its fields say usd; a deployment may display CNY or quota
KLING_UNIT = "units"  # Kling's resource packs count the same units as final_unit_deduction


@dataclass(frozen=True)
class ResourcePack:
    """One of Kling direct's resource packs (``/account/costs``). ``remaining`` may lag up to ~12 h."""

    name: str
    kind: str | None = None
    total: float | None = None
    remaining: float | None = None
    status: str | None = None  # toBeOnline, online, expired, runOut
    effective_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_payload(cls, info: Mapping[str, Any]) -> ResourcePack:
        return cls(
            name=as_text(info.get("resource_pack_name")) or "resource pack",
            kind=as_text(info.get("resource_pack_type")),
            total=as_number(info.get("total_quantity")),
            remaining=as_number(info.get("remaining_quantity")),
            status=as_text(info.get("status")),
            effective_at=parse_time(info.get("effective_time")),
            expires_at=parse_time(info.get("invalid_time")),
        )

    @property
    def usable(self) -> bool:
        """Counted in what is left: online (or a status this version does not know)."""
        return self.status not in ("expired", "runOut", "toBeOnline")


@dataclass(frozen=True)
class AccountStatus:
    """What the service says of the account, for free: the models the key may use (gateway), what is left
    (``balance``, a number as the service reports it, or None where it does not tell) and what that
    number counts (``unit``), Kling direct's resource packs, and ``problem`` when the service says the
    account cannot create now (in arrears, packs used up).

    Made by :meth:`KlingClient.account_status`; plain data.

    Parameters
    ----------
    provider : str
        ``"gateway"`` or ``"kling"``.
    models : tuple of str, optional
        The models the key may use; None when the service did not list them.
    balance : float, optional
        What is left, in ``unit``; None where the service does not tell.
    unit : str, optional
        What ``balance`` counts (the gateway's currency, or Kling's units).
    packs : tuple of ResourcePack
        Kling direct's resource packs.
    unlimited : bool
        True for a gateway key with no spending limit of its own.
    granted : float, optional
        The gateway key's grant (``hard_limit_usd``).
    used : float, optional
        What the gateway key has spent, in the grant's unit.
    problem : str, optional
        Why the account cannot create now, in the service's words.
    """

    provider: str
    models: tuple[str, ...] | None = None  # None: the service did not list them
    balance: float | None = None
    unit: str | None = None
    packs: tuple[ResourcePack, ...] = ()
    unlimited: bool = False  # a gateway key with no limit of its own (its grant shows 100000000)
    granted: float | None = None  # the gateway key's grant (hard_limit_usd)
    used: float | None = None  # what the gateway key has spent, in the grant's unit
    problem: str | None = None

    def __str__(self) -> str:
        """One sentence: what is left, in the service's own terms."""
        if self.problem:
            return f"The account cannot create now: {self.problem}"
        if self.unlimited:
            return "This key has no spending limit of its own (what the account holds is not shown)."
        if self.balance is None:
            return "The service does not say what is left on this account."
        if self.unit == KLING_UNIT:
            return f"{self.balance:g} units left in your resource packs (Kling's figure may lag up to 12 h)."
        return f"{self.balance:.2f} left ({self.unit or 'as the service reports it'})."

    @classmethod
    def from_gateway(
        cls, models: Any, subscription: Any = None, usage: Any = None, *, provider: str = "gateway"
    ) -> AccountStatus:
        """From the answers of ``/v1/models`` and the billing routes (None where a route is missing).
        Left = ``hard_limit_usd - total_usage / 100`` (usage in cents); without usage, older builds give
        ``hard_limit_usd`` as what is left.

        Parameters
        ----------
        models : Any
            The decoded ``/v1/models`` answer.
        subscription : Any, optional
            The decoded ``/v1/dashboard/billing/subscription`` answer.
        usage : Any, optional
            The decoded ``/v1/dashboard/billing/usage`` answer.
        provider : str
            The provider to record.

        Returns
        -------
        AccountStatus
            What the answers say.
        """
        names: tuple[str, ...] | None = None
        if isinstance(models, Mapping) and isinstance(models.get("data"), list):
            names = tuple(str(m.get("id")) for m in models["data"] if isinstance(m, Mapping) and m.get("id"))
        grant = as_number(subscription.get("hard_limit_usd")) if isinstance(subscription, Mapping) else None
        if grant is None:
            return cls(provider, models=names)
        if grant >= UNLIMITED_GRANT:
            return cls(provider, models=names, unlimited=True, granted=grant, unit=GATEWAY_UNIT)
        cents = as_number(usage.get("total_usage")) if isinstance(usage, Mapping) else None
        used = None if cents is None else cents / 100
        left = grant if used is None else grant - used
        return cls(provider, models=names, balance=round(left, 6), unit=GATEWAY_UNIT, granted=grant, used=used)

    @classmethod
    def from_costs(cls, body: Any, *, provider: str = "kling") -> AccountStatus:
        """From Kling direct's ``/account/costs``: what is left is the sum over the usable packs.

        Parameters
        ----------
        body : Any
            The decoded ``/account/costs`` answer.
        provider : str
            The provider to record.

        Returns
        -------
        AccountStatus
            What the answer says.
        """
        data = as_dict(as_dict(body).get("data"))
        infos = data.get("resource_pack_subscribe_infos")
        packs = tuple(ResourcePack.from_payload(i) for i in infos or [] if isinstance(i, Mapping))
        left = sum(p.remaining or 0.0 for p in packs if p.usable)
        return cls(provider, balance=left, unit=KLING_UNIT, packs=packs)
