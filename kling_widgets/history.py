"""TaskHistory: an append-only JSON-lines journal of every submission, so no created task is lost.

A create is written here *before* its first byte is sent, under its ``external_task_id``; every later
answer (task id, status, video URL, local file) is appended as another line. Reading folds the lines
into one record per submission. Two kernels may write at once (a file lock), and a torn last line —
a crash mid-write — is skipped. No key and no image bytes are ever written: images are kept as a
fingerprint, their size and their source name.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._home import data_dir
from .byte_store import ByteStore
from .images import DEFAULT_MAX_SIDE, PreparedImage
from .private_files import PRIVATE_FILE, make_private, make_private_folder, open_private
from .request import VideoRequest
from .task import Task, TaskStatus

log = logging.getLogger("kling_widgets")
UNKNOWN = "unknown"  # a create whose outcome nobody knows: it may exist
QUEUED = "queued"  # an intention journaled but not sent yet (its pictures wait in the spool)
CANCELLED = "cancelled"  # a queued intention that will never be sent
SENDING = "sending"  # journaled just before its create went out: sent or not, nobody knows yet
#: The service of every built-in simulator, whatever its port and however often it restarted: its tasks
#: are simulated (nothing is billed), and one simulator's past is every later simulator's past.
SIMULATOR = "simulator"


@dataclass(frozen=True)
class Service:
    """Who an entry of the journal belongs to, so that one data folder serves several services apart.

    ``name`` is :data:`SIMULATOR` for the built-in simulator (proven by the client, never guessed from
    the address), else the account: provider, address and a fingerprint of the key (``KlingClient.account``,
    never the key). ``provider`` and ``base_url`` are where the client sends."""

    name: str
    provider: str
    base_url: str

    @property
    def simulated(self) -> bool:
        """True for the built-in simulator: nothing it runs is billed."""
        return self.name == SIMULATOR

    def owns(self, entry: HistoryEntry) -> bool:
        """Whether ``entry`` belongs to this service. An entry journaled before entries named their
        service is judged by the provider and address it was sent to (the rule resumes always used; the
        key it went with was never written, so it goes with every key at that address).

        Parameters
        ----------
        entry : HistoryEntry
            An entry of the journal.

        Returns
        -------
        bool
            True when it is this service's.
        """
        if entry.service is not None:
            return entry.service == self.name
        return entry.base_url in (None, self.base_url) and entry.provider in (None, self.provider)

    def here(self, entry: HistoryEntry) -> bool:
        """Whether this client can follow ``entry``'s task: it was sent to this very address. A task of
        another simulator (an earlier run, another port) is known to that simulator alone.

        Parameters
        ----------
        entry : HistoryEntry
            An entry of the journal.

        Returns
        -------
        bool
            True when it is this service's and was sent here.
        """
        return self.owns(entry) and entry.base_url in (None, self.base_url) and entry.provider in (None, self.provider)


@dataclass
class HistoryEntry:
    """Everything known of one submission, folded from its journal lines."""

    external_task_id: str
    task_id: str | None = None
    status: str = "sending"
    raw_status: str | None = None
    progress: float | None = None
    video_url: str | None = None
    video_duration: float | None = None
    error: str | None = None
    local_file: str | None = None
    provider: str | None = None
    base_url: str | None = None
    #: the service it belongs to (:class:`Service` ``.name``); None in entries journaled before it was kept
    service: str | None = None
    prompt: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    submitted_at: float | None = None
    updated_at: float | None = None
    units: float | None = None
    #: the service's own times of the task (Unix seconds), where its answers give them
    task_created_at: float | None = None
    task_updated_at: float | None = None
    done_at: float | None = None  # when the journal first heard that it ended (its own clock)
    batch: str | None = None  # the batch it belongs to, and its place there
    index: int | None = None
    group: str | None = None  # within a batch, the requests sent together (one click of the bundle)
    #: what the submission belongs to beyond its batch, e.g. a storyboard's ``{"story", "shot", "take"}``
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def story(self) -> str | None:
        """The storyboard this clip was made for (None for a loose clip)."""
        value = self.tags.get("story")
        return value if isinstance(value, str) else None

    @property
    def shot(self) -> int | None:
        """Its shot in the storyboard, counted from 0."""
        value = self.tags.get("shot")
        return value if isinstance(value, int) else None

    @property
    def take(self) -> int | None:
        """Its take of that shot, counted from 0."""
        value = self.tags.get("take")
        return value if isinstance(value, int) else None

    @property
    def story_label(self) -> str | None:
        """'Storyboard · shot 2 · take 1' for a storyboard's clip (counted from 1, for people), else None."""
        if self.story is None:
            return None
        parts = ["Storyboard"]
        if self.shot is not None:
            parts.append(f"shot {self.shot + 1}")
        if self.take is not None:
            parts.append(f"take {self.take + 1}")
        return " · ".join(parts)

    @property
    def done(self) -> bool:
        """True once the task succeeded or failed: it will not change again."""
        return self.status in (TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value)

    @property
    def unfinished(self) -> bool:
        """True while it may still be running, its outcome is unknown, or it waits to be sent."""
        return not self.done and self.status not in ("rejected", CANCELLED)

    @property
    def simulated(self) -> bool:
        """True for a task of the built-in simulator (as the client proved when it was sent)."""
        return self.service == SIMULATOR

    def to_task(self) -> Task | None:
        """The last known state as a ``Task`` (None before the service gave it an id). Its times are the
        service's own where its answers gave them (so it reads as long as the live task did), else the
        journal's: sent, and first heard to have ended."""
        if not self.task_id:
            return None
        try:
            status = TaskStatus(self.status)
        except ValueError:
            status = TaskStatus.SUBMITTED

        def when(stamp: float | None) -> datetime | None:
            return datetime.fromtimestamp(stamp, tz=timezone.utc) if stamp else None

        return Task(
            id=self.task_id,
            status=status,
            raw_status=self.raw_status,
            progress=self.progress,
            video_url=self.video_url,
            video_duration=self.video_duration,
            error=self.error,
            external_task_id=self.external_task_id,
            created_at=when(self.task_created_at or self.submitted_at),
            updated_at=when(self.task_updated_at or (self.done_at if self.done else self.updated_at)),
            units=self.units,
        )


