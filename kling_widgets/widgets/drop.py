"""A drop zone for pictures: drag files onto it, or click it and paste (Ctrl/Cmd+V) a copied picture.

ipywidgets' upload is a button only; this small front-end piece (front/drop.js, an anywidget: a few
lines of JavaScript that read the files in the browser) sends each picture to the kernel as a binary message,
where the picker prepares it like an upload. Nothing of the picture stays in widget state. anywidget is
imported when the first drop zone is made, not with the package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._front import front_end_class

Receiver = Callable[[list[dict[str, Any]]], None]


MAX_PIECES = 64  # 256 MB: more than any picture worth sending; a runaway sender is cut off


def drop_zone(receive: Receiver) -> Any:
    """A drop-and-paste zone; ``receive([{"name", "content"}])`` gets each picture, on the kernel, once
    all its pieces have arrived."""
    zone = front_end_class("DropZone", "drop.js", "drop.css")()
    pending: dict[str, dict[int, bytes]] = {}

    def on_message(_: Any, content: Any, buffers: list[Any]) -> None:
        if not (isinstance(content, dict) and content.get("kind") == "piece" and buffers):
            return
        key, count = str(content.get("id")), int(content.get("count") or 0)
        if not 0 < count <= MAX_PIECES:
            return
        pieces = pending.setdefault(key, {})
        pieces[int(content.get("index") or 0)] = bytes(buffers[0])
        if len(pieces) == count:
            del pending[key]
            data = b"".join(pieces[i] for i in range(count))
            receive([{"name": str(content.get("name") or "dropped picture"), "content": data}])

    zone.on_msg(on_message)
    return zone
