"""HistoryGallery: every past generation at a glance — prompt, settings, status, cost, the pictures and
the video — with "Reuse these settings", a download and the task id at hand.

It shows one page of cards at a time, and draws the first page from the journal's end before the whole
journal is read (on a background thread): a journal of a year's use opens as fast as one of ten and syncs
only a page's worth of state. Videos load only when played
(``preload="none"``); thumbnails come from the journal's private thumbnail folder, small.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from .._listeners import Listeners
from ..client import elsewhere
from ..images import is_url
from ..playback import VideoUnavailable, poster_jpeg, video_source
from ..words import charge_words, video_html
from ._publish import Published, detach
from ._style import esc, shorten, stylesheet
from .a11y import accessibility, named
from .status import elapsed_text

if TYPE_CHECKING:
    from ..client import KlingClient
    from ..history import HistoryEntry, Service, TaskHistory
    from .video import VideoPlayer

log = logging.getLogger("kling_widgets")
PAGE_SIZE = 12
MAX_EMBEDDED = 12_000_000  # a video carried in a saved page; the simulator's are ~10-100 KB
READ_REST_AFTER = 0.05  # seconds after the first page is drawn, the rest of the journal is read
CARD_THUMB = 72  # px shown on a card (the kept thumbnail is 256 px; a smaller copy is sent)
STATUS_FILTERS = (
    ("All", ""),
    ("Succeeded", "succeeded"),
    ("Failed", "failed"),
    ("Running", "running"),
    ("Outcome unknown", "unknown"),
    ("Queued", "queued"),
    ("Not created", "rejected"),
)
_RUNNING = ("sending", "submitted", "processing")
Reuse = Callable[["HistoryEntry"], object]
_opening = threading.local()  # per thread: the reads of the rest held while a widget is being built


@contextlib.contextmanager
def after_opening() -> Iterator[None]:
    """Galleries built inside read the rest of their journal (on their thread) only once the outermost
    ``after_opening`` ends: a read of a journal of years holds Python's lock half the time, and the bundle,
    which builds a gallery before its past cards and its resumed tasks, opened 1.5-3× slower over one.
    Usable as a decorator (``@after_opening()``); nested, the outermost starts the reads, and a build that
    raised starts none.

    Yields
    ------
    None
        While the widget is built.
    """
    if getattr(_opening, "held", None) is not None:  # inside another: that one starts them
        yield
        return
    held: list[threading.Timer] = []
    _opening.held = held
    try:
        yield
    finally:
        _opening.held = None
    for timer in held:
        timer.start()


class HistoryGallery(Published, widgets.VBox):
    """``HistoryGallery(history, client=None, service=None)``: the journal's entries, newest first, one
    page of cards at a time: only ``service``'s (by default the client's, ``KlingClient.service``; with
    neither, every entry), so a data folder shared by the simulator and an account keeps them apart.
    ``entries`` is what the filters let through (all pages); ``query`` and ``status`` filter;
    ``page`` turns. ``on_reuse(callback)`` hears the Reuse button (the bundle loads the entry into its
    form); without one, Reuse is hidden.

    Parameters
    ----------
    history : TaskHistory
        The journal to show.
    client : KlingClient, optional
        Plays and downloads the videos (without one, cards show links).
    service : Service, optional
        Whose entries to show (``KlingClient.service()``); by default the client's, or every entry.
    page_size : int
        Cards per page.
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    query = traitlets.Unicode("", help="Show entries whose prompt, negative prompt or ids contain this text.")
    status = traitlets.Unicode("", help="Show entries of this status only (succeeded, failed, running…); empty: all.")
    page = traitlets.Int(0, help="The page shown, from 0.")

    @detach
    def __init__(
        self,
        history: TaskHistory,
        *,
        client: KlingClient | None = None,
        service: Service | None = None,
        page_size: int = PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        self.history = history
        self.client = client
        self.service = service if service is not None or client is None else client.service()
        self._elsewhere: dict[str, tuple[bool, str]] = {}  # per address of another simulator, once per refresh
        self.page_size = page_size
        self._all: list[HistoryEntry] = []  # the newest page while the rest is read, then every entry
        self._complete = threading.Event()  # set once _all holds the whole journal
        self._generation = 0  # one per refresh: a late background read of an older one is dropped
        self._closed = False
        self._drawn: tuple[object, ...] | None = None  # what the cards show, so an unchanged page is not redrawn
        self._reuse: Listeners[HistoryEntry] = Listeners("a reuse callback")
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._render_lock = threading.RLock()  # the kernel's thread and the background read both draw
        self._thumbs: dict[str, bytes] = {}
        self._picks: dict[str, dict[int, int]] = {}  # per storyboard on the page: the take each shot uses
        self._poster_queue: list[tuple[str, VideoPlayer]] = []
        self._poster_thread: threading.Thread | None = None
        self.search = named(
            widgets.Text(
                placeholder="Search prompts and ids…",
                layout=widgets.Layout(width="auto", flex="1 1 180px", max_width="260px", min_width="0"),
            ),
            "Search the history",
        )
        self.status_filter = named(
            widgets.Dropdown(options=STATUS_FILTERS, layout=widgets.Layout(width="170px")), "Show generations that are"
        )
        self.previous_button = _icon_button("chevron-left", "Newer generations (previous page)")
        self.next_button = _icon_button("chevron-right", "Older generations (next page)")
        self.refresh_button = _icon_button("refresh", "Read the journal again")
        self._where = widgets.HTML()
        self._where.add_class("kw-live")
        self._cards = widgets.Box(layout=widgets.Layout(margin="6px 0 0 0"))
        self._cards.add_class("kw-card-grid")  # columns that fill the width (style.css)
        # The pager is one piece that never breaks: in a narrow pane (470 px) the bar wrapped between ‹ and
        # the page words, leaving ‹ alone at the end of the search line. Now the whole pager moves down.
        pager = widgets.HBox(
            [self.previous_button, self._where, self.next_button, self.refresh_button],
            layout=widgets.Layout(align_items="center", flex_flow="row nowrap", flex="0 0 auto"),
        )
        pager.add_class("kw-pager")
        bar = widgets.HBox(
            [self.search, self.status_filter, pager],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        super().__init__([stylesheet(), accessibility(), bar, self._cards], **kwargs)
        self.add_class("kw-history")
        self.add_class("kw-part")
        traitlets.link((self, "query"), (self.search, "value"))
        traitlets.link((self, "status"), (self.status_filter, "value"))
        self.previous_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(1))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.observe(self._on_filter, names=["query", "status"])
        self.observe(self._render, names="page")
        self.refresh()

    def __repr__(self) -> str:
        return f"HistoryGallery({len(self._all)} entries, showing {len(self.entries)})"

    # -- what it shows ---------------------------------------------------------------------------------
    @property
    def entries(self) -> list[HistoryEntry]:
        """Every entry the filters let through, newest first (all pages: the whole journal is read)."""
        if self._read_whole(self._generation):
            self._render()  # the page count, now that it is known
        return self._filtered()

    def _filtered(self) -> list[HistoryEntry]:
        words = self.query.strip().lower()
        chosen = [e for e in self._all if _status_of(e) == self.status] if self.status else list(self._all)
        if words:
            chosen = [e for e in chosen if words in _searchable(e)]
        return chosen

    @property
    def pages(self) -> int:
        """How many pages the filtered entries fill (at least 1)."""
        return max(1, -(-len(self.entries) // self.page_size))

    @property
    def shown(self) -> list[HistoryEntry]:
        """The entries on the page shown."""
        start = self.page * self.page_size
        return self.entries[start : start + self.page_size]

    def refresh(self) -> None:
        """Read the journal again (new submissions, finished tasks): the newest page at once, from the
        journal's end; the rest on a background thread (or as soon as a filter or a page turn needs it)."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._complete.clear()
            self._elsewhere = {}
        newest, whole = self.history.recent(self.page_size, self.service)
        with self._lock:
            if generation == self._generation:
                self._all = newest
                if whole:
                    self._complete.set()
        self._render()
        if not whole:  # a moment later: the kernel's thread finishes what it draws first
            rest = threading.Timer(READ_REST_AFTER, self._read_rest, args=(generation,))
            rest.daemon = True
            held: list[threading.Timer] | None = getattr(_opening, "held", None)
            if held is not None:  # a widget is being built around this gallery: once it is done
                held.append(rest)
            else:
                rest.start()

    def _read_rest(self, generation: int) -> None:
        try:
            self._read_whole(generation)
            if generation == self._generation and not self._closed:
                self._render()  # the page count, and the next button (unchanged cards are not redrawn)
        except Exception:  # a journal that cannot be read now: the next refresh tries again
            log.exception("reading the history failed")

    def _read_whole(self, generation: int) -> bool:
        """Make ``_all`` every entry of the journal (once per refresh). True when this call did it."""
        with self._reading:  # one reader: the other thread finds it done
            if self._complete.is_set():
                return False
            entries = self.history.entries(self.service)
            with self._lock:
                if generation != self._generation:
                    return False
                self._all = entries
                self._complete.set()
            return True

    def close(self) -> None:
        self._closed = True
        super().close()

    def on_reuse(self, callback: Reuse, *, remove: bool = False) -> None:
        """``callback(entry)`` when a card's Reuse is pressed (``remove=True`` to stop).

        Parameters
        ----------
        callback : callable
            Called with the card's :class:`HistoryEntry`.
        remove : bool
            Unregister ``callback`` instead.
        """
        self._reuse.register(callback, remove)
        self._render()

    def download(self, entry: HistoryEntry, folder: str | Path = ".") -> tuple[Path | None, Path]:
        """Save the entry's video (when it has one and a client is given) and a JSON sidecar with the
        prompt, the settings and the ids, on the kernel's disk.

        Parameters
        ----------
        entry : HistoryEntry
            The card's entry.
        folder : str or Path
            Where to save.

        Returns
        -------
        tuple of (Path or None, Path)
            The video (None without one) and the sidecar.

        Raises
        ------
        DownloadError
            The video could not be saved.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        video = None
        task = entry.to_task()
        if self.client is not None and task is not None and task.video_url:
            video = self.client.download(task, folder)
        stem = video.stem if video else f"kling-{entry.task_id or entry.external_task_id}"
        sidecar = folder / f"{stem}.json"
        sidecar.write_text(json.dumps(sidecar_of(entry), indent=2, ensure_ascii=False), encoding="utf-8")
        return video, sidecar

    # -- drawing ---------------------------------------------------------------------------------------
    def _on_filter(self, _: object = None) -> None:
        if self.page:
            self.page = 0  # redraws through the observer
        else:
            self._render()

    def _turn(self, step: int) -> None:
        self.page = min(max(0, self.page + step), self.pages - 1)

    @detach
    def _render(self, _: object = None) -> None:
        with self._render_lock:
            self._draw()

    def _draw(self) -> None:
        partial = not self._complete.is_set()
        if partial and (self.page or self.query.strip() or self.status):  # needs every entry
            self._read_whole(self._generation)
            partial = not self._complete.is_set()
        entries = self._filtered()
        pages = max(1, -(-len(entries) // self.page_size))
        if self.page >= pages and not partial:
            self.page = pages - 1
            return
        start = self.page * self.page_size
        shown = entries[start : start + self.page_size]
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1 and not partial
        total = len(self._all)
        found = f"{len(entries)} of {total}" if len(entries) != total else f"{total}"
        where = f"newest {total} · reading the rest…" if partial else f"page {self.page + 1} of {pages}"
        if not partial:
            where = f"{found} generation{'s' if total != 1 else ''} · {where}"
        self._where.value = f'<span class="kw-hint" style="margin:0 6px">{where}</span>'
        stories = sorted({entry.story for entry in shown if entry.story})
        picks = {story: self.history.story_picks(story, self._all) for story in stories}
        drawn = (
            bool(self._reuse),
            *((e.external_task_id, e.status, e.updated_at) for e in shown),
            *((story, sorted(picks[story].items())) for story in stories),  # a new pick changes a card
        )
        if drawn == self._drawn:
            return  # the same cards (the whole journal's first page is the page drawn from its end)
        self._drawn = drawn
        if not shown:
            words = "No generations yet: they appear here as you make them." if not total else "Nothing matches."
            self._cards.children = (widgets.HTML(f'<div class="kw-hint">{esc(words)}</div>'),)
            return
        self._picks = picks
        self._cards.children = tuple(self._card(entry) for entry in shown)

    def _card(self, entry: HistoryEntry) -> widgets.Widget:
        status = _status_of(entry)
        ids = entry.task_id or entry.external_task_id
        id_html = f'task <span class="kw-mono" style="user-select:all">{esc(ids)}</span>'
        children: list[widgets.Widget] = [widgets.HTML(self._card_head(entry))]
        if status == "succeeded" and entry.video_url and is_url(entry.video_url):
            children.append(self._player(entry, entry.video_url))
        children.append(
            widgets.HTML(
                f'<div class="kw-hint" style="font-size:12px;line-height:1.4">{id_html}{_copy_button(ids)} '
                f"{_download_links(entry)}</div>"
            )
        )
        if self._reuse:
            reuse = named(
                widgets.Button(description="Reuse", icon="redo", layout=widgets.Layout(width="90px", height="26px")),
                f"Reuse: load “{shorten(entry.prompt or '', 40)}”, its settings and pictures into the form",
            )
            reuse.on_click(lambda _, e=entry: self._reused(e))
            children.append(reuse)
        card = widgets.VBox(children, layout=widgets.Layout(min_width="0"))  # as wide as its column
        card.add_class("kw-card")
        return card

    def _card_head(self, entry: HistoryEntry) -> str:
        """The card's words and pictures: status, when, cost, prompt, settings, thumbnails, the reason."""
        settings = entry.settings or {}
        status = _status_of(entry)
        gone = self._gone(entry)
        if gone is not None:
            status = "elsewhere" if gone[0] else "gone"
        when = datetime.fromtimestamp(entry.submitted_at).strftime("%Y-%m-%d %H:%M") if entry.submitted_at else ""
        facts = " · ".join(
            str(x)
            for x in (
                settings.get("model_name"),
                settings.get("mode"),
                f"{settings.get('duration')} s" if settings.get("duration") else None,
                settings.get("aspect_ratio"),
                "watermark" if settings.get("watermark") else None,
                "full size" if "max_side" in settings and settings.get("max_side") is None else None,
            )
            if x
        )
        task = entry.to_task()
        took = elapsed_text(task) if task is not None and task.done else ""  # the TaskView's own words
        charge = charge_words(entry.units, simulated=entry.simulated)
        units = "".join(f" · {part}" for part in (took, charge) if part)
        negative = settings.get("negative_prompt")
        negative_html = f'<div class="kw-hint">Avoid: {esc(shorten(negative, 120))}</div>' if negative else ""
        reason = (
            f'<div class="kw-error">{esc(shorten(entry.error, 160))}</div>'
            if entry.error and status != "succeeded"
            else ""
        )
        if gone is not None:  # said as such, never as a network failure
            reason = f'<div class="kw-hint">{esc(gone[1])}</div>'

        thumbs = "".join(self._thumb_html(image) for image in entry.images)
        badge = (
            f'<span class="kw-badge kw-badge-{_BADGE.get(status, "unknown")}">{esc(_WORDS.get(status, status))}</span>'
        )
        prompt = esc(shorten(entry.prompt or "", 140))
        story = ""
        if entry.story_label and entry.story:
            in_film = entry.shot is not None and self._picks.get(entry.story, {}).get(entry.shot) == entry.take
            story = (
                f'<div class="kw-story" title="{esc(entry.story)}">'
                f"🎬 {esc(entry.story_label)}{' · in the film' if in_film else ''}</div>"
            )
        return (
            f'<div style="font-size:12px;line-height:1.4">'
            f'<div>{badge} <span class="kw-hint">{esc(when)}{esc(units)}</span></div>{story}'
            f'<div style="margin:4px 0;font-weight:600" title="{esc(entry.prompt or "")}">{prompt}</div>'
            f'{negative_html}<div class="kw-hint">{esc(facts)}</div>'
            f'<div style="display:flex;gap:4px;margin-top:4px">{thumbs}</div>{reason}'
            "</div>"
        )

    def static_html(self) -> str:
        """The page of cards shown, for a saved notebook or an exported page: each with its video, the
        simulator's carried in the page (no reader could load its link).

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        cards = []
        for entry in self.shown:
            video = ""
            url = entry.video_url or ""
            if _status_of(entry) == "succeeded" and is_url(url):
                source = video_source(url, self.client)
                try:
                    video = video_html(url) if source.url else _data_video(source.load(MAX_EMBEDDED))
                except VideoUnavailable as problem:
                    video = f'<div style="color:#8a5300">{esc(problem)}</div>'
            ids = esc(entry.task_id or entry.external_task_id)
            cards.append(
                '<div style="width:300px;border:1px solid #ddd;border-radius:6px;padding:6px">'
                f'{self._card_head(entry)}{video}<div style="font-size:11px;color:#666">task {ids}</div></div>'
            )
        where = re.sub(r"<[^>]+>", "", self._where.value)
        return (
            f'<div class="kling-widgets-static" style="font-size:12px"><div style="color:#666">History · {where}'
            f'</div><div style="display:flex;flex-wrap:wrap;gap:8px;margin-top:6px">{"".join(cards)}</div></div>'
        )

    def _gone(self, entry: HistoryEntry) -> tuple[bool, str] | None:
        """For an unfinished task of another simulator (an earlier run, another port), which this
        gallery's client cannot follow: whether that simulator still answers, and the words for it."""
        service = self.service
        if not (entry.simulated and entry.unfinished and entry.task_id) or service is None or service.here(entry):
            return None
        key = entry.base_url or ""
        if key not in self._elsewhere:
            self._elsewhere[key] = elsewhere(entry.base_url)
        return self._elsewhere[key]

    def _player(self, entry: HistoryEntry, url: str) -> VideoPlayer:
        """The card's video: its poster frame at once (kept on disk once made), its bytes only when ▶
        is pressed; through the kernel where the browser cannot load the link (the simulator's)."""
        from .video import VideoPlayer  # anywidget loads with the first video, not with the package

        key = entry.task_id or entry.external_task_id
        player = VideoPlayer.for_url(
            url,
            self.client,
            autoload=False,
            filename=f"kling-{key}.mp4",
            ratio=str((entry.settings or {}).get("aspect_ratio") or ""),
            layout=widgets.Layout(width="100%", margin="4px 0 0 0"),
        )
        poster = self._poster_path(key)
        if not player.via_kernel:
            pass  # a public link: the browser shows its first frame itself (preload="metadata")
        elif poster.is_file():
            player.set_poster(poster.read_bytes())
        else:
            with self._lock:
                self._poster_queue.append((key, player))
                if self._poster_thread is None or not self._poster_thread.is_alive():
                    self._poster_thread = threading.Thread(target=self._make_posters, daemon=True)
                    self._poster_thread.start()
        return player

    def _poster_path(self, key: str) -> Path:
        return self.history.path.parent / (self.history.path.stem + ".posters") / f"{key}.jpg"

    def _make_posters(self) -> None:
        """Off the kernel's cell: read each video once, keep a still of it; a video that is gone is said
        so on its card at once, not at the first click."""
        while True:
            with self._lock:
                if not self._poster_queue:
                    self._poster_thread = None
                    return
                key, player = self._poster_queue.pop(0)
            data = player.load()  # a video that is gone sets the player's error: the card says so
            jpeg = poster_jpeg(data) if data else None
            if jpeg is None:
                continue
            path = self._poster_path(key)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(jpeg)
            except OSError as problem:  # the card shows it anyway
                log.warning("could not keep a poster: %s", problem)
            player.set_poster(jpeg)

    def _reused(self, entry: HistoryEntry) -> None:
        self._reuse(entry)

    def _thumb_html(self, image: dict[str, Any]) -> str:
        size = f"width:{CARD_THUMB}px;height:{CARD_THUMB}px;object-fit:cover;border-radius:4px"
        if "url" in image:
            return f'<div class="kw-tile" style="{size};font-size:10px;overflow:hidden">🔗 URL</div>'
        data = self._thumb(str(image.get("sha256") or ""))
        name = esc(image.get("source") or "")
        if data is None:
            return f'<div class="kw-tile" title="{name}" style="{size};font-size:10px;overflow:hidden">{name}</div>'
        return f'<img title="{name}" style="{size}" src="data:image/jpeg;base64,{base64.b64encode(data).decode()}">'

    def _thumb(self, sha256: str) -> bytes | None:
        """A small copy of the kept thumbnail (about 2-4 KB), made once."""
        if not sha256:
            return None
        cached = self._thumbs.get(sha256)
        if cached is None:
            path = self.history.thumbnail_path(sha256)
            if not path.exists():
                return None
            from PIL import Image

            with Image.open(path) as im:
                im.thumbnail((CARD_THUMB * 2, CARD_THUMB * 2))
                out = io.BytesIO()
                im.convert("RGB").save(out, "JPEG", quality=75)
            cached = self._thumbs[sha256] = out.getvalue()
        return cached


_BADGE = {
    "succeeded": "succeeded",
    "failed": "failed",
    "running": "processing",
    "queued": "submitted",
    "gone": "failed",
    "elsewhere": "submitted",
}
_WORDS = {
    "succeeded": "Done",
    "failed": "Failed",
    "running": "Running",
    "unknown": "Outcome unknown",
    "queued": "Queued",
    "rejected": "Not created",
    "cancelled": "Cancelled",
    "gone": "Simulator stopped",
    "elsewhere": "On another simulator",
}


def _status_of(entry: HistoryEntry) -> str:
    return "running" if entry.status in _RUNNING else entry.status


def _searchable(entry: HistoryEntry) -> str:
    settings = entry.settings or {}
    parts = (entry.prompt, settings.get("negative_prompt"), entry.task_id, entry.external_task_id, entry.story_label,
             entry.story)  # fmt: skip
    return " ".join(str(p) for p in parts if p).lower()


def sidecar_of(entry: HistoryEntry) -> dict[str, Any]:
    """What is worth keeping beside a downloaded video: prompt, settings, pictures, ids, status."""
    return {
        "prompt": entry.prompt,
        "settings": entry.settings,
        "images": entry.images,
        "task_id": entry.task_id,
        "external_task_id": entry.external_task_id,
        "status": entry.status,
        "video_url": entry.video_url,
        "units": entry.units,
        "provider": entry.provider,
        "submitted_at": entry.submitted_at,
    }


def _download_links(entry: HistoryEntry) -> str:
    """The JSON sidecar, downloaded in the person's browser (the MP4 is the player's own link)."""
    name = f"kling-{entry.task_id or entry.external_task_id}"
    sidecar = base64.b64encode(json.dumps(sidecar_of(entry), indent=2, ensure_ascii=False).encode()).decode()
    link = f'download="{esc(name)}.json" href="data:application/json;base64,{sidecar}" class="kw-nowrap"'
    return f"<a {link}>settings (JSON)</a>"


def _icon_button(icon: str, name: str) -> widgets.Button:
    """A button showing only an icon, named for screen readers by what it does."""
    button = named(widgets.Button(icon=icon, layout=widgets.Layout(width="36px")), name)
    button.add_class("kw-icon")
    return button


def _data_video(data: bytes) -> str:
    return video_html(f"data:video/mp4;base64,{base64.b64encode(data).decode('ascii')}")


def _copy_button(text: str) -> str:
    value = esc(json.dumps(text))
    return (
        f'<button class="kw-copy" title="Copy the task id" aria-label="Copy the task id" '
        f"onclick='navigator.clipboard && navigator.clipboard.writeText({value})'>copy</button>"
    )
