"""Takes side by side, played in step; and the film, clips one after another.

Comparing takes of one shot (or the runs of a sweep) means watching the same moment of each: one play
button starts every video from the same time, one slider seeks them all, and while they play the
followers are nudged back onto the leader's clock (a slightly faster or slower rate for a small drift,
a seek for a large one), because separate ``<video>`` elements drift apart as they buffer. That has to
run in the browser, so both players are small anywidgets: a few lines of JavaScript driving the
``<video>`` elements. The kernel only says what to show (``sources``) and hears which take was picked.

A source is a dict: ``label``, then either ``url`` (a link the browser loads itself) or ``key`` (a video
the browser cannot reach — a simulator on the kernel's loopback seen from a remote browser, a file on
the kernel's disk: the page asks for it with ``{"kind": "want", "key"}`` and the kernel answers once with
``{"kind": "video", "key"}`` and the MP4's bytes as a binary message, played from a blob URL — the same
exchange as the VideoPlayer's; the bytes never enter widget state, so a saved notebook does not grow
with them), or neither with ``note`` saying why there is no video yet ("Generating · 40%", "Failed: …").
anywidget is imported when the first player is made, not with the package.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..images import is_url
from ..playback import video_source
from ..task import Task, TaskStatus

if TYPE_CHECKING:
    from ..client import KlingClient

_SHARED_JS = r"""
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
"""

COMPARE_ESM = (
    _SHARED_JS
    + r"""
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
"""
)

FILM_ESM = (
    _SHARED_JS
    + r"""
function render({ model, el }) {
  el.classList.add("kw-film");
  const bar = make("div", "kw-film-bar");
  const play = make("button", "kw-film-play jupyter-button mod-primary");
  say(play, "▶", "Play the film");
  play.title = "The picked take of every shot, one after another";
  const caption = make("span", "kw-film-caption");
  caption.setAttribute("aria-live", "polite");
  bar.append(play, caption);
  // Two players taking turns: while one plays a shot, the other loads the next, so shots follow
  // each other without a black gap while the next clip loads.
  const screen = make("div", "kw-film-screen");
  const players = [make("video"), make("video")];
  for (const video of players) {
    video.controls = true; video.playsInline = true; video.preload = "auto"; video.style.display = "none";
    screen.append(video);
  }
  el.append(bar, screen);
  const store = videosOf(model);
  let sources = [], index = -1, turn = 0, played = [], run = 0;

  const load = () => {
    sources = model.get("sources") || [];
    play.disabled = !sources.some(hasVideo);
    const playable = sources.filter(hasVideo).length;
    let count = `${sources.length} shot${sources.length === 1 ? "" : "s"}`;
    // "3 shots" beside the button while one has no take promised a shot the film skips
    if (playable < sources.length) count = `${playable} of ${count} ready (a shot without a take is skipped)`;
    if (index < 0) caption.textContent = play.disabled ? "Nothing to play yet: no shot has a picked take." : count;
    screen.style.width = model.get("width") + "px";
  };
  const next = (i) => { while (i < sources.length && !hasVideo(sources[i])) i++; return i; };
  const prepare = async (video, i) => {
    if (i >= sources.length) return;
    const key = sources[i].key || sources[i].url;
    if (video.dataset.key === key) return;
    video.dataset.key = key;
    const got = await store.get(sources[i]);
    if (got.url && video.dataset.key === key) video.src = got.url;
  };
  const playAt = async (i, mine) => {
    i = next(i);
    if (mine !== run) return;  // a newer start took over
    if (i >= sources.length) {
      index = -1;
      el.dataset.state = "ended";
      caption.textContent = `The end · ${played.length} shot${played.length === 1 ? "" : "s"} played`;
      say(play, "▶", "Play the film again");
      return;
    }
    index = i;
    played.push(i);
    el.dataset.index = String(i);
    el.dataset.played = played.join(",");
    el.dataset.state = "playing";
    caption.textContent = `${sources[i].label || "Shot " + (i + 1)} · ${i + 1} of ${sources.length}`;
    const video = players[turn], other = players[1 - turn];
    other.pause();
    other.style.display = "none";
    video.style.display = "";
    await prepare(video, i);
    if (mine !== run) return;
    video.currentTime = 0;
    video.play().catch(() => { video.muted = true; video.play().catch(() => {}); });
    prepare(other, next(i + 1));  // the next shot loads while this one plays
  };
  const start = () => { played = []; turn = 0; run += 1; playAt(0, run); };
  players.forEach((video, which) => video.addEventListener("ended", () => {
    if (index < 0 || which !== turn) return;
    turn = 1 - turn;
    playAt(index + 1, run);
  }));
  play.addEventListener("click", start);
  model.on("change:sources", load);
  model.on("change:width", load);
  model.on("change:play_count", start);
  load();
  return () => store.dispose();
}
export default { render };
"""
)

CSS = """
/* Colours from the package's theme variables (widgets/_style.py: set on .kw-root/.kw-part/.kw-task, lighter
   shades under JupyterLab Dark), with the theme's own and plain fallbacks for a player shown alone. Text
   keeps 4.5:1 on both themes. */
