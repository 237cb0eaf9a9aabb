"""StoryboardView: a storyboard on screen — the cast, the shots in order as a filmstrip, each shot's takes
side by side played in step with a pick under each, the estimate before sending, Generate, the film
played in the page (the picked takes one after another) and Export with its progress.

The storyboard does the work (sending, continuity, journaling, the film); the view only shows it and
passes clicks on: a pick goes through ``story.pick``, Generate through ``story.generate``, Export through
``story.export`` on a thread of its own. It changes only by setting traits, from whatever thread the
storyboard reports on.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from ..errors import KlingError
from ..images import PreparedImage, is_url
from ..playback import MAX_PLAYER_BYTES, VideoUnavailable, poster_jpeg, video_source
from ..task import Task, TaskStatus
from ..words import charge_words, units_words, video_html
from ._front import front_text
from ._style import esc, message_html, shorten, style_tag, stylesheet, title
from .a11y import accessibility, named
from .compare import film_player, take_comparison, task_source, tile_width
from .video import VideoPlayer

if TYPE_CHECKING:
    from ..shot import Shot
    from ..story import Storyboard

CAST_THUMB = 96  # px: the cast's thumbnails
STRIP_FRAME = 320  # px: the picked take's frame on a shot card (176 px wide, sharp on a 2× screen)
STRIP_CSS = style_tag(front_text("story.css"))  # the filmstrip, cast and shots: widgets/front/story.css


# story.css says the same; inline too for a page read without it (a saved notebook, the docs).
_THUMB_STYLE = f"width:{CAST_THUMB}px;height:{CAST_THUMB}px;object-fit:cover;border-radius:4px;display:block"


def _thumb(picture: PreparedImage | str, alt: str, size: int = CAST_THUMB) -> str:
    """An ``<img>`` of a cast picture: a small JPEG in the page, or the link itself for a URL. ``alt`` names
    it for a screen reader ("Cast picture 1 · fox.jpg": a picture given as bytes has no name of its own)."""
    if isinstance(picture, PreparedImage):
        data = base64.b64encode(picture.thumbnail(size * 2)).decode()
        return f'<img alt="{esc(alt)}" src="data:image/jpeg;base64,{data}" style="{_THUMB_STYLE}">'
    return f'<img alt="{esc(alt)}" src="{esc(picture)}" style="{_THUMB_STYLE}">' if is_url(picture) else ""


def _caption(number: int, picture: PreparedImage | str) -> str:
    """'1 · fox.jpg', or '1' for pictures given as bytes or PIL images (they have no name)."""
    text = picture.source if isinstance(picture, PreparedImage) else picture.rsplit("/", 1)[-1]
    unnamed = not text or text in ("bytes", "image", "PIL image") or text.startswith("<")
    return str(number) if unnamed else f"{number} · {shorten(text, 18)}"


def shot_words(story: Storyboard, shot: Shot) -> tuple[str, str]:
    """(css kind, words) for where a shot stands: 'Waits for shot 1's pick', 'Generating · 1 of 2 done'…"""
    takes = shot.takes
    ended = sum(1 for t in takes if t is not None and t.done)
    succeeded = sum(1 for t in takes if t is not None and t.status is TaskStatus.SUCCEEDED)
    previous = f"shot {shot.index}"  # the previous shot, counted from 1
    if shot.state == "blocked":
        return "blocked", f"Cannot be sent: {shot.problem or 'no reason given'}"
    if shot.state == "draft":
        return "draft", "Not sent yet"
    if shot.state == "waiting":
        return "waiting", f"Waits for a picked take of {previous}"
    if shot.state == "preparing":
        return "running", f"Reading the last frame of {previous}"
    if not shot.settled:
        return "running", f"Generating · {ended} of {shot.take_count} done"
    if not succeeded:
        return "blocked", "No take succeeded"
    if shot.take_count == 1:
        return "done", "Done"
    pick = shot.pick_index
    how = "picked" if shot.picked_index is not None else "by default"
    chosen = f"take {pick + 1} {how}" if pick is not None else "no pick"
    return "done", f"Done · {succeeded} of {shot.take_count} succeeded · {chosen}"


