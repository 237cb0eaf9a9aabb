// FilmPlayer (widgets/compare.py): the picked takes one after another, two <video> elements taking turns.
// Uses videosOf, hasVideo, make and say from media.js (joined before this file).
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
