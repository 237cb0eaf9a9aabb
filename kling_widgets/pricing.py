"""What requests cost, before anything is sent: Kling's rate card and ``estimate_units``.

Plain arithmetic over a request's model, mode and length, with no client, queue or journal, so that
anything that must say a price first (a batch's budget, the bundle's confirmation, ``make smoke``) can
ask without loading the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request import VideoRequest

# Kling's published unit table for video generation with kling-v1-6 (Kling AI developer pricing,
# https://klingai.com/global/dev/pricing, "Video Generation": 1 unit for a standard 5 s video, 3.5 for
# professional, 10 s twice 5 s — the same ratios as Kling's credit table for its web app, std 5 s = 10
# credits, pro 5 s = 35, doubled for 10 s). Resellers such as the gateway bill in their own currency:
# pass your own ``rate_card`` to estimate_units, keyed (model, mode, seconds).
RATE_CARD: dict[tuple[str, str, int], float] = {
    ("kling-v1-6", "std", 5): 1.0,
    ("kling-v1-6", "std", 10): 2.0,
    ("kling-v1-6", "pro", 5): 3.5,
    ("kling-v1-6", "pro", 10): 7.0,
}


def estimate_units(
    requests: Iterable[VideoRequest], rate_card: Mapping[tuple[str, str, int], float] | None = None
) -> float:
    """The service's units the requests will cost, before sending (Kling's table, or your ``rate_card``).
    A combination the card lacks is priced like the same mode and length of any model on it.

    Parameters
    ----------
    requests : iterable of VideoRequest
        What would be sent.
    rate_card : Mapping, optional
        Units per ``(model, mode, duration)`` (default: Kling's table).

    Returns
    -------
    float
        The total, in the service's units.
    """
    card = RATE_CARD if rate_card is None else rate_card
    total = 0.0
    for request in requests:
        key = (request.model_name, request.mode, int(request.duration))
        price = card.get(key)
        if price is None:
            price = next((v for (_, mode, seconds), v in card.items() if (mode, seconds) == key[1:]), 0.0)
        total += price
    return total