THUMBNAIL_SIDE = 256
RECORDS_PER_PARSE = 500
RECENT_BLOCK = 1 << 16  # bytes read at a time from the journal's end (about 150 lines)


def describe_images(images: list[PreparedImage | str]) -> list[dict[str, Any]]:
    """What the journal keeps of pictures: their source, fingerprint and size, or their URL — never bytes."""
    described: list[dict[str, Any]] = []
    for item in images:
        if isinstance(item, str):
            described.append({"url": item})
        else:
            one = {"source": item.source, "sha256": item.sha256, "width": item.width, "height": item.height}
            if item.origin:
                one["path"] = item.origin
            described.append(one)
    return described


def _describe(request: VideoRequest) -> dict[str, Any]:
    """What the journal keeps of a request: prompt, settings, image sources and fingerprints — never bytes."""
    return {
        "prompt": request.prompt,
        "settings": {**request.settings(), "negative_prompt": request.negative_prompt},
        "images": describe_images(request.prepared_images()),
    }


def described_request(entry: HistoryEntry, images: list[PreparedImage | str] | None = None) -> VideoRequest:
    """The request an entry describes: its prompt, settings and external id, with ``images`` (none when
    its pictures are not needed: a placeholder that names and prices a past request in a batch)."""
    settings = entry.settings
    return VideoRequest(
        images or [],
        entry.prompt or "",
        negative_prompt=settings.get("negative_prompt"),
        model_name=settings.get("model_name", "kling-v1-6"),
        mode=settings.get("mode", "std"),
        duration=settings.get("duration", 5),
        aspect_ratio=settings.get("aspect_ratio", "16:9"),
        watermark=settings.get("watermark"),
        callback_url=settings.get("callback_url"),
        external_task_id=entry.external_task_id,
        max_side=settings.get("max_side", DEFAULT_MAX_SIDE),
    )


def default_history_path() -> Path:
    return data_dir() / "history.jsonl"