.kw-compare, .kw-film { margin: 4px 0 6px 0; color: var(--kw-fg, var(--jp-ui-font-color1, #222)); }
.kw-compare-bar, .kw-film-bar { display: flex; align-items: center; gap: 10px; margin: 0 0 6px 0; flex-wrap: wrap; }
.kw-compare-play, .kw-film-play { min-width: 128px; height: 30px; padding: 0 12px; cursor: pointer; }
.kw-film-play:disabled { opacity: 0.45; cursor: not-allowed; }
.kw-compare-seek { flex: 1 1 160px; max-width: 420px; min-width: 0; accent-color: var(--kw-accent, #1976d2); }
.kw-compare-time, .kw-film-caption { font-size: 12px; color: var(--kw-fg2, var(--jp-ui-font-color2, #555));
  font-variant-numeric: tabular-nums; }
.kw-compare-loop { font-size: 12px; color: var(--kw-fg2, var(--jp-ui-font-color2, #555)); cursor: pointer; }
.kw-compare-row { display: flex; flex-flow: row wrap; gap: 10px; align-items: flex-start; }
.kw-compare-take { display: flex; flex-direction: column; gap: 4px; padding: 6px; border-radius: 8px;
  border: 2px solid var(--kw-border, var(--jp-border-color2, #ddd)); box-sizing: border-box; max-width: 100%; }
.kw-compare-picked { border-color: var(--kw-ok, #1b5e20); background: var(--kw-pill-succeeded, #e6f4ea); }
.kw-compare-take video, .kw-film video { width: 100%; border-radius: 4px; background: #111; display: block;
  cursor: pointer; }
.kw-film-screen { max-width: 100%; }
.kw-film video { cursor: auto; }
/* The label names what differs between tiles (a sweep's mode, duration): two lines rather than cut. */
.kw-compare-label { font-size: 12px; font-weight: 600; line-height: 1.35; overflow: hidden; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow-wrap: anywhere; }
.kw-compare-caption { font-size: 11px; color: var(--kw-fg2, var(--jp-ui-font-color2, #555)); }
.kw-compare-note { font-size: 12px; padding: 18px 8px; text-align: center; border-radius: 4px;
  background: var(--kw-bg2, var(--jp-layout-color2, #f3f3f3)); color: var(--kw-fg2, var(--jp-ui-font-color2, #555)); }
/* the failed pill's pair: the theme's red on the grey note tile is 3.4:1 in JupyterLab Dark */
.kw-compare-failed { background: var(--kw-pill-failed, #fdecea); color: var(--kw-pill-failed-fg, #b71c1c); }
.kw-compare-pick { height: 26px; cursor: pointer; }
.kw-compare-picked .kw-compare-pick { background: var(--kw-ok, #1b5e20); color: var(--kw-bg, #fff); font-weight: 600; }
"""


Loader = Callable[[], bytes]


def _serve_videos(widget: Any) -> None:
    """Answer the page's ``want`` messages: read the video off the kernel's thread, send its bytes once."""

    def on_msg(_: Any, content: Any, buffers: list[Any]) -> None:
        if not (isinstance(content, dict) and content.get("kind") == "want"):
            return
        key = str(content.get("key"))
        loader = widget.loaders.get(key)

        def send() -> None:
            try:
                if loader is None:
                    raise KeyError("this player does not know that video")
                widget.send({"kind": "video", "key": key, "mime": "video/mp4"}, buffers=[loader()])
            except Exception as error:  # said on the tile; the others still play
                widget.send({"kind": "video", "key": key, "error": f"No longer available: {error}"})

        threading.Thread(target=send, name="kling-video-send", daemon=True).start()

    widget.on_msg(on_msg)


@functools.cache
def _classes() -> tuple[type, type]:
    import anywidget
    import traitlets

    class TakeComparison(anywidget.AnyWidget):
        """Videos side by side with one play button and one slider; ``picked`` is the take chosen in the
        page (-1: none), when ``pickable``."""

        _esm = COMPARE_ESM
        _css = CSS
        sources = traitlets.List(traitlets.Dict(), help="What each tile shows: label, url or key, note.").tag(sync=True)
        picked = traitlets.Int(-1, help="The index of the picked take, -1 for none.").tag(sync=True)
        pickable = traitlets.Bool(False, help="Show a pick button under each video.").tag(sync=True)
        width = traitlets.Int(300, help="Width of each tile, in px.").tag(sync=True)

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.loaders: dict[str, Loader] = {}  #: key -> the bytes of a video sent through the kernel
            _serve_videos(self)

        def __repr__(self) -> str:
            return f"TakeComparison({len(self.sources)} takes, picked={self.picked})"

    class FilmPlayer(anywidget.AnyWidget):
        """One video element that plays ``sources`` one after another; ``play_count`` += 1 plays it from
        the start (the page's own button does the same)."""

        _esm = FILM_ESM
        _css = CSS
        sources = traitlets.List(traitlets.Dict(), help="The clips in order: label, url or key.").tag(sync=True)
        play_count = traitlets.Int(0, help="Raise it to play the film from the start.").tag(sync=True)
        width = traitlets.Int(640, help="Width of the player, in px.").tag(sync=True)

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.loaders: dict[str, Loader] = {}
            _serve_videos(self)

        def __repr__(self) -> str:
            return f"FilmPlayer({len(self.sources)} clips)"

    return TakeComparison, FilmPlayer


def take_comparison(**kwargs: Any) -> Any:
    """A new ``TakeComparison`` (see :data:`COMPARE_ESM`)."""
    return _classes()[0](**kwargs)


def film_player(**kwargs: Any) -> Any:
    """A new ``FilmPlayer``."""
    return _classes()[1](**kwargs)


def tile_width(aspect_ratio: str | None) -> int:
    """Tiles of one row: landscape wide, portrait narrow, so two or three fit a notebook's width."""
    return {"16:9": 300, "9:16": 170, "1:1": 230}.get(aspect_ratio or "", 300)


def task_source(
    task: Task | None,
    label: str,
    *,
    title: str = "",
    waiting: str = "Not sent yet",
    through_kernel: bool | None = None,
    client: KlingClient | None = None,
) -> dict[str, Any]:
    """What a tile shows for ``task``: its video once it succeeded — its link, or its task id as the key
    the page asks the kernel for (``through_kernel``; by default as :func:`~kling_widgets.playback.
    video_source` decides for ``client``: the simulator's videos go through the kernel) —, else its
    state in words. Only http(s) links are put in the page (never a javascript: or data: link)."""
    source: dict[str, Any] = {"label": label, "title": title or label}
    if task is None:
        return {**source, "note": waiting, "kind": "pending"}
    if task.status is TaskStatus.SUCCEEDED and is_url(task.video_url or ""):
        duration = f"{task.video_duration:g} s" if task.video_duration else ""
        if through_kernel is None:
            through_kernel = video_source(task.video_url or "", client).through_kernel
        where = {"key": task.id} if through_kernel else {"url": task.video_url}
        return {**source, **where, "note": duration, "kind": "succeeded"}
    if task.status is TaskStatus.FAILED:
        return {**source, "note": f"Failed: {task.error or 'no reason given'}", "kind": "failed"}
    if task.status is TaskStatus.SUCCEEDED:
        return {**source, "note": "Done, but no video link (yet)", "kind": "pending"}
    progress = f" · {task.progress:.0f}%" if task.progress is not None else ""
    words = "Generating" if task.status is TaskStatus.PROCESSING else "Queued at the service"
    return {**source, "note": words + progress, "kind": "pending"}
