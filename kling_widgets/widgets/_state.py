"""The state a widget tree syncs to the front end, as the front end would receive it: for tests that
check nothing secret is in it, and for benchmarks that weigh it."""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget import _instances, _remove_buffers


def synced_state(widget: widgets.Widget) -> dict[str, Any]:
    """``{model_id: state}`` of ``widget`` and every widget it refers to."""
    seen: dict[str, Any] = {}

    def walk(w: Any) -> None:
        if isinstance(w, widgets.Widget) and w.model_id not in seen:
            state = w.get_state()
            seen[w.model_id] = state
            for value in state.values():
                for item in value if isinstance(value, (list, tuple)) else [value]:
                    if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                        walk(_instances.get(item[10:]))

    walk(widget)
    return seen


def synced_json(widget: widgets.Widget) -> str:
    """The synced state as JSON text (bytes shown by their size)."""
    return json.dumps(
        synced_state(widget), default=lambda v: f"<{len(v)} bytes>" if isinstance(v, (bytes, memoryview)) else str(v)
    )


def models_weight() -> tuple[int, int]:
    """How many widget models the process holds, and the bytes of their state as it is sent to a front end
    (the JSON, and binary buffers by their length): what a page must create, draw and keep.

    Returns
    -------
    tuple[int, int]
        The number of widgets alive and the bytes of their state.
    """
    total = 0
    alive = list(_instances.values())
    for widget in alive:
        state, _, buffers = _remove_buffers(widget.get_state())
        total += len(json.dumps(state, default=str)) + sum(len(memoryview(b).cast("B")) for b in buffers)
    return len(alive), total
