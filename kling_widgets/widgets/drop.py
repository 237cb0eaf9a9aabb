"""A drop zone for pictures: drag files onto it, or click it and paste (Ctrl/Cmd+V) a copied picture.

ipywidgets' upload is a button only; this small front-end piece (an anywidget: a few lines of
JavaScript that read the files in the browser) sends each picture to the kernel as a binary message,
where the picker prepares it like an upload. Nothing of the picture stays in widget state. anywidget is
imported when the first drop zone is made, not with the package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._front import front_end_class

CHUNK = 4 * 1024 * 1024  # bytes per message: well under Tornado's default 10 MiB websocket limit
ESM = (
    f"const CHUNK = {CHUNK};\n"
    + r"""
function render({ model, el }) {
  el.classList.add("kw-drop");
  el.tabIndex = 0;
  el.setAttribute("role", "button");
  el.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab: Ctrl+V here pastes a picture, not cells
  el.title = "Drop pictures here, or click here and paste a copied picture";
  el.innerHTML = '<span class="kw-drop-icon">⤓</span> Drop pictures here, or click and paste (Ctrl+V)';
  const send = async (files) => {
    for (const file of files) {
      const picture = (file.type || "").startsWith("image/") || /\.(heic|heif|avif|jp2|mpo)$/i.test(file.name || "");
      if (!picture) continue;
      const buffer = await file.arrayBuffer();
      // In pieces: a server's websocket messages are often capped at 10 MiB, and a phone photo is bigger.
      const id = Math.random().toString(36).slice(2);
      const count = Math.max(1, Math.ceil(buffer.byteLength / CHUNK));
      for (let index = 0; index < count; index++) {
        const piece = buffer.slice(index * CHUNK, (index + 1) * CHUNK);
        model.send({ kind: "piece", id, index, count, name: file.name || "pasted picture" }, undefined, [piece]);
      }
    }
  };
  const over = (on) => (event) => { event.preventDefault(); el.classList.toggle("kw-drop-over", on); };
  el.addEventListener("dragenter", over(true));
  el.addEventListener("dragover", over(true));
  el.addEventListener("dragleave", over(false));
  el.addEventListener("drop", (event) => {
    over(false)(event);
    send([...(event.dataTransfer?.files || [])]);
  });
  el.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) { event.preventDefault(); event.stopPropagation(); send(files); }
  });
}
export default { render };
"""
)

CSS = """
.kw-drop { border: 1.5px dashed var(--jp-border-color1, #bbb); border-radius: 6px; padding: 7px 12px;
  font-size: 12px; color: var(--jp-ui-font-color2, #666); cursor: copy; margin: 6px 0 0 0; outline: none; }
.kw-drop:focus { border-color: var(--jp-brand-color1, #1976d2); color: var(--jp-ui-font-color1, #222); }
.kw-drop-over { border-color: var(--jp-brand-color1, #1976d2); background: rgba(25, 118, 210, 0.08); }
.kw-drop-icon { font-size: 14px; margin-right: 4px; }
"""

Receiver = Callable[[list[dict[str, Any]]], None]


MAX_PIECES = 64  # 256 MB: more than any picture worth sending; a runaway sender is cut off


def drop_zone(receive: Receiver) -> Any:
    """A drop-and-paste zone; ``receive([{"name", "content"}])`` gets each picture, on the kernel, once
    all its pieces have arrived."""
    zone = front_end_class("DropZone", ESM, CSS)()
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
