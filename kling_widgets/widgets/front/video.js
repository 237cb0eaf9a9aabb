// VideoPlayer (widgets/video.py): a <video> and a "Download MP4" link. A link the browser can load is used
// as is; otherwise the page asks ({kind: "want"}) and the kernel answers once with the bytes, played from a blob URL.
function render({ model, el }) {
  el.classList.add("kw-player");
  const frame = document.createElement("div");
  frame.className = "kw-player-frame";
  const video = document.createElement("video");
  video.controls = true;
  video.playsInline = true;
  video.preload = "metadata";
  const start = document.createElement("button");
  start.className = "kw-player-start";
  start.type = "button";
  start.textContent = "▶";
  start.setAttribute("aria-label", "Play the video");
  frame.append(video, start);
  // Until there is a source, the one big ▶ is the way to play: the video's own controls under it were a second,
  // greyed-out play button that did nothing.
  const offerStart = (offered) => { start.style.display = offered ? "" : "none"; video.controls = !offered; };
  const gone = document.createElement("div");
  gone.className = "kw-player-gone";
  gone.setAttribute("role", "status");
  const links = document.createElement("div");
  links.className = "kw-player-links";
  const save = document.createElement("a");
  save.textContent = "Download MP4";
  save.className = "kw-player-download";
  links.append(save);
  el.append(frame, gone, links);

  let blob = null;       // this view's blob URL, once the kernel sent the bytes
  let waiting = [];      // who waits for them
  let asked = false;
  const want = () => new Promise((resolve) => {
    if (blob) return resolve(blob);
    waiting.push(resolve);
    if (!asked) { asked = true; model.send({ kind: "want" }); }
  });
  let take = model.get("take");  // which video the bytes are for: a card reuses its player for another
  const onMessage = (message, buffers) => {
    if (!message || message.kind !== "video" || blob || !buffers || !buffers.length) return;
    if ((message.take || 0) !== take) return;  // the bytes of the video before
    blob = URL.createObjectURL(new Blob([buffers[0]], { type: message.mime || "video/mp4" }));
    const resolvers = waiting; waiting = [];
    resolvers.forEach((resolve) => resolve(blob));
  };
  model.on("msg:custom", onMessage);

  const useSource = (url) => { if (video.getAttribute("src") !== url) video.src = url; save.href = url; };
  const show = () => {
    if (model.get("take") !== take) {  // another video in this player: forget the last one's bytes
      take = model.get("take");
      if (blob) URL.revokeObjectURL(blob);
      blob = null; asked = false; waiting = [];
      video.removeAttribute("src"); video.load(); save.removeAttribute("href");
    }
    const error = model.get("error");
    const src = model.get("src");
    const viaKernel = model.get("via_kernel");
    frame.style.display = error ? "none" : "";
    links.style.display = error ? "none" : "";
    gone.style.display = error ? "" : "none";
    gone.textContent = error;
    video.poster = model.get("poster") || "";
    const ratio = (model.get("ratio") || "").split(":");
    frame.style.aspectRatio = ratio.length === 2 ? `${ratio[0]} / ${ratio[1]}` : "";
    save.download = model.get("filename") || "video.mp4";
    video.loop = model.get("loop");
    video.muted = model.get("muted");
    if (error) return;
    if (!viaKernel && src) {
      offerStart(false);
      useSource(src);
      save.target = "_blank";
      save.rel = "noopener";
    } else if (blob) {
      offerStart(false);
      video.preload = "auto";  // the whole video is here already: no spinner waiting for more
      useSource(blob);
    } else if (model.get("autoload")) {
      offerStart(false);
      want().then((url) => { video.preload = "auto"; useSource(url); });
    } else {
      offerStart(true);
    }
  };
  start.addEventListener("click", () => {
    start.disabled = true;
    want().then((url) => { useSource(url); offerStart(false); video.play().catch(() => {}); });
  });
  save.addEventListener("click", (event) => {
    if (save.getAttribute("href")) return;  // the browser saves it
    event.preventDefault();
    want().then((url) => { useSource(url); save.click(); });
  });
  video.addEventListener("error", () => {
    if (!video.getAttribute("src")) return;
    model.send({ kind: "error", code: (video.error && video.error.code) || 0 });
  });
  const onControl = (message) => {
    if (!message || message.kind !== "control") return;
    if (message.seek !== undefined && message.seek !== null) video.currentTime = message.seek;
    if (message.action === "play") want().then((url) => { useSource(url); video.play().catch(() => {}); });
    if (message.action === "pause") video.pause();
  };
  model.on("msg:custom", onControl);
  model.on("change", show);
  show();
  return () => {
    model.off("msg:custom", onMessage);
    model.off("msg:custom", onControl);
    model.off("change", show);
    if (blob) URL.revokeObjectURL(blob);
  };
}
export default { render };