class TaskHistory:
    """The journal. ``TaskHistory()`` uses ``$KLING_WIDGETS_HOME/history.jsonl`` or the user's data
    directory; pass a path to keep one per project.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The journal's file; its folder also holds the pictures it keeps. Default: as above.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_history_path()
        make_private_folder(self.path.parent, ours=path is None)
        self._thumbs = ByteStore(self.thumbnails, suffix=".jpg")  # the cards' thumbnails, under their picture's key
        self._spooled = ByteStore(self.spool)  # queued pictures, until their create is sent
        from filelock import FileLock

        self._lock = FileLock(str(self.path) + ".lock", mode=PRIVATE_FILE)
        self._fold_lock = threading.Lock()
        self._folded: dict[str, HistoryEntry] = {}
        self._stories: dict[str, list[dict[str, Any]]] = {}
        self._read_upto = 0
        self._identity: tuple[int, int] | None = None
        if self.path.exists():
            make_private(self.path, PRIVATE_FILE)

    def __repr__(self) -> str:
        return f"TaskHistory({str(self.path)!r})"

    # -- writing -----------------------------------------------------------------------------------
    def _append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        record = {"time": time.time(), **record}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        with self._lock, open_private(self.path) as handle:
            # A torn last line (crash mid-write) must not glue itself onto this record.
            if handle.tell() > 0:
                with open(self.path, "rb") as reader:
                    reader.seek(-1, os.SEEK_END)
                    if reader.read(1) != b"\n":
                        handle.write(b"\n")
            handle.write(line.encode("utf-8") + b"\n")
            handle.flush()  # the kernel may die now: the line is the system's (only a power cut needs fsync)
            if sync:
                os.fsync(handle.fileno())

    def record_submission(
        self, external_task_id: str, request: VideoRequest, *, provider: str, base_url: str, service: str | None = None
    ) -> None:
        """Journal a create before it is sent: settings, prompt and image fingerprints, never bytes.

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.
        request : VideoRequest
            What is about to be sent.
        provider : str
            The service it goes to (``"gateway"`` or ``"kling"``).
        base_url : str
            The address it goes to, so a resume asks the same service.
        service : str, optional
            Whose it is (:class:`Service` ``.name``: the simulator, or the account), so that one data
            folder keeps services apart.
        """
        self._keep_thumbnails(request)
        self._append(
            {
                "event": "submit",
                "external_task_id": external_task_id,
                "provider": provider,
                "base_url": base_url,
                "service": service,
                **_describe(request),
                "status": SENDING,
            }
        )

    def record_queued(
        self,
        external_task_id: str,
        request: VideoRequest,
        *,
        provider: str,
        base_url: str,
        batch: str | None = None,
        index: int | None = None,
        group: str | None = None,
        tags: Mapping[str, Any] | None = None,
        service: str | None = None,
        sync: bool = True,
    ) -> None:
        """Journal an intention that will be sent later (a batch's queue), with its batch, its place there
        and its group (the requests sent together), so that a resume rebuilds the batch whole; ``tags``
        say what else it belongs to (a storyboard's shot and take), kept on its entry. Its pictures wait
        in the private spool beside the journal until the create is sent, so that a kernel that dies
        first loses nothing: :meth:`queued_request` gives the same request back.

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.
        request : VideoRequest
            What will be sent.
        provider : str
            The service it will go to.
        base_url : str
            The address it will go to.
        batch : str, optional
            The batch it belongs to.
        index : int, optional
            Its place in the batch's requests.
        group : str, optional
            The requests sent together with it.
        tags : Mapping, optional
            What else it belongs to (a storyboard's shot and take).
        service : str, optional
            Whose it is (:class:`Service` ``.name``).
        sync : bool
            Force the line to disk now; False leaves it to the next synced line (a batch of hundreds
            syncs its last one: one disk flush per click instead of one per request).
        """
        for item in request.prepared_images():
            if isinstance(item, PreparedImage):
                self._spooled.put(item.data, key=item.sha256)
        self._keep_thumbnails(request)
        self._append(
            {
                "event": "queued",
                "external_task_id": external_task_id,
                "provider": provider,
                "base_url": base_url,
                "service": service,
                **_describe(request),
                "batch": batch,
                "index": index,
                "group": group,
                "tags": dict(tags) if tags else None,
                "status": QUEUED,
            },
            sync=sync,
        )

    def record_cancelled(self, external_task_id: str) -> None:
        """Journal a queued intention that will never be sent (the batch was cancelled).

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.
        """
        self._append({"event": "cancelled", "external_task_id": external_task_id, "status": CANCELLED})
        self._spool_release(external_task_id)

    def queued_request(self, entry: HistoryEntry) -> VideoRequest:
        """The request of a journaled intention, its pictures read back from the spool (exactly the bytes
        that would have been sent).

        Parameters
        ----------
        entry : HistoryEntry
            A journaled intention (from :meth:`entries`).

        Returns
        -------
        VideoRequest
            The request as it would have been sent.

        Raises
        ------
        FileNotFoundError
            A picture is gone from the spool.
        """
        return described_request(entry, self.kept_images(entry.images, self.spool))

    def kept_images(self, described: list[dict[str, Any]], folder: Path) -> list[PreparedImage | str]:
        """Pictures described as the journal describes them (``url``, or ``sha256`` and size), read back
        from ``folder`` where their bytes were kept under their fingerprint.

        Parameters
        ----------
        described : list of dict
            The pictures as the journal describes them.
        folder : Path
            Where their bytes were kept (see :meth:`keep_pictures`).

        Returns
        -------
        list of PreparedImage or str
            The pictures, URLs passed through as they are.

        Raises
        ------
        FileNotFoundError
            A picture is gone.
        """
        store = ByteStore(folder)
        images: list[PreparedImage | str] = []
        for image in described:
            if "url" in image:
                images.append(str(image["url"]))
                continue
            data = store.get(str(image["sha256"]))
            mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            images.append(
                PreparedImage(
                    data,
                    mime,
                    int(image["width"]),
                    int(image["height"]),
                    str(image.get("source") or ""),
                    origin=image.get("path"),
                )
            )
        return images

    # -- storyboards: their own records beside the submissions ----------------------------------------
    def story_folder(self, story_id: str) -> Path:
        """The storyboard's private folder beside the journal: its cast and its downloaded takes.

        Parameters
        ----------
        story_id : str
            The storyboard's id.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        return self.path.parent / (self.path.stem + ".stories") / story_id

    def keep_pictures(self, images: list[PreparedImage | str], folder: Path) -> list[dict[str, Any]]:
        """Keep the bytes of local pictures in ``folder`` (private, under their fingerprint) so that
        :meth:`kept_images` gives them back after a restart.

        Parameters
        ----------
        images : list of PreparedImage or str
            The pictures; URLs are described, not kept.
        folder : Path
            Where to keep the bytes.

        Returns
        -------
        list of dict
            Their descriptions, for the journal.
        """
        store = ByteStore(folder)
        for item in images:
            if isinstance(item, PreparedImage):
                store.put(item.data, key=item.sha256)
        return describe_images(images)

    def record_story(self, story_id: str, kind: str, **fields: Any) -> None:
        """Journal a storyboard's step (``created``, ``shot``, ``generate``, ``pick``, ``continuity``,
        ``export``). These lines carry no ``external_task_id``: older readers skip them.

        Parameters
        ----------
        story_id : str
            The storyboard's id.
        kind : str
            The step, as listed above.
        **fields
            What the step records (JSON values).
        """
        self._append({"event": "story", "story": story_id, "kind": kind, **fields})

    def story_records(self, story_id: str) -> list[dict[str, Any]]:
        """Every journaled step of one storyboard, in the order written.

        Parameters
        ----------
        story_id : str
            The storyboard's id.

        Returns
        -------
        list of dict
            The steps' records.
        """
        with self._fold_lock:
            self._fold_unlocked()
            return [dict(record) for record in self._stories.get(story_id, [])]

    def story_picks(self, story_id: str, entries: list[HistoryEntry] | None = None) -> dict[int, int]:
        """The take each shot of a storyboard uses in its film, as the journal tells it: the last pick by
        hand, else the first take that succeeded.

        Parameters
        ----------
        story_id : str
            The storyboard's id.
        entries : list of HistoryEntry, optional
            The journal's entries, when already read.

        Returns
        -------
        dict
            Shot index → take index.
        """
        picks: dict[int, int] = {}
        ours = [e for e in (entries if entries is not None else self.entries()) if e.story == story_id]
        for entry in sorted(ours, key=lambda e: e.take or 0):
            if entry.shot is not None and entry.take is not None and entry.status == TaskStatus.SUCCEEDED.value:
                picks.setdefault(entry.shot, entry.take)
        for record in self.story_records(story_id):
            shot, take = record.get("shot"), record.get("take")
            if record.get("kind") == "pick" and isinstance(shot, int) and isinstance(take, int):
                picks[shot] = take
        return picks

    def stories(self) -> list[str]:
        """The ids of the storyboards in this journal, newest first.

        Returns
        -------
        list of str
            The ids.
        """
        with self._fold_lock:
            self._fold_unlocked()
            return list(reversed(self._stories))

    # -- thumbnails for the history's cards: small, stripped, private ---------------------------------
    @property
    def thumbnails(self) -> Path:
        """The folder of the cards' small thumbnails, beside the journal."""
        return self.path.parent / (self.path.stem + ".thumbs")

    def thumbnail_path(self, sha256: str) -> Path:
        """Where the card's thumbnail (at most 256 px, no metadata) of a picture is kept.

        Parameters
        ----------
        sha256 : str
            The picture's fingerprint.

        Returns
        -------
        pathlib.Path
            The thumbnail's file (it may not exist yet).
        """
        return self._thumbs.path(sha256)

    def _keep_thumbnails(self, request: VideoRequest) -> None:
        try:
            for item in request.prepared_images():
                if isinstance(item, PreparedImage) and not self._thumbs.has(item.sha256):
                    self._thumbs.put(item.thumbnail(THUMBNAIL_SIDE), key=item.sha256)
        except (OSError, ValueError) as error:  # a card without a picture is better than a lost submission
            log.warning("could not keep a thumbnail: %s", error)

    # -- the spool: pictures of queued intentions, kept only until they are sent -------------------------
    @property
    def spool(self) -> Path:
        """The private folder where queued pictures wait until their create is sent."""
        return self.path.parent / (self.path.stem + ".spool")

    def _release_if_spooled(self, external_task_id: str) -> None:
        """Once a queued intention was created (or refused), its pictures need not wait any more."""
        if not self._spooled.empty():
            self._spool_release(external_task_id)

    def _spool_release(self, external_task_id: str) -> None:
        """Forget the spooled pictures of an intention once no queued intention needs them."""
        if self._spooled.empty():
            return
        with self._fold_lock:
            entries = list(self._fold_unlocked().values())
        needed = {
            str(image.get("sha256"))
            for entry in entries
            if entry.status == QUEUED and entry.external_task_id != external_task_id
            for image in entry.images
        }
        mine = next((e for e in entries if e.external_task_id == external_task_id), None)
        for image in mine.images if mine else []:
            sha = str(image.get("sha256") or "")
            if sha and sha not in needed:
                self._spooled.discard(sha)

    def record_task(self, task: Task, external_task_id: str | None = None) -> None:
        """Journal what the service said of a task.

        Parameters
        ----------
        task : Task
            The task as the service reported it.
        external_task_id : str, optional
            The entry it belongs to, when the task does not carry it.
        """
        ext = external_task_id or task.external_task_id
        if not ext:
            return
        self._append(
            {
                "event": "task",
                "external_task_id": ext,
                "task_id": task.id,
                "status": task.status.value,
                "raw_status": task.raw_status,
                "progress": task.progress,
                "video_url": task.video_url,
                "video_duration": task.video_duration,
                "error": task.error,
                "units": task.units,
                "task_created_at": task.created_at.timestamp() if task.created_at else None,
                "task_updated_at": task.updated_at.timestamp() if task.updated_at else None,
            }
        )
        self._release_if_spooled(ext)

    def record_unknown(self, external_task_id: str, reason: str) -> None:
        """Journal a create whose outcome is unknown: the task may exist and be billed.

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.
        reason : str
            Why the outcome is unknown.
        """
        self._append({"event": "unknown", "external_task_id": external_task_id, "status": UNKNOWN, "error": reason})

    def record_rejected(self, external_task_id: str, reason: str) -> None:
        """Journal a create the service refused: nothing was created.

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.
        reason : str
            The service's reason.
        """
        self._append({"event": "rejected", "external_task_id": external_task_id, "status": "rejected", "error": reason})
        self._release_if_spooled(external_task_id)

    def record_download(self, external_task_id: str, path: str | os.PathLike[str]) -> None:
        """Journal where a task's video was saved, so the history plays it after the link expires.

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.
        path : str or os.PathLike
            The saved file.
        """
        self._append({"event": "download", "external_task_id": external_task_id, "local_file": str(path)})

    # -- reading -----------------------------------------------------------------------------------
    def _fold_unlocked(self) -> dict[str, HistoryEntry]:
        """The journal folded into one entry per submission, read incrementally: only the lines appended
        since the last read (by this or another process) are parsed. A replaced or shortened file is read
        again from the start; a torn last line waits until a newline ends it (then it is skipped).
        Call with ``_fold_lock`` held."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._folded, self._read_upto, self._identity = {}, 0, None
            self._stories = {}
            return self._folded
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self._read_upto:
            self._folded, self._read_upto, self._identity = {}, 0, identity
            self._stories = {}
        if stat.st_size > self._read_upto:
            with open(self.path, "rb") as handle:
                handle.seek(self._read_upto)
                chunk = handle.read(stat.st_size - self._read_upto)
            end = chunk.rfind(b"\n") + 1
            for record in _records(chunk[:end]):
                if isinstance(record, dict) and isinstance(record.get("external_task_id"), str):
                    _apply(self._folded, record)
                elif _is_story_record(record):
                    self._stories.setdefault(record["story"], []).append(record)
            self._read_upto += end
        return self._folded

    def entries(self, service: Service | None = None) -> list[HistoryEntry]:
        """One entry per submission, newest first (copies: later reads do not change them).

        Parameters
        ----------
        service : Service, optional
            Only this service's entries (see :meth:`Service.owns`); every entry when None.

        Returns
        -------
        list of HistoryEntry
            The entries.
        """
        with self._fold_lock:
            folded = self._fold_unlocked().values()
            copies = [_copy(entry) for entry in folded if service is None or service.owns(entry)]
        return sorted(copies, key=lambda e: e.submitted_at or e.updated_at or 0, reverse=True)

    def recent(self, count: int, service: Service | None = None) -> tuple[list[HistoryEntry], bool]:
        """The ``count`` newest submissions, newest first, read from the journal's end: a submission's
        lines all follow its first one, so once ``count`` first lines are read backwards, those entries
        are whole — without folding a journal of years (the history's first page). The second value is
        True when the whole journal was read (then every entry is given).

        Parameters
        ----------
        count : int
            How many entries are wanted.
        service : Service, optional
            Only this service's entries (see :meth:`Service.owns`); every entry when None.

        Returns
        -------
        tuple of (list of HistoryEntry, bool)
            The entries, and whether the whole journal was read.
        """
        try:
            handle = open(self.path, "rb")  # noqa: SIM115  # closed below; a missing journal is empty
        except FileNotFoundError:
            return [], True
        blocks: list[list[dict[str, Any]]] = []  # newest block first
        started: set[str] = set()  # submissions whose first line was read
        with handle:
            position = handle.seek(0, os.SEEK_END)
            head = b""  # the start of a line cut by a block boundary: read with the block before
            newest = True
            while position > 0 and len(started) < count:
                start = max(0, position - RECENT_BLOCK)
                handle.seek(start)
                chunk = handle.read(position - start) + head
                position = start
                if newest:  # a torn last line (a crash mid-write) is skipped, as when folding
                    chunk, newest = chunk[: chunk.rfind(b"\n") + 1], False
                cut = chunk.find(b"\n") + 1 if start > 0 else 0  # the first line may have begun earlier
                head, chunk = (chunk, b"") if start > 0 and cut == 0 else (chunk[:cut], chunk[cut:])
                records = _entry_records(chunk)
                started.update(
                    r["external_task_id"]
                    for r in records
                    if r.get("event") in ("submit", "queued") and (service is None or service.owns(_first(r)))
                )
                blocks.append(records)
            whole = position == 0 and not head
        folded: dict[str, HistoryEntry] = {}
        for records in reversed(blocks):
            for record in records:
                _apply(folded, record)
        entries = [
            e
            for e in folded.values()
            if (whole or e.external_task_id in started) and (service is None or service.owns(e))
        ]
        entries.sort(key=lambda e: e.submitted_at or e.updated_at or 0, reverse=True)
        return (entries if whole else entries[:count]), whole

    def get(self, external_task_id: str) -> HistoryEntry | None:
        """One entry, by its id.

        Parameters
        ----------
        external_task_id : str
            The id the create carries (or carried), which names the entry.

        Returns
        -------
        HistoryEntry or None
            The entry, or None when the journal has none by that id.
        """
        return next((e for e in self.entries() if e.external_task_id == external_task_id), None)

    def unfinished(self, service: Service | None = None) -> list[HistoryEntry]:
        """Intentions that may still be running, whose outcome is unknown, or that wait to be sent.

        Parameters
        ----------
        service : Service, optional
            Only this service's (see :meth:`Service.owns`); every service's when None.

        Returns
        -------
        list of HistoryEntry
            What a resume picks up again.
        """
        return [e for e in self.entries(service) if e.unfinished]


_FIELDS = frozenset(
    {
        "task_id",
        "status",
        "raw_status",
        "progress",
        "video_url",
        "video_duration",
        "error",
        "local_file",
        "provider",
        "base_url",
        "service",
        "prompt",
        "settings",
        "images",
        "units",
        "task_created_at",
        "task_updated_at",
        "batch",
        "index",
        "group",
        "tags",
    }
)


def _apply(folded: dict[str, HistoryEntry], record: dict[str, Any]) -> None:
    """Fold one journal line into its submission's entry."""
    ext = record["external_task_id"]
    entry = folded.get(ext)
    if entry is None:
        entry = folded[ext] = HistoryEntry(ext)
    if record.get("event") in ("submit", "queued") and entry.submitted_at is None:
        entry.submitted_at = record.get("time")
    entry.updated_at = record.get("time")
    was_done = entry.done
    for key, value in record.items():
        if value is not None and key in _FIELDS:
            setattr(entry, key, value)
    if entry.done and not was_done:
        entry.done_at = record.get("time")
    if record.get("event") == "task" and record.get("error") is None:
        entry.error = None


def _first(record: dict[str, Any]) -> HistoryEntry:
    """A submission's first line as an entry (enough to tell whose it is)."""
    return HistoryEntry(record["external_task_id"], provider=record.get("provider"),
                        base_url=record.get("base_url"), service=record.get("service"))  # fmt: skip


def _is_story_record(record: Any) -> bool:
    """A storyboard's step (journaled by ``record_story``), not a submission's."""
    return isinstance(record, dict) and record.get("event") == "story" and isinstance(record.get("story"), str)


def _records(block: bytes) -> list[Any]:
    """The JSON records of whole lines, a few hundred lines per parse (fast for a journal of thousands,
    and the other threads — the kernel's — get a turn between two parses)."""
    lines = [line for line in block.splitlines() if line.strip()]
    parsed: list[Any] = []
    for start in range(0, len(lines), RECORDS_PER_PARSE):
        parsed += _parse(lines[start : start + RECORDS_PER_PARSE])
    return parsed


def _parse(lines: list[bytes]) -> list[Any]:
    """All at once when every line is whole (one parse), line by line otherwise, skipping torn lines
    from a crash."""
    try:
        records = json.loads(b"[" + b",".join(lines) + b"]")
        if isinstance(records, list) and len(records) == len(lines):
            return records
    except (ValueError, UnicodeDecodeError):
        pass
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            continue  # a torn line from a crash: skip it, keep the rest
    return parsed


def _entry_records(block: bytes) -> list[dict[str, Any]]:
    """The records of whole lines that belong to a submission (they name its external id)."""
    return [r for r in _records(block) if isinstance(r, dict) and isinstance(r.get("external_task_id"), str)]


def _copy(entry: HistoryEntry) -> HistoryEntry:
    """A shallow copy, fast (thousands per read)."""
    twin = HistoryEntry.__new__(HistoryEntry)
    twin.__dict__.update(entry.__dict__)
    return twin
