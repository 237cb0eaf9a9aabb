"""Storyboards: a cast of reference pictures, shots in order, takes to choose from, one film at the end.

Multi-image-to-video exists for keeping the same characters across shots. A :class:`Storyboard` holds a
cast (1–4 pictures) shared by every shot; each :class:`Shot` asks for one or more takes of the same
prompt; a pick says which take the film uses (by default the first that succeeded). A shot may continue
from the previous one: it is sent once that shot has a picked take, with the cast plus the last frame of
that take — decoded from the video itself — as a reference picture.

Everything goes through a :class:`~kling_widgets.batch.Batch` (the account's limit, the journal, resume),
and every step — the cast, each shot, each take, each pick — is journaled, so that
:meth:`Storyboard.reopen` brings a storyboard back after a restart, sending nothing already sent.
The story's private folder beside the journal keeps its cast and its downloaded takes (the service
deletes videos after 30 days).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._listeners import Listeners
from .batch import Batch
from .batch_item import BatchItem
from .client import KlingClient, new_external_task_id
from .errors import BatchTimeoutError, KlingError, Problem, ValidationError
from .film import Progress, join, last_frame
from .history import TaskHistory
from .images import MIN_SIDE, PreparedImage, prepare_image
from .pricing import estimate_units
from .private_files import make_private_folder
from .request import MAX_IMAGES, ImageItem, VideoRequest, text_problems
from .shot import MAX_TAKES, Shot, takes_words
from .task import Task, TaskStatus

if TYPE_CHECKING:
    from PIL import Image

    from .history import HistoryEntry

log = logging.getLogger("kling_widgets")

Listener = Callable[["Storyboard"], None]


def _pictures(images: Sequence[ImageItem], field_name: str, **settings: Any) -> tuple[VideoRequest, list[Problem]]:
    """A request holding reference pictures (prepared once, here), and their problems named after
    ``field_name`` (``cast`` or ``images``), with those of ``settings``. One picture alone is taken
    as a list of one."""
    probe = VideoRequest(images, "pictures", **settings)
    problems = [
        Problem(p.field.replace("images", field_name, 1), p.message, p.limit, p.value)
        if p.field.startswith("images")
        else p
        for p in probe.problems()
        if p.field.startswith("images") or p.field in settings
    ]
    return probe, problems


class Storyboard:
    """A cast, shots in order, takes of each, picks, continuity, and the film they add up to.

    ``Storyboard(client, cast, mode="std", aspect_ratio="16:9", model_name="kling-v1-6", history=None)``:
    ``cast`` is 1–4 reference pictures (anything :class:`VideoRequest` takes) shared by every shot.
    ``history`` (else the client's, else the default journal) keeps every step so that
    :meth:`reopen` can bring the storyboard back after a restart.

    Parameters
    ----------
    client : KlingClient
        Sends the takes and watches them.
    cast : sequence of image sources
        1-4 reference pictures every shot carries (the same characters and places throughout).
    mode : {"std", "pro"}
        The mode of every take.
    aspect_ratio : {"16:9", "9:16", "1:1"}
        The frame of every take, and so of the film.
    model_name : str
        The model of every take.
    history : TaskHistory, optional
        The journal of every step (default: the client's, else the default journal).
    poll_interval : float, optional
        Seconds between polls of a take (default: the watcher's pacing).

    Raises
    ------
    ValidationError
        A cast picture or a setting is refused, each problem named; nothing is sent.
    """

    def __init__(
        self,
        client: KlingClient,
        cast: Sequence[ImageItem],
        *,
        mode: str = "std",
        aspect_ratio: str = "16:9",
        model_name: str = "kling-v1-6",
        history: TaskHistory | None = None,
        poll_interval: float | None = None,
    ) -> None:
        pictures, problems = _pictures(cast, "cast", model_name=model_name, mode=mode, aspect_ratio=aspect_ratio)
        if problems:
            raise ValidationError(problems)
        self._setup(
            client,
            pictures.prepared_images(),
            mode=mode,
            aspect_ratio=aspect_ratio,
            model_name=model_name,
            history=history if history is not None else client.history or TaskHistory(),
            story_id=f"story-{uuid.uuid4().hex[:12]}",
            poll_interval=poll_interval,
        )
        described = self.history.keep_pictures(self.cast, self.folder / "cast")
        self.history.record_story(
            self.id,
            "created",
            cast=described,
            settings={"mode": mode, "aspect_ratio": aspect_ratio, "model_name": model_name},
            provider=client.provider,
            base_url=client.base_url,
        )

    def _setup(
        self,
        client: KlingClient,
        cast: list[PreparedImage | str],
        *,
        mode: str,
        aspect_ratio: str,
        model_name: str,
        history: TaskHistory,
        story_id: str,
        poll_interval: float | None,
    ) -> None:
        self.client = client
        self.cast: list[PreparedImage | str] = cast  #: the reference pictures, as sent
        self.mode, self.aspect_ratio, self.model_name = mode, aspect_ratio, model_name
        self.history = history
        self.id = story_id
        self.poll_interval = poll_interval
        self.folder: Path = history.story_folder(story_id)  #: private: the cast and the downloaded takes
        make_private_folder(self.folder.parent, ours=True)
        make_private_folder(self.folder, ours=True)
        self.shots: list[Shot] = []
        self.batch: Batch | None = None  #: the queue its takes go through, once generating
        self._max_concurrent: int | None = None
        self._generating = False
        self._cond = threading.Condition(threading.RLock())
        self._listeners: Listeners[Storyboard] = Listeners("a storyboard listener")
        self._video_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"Storyboard({self.id!r}, {len(self.cast)} in the cast, {len(self.shots)} shot(s))"

    # a storyboard reads as the sequence of its shots
    def __len__(self) -> int:
        return len(self.shots)

    def __bool__(self) -> bool:  # a storyboard with no shot yet is still a storyboard
        return True

    def __iter__(self) -> Iterator[Shot]:
        return iter(list(self.shots))

    def __getitem__(self, index: int) -> Shot:
        return self.shots[index]

    # -- building it -----------------------------------------------------------------------------------
    def add_shot(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        duration: int = 5,
        takes: int = 1,
        images: Sequence[ImageItem] | None = None,
        continue_from_previous: bool = False,
    ) -> Shot:
        """Add a shot: ``takes`` videos of the same prompt to choose from. ``images``: pictures this shot
        adds after the cast (a place, a prop; with the cast, 4 at most). ``continue_from_previous``: send
        it once the previous shot has a picked take, with the last frame of that take as one more picture
        (a fourth picture is replaced by it: the service takes four at most). Refused with every problem
        named, before anything is sent. A shot added while the storyboard generates is sent at once.

        Parameters
        ----------
        prompt : str
            What happens in the shot.
        negative_prompt : str, optional
            What to keep out of it.
        duration : {5, 10}
            Seconds of each take.
        takes : int
            How many takes to choose from.
        images : sequence of image sources, optional
            Pictures this shot adds after the cast.
        continue_from_previous : bool
            Carry the last frame of the previous shot's picked take.

        Returns
        -------
        Shot
            The new shot (its ``takes`` fill in as they are created).

        Raises
        ------
        ValidationError
            Every problem with the shot; nothing is sent.
        """
        problems = text_problems("prompt", prompt, required=True)
        problems += text_problems("negative_prompt", negative_prompt, required=False)
        probe = VideoRequest(self.cast, "shot", duration=duration)
        problems += [p for p in probe.problems() if p.field == "duration"]
        if isinstance(takes, bool) or not isinstance(takes, int) or not 1 <= takes <= MAX_TAKES:
            problems.append(Problem("takes", f"give 1 to {MAX_TAKES} takes", (1, MAX_TAKES), takes))
        own_pictures = None
        if images is not None:
            own_pictures, own_problems = _pictures(images, "images")
            problems += own_problems
            room = MAX_IMAGES - len(self.cast)
            if not own_problems and len(own_pictures.images) > room:
                problems.append(
                    Problem(
                        "images",
                        f"the cast has {len(self.cast)} picture(s) and the service takes {MAX_IMAGES}: a shot may "
                        f"add {room} more at most (got {len(own_pictures.images)})",
                        room,
                        len(own_pictures.images),
                    )
                )
        if continue_from_previous and not self.shots:
            problems.append(
                Problem("continue_from_previous", "the first shot has no previous shot to continue from", None, True)
            )
        if problems:
            raise ValidationError(problems)
        own = tuple(own_pictures.prepared_images()) if own_pictures is not None else None
        with self._cond:
            shot = Shot(
                len(self.shots),
                prompt,
                negative_prompt=negative_prompt or None,
                duration=int(duration),
                take_count=takes,
                images=own,
                continue_from_previous=continue_from_previous,
                external_ids=[new_external_task_id() for _ in range(takes)],
            )
            self.shots.append(shot)
        record = shot.settings()
        if own is not None:
            record["images"] = self.history.keep_pictures(list(own), self.folder / "cast")
        self.history.record_story(self.id, "shot", shot=record)
        if self._generating:
            self._advance()
        self._tell()
        return shot

    def requests(self, shot: Shot, images: Sequence[PreparedImage | str] | None = None) -> list[VideoRequest]:
        """The creates a shot's takes send: ``images`` (else :meth:`pictures`), its prompt and duration,
        the storyboard's settings.

        Parameters
        ----------
        shot : Shot
            One of :attr:`shots`.
        images : sequence of PreparedImage or str, optional
            The pictures to send (default: :meth:`pictures`).

        Returns
        -------
        list of VideoRequest
            One per take.
        """
        pictures = list(images) if images is not None else self.pictures(shot)
        return [
            VideoRequest(
                pictures,
                shot.prompt,
                negative_prompt=shot.negative_prompt,
                model_name=self.model_name,
                mode=self.mode,
                duration=shot.duration,
                aspect_ratio=self.aspect_ratio,
                external_task_id=ext,
            )
            for ext in shot.external_ids
        ]

    def estimate_units(self) -> float:
        """What every take of every shot will cost in the service's units, before sending.

        Returns
        -------
        float
            The estimate (see :func:`estimate_units`).
        """
        return estimate_units(request for shot in self.shots for request in self.requests(shot))

    # -- listeners -------------------------------------------------------------------------------------
    def on_update(self, callback: Listener, *, remove: bool = False) -> None:
        """``callback(story)`` after every change (a create, a take's progress, a pick, a continuity frame).
        It runs on a background thread: set widget traits there, never print.

        Parameters
        ----------
        callback : callable
            Called with the storyboard after each change.
        remove : bool
            Unregister ``callback`` instead.
        """
        self._listeners.register(callback, remove)

    def _tell(self) -> None:
        with self._cond:
            self._cond.notify_all()
        self._listeners(self)

    # -- sending -------------------------------------------------------------------------------------
    def generate(self, max_concurrent: int | None = None) -> Storyboard:
        """Send every shot's takes through one queue under the account's limit (``max_concurrent``, or
        learned): shots that continue are sent once the previous shot has its pick. Returns at once;
        calling it again sends only what was never sent (shots added since).

        Parameters
        ----------
        max_concurrent : int, optional
            The most takes running at once (None: the account's limit, learned).

        Returns
        -------
        Storyboard
            ``self``, at once.
        """
        with self._cond:
            if self.batch is None:
                self._max_concurrent = max_concurrent
                self.batch = self._new_batch(max_concurrent)
            first = not self._generating
            self._generating = True
        if first:
            self.history.record_story(self.id, "generate", max_concurrent=max_concurrent)
        self._advance()
        return self

    def _new_batch(self, max_concurrent: int | None) -> Batch:
        batch = Batch(
            self.client,
            [],
            max_concurrent=max_concurrent,
            history=self.history,
            poll_interval=self.poll_interval,
            name=self.id,
        ).start()
        batch.on_update(self._on_batch)
        return batch

    def _on_batch(self, batch: Batch) -> None:
        self._advance()

    def _advance(self) -> None:
        """Move every shot on as far as it can go: send the shots that may go, settle what ended, hold a
        continuing shot until the previous one has its pick (or block it when that cannot come)."""
        to_prepare: list[Shot] = []
        to_send: list[Shot] = []
        with self._cond:
            if not self._generating:
                return
            for shot in self.shots:
                if shot.state in ("sent", "done"):
                    if shot.state == "sent" and shot.settled:
                        shot.state = "done"
                    continue
                if shot.state in ("preparing", "blocked"):
                    continue
                if not shot.continue_from_previous:
                    shot.state = "sent"
                    to_send.append(shot)
                    continue
                previous = self.shots[shot.index - 1]
                if previous.state == "blocked":
                    shot.state, shot.problem = "blocked", f"{previous.label} cannot be made: {previous.problem}"
                elif previous.picked is not None and (previous.picked_index is not None or previous.settled):
                    shot.state = "preparing"
                    to_prepare.append(shot)
                elif previous.settled:
                    shot.state = "blocked"
                    shot.problem = f"{previous.label} has no successful take to continue from"
                else:
                    shot.state = "waiting"
        for shot in to_send:
            self._send(shot, None)
        for shot in to_prepare:
            threading.Thread(target=self._continue, args=(shot,), name=f"kling-{self.id}-frame", daemon=True).start()
        if to_send:  # their takes may have ended already: look again
            self._advance()
        else:
            self._tell()

    def pictures(self, shot: Shot, frame: PreparedImage | None = None) -> list[PreparedImage | str]:
        """What a shot's takes carry: the cast in order, the shot's own pictures, then the continuity frame
        (in the fourth place when there are already four: the service takes four at most).

        Parameters
        ----------
        shot : Shot
            One of :attr:`shots`.
        frame : PreparedImage, optional
            The continuity frame, when the shot continues.

        Returns
        -------
        list of PreparedImage or str
            The pictures, in the order sent.
        """
        base = [*self.cast, *(shot.images or ())]
        return base if frame is None else [*base[: MAX_IMAGES - 1], frame]

    def _send(self, shot: Shot, images: list[PreparedImage | str] | None, takes: Sequence[int] | None = None) -> None:
        """Give the queue the shot's takes (all, or those numbered in ``takes``), journaled with their place."""
        assert self.batch is not None
        chosen = list(range(shot.take_count)) if takes is None else list(takes)
        requests = self.requests(shot, images)
        items = self.batch.add(
            [requests[take] for take in chosen],
            tags=[{"story": self.id, "shot": shot.index, "take": take} for take in chosen],
        )
        with self._cond:
            kept = [item for item in shot._items if int(item.tags.get("take", -1)) not in chosen]
            shot._items = sorted(kept + items, key=lambda item: int(item.tags.get("take", 0)))

    def _continue(self, shot: Shot) -> None:
        """Read the last frame of the previous shot's picked take, then send the shot with it."""
        previous = self.shots[shot.index - 1]
        take = previous.pick_index
        task = previous.picked
        try:
            assert task is not None and take is not None
            frame = self.continuity_frame(task, f"last frame of {previous.label} take {take + 1}")
            pictures = self.pictures(shot, frame)
            note = None
            base = [*self.cast, *(shot.images or ())]
            if len(base) >= MAX_IMAGES:
                replaced = base[MAX_IMAGES - 1]
                name = replaced if isinstance(replaced, str) else replaced.source
                note = (
                    f"the last frame of {previous.label} (take {take + 1}) takes the place of picture "
                    f"{MAX_IMAGES} ({name}): the service accepts {MAX_IMAGES} pictures at most"
                )
            described = self.history.keep_pictures([frame], self.folder / "cast")
            self.history.record_story(
                self.id, "continuity", shot=shot.index, from_shot=previous.index, from_take=take, frame=described[0]
            )
            with self._cond:
                shot.frame, shot.note, shot.continued_from = frame, note, (previous.index, take)
                shot.state = "sent"
            self._send(shot, pictures)
        except Exception as error:
            log.warning("%s: %s could not continue: %s", self.id, shot.label, error)
            with self._cond:
                shot.state = "blocked"
                shot.problem = f"the last frame of {previous.label} could not be read: {error}"
        self._advance()

    def continuity_frame(self, task: Task, source: str) -> PreparedImage:
        """The last frame of a take's video, as a reference picture (downloaded privately first; a frame
        under the service's 300 px is enlarged to it).

        Parameters
        ----------
        task : Task
            A succeeded take.
        source : str
            How the picture is named in messages and the journal.

        Returns
        -------
        PreparedImage
            The frame, ready to send.

        Raises
        ------
        FilmError
            The video cannot be read.
        DownloadError
            The video cannot be downloaded.
        """
        picture: Image.Image = last_frame(self.local_video(task))
        if min(picture.size) < MIN_SIDE:
            from PIL import Image

            scale = MIN_SIDE / min(picture.size)
            size = (round(picture.width * scale), round(picture.height * scale))
            picture = picture.resize(size, Image.Resampling.LANCZOS)
        return replace(prepare_image(picture), source=source)

    # -- waiting, picking ----------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once every shot has settled: its takes ended, or it cannot be sent."""
        with self._cond:
            return all(
                shot.state in ("done", "blocked") or (shot.state == "sent" and shot.settled) for shot in self.shots
            )

    def wait(self, timeout: float | None = None) -> Storyboard:
        """Block until every shot has settled (sending first if :meth:`generate` was not called).

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait (None: until every shot has settled).

        Returns
        -------
        Storyboard
            ``self``.

        Raises
        ------
        BatchTimeoutError
            ``timeout`` passed first (the storyboard goes on).
        """
        if not self._generating:
            self.generate()
        started = time.monotonic()
        with self._cond:
            if not self._cond.wait_for(lambda: self.done, timeout):
                waiting = sum(1 for shot in self.shots if not shot.settled)
                raise BatchTimeoutError(waiting, time.monotonic() - started)
        self._advance()
        return self

    def pick(self, shot_index: int | Shot, take_index: int | Task) -> Shot:
        """Choose the take the film uses for a shot (it must have succeeded): by their indexes from 0 (or
        the shot and the task themselves). A shot that continues from this one and is not sent yet will
        carry this take's last frame.

        Parameters
        ----------
        shot_index : int or Shot
            The shot, by its index from 0 (or the shot itself).
        take_index : int or Task
            The take, by its index from 0 (or the task itself).

        Returns
        -------
        Shot
            The shot, with its pick.

        Raises
        ------
        ValidationError
            There is no such take.
        KlingError
            The take has not succeeded.
        """
        shot = self._shot(shot_index)
        if isinstance(take_index, Task):
            ids = [t.id if t is not None else None for t in shot.takes]
            take_index = ids.index(take_index.id) if take_index.id in ids else -1
        if isinstance(take_index, bool) or not isinstance(take_index, int) or not 0 <= take_index < shot.take_count:
            raise ValidationError(
                Problem("take_index", f"{shot.label} has {shot.take_count} take(s): 0 to {shot.take_count - 1}",
                        (0, shot.take_count - 1), take_index)
            )  # fmt: skip
        task = shot.takes[take_index]
        if task is None or task.status is not TaskStatus.SUCCEEDED:
            where = "not sent yet" if task is None else task.status.value
            raise KlingError(f"take {take_index + 1} of {shot.label} cannot be picked: it has not succeeded ({where})")
        with self._cond:
            shot.picked_index = take_index
            following = self.shots[shot.index + 1] if shot.index + 1 < len(self.shots) else None
            if following is not None and following.continued_from not in (None, (shot.index, take_index)):
                used = following.continued_from[1] + 1 if following.continued_from else 0
                following.note = (
                    f"{following.note + '; ' if following.note else ''}it was sent with the last frame of "
                    f"{shot.label} take {used}, before take {take_index + 1} was picked"
                )
        self.history.record_story(self.id, "pick", shot=shot.index, take=take_index)
        self._advance()
        return shot

    def retake(self, shot_index: int, takes: int = 1) -> Shot:
        """Ask for ``takes`` more takes of a shot (when none succeeded, or to have more to choose from):
        sent at once with the shot's pictures if the shot was sent, else with it. A continuing shot that
        was blocked for want of a successful take here goes on once one succeeds.

        Parameters
        ----------
        shot_index : int
            The shot, by its index from 0.
        takes : int
            How many more takes.

        Returns
        -------
        Shot
            The shot, with its new takes.

        Raises
        ------
        ValidationError
            ``takes`` is out of range.
        KlingError
            The shot cannot be made yet (the shot it continues has no successful take).
        """
        shot = self._shot(shot_index)
        if isinstance(takes, bool) or not isinstance(takes, int) or not 1 <= takes <= MAX_TAKES:
            raise ValidationError(Problem("takes", f"give 1 to {MAX_TAKES} takes", (1, MAX_TAKES), takes))
        new_ids = [new_external_task_id() for _ in range(takes)]
        with self._cond:
            if shot.state == "blocked":  # a continuing shot with no frame: try again once there is a pick
                previous = self.shots[shot.index - 1]
                if previous.picked is None:
                    raise KlingError(f"{shot.label} cannot be made yet: {shot.problem} (retake {previous.label} first)")
                shot.state, shot.problem = "draft", None
            first = shot.take_count
            shot.external_ids += new_ids
            shot.take_count += takes
            sent = shot.state in ("sent", "done")
            if sent:
                shot.state = "sent"
            for later in self.shots[shot.index + 1 :]:  # unblock what waited on this shot's success
                if later.state == "blocked" and later.continue_from_previous and later.frame is None:
                    later.state, later.problem = "draft", None
                else:
                    break
        self.history.record_story(self.id, "retake", shot=shot.index, external_ids=new_ids)
        if sent:
            self._send(shot, self.pictures(shot, shot.frame), range(first, shot.take_count))
        self._advance()
        return shot

    def _shot(self, shot_index: int | Shot) -> Shot:
        if isinstance(shot_index, Shot) and shot_index in self.shots:
            return shot_index
        if isinstance(shot_index, bool) or not isinstance(shot_index, int) or not 0 <= shot_index < len(self.shots):
            raise ValidationError(
                Problem("shot_index", f"the storyboard has {len(self.shots)} shot(s)", len(self.shots), shot_index)
            )
        return self.shots[shot_index]

    # -- the film --------------------------------------------------------------------------------------
    def local_video(self, task: Task) -> Path:
        """The take's video in the story's private folder, downloaded once (the service deletes it after
        30 days).

        Parameters
        ----------
        task : Task
            A succeeded take.

        Returns
        -------
        pathlib.Path
            The video file.

        Raises
        ------
        DownloadError
            The video cannot be downloaded.
        """
        name = re.sub(r"[^\w.-]", "_", task.id) + ".mp4"
        folder = self.folder / "videos"
        target = folder / name
        with self._cond:
            lock = self._video_locks.setdefault(name, threading.Lock())
        with lock:
            if not target.exists():
                make_private_folder(folder, ours=True)
                self.client.download(task, target)
                if task.external_task_id and self.history is not self.client.history:
                    self.history.record_download(task.external_task_id, target.resolve())
        return target

    def film_path(self, path: str | Path) -> Path:
        """Where ``export(path)`` writes the film.

        Parameters
        ----------
        path : str or Path
            A file, or a folder (the film is then ``<story id>.mp4`` in it); ``~`` is expanded.

        Returns
        -------
        Path
            The file, existing or not.
        """
        target = Path(path).expanduser()
        return target / f"{self.id}.mp4" if target.is_dir() else target

    def export(self, path: str | Path, *, on_progress: Progress | None = None, overwrite: bool = False) -> Path:
        """Join the picked takes, in shot order, into one MP4 at ``path`` (a file, or a folder for
        ``<story id>.mp4``): H.264, yuv420p, one size and frame rate. ``on_progress(fraction, what)``
        hears how it goes. Refused while a shot has no successful take; an existing file is replaced
        only with ``overwrite=True``.

        Parameters
        ----------
        path : str or Path
            The film's file, or a folder.
        on_progress : callable, optional
            ``on_progress(fraction, what)``, from 0.0 to 1.0.
        overwrite : bool
            Whether an existing file may be replaced.

        Returns
        -------
        pathlib.Path
            The film.

        Raises
        ------
        KlingError
            A shot has no successful take, or the file exists (without ``overwrite``).
        FilmError
            A take cannot be read or the film cannot be written (no partial film is left).
        """
        if not self.shots:
            raise KlingError("the storyboard has no shots: add_shot() first")
        missing = [shot for shot in self.shots if shot.picked is None]
        if missing:
            words = "; ".join(f"{s.label} ({takes_words(s)})" for s in missing)
            raise KlingError(f"the film needs a successful take of every shot; not yet: {words}")
        target = self.film_path(path)
        if target.exists() and not overwrite:
            raise KlingError(f"{target} already exists: pass overwrite=True to replace it, or another path")
        clips = []
        for number, shot in enumerate(self.shots, start=1):
            if on_progress is not None:
                on_progress(0.3 * (number - 1) / len(self.shots), f"downloading {shot.label}")
            picked = shot.picked
            assert picked is not None
            clips.append(self.local_video(picked))
        film = join(clips, target, on_progress=on_progress, progress_range=(0.3, 1.0))
        self.history.record_story(
            self.id, "export", path=str(film.resolve()), takes=[shot.pick_index for shot in self.shots]
        )
        return film

    # -- after a restart -------------------------------------------------------------------------------
    @classmethod
    def reopen(
        cls,
        client: KlingClient,
        history: TaskHistory,
        story_id: str,
        *,
        max_concurrent: int | None = None,
        poll_interval: float | None = None,
    ) -> Storyboard:
        """The storyboard as the journal left it: its cast, shots, takes and picks. Takes that ended stay
        as they ended, created ones are watched, queued ones are sent, and a continuing shot not sent yet
        goes once its previous shot has its pick — nothing already sent is sent again.

        Parameters
        ----------
        client : KlingClient
            The client for the storyboard's service.
        history : TaskHistory
            The journal it was kept in.
        story_id : str
            The storyboard's :attr:`id`.
        max_concurrent : int, optional
            As for :meth:`generate`.
        poll_interval : float, optional
            As for :class:`Storyboard`.

        Returns
        -------
        Storyboard
            The storyboard, generating again if it was.

        Raises
        ------
        KlingError
            The journal has no such storyboard, or its cast pictures are gone.
        """
        records = history.story_records(story_id)
        created = next((r for r in records if r.get("kind") == "created"), None)
        if created is None:
            known = ", ".join(history.stories()[:5]) or "none"
            raise KlingError(f"no storyboard {story_id!r} in {history.path} (storyboards there: {known})")
        story = cls.__new__(cls)
        settings = created.get("settings") or {}
        folder = history.story_folder(story_id) / "cast"
        try:
            cast = history.kept_images(list(created.get("cast") or []), folder)
        except (OSError, KeyError, ValueError) as error:
            raise KlingError(f"storyboard {story_id}: its cast pictures are gone ({error})") from None
        story._setup(
            client,
            cast,
            mode=str(settings.get("mode", "std")),
            aspect_ratio=str(settings.get("aspect_ratio", "16:9")),
            model_name=str(settings.get("model_name", "kling-v1-6")),
            history=history,
            story_id=story_id,
            poll_interval=poll_interval,
        )
        generating = False
        for record in records:
            kind = record.get("kind")
            if kind == "shot":
                story._restore_shot(dict(record.get("shot") or {}), folder)
            elif kind == "pick" and isinstance(record.get("shot"), int) and record["shot"] < len(story.shots):
                story.shots[record["shot"]].picked_index = record.get("take")
            elif kind == "continuity" and isinstance(record.get("shot"), int) and record["shot"] < len(story.shots):
                shot = story.shots[record["shot"]]
                shot.continued_from = (int(record.get("from_shot", 0)), int(record.get("from_take", 0)))
                try:
                    kept = history.kept_images([record["frame"]], folder)[0]
                    shot.frame = kept if isinstance(kept, PreparedImage) else None
                except (OSError, KeyError, ValueError):
                    shot.frame = None
            elif kind == "retake" and isinstance(record.get("shot"), int) and record["shot"] < len(story.shots):
                shot = story.shots[record["shot"]]
                shot.external_ids += list(record.get("external_ids") or [])
                shot.take_count = len(shot.external_ids)
            elif kind == "generate":
                generating = True
                story._max_concurrent = record.get("max_concurrent")
        entries = [e for e in history.entries(client.service()) if e.story == story_id and e.shot is not None]
        entries.sort(key=lambda e: (e.shot or 0, e.take or 0))
        if generating or entries:
            story._generating = True
            story.batch = Batch.reopen(
                client,
                history,
                entries,
                name=story_id,
                max_concurrent=max_concurrent if max_concurrent is not None else story._max_concurrent,
                poll_interval=poll_interval,
            )
            story._attach(story.batch, entries)
            story.batch.on_update(story._on_batch)
            story._advance()
        return story

    def _restore_shot(self, record: dict[str, Any], folder: Path) -> None:
        own = None
        if record.get("images"):
            try:
                own = tuple(self.history.kept_images(list(record["images"]), folder))
            except (OSError, KeyError, ValueError):
                own = None
        self.shots.append(
            Shot(
                len(self.shots),
                str(record.get("prompt") or ""),
                negative_prompt=record.get("negative_prompt"),
                duration=int(record.get("duration") or 5),
                take_count=int(record.get("takes") or 1),
                images=own,
                continue_from_previous=bool(record.get("continue_from_previous")),
                external_ids=list(record.get("external_ids") or []),
            )
        )

    def _attach(self, batch: Batch, entries: list[HistoryEntry]) -> None:
        """Give each shot the batch items of its takes (those the journal knows were queued)."""
        by_shot: dict[int, list[BatchItem]] = {}
        for item in batch.items:
            shot = item.tags.get("shot")
            if isinstance(shot, int):
                by_shot.setdefault(shot, []).append(item)
        for shot in self.shots:
            items = sorted(by_shot.get(shot.index, []), key=lambda i: int(i.tags.get("take", 0)))
            if not items:
                continue
            shot.state = "sent"
            known = {item.external_task_id for item in items}
            missing = [take for take, ext in enumerate(shot.external_ids) if ext not in known]
            shot._items = items
            if missing and not (shot.continue_from_previous and shot.frame is None):
                # the kernel stopped while the shot's takes were being queued: queue the rest now
                self._send(shot, self.pictures(shot, shot.frame), missing)
