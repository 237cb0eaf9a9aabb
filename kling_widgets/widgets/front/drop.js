// The drop-and-paste zone for pictures (widgets/drop.py): each picture a person drops or pastes goes to the kernel
// as binary messages {kind: "piece", id, index, count, name} + one buffer each.
const CHUNK = 4 * 1024 * 1024;  // bytes per message: well under Tornado's default 10 MiB websocket limit

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
