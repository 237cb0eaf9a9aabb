// Helpers shared by the take comparison (compare.js) and the film player (film.js). widgets/compare.py puts
// this file before each of them (a module anywidget loads from text cannot import a neighbour).
// Each source's video URL: its link, or a blob URL of the bytes the kernel sends when asked for its key.
const videosOf = (model) => {
  const asked = new Map(), waiting = new Map(), blobs = [];
  const onMessage = (message, buffers) => {
    if (!message || message.kind !== "video" || !waiting.has(message.key)) return;
    const resolve = waiting.get(message.key);
    waiting.delete(message.key);
    if (message.error || !buffers || !buffers.length) return resolve({ error: message.error || "no video came" });
    const url = URL.createObjectURL(new Blob([buffers[0]], { type: message.mime || "video/mp4" }));
    blobs.push(url);
    resolve({ url });
  };
  model.on("msg:custom", onMessage);
  const get = (source) => {
    if (!source) return Promise.resolve({});
    if (source.url) return Promise.resolve({ url: source.url });
    if (!source.key) return Promise.resolve({});
    if (!asked.has(source.key)) {
      asked.set(source.key, new Promise((resolve) => {
        waiting.set(source.key, resolve);
        model.send({ kind: "want", key: source.key });
      }));
    }
    return asked.get(source.key);
  };
  const dispose = () => { model.off("msg:custom", onMessage); for (const url of blobs) URL.revokeObjectURL(url); };
  return { get, dispose };
};
const hasVideo = (source) => Boolean(source && (source.url || source.key));
const make = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
// A button's words, its glyph (▶ ❚❚ ✓) hidden from screen readers: the name is the words alone.
const say = (button, glyph, words) => {
  const mark = make("span", "", glyph ? glyph + " " : "");
  mark.setAttribute("aria-hidden", "true");
  button.replaceChildren(mark, document.createTextNode(words));
};
const clock = (seconds) => (Number.isFinite(seconds) ? seconds : 0).toFixed(1);
