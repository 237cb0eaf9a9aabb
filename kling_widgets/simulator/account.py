"""The account behind the simulator: what a key may use, what it was granted and what it has spent —
the account's free routes (docs/guide/service.md), and the charge each accepted create makes.

Gateway (its software's billing routes): the key's grant ``hard_limit_usd`` (100000000 for an unlimited
key) and the usage in **cents**; each create charges ``price_per_unit`` per simulator unit. Kling direct:
resource packs whose ``remaining_quantity`` falls by each create's units. Charged when the create is
accepted, as the gateway's software pre-charges.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

UNLIMITED_USD = 100_000_000.0  # what the gateway's software shows for a key with no limit of its own
DAY_MS = 86_400_000


def units_of(body: dict[str, Any]) -> float:
    """The simulator's stand-in rate: std 5 s = 1 unit, pro 3.5x, 10 s twice 5 s (see shapes)."""
    units = 3.5 if body.get("mode") == "pro" else 1.0
    return units * 2 if str(body.get("duration", "5")) == "10" else units


@dataclass
class Pack:
    """One Kling resource pack, as ``/account/costs`` lists it."""

    name: str
    total: float
    remaining: float
    effective: int  # ms
    invalid: int  # ms
    kind: str = "decreasing_total"

    def status(self, now_ms: int) -> str:
        if now_ms < self.effective:
            return "toBeOnline"
        if now_ms >= self.invalid:
            return "expired"
        return "runOut" if self.remaining <= 0 else "online"

    def answer(self, now_ms: int) -> dict[str, Any]:
        return {
            "resource_pack_name": self.name,
            "resource_pack_id": f"rp-{abs(hash(self.name)) % 10**8}",
            "resource_pack_type": self.kind,
            "total_quantity": self.total,
            "remaining_quantity": self.remaining,
            "purchase_time": self.effective,
            "effective_time": self.effective,
            "invalid_time": self.invalid,
            "status": self.status(now_ms),
        }


class Ledger:
    """What the account holds and has spent. ``credit``: the gateway key's grant (None: unlimited);
    ``units``: Kling direct's one resource pack (None: no pack at all)."""

    def __init__(self, credit: float | None, price_per_unit: float, units: float | None) -> None:
        self.lock = threading.Lock()
        self.credit = credit
        self.price_per_unit = price_per_unit
        self.used_cents = 0.0
        now = int(time.time() * 1000)
        self.packs: list[Pack] = []
        if units is not None:
            self.packs.append(Pack(f"Video generation {units:g} units", units, units, now - DAY_MS, now + 90 * DAY_MS))

    # -- the gateway -----------------------------------------------------------------------------------
    def left_usd(self) -> float | None:
        with self.lock:
            return None if self.credit is None else self.credit - self.used_cents / 100

    def can_pay(self, body: dict[str, Any]) -> bool:
        """Gateway: what is left of the key's grant covers this create."""
        with self.lock:
            left = None if self.credit is None else self.credit - self.used_cents / 100
        return left is None or left >= units_of(body) * self.price_per_unit

    def units_left(self) -> float:
        now = int(time.time() * 1000)
        with self.lock:
            return sum(p.remaining for p in self.packs if p.status(now) == "online")

    def pack_covers(self, body: dict[str, Any]) -> bool:
        price = units_of(body)
        now = int(time.time() * 1000)
        with self.lock:
            return any(p.status(now) == "online" and p.remaining >= price for p in self.packs)

    def charge(self, body: dict[str, Any], *, kling: bool) -> None:
        price = units_of(body)
        now = int(time.time() * 1000)
        with self.lock:
            if kling:
                pack = next((p for p in self.packs if p.status(now) == "online" and p.remaining >= price), None)
                if pack is not None:
                    pack.remaining = round(pack.remaining - price, 6)
            else:
                self.used_cents += price * self.price_per_unit * 100

    def subscription(self) -> dict[str, Any]:
        """``GET /v1/dashboard/billing/subscription`` as the gateway's software answers it."""
        with self.lock:
            grant = UNLIMITED_USD if self.credit is None else self.credit
        return {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": grant,
            "hard_limit_usd": grant,
            "system_hard_limit_usd": grant,
            "access_until": 0,
        }

    def usage(self) -> dict[str, Any]:
        """``GET /v1/dashboard/billing/usage``: ``total_usage`` in cents."""
        with self.lock:
            return {"object": "list", "total_usage": round(self.used_cents, 4)}

    # -- Kling direct ----------------------------------------------------------------------------------
    def costs(self) -> dict[str, Any]:
        """``GET /account/costs``: the resource packs."""
        now = int(time.time() * 1000)
        with self.lock:
            infos = [p.answer(now) for p in self.packs]
        return {
            "code": 0,
            "message": "SUCCEED",
            "request_id": uuid.uuid4().hex,
            "data": {"code": 0, "msg": "success", "resource_pack_subscribe_infos": infos},
        }


def models_answer(models: tuple[str, ...]) -> dict[str, Any]:
    """``GET /v1/models``: the models this key may use."""
    created = int(time.time())
    data = [
        {"id": m, "object": "model", "created": created, "owned_by": "kling", "supported_endpoint_types": ["kling"]}
        for m in models
    ]
    return {"success": True, "object": "list", "data": data}