class StoryboardView(widgets.VBox):
    """``StoryboardView(story)``: the storyboard, kept current as it generates. A take's video the
    browser could not load itself (the built-in simulator's, on the kernel's loopback: a remote kernel's
    browser reaches only the Jupyter server) is sent to the page through the kernel, read from the
    storyboard's private copy; the real service's public links stay links. ``through_kernel=True`` or
    ``False`` forces one way for every take.

    Parameters
    ----------
    story : Storyboard
        The storyboard to show; the view follows its updates.
    through_kernel : bool, optional
        Force every take through the kernel (True) or by its link (False).
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    summary = traitlets.Unicode("", help="The shots, takes and estimate in words.")
    estimate = traitlets.Float(0.0, help="What every take will cost, in the service's units, before sending.")
    export_status = traitlets.Unicode("", help="What became of the last export, in words.")

    def __init__(self, story: Storyboard, *, through_kernel: bool | None = None, **kwargs: Any) -> None:
        self.story = story
        self.through_kernel = through_kernel
        self._lock = threading.RLock()
        self._estimated: tuple[int, float] = (-1, 0.0)  # (takes asked for, their estimate)
        self._header = widgets.HTML()
        self._cast = widgets.HTML(self._cast_html())
        self._strip = widgets.HTML()
        self._strip.add_class("kw-strip-box")
        self.generate_button = widgets.Button(
            description="Generate",
            button_style="primary",
            icon="film",
            tooltip="Send every shot's takes (a continuing shot waits for the previous shot's pick)",
            layout=widgets.Layout(width="150px", height="32px"),
        )
        self._why = widgets.HTML()
        self._shots = widgets.VBox()
        self.retake_buttons: list[widgets.Button] = []  #: "One more take", one per shot
        self._panels: list[tuple[widgets.HTML, Any]] = []  # per shot: its header, its TakeComparison
        self.film = film_player(width=min(720, tile_width(story.aspect_ratio) * 2 + 10))
        self.export_path = widgets.Text(
            value=f"{story.id}.mp4",
            description="File",
            tooltip="Where the film is written, on the machine that runs the kernel",
            layout=widgets.Layout(width="340px"),
        )
        self.export_replace = widgets.Checkbox(
            value=False, description="replace an existing file", indent=False, layout=widgets.Layout(width="auto")
        )
        self.export_button = widgets.Button(
            description="Export film",
            icon="download",
            tooltip="Join the picked takes, in shot order, into one MP4",
            layout=widgets.Layout(width="140px"),
        )
        self.export_progress = widgets.FloatProgress(
            min=0, max=1, layout=widgets.Layout(width="100%", height="12px", display="none")
        )
        self._export_message = widgets.HTML()
        self._export_message.add_class("kw-live")  # read out as it changes
        # The exported film, offered in the page: the file is on the kernel's machine, which the person's
        # browser may not reach (Voila, a remote kernel); the player sends its bytes through the kernel.
        self.exported_player: VideoPlayer | None = None  #: the last exported film's player (None before)
        self._exported = widgets.VBox(layout=widgets.Layout(display="none", margin="6px 0 0 0"))
        self._export_thread: threading.Thread | None = None
        self._frames: dict[str, str] = {}  # task id → its frame for the shot card ("" while made, or none)
        super().__init__(
            [
                stylesheet(),
                accessibility(),  # names, pressed states, progress bars for screen readers (widgets/a11y.py)
                widgets.HTML(STRIP_CSS, layout=widgets.Layout(display="none")),
                self._header,
                title("Cast (shared by every shot)"),
                self._cast,
                title("Shots"),
                self._strip,
                widgets.HBox(
                    [self.generate_button, self._why],
                    layout=widgets.Layout(align_items="center", flex_flow="row wrap", margin="2px 0 4px 0"),
                ),
                self._shots,
                title("The film"),
                self.film,
                widgets.HBox(
                    [self.export_path, self.export_replace, self.export_button],
                    layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
                ),
                self.export_progress,
                self._export_message,
                self._exported,
            ],
            **kwargs,
        )
        self.add_class("kw-root")
        self.add_class("kw-task")
        self.generate_button.on_click(lambda _: self.generate())
        self.export_button.on_click(lambda _: self.export())
        self.observe(self._show_export_status, names="export_status")
        # A new file name, or the box ticked: what was said of the last export no longer fits the form.
        self.export_path.observe(self._on_export_form, names="value")
        self.export_replace.observe(self._on_export_form, names="value")
        story.on_update(self._on_story)
        self._on_story(story)

    def __repr__(self) -> str:
        return f"StoryboardView({self.story.id!r}, {self.summary!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """The widget, plus a static HTML fallback for readers without widget JavaScript (a saved
        notebook on GitHub, an exported page): the cast and each shot with its picked take."""
        bundle: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/html"] = self._static_html()
        return bundle

    def _static_html(self) -> str:
        shots = []
        for shot in self.story.shots:
            _, words = shot_words(self.story, shot)
            picked = shot.picked
            take = self._static_take(picked) if picked is not None else ""
            shots.append(
                f'<div style="margin:6px 0"><b>Shot {shot.index + 1}</b> · {esc(shot.prompt)} · '
                f"<i>{esc(words)}</i>{take}</div>"
            )
        return (
            '<div class="kling-widgets-static" style="font-size:13px;border:1px solid #ddd;border-radius:8px;'
            f'padding:8px 10px"><b>Storyboard</b> {esc(self.story.id)} · {esc(self.summary)}'
            f"{self._cast_html()}{''.join(shots)}</div>"
        )

    def _static_take(self, task: Task) -> str:
        """A picked take for a page read without the widget: a link a reader anywhere can load stays a
        link; the simulator's (the kernel's loopback) is carried in the page from the story's own copy."""
        url = task.video_url or ""
        if task.status is not TaskStatus.SUCCEEDED or video_source(url, self.story.client).url is not None:
            return task._repr_html_()
        try:
            data = self.story.local_video(task).read_bytes()
        except (OSError, KlingError):
            return task._repr_html_()  # says where the video is, in words
        return video_html("data:video/mp4;base64," + base64.b64encode(data).decode("ascii"))

    @property
    def comparisons(self) -> list[Any]:
        """Each shot's TakeComparison, in shot order."""
        with self._lock:
            return [comparison for _, comparison in self._panels]

    def close(self) -> None:
        self.story.on_update(self._on_story, remove=True)
        if self.exported_player is not None:
            self.exported_player.close()
        for _, comparison in self._panels:
            comparison.close()
        self.film.close()
        super().close()

    # -- actions -----------------------------------------------------------------------------------
    def generate(self) -> None:
        """Same as the Generate button: send every shot (returns at once)."""
        self.generate_button.disabled = True
        try:
            self.story.generate()
        except Exception as error:  # shown where the person looks; the button comes back
            self.generate_button.disabled = False
            self._why.value = message_html(f"Could not generate: {error}")
            return
        self._on_story(self.story)

    def retake(self, shot_index: int) -> None:
        """Same as a shot's "One more take": one more take of it, sent at once if the shot was sent.

        Parameters
        ----------
        shot_index : int
            The shot, from 0.
        """
        try:
            self.story.retake(shot_index)
        except Exception as error:  # said where the person looks
            self._why.value = message_html(f"Could not add a take: {error}")

    def play_film(self) -> None:
        """Same as "Play the film": the picked takes, one after another, in the page."""
        self.film.play_count += 1

    def export(self) -> threading.Thread | None:
        """Same as the Export button: write the film off the kernel's thread, with its progress shown.

        Returns
        -------
        threading.Thread or None
            The export's thread (None when one is already running).
        """
        if self._export_thread is not None and self._export_thread.is_alive():
            return None
        path = self.export_path.value.strip() or f"{self.story.id}.mp4"
        self.export_button.disabled = True
        self.export_progress.value = 0
        self.export_progress.bar_style = "info"
        self.export_progress.layout.display = None
        self.export_status = "Exporting…"

        def progress(fraction: float, what: str) -> None:
            self.export_progress.value = max(0.0, min(1.0, fraction))
            self.export_progress.description = ""
            self.export_status = f"Exporting… {fraction:.0%} · {what}"

        replace = self.export_replace.value

        def run() -> None:
            try:
                target = self.story.film_path(path)
                if target.exists() and not replace:  # in the page's words: its checkbox, not overwrite=True
                    self.export_progress.layout.display = "none"
                    self.export_status = (
                        f"Export failed: {target} already exists: tick “{self.export_replace.description}” to "
                        "replace it, or change the file name"
                    )
                    return
                film = Path(self.story.export(path, on_progress=progress, overwrite=replace)).resolve()
                self.export_progress.value = 1
                self.export_progress.bar_style = "success"
                self._offer(film)
                self.export_status = f"Film saved to {film}"
            except Exception as error:  # said in words; nothing the person typed is lost
                self.export_progress.layout.display = "none"
                self.export_status = f"Export failed: {error}"
            finally:
                self.export_button.disabled = False

        self._export_thread = threading.Thread(target=run, name=f"kling-{self.story.id}-export", daemon=True)
        self._export_thread.start()
        return self._export_thread

    def _offer(self, film: Path) -> None:
        """Show the exported film in the page, to play and to save with *Download MP4*: its bytes travel
        through the kernel when asked, so it reaches a browser that cannot reach the kernel's disk."""
        width = min(720, tile_width(self.story.aspect_ratio) * 2 + 10)  # as wide as the film played above
        player = VideoPlayer(
            loader=lambda: _film_bytes(film),
            filename=film.name,
            ratio=self.story.aspect_ratio,
            autoload=False,  # a film may be large: its bytes travel at the first ▶ or Download MP4
            layout=widgets.Layout(width=f"{width}px", max_width="100%"),
        )
        caption = widgets.HTML(
            f'<div class="kw-hint">The exported film ({esc(film.name)}, written on the kernel\'s machine): '
            "play it here, or save it to your computer with Download MP4.</div>"
        )
        old, self.exported_player = self.exported_player, player
        self._exported.children = (caption, player)
        self._exported.layout.display = None
        if old is not None:
            old.close()

    def _on_export_form(self, _: object = None) -> None:
        if not self.export_status.startswith("Exporting"):
            self.export_status = ""

    def _show_export_status(self, _: object = None) -> None:
        text = self.export_status
        kind = "error" if text.startswith("Export failed") else "ok" if text.startswith("Film saved") else "hint"
        self._export_message.value = message_html(text, kind)

    def _on_pick(self, shot_index: int, change: dict[str, Any]) -> None:
        shot = self.story.shots[shot_index]
        take = change["new"]
        if take < 0 or take == shot.pick_index:
            return  # the view showing the storyboard's own pick: nothing to say
        try:
            self.story.pick(shot_index, take)
        except Exception as error:
            self._panels[shot_index][1].picked = -1 if shot.pick_index is None else shot.pick_index
            self._why.value = message_html(f"Could not pick: {error}")

    # -- drawing -------------------------------------------------------------------------------------
    def _cast_html(self) -> str:
        # The layout is also written inline: the static copy in a saved notebook or the docs has no story.css,
        # and there each picture stood alone on its line at twice its size, the cast a column down the page.
        figures = "".join(
            f'<figure style="margin:0;text-align:center;font-size:11px">'
            f"{_thumb(picture, f'Cast picture {_caption(number, picture)}')}"
            f"<figcaption>{esc(_caption(number, picture))}</figcaption></figure>"
            for number, picture in enumerate(self.story.cast, start=1)
        )
        return f'<div class="kw-cast" style="display:flex;flex-flow:row wrap;gap:8px;margin:6px 0">{figures}</div>'

    def _on_story(self, story: Storyboard) -> None:
        with self._lock:
            self._draw(story)

    def _draw(self, story: Storyboard) -> None:
        shots = list(story.shots)
        takes = sum(shot.take_count for shot in shots)
        if takes != self._estimated[0]:  # shots and takes are only ever added
            self._estimated = (takes, story.estimate_units())
        charged = sum(t.units or 0.0 for shot in shots for t in shot.takes if t is not None)
        words = [shot_words(story, shot) for shot in shots]
        self._draw_strip(shots, words)
        self._draw_shots(shots, words)
        self.film.sources = [
            self._source(self.film, shot.picked, f"Shot {shot.index + 1} · {shorten(shot.prompt, 40)}")
            for shot in shots
        ]
        missing = [shot.index + 1 for shot in shots if shot.picked is None]
        money = f"about {units_words(self._estimated[1])} estimated"
        if charged:
            money += f" · {charge_words(charged, simulated=story.client.is_simulator())}"
        sent = story.batch is not None
        done = sum(1 for kind, _ in words if kind in ("done", "blocked"))
        progress = f"{done} of {len(shots)} shots done" if sent else "nothing sent yet"
        self.estimate = self._estimated[1]
        self.summary = (
            f"{len(shots)} shot{'s' if len(shots) != 1 else ''} · {takes} take{'s' if takes != 1 else ''} · "
            f"{money} · {progress}"
        )
        self._header.value = (
            f'<div><b>Storyboard</b> <span class="kw-mono">{esc(story.id)}</span> · {story.mode} · '
            f'{story.aspect_ratio} · {esc(story.model_name)}</div><div class="kw-hint">{esc(self.summary)}</div>'
        )
        if not shots:
            self.generate_button.disabled, why = True, "Add a shot first: story.add_shot(prompt)."
        elif sent:
            self.generate_button.disabled = True
            self.generate_button.description = "Generating" if done < len(shots) else "Generated"
            why = "Sent. Shots added now are sent at once."
        else:
            self.generate_button.disabled = False
            why = f"Sends {takes} take{'s' if takes != 1 else ''} · about {units_words(self._estimated[1])}"
        self._why.value = f'<span class="kw-hint">{esc(why)}</span>'
        ready = shots and not missing
        self.export_button.disabled = not ready or bool(self._export_thread and self._export_thread.is_alive())
        if not ready and not self.export_status.startswith(("Exporting", "Film saved", "Export failed")):
            wanted = f"shot{'s' if len(missing) != 1 else ''} {', '.join(str(n) for n in missing)}"
            self._export_message.value = message_html(
                f"Export needs a successful take of every shot (still none for {wanted}).", "hint"
            )
        elif not self.export_status:
            self._export_message.value = ""

    def _draw_strip(self, shots: list[Shot], words: list[tuple[str, str]]) -> None:
        cards = []
        for shot, (kind, text) in zip(shots, words, strict=True):
            picked = shot.picked
            video = ""
            url = picked.video_url or "" if picked is not None else ""
            in_page = (
                video_source(url, self.story.client).url is not None
                if self.through_kernel is None
                else not self.through_kernel
            )
            if picked is not None and is_url(url) and in_page:
                # the picked take's opening frame as the card's picture (no script: a paused video)
                video = f'<video src="{esc(picked.video_url)}#t=0.1" preload="metadata" muted playsinline></video>'
            elif picked is not None and is_url(url):
                frame = self._strip_frame(picked)
                alt = f"Shot {shot.index + 1}, take {(shot.pick_index or 0) + 1}"
                video = f'<img alt="{esc(alt)}" src="{frame}">' if frame else ""
            link = ""
            if shot.continue_from_previous:
                link = '<div class="kw-strip-link">↪ continues the previous shot</div>'
            css = {"done": "done", "running": "running", "blocked": "blocked"}.get(kind, "")
            cards.append(
                f'<div class="kw-strip-shot kw-strip-{css}" title="{esc(shot.prompt)}">'
                f"<b>Shot {shot.index + 1}</b> · {shot.duration} s · {shot.take_count} "
                f"take{'s' if shot.take_count != 1 else ''}{link}{video}"
                f'<div class="kw-strip-prompt">{esc(shot.prompt)}</div><div class="kw-hint">{esc(text)}</div></div>'
            )
        html = f'<div class="kw-strip">{"".join(cards)}</div>' if cards else message_html("No shots yet.", "hint")
        if self._strip.value != html:
            self._strip.value = html

    def _strip_frame(self, task: Task) -> str:
        """The picked take's frame for its shot card when the page cannot load the video itself: made by the
        kernel from the storyboard's private copy on a thread of its own, then the strip is drawn again.
        Returns its ``data:`` URL, or "" while it is made (or when the video could not be read)."""
        if task.id not in self._frames:
            self._frames[task.id] = ""
            threading.Thread(
                target=self._make_frame, args=(task,), name=f"kling-{self.story.id}-card", daemon=True
            ).start()
        return self._frames[task.id]

    def _make_frame(self, task: Task) -> None:
        try:
            jpeg = poster_jpeg(self.story.local_video(task).read_bytes(), width=STRIP_FRAME, at_seconds=0.5)
        except (KlingError, OSError):
            return  # the card goes without a picture; the takes below say what became of the video
        if jpeg:
            with self._lock:
                self._frames[task.id] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
                if self.comm is not None:  # still on screen
                    self._draw_strip(list(self.story.shots), [shot_words(self.story, s) for s in self.story.shots])

    def _draw_shots(self, shots: list[Shot], words: list[tuple[str, str]]) -> None:
        width = tile_width(self.story.aspect_ratio)
        added = False
        while len(self._panels) < len(shots):
            index = len(self._panels)
            comparison = take_comparison(pickable=True, width=width)
            comparison.observe(lambda change, i=index: self._on_pick(i, change), names="picked")
            self._panels.append((widgets.HTML(), comparison))
            retake = named(  # one name per shot for a screen reader, not "One more take" three times
                widgets.Button(
                    description="One more take",
                    icon="plus",
                    layout=widgets.Layout(width="auto", margin="0 0 0 12px"),
                ),
                f"One more take of shot {index + 1}, to have more to choose from",
            )
            retake.on_click(lambda _, i=index: self.retake(i))
            self.retake_buttons.append(retake)
            added = True
        for shot, (kind, text), (header, comparison) in zip(shots, words, self._panels, strict=False):
            header.value = self._shot_header(shot, kind, text)
            sources = [
                self._source(comparison, task, f"Take {take + 1}", shot.prompt) for take, task in enumerate(shot.takes)
            ]
            if comparison.sources != sources:
                comparison.sources = sources
            pick = shot.pick_index
            comparison.picked = -1 if pick is None else pick
        if added:
            boxes = []
            for (header, comparison), retake in zip(self._panels, self.retake_buttons, strict=True):
                top = widgets.HBox([header, retake], layout=widgets.Layout(align_items="center"))
                box = widgets.VBox([top, comparison])
                box.add_class("kw-shot")
                boxes.append(box)
            self._shots.children = tuple(boxes)

    def _source(self, player: Any, task: Task | None, label: str, prompt: str = "") -> dict[str, Any]:
        """A tile's source; a video sent through the kernel is read from the storyboard's private copy."""
        source = task_source(task, label, title=prompt, through_kernel=self.through_kernel, client=self.story.client)
        if task is not None and "key" in source:
            player.loaders[source["key"]] = lambda: self.story.local_video(task).read_bytes()
        return source

    def _shot_header(self, shot: Shot, kind: str, text: str) -> str:
        badge = {"done": "succeeded", "running": "processing", "blocked": "failed"}.get(kind, "submitted")
        details = [f"{shot.duration} s", f"{shot.take_count} take{'s' if shot.take_count != 1 else ''}"]
        if shot.negative_prompt:
            details.append(f"avoid: {shorten(shot.negative_prompt, 40)}")
        frame = ""
        if shot.continued_from is not None:
            from_shot, from_take = shot.continued_from
            details.append(f"continues from the last frame of shot {from_shot + 1}, take {from_take + 1}")
            if shot.frame is not None:
                data = base64.b64encode(shot.frame.thumbnail(128)).decode()
                frame = f'<img class="kw-shot-frame" alt="continuity frame" src="data:image/jpeg;base64,{data}">'
        elif shot.continue_from_previous:
            details.append("continues from the last frame of the previous shot's picked take")
        note = message_html(shot.note or "", "warning")
        return (
            f"<div><b>Shot {shot.index + 1}</b> · {esc(shorten(shot.prompt, 120))} "
            f'<span class="kw-badge kw-badge-{badge}">{esc(text)}</span></div>'
            f'<div class="kw-hint">{esc(" · ".join(details))}{frame}</div>{note}'
        )


def _film_bytes(film: Path) -> bytes:
    """The exported film's bytes for the page, or why not (``VideoUnavailable``, shown in the player)."""
    try:
        size = film.stat().st_size
    except OSError:
        raise VideoUnavailable(f"the film is no longer at {film} (moved or deleted on the kernel's machine)") from None
    if size > MAX_PLAYER_BYTES:
        raise VideoUnavailable(
            f"the film is {size / 1e6:.0f} MB, too large to send to this page; it is on the kernel's machine at {film}"
        )
    return film.read_bytes()
