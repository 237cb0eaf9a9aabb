"""Reading one field of a service's JSON answer, leniently.

The service's answers come in three shapes (docs/guide/service.md), from more than one version of the gateway's
software, and a field may be missing, null, a number sent as a string or a time in seconds,
milliseconds or ISO 8601. These readers turn any of that into one Python value or ``None``, never an
exception, so a task and an account's status read what is there and skip what is not.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any


def parse_time(value: object) -> datetime | None:
    """Unix seconds, Unix milliseconds (Kling direct) or ISO 8601, as an aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return parse_time(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        number = float(value)
        if number != number or number <= 0:  # NaN or unset
            return None
        if number > 1e11:  # milliseconds: 1e11 s is the year 5138
            number /= 1000.0
        try:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def parse_progress(value: object) -> float | None:
    """``30``, ``0.3``-free ints and strings like ``"30%"`` as a number from 0 to 100."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%?\s*", value)
        if not match:
            return None
        value = float(match.group(1))
    if isinstance(value, (int, float)):
        number = float(value)
        if number != number:
            return None
        return max(0.0, min(100.0, number))
    return None


def as_text(value: object) -> str | None:
    """A field as stripped text; None when it is absent, empty, or an object or list."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def as_dict(value: object) -> dict[str, Any]:
    """A field that should be a JSON object; an empty one when it is anything else."""
    return value if isinstance(value, dict) else {}


def as_number(value: object) -> float | None:
    """A field as a number (strings of digits too); None for booleans, NaN and anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None
