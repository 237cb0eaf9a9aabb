"""TaskHistory: an append-only JSON-lines journal of every submission, so no created task is lost.

A create is written here *before* its first byte is sent, under its ``external_task_id``; every later
answer (task id, status, video URL, local file) is appended as another line. Reading folds the lines
into one record per submission. Two kernels may write at once (a file lock), and a torn last line —
a crash mid-write — is skipped. No key and no image bytes are ever written: images are kept as a
fingerprint, their size and their source name.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .models import Task, TaskStatus, VideoRequest

UNKNOWN = "unknown"  # a create whose outcome nobody knows: it may exist


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
    prompt: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    submitted_at: float | None = None
    updated_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in (TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value)

    def to_task(self) -> Task | None:
        """The last known state as a ``Task`` (None before the service gave it an id)."""
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
            created_at=when(self.submitted_at),
            updated_at=when(self.updated_at),
        )


PRIVATE_FILE = 0o600  # the journal holds prompts and task links: its owner's eyes only
PRIVATE_FOLDER = 0o700


def make_private_folder(folder: Path, *, ours: bool) -> None:
    """Create ``folder`` readable by its owner only. A folder that already existed is made private
    only when it is ours (the default data folder); a folder the user chose keeps its own mode."""
    existed = folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    if not existed or ours:
        _make_private(folder, PRIVATE_FOLDER)


def _make_private(path: Path, mode: int) -> None:
    if os.name != "posix":
        return
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError:
        pass  # a file we may not change: leave it as it is


def _open_private(path: Path) -> Any:
    """Open for appending; a new file is created private (0600), whatever the umask allows others."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    return os.fdopen(fd, "ab")


def default_history_path() -> Path:
    home = os.environ.get("KLING_WIDGETS_HOME")
    if home:
        return Path(home).expanduser() / "history.jsonl"
    import platformdirs

    return Path(platformdirs.user_data_dir("kling-widgets", appauthor=False)) / "history.jsonl"


class TaskHistory:
    """The journal. ``TaskHistory()`` uses ``$KLING_WIDGETS_HOME/history.jsonl`` or the user's data
    directory; pass a path to keep one per project."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_history_path()
        make_private_folder(self.path.parent, ours=path is None)
        from filelock import FileLock

        self._lock = FileLock(str(self.path) + ".lock", mode=PRIVATE_FILE)
        if self.path.exists():
            _make_private(self.path, PRIVATE_FILE)

    def __repr__(self) -> str:
        return f"TaskHistory({str(self.path)!r})"

    # -- writing -----------------------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **record}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        with self._lock, _open_private(self.path) as handle:
            # A torn last line (crash mid-write) must not glue itself onto this record.
            if handle.tell() > 0:
                with open(self.path, "rb") as reader:
                    reader.seek(-1, os.SEEK_END)
                    if reader.read(1) != b"\n":
                        handle.write(b"\n")
            handle.write(line.encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def record_submission(self, external_task_id: str, request: VideoRequest, *, provider: str, base_url: str) -> None:
        """Journal a create before it is sent: settings, prompt and image fingerprints, never bytes."""
        images: list[dict[str, Any]] = []
        for item in request.prepared_images():
            if isinstance(item, str):
                images.append({"url": item})
            else:
                images.append(
                    {"source": item.source, "sha256": item.sha256, "width": item.width, "height": item.height}
                )
        self._append(
            {
                "event": "submit",
                "external_task_id": external_task_id,
                "provider": provider,
                "base_url": base_url,
                "prompt": request.prompt,
                "settings": {**request.settings(), "negative_prompt": request.negative_prompt},
                "images": images,
                "status": "sending",
            }
        )

    def record_task(self, task: Task, external_task_id: str | None = None) -> None:
        """Journal what the service said of a task."""
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
            }
        )

    def record_unknown(self, external_task_id: str, reason: str) -> None:
        """Journal a create whose outcome is unknown: the task may exist and be billed."""
        self._append({"event": "unknown", "external_task_id": external_task_id, "status": UNKNOWN, "error": reason})

    def record_rejected(self, external_task_id: str, reason: str) -> None:
        """Journal a create the service refused: nothing was created."""
        self._append({"event": "rejected", "external_task_id": external_task_id, "status": "rejected", "error": reason})

    def record_download(self, external_task_id: str, path: str | os.PathLike[str]) -> None:
        self._append({"event": "download", "external_task_id": external_task_id, "local_file": str(path)})

    # -- reading -----------------------------------------------------------------------------------
    def _lines(self) -> Iterator[dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for line in raw.splitlines():
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                continue  # a torn line from a crash: skip it, keep the rest
            if isinstance(record, dict) and isinstance(record.get("external_task_id"), str):
                yield record

    def entries(self) -> list[HistoryEntry]:
        """One entry per submission, newest first."""
        folded: dict[str, HistoryEntry] = {}
        for record in self._lines():
            ext = record["external_task_id"]
            entry = folded.get(ext) or HistoryEntry(ext)
            folded[ext] = entry
            if record.get("event") == "submit":
                entry.submitted_at = record.get("time")
            entry.updated_at = record.get("time")
            for key in (
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
                "prompt",
                "settings",
                "images",
            ):
                if record.get(key) is not None:
                    setattr(entry, key, record[key])
            if record.get("event") == "task" and record.get("error") is None:
                entry.error = None
        return sorted(folded.values(), key=lambda e: e.submitted_at or e.updated_at or 0, reverse=True)

    def get(self, external_task_id: str) -> HistoryEntry | None:
        return next((e for e in self.entries() if e.external_task_id == external_task_id), None)

    def unfinished(self) -> list[HistoryEntry]:
        """Submissions that may still be running or whose outcome is unknown: what to resume."""
        return [e for e in self.entries() if not e.finished and e.status != "rejected"]
