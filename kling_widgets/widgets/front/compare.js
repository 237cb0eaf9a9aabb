// TakeComparison (widgets/compare.py): takes side by side, played in step, with a pick under each.
// Uses videosOf, hasVideo, make, say and clock from media.js (joined before this file).
function render({ model, el }) {
  el.classList.add("kw-compare");
  const bar = make("div", "kw-compare-bar");
  const play = make("button", "kw-compare-play jupyter-button");
  say(play, "▶", "Play in step");
  play.title = "Play every take from the same moment, kept in step";
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", "Takes side by side");
  const seek = make("input", "kw-compare-seek");
  seek.type = "range"; seek.min = "0"; seek.step = "0.01"; seek.value = "0";
  seek.setAttribute("aria-label", "Position of every take");
  const time = make("span", "kw-compare-time", "0.0 / 0.0 s");
  const loopBox = make("label", "kw-compare-loop");
  const loop = make("input"); loop.type = "checkbox"; loop.checked = true;
  loop.setAttribute("aria-label", "Loop: play again from the start at the end");
  loopBox.append(loop, document.createTextNode(" Loop"));
  bar.append(play, seek, time, loopBox);
  const row = make("div", "kw-compare-row");
  el.append(bar, row);

  const store = videosOf(model);
  let videos = [], playing = false, timer = null, drawn = "";
  const ready = () => videos.filter((v) => Number.isFinite(v.duration) && v.duration > 0);
  const leader = () => ready().reduce((a, b) => (b.duration > a.duration ? b : a), videos[0]);
  const length = () => Math.max(0, ...ready().map((v) => v.duration));
  const setAll = (t) => {
    for (const v of videos) v.currentTime = Number.isFinite(v.duration) ? Math.min(t, v.duration) : t;
  };
  const show = () => {
    const lead = leader();
    const t = lead ? lead.currentTime : 0;
    seek.max = String(length() || 0);
    if (document.activeElement !== seek) seek.value = String(t);
    time.textContent = `${clock(t)} / ${clock(length())} s`;
    if (playing) say(play, "❚❚", "Pause"); else say(play, "▶", videos.length > 1 ? "Play in step" : "Play");
    seek.setAttribute("aria-valuetext", `${clock(leader() ? leader().currentTime : 0)} of ${clock(length())} seconds`);
    el.dataset.playing = playing ? "1" : "0";
  };
  const resync = () => {
    const lead = leader();
    if (!lead) return;
    const t = lead.currentTime;
    for (const v of videos) {
      if (v === lead || !Number.isFinite(v.duration)) continue;
      if (t >= v.duration - 0.05) { if (!v.paused) v.pause(); continue; }  // a shorter take has ended
      if (v.paused && playing) v.play().catch(() => {});
      const drift = v.currentTime - t;
      if (Math.abs(drift) > 0.3) { v.currentTime = t; v.playbackRate = 1; }
      else v.playbackRate = Math.min(1.15, Math.max(0.85, 1 - drift * 1.5));  // catch up smoothly
    }
    show();
  };
  const start = async () => {
    if (!videos.length) return;
    const lead = leader();
    const t = !lead || lead.ended || lead.currentTime >= length() - 0.05 ? 0 : lead.currentTime;
    setAll(t);
    playing = true;
    show();
    // a shorter take already past its end stays on its last frame (play() would restart it from 0)
    const due = videos.filter((v) => !Number.isFinite(v.duration) || t < v.duration - 0.05);
    await Promise.all(due.map((v) => v.play().catch(() => {})));
    clearInterval(timer);
    timer = setInterval(resync, 150);
  };
  const stop = () => {
    playing = false;
    clearInterval(timer);
    for (const v of videos) { v.pause(); v.playbackRate = 1; }
    const lead = leader();
    if (lead) setAll(lead.currentTime);
    show();
  };
  play.addEventListener("click", () => (playing ? stop() : start()));
  seek.addEventListener("input", () => { setAll(Number(seek.value)); show(); });

  const mark = () => {
    const picked = model.get("picked");
    row.querySelectorAll(".kw-compare-take").forEach((tile) => {
      const mine = Number(tile.dataset.index) === picked;
      tile.classList.toggle("kw-compare-picked", mine);
      const button = tile.querySelector(".kw-compare-pick");
      if (!button) return;
      const name = tile.querySelector(".kw-compare-label")?.textContent || `take ${Number(tile.dataset.index) + 1}`;
      if (mine) say(button, "✓", "Picked"); else say(button, "", "Pick this take");
      // one name per tile (not "Pick this take" four times), the same whether pressed or not
      button.setAttribute("aria-label", `Pick this take: ${name}`);
      button.setAttribute("aria-pressed", String(mine));
    });
  };
  const draw = () => {
    const sources = model.get("sources") || [];
    const shown = sources.map((s) => [s.label, s.url || "", s.key || "", s.note || "", s.kind]);
    const key = JSON.stringify([shown, model.get("pickable"), model.get("width")]);
    if (key === drawn) return;
    drawn = key;
    if (playing) stop();
    videos = [];
    row.replaceChildren();
    sources.forEach((source, index) => {
      const tile = make("div", "kw-compare-take");
      tile.dataset.index = String(index);
      tile.style.width = model.get("width") + "px";
      const label = make("div", "kw-compare-label", source.label || `Take ${index + 1}`);
      label.title = source.title || source.label || "";
      tile.append(label);
      const url = hasVideo(source);
      if (url) {
        const video = make("video");
        video.muted = true; video.playsInline = true; video.preload = "auto";
        video.dataset.key = source.key || source.url;
        store.get(source).then((got) => {
          if (got.url) video.src = got.url;
          else video.replaceWith(make("div", "kw-compare-note kw-compare-failed", got.error || "No video"));
        });
        video.title = "Click to play or pause every take together";
        video.setAttribute("aria-label", source.label || `Take ${index + 1}`);
        video.addEventListener("loadedmetadata", show);
        video.addEventListener("click", () => (playing ? stop() : start()));
        video.addEventListener("ended", () => {
          if (video !== leader() || !playing) return;
          if (loop.checked) start(); else stop();
        });
        videos.push(video);
        tile.append(video);
      } else {
        const kind = `kw-compare-note kw-compare-${source.kind || "pending"}`;
        tile.append(make("div", kind, source.note || "No video yet"));
      }
      if (source.note && url) tile.append(make("div", "kw-compare-caption", source.note));
      if (model.get("pickable") && url) {
        const pick = make("button", "kw-compare-pick jupyter-button");
        pick.addEventListener("click", () => { model.set("picked", index); model.save_changes(); });
        tile.append(pick);
      }
      row.append(tile);
    });
    bar.style.display = videos.length ? "" : "none";
    mark();
    show();
  };
  model.on("change:sources", draw);
  model.on("change:pickable", draw);
  model.on("change:width", draw);
  model.on("change:picked", mark);
  draw();
  return () => { clearInterval(timer); store.dispose(); };
}
export default { render };
