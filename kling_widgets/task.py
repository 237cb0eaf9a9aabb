"""The task: where one generation is, read from whichever answer the service gave.

``Task.from_payload`` turns any of the three documented response shapes (gateway create, gateway
envelope, Kling direct — plus Kling's bare callback object) into one ``Task``, and every provider's
status words into one ``TaskStatus``. No network here: the client asks, this reads the answer.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ._home import simulator_video_file
from .errors import PayloadError
from .fields import as_dict, as_number, as_text, parse_progress, parse_time
from .image_sources import is_url
from .words import escape_html, units_words, video_html

MAX_EMBEDDED_KEPT = 10_000_000  # a kept simulator video carried in a page (they are ~10-100 KB)


class TaskStatus(str, enum.Enum):
    """Where a task is. Every provider's status strings map onto these four."""

    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """True for the two final states, which never change again."""
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)


_STATUS_MAP: dict[str, TaskStatus] = {
    "submitted": TaskStatus.SUBMITTED,
    "not_start": TaskStatus.SUBMITTED,
    "queued": TaskStatus.SUBMITTED,
    "processing": TaskStatus.PROCESSING,
    "in_progress": TaskStatus.PROCESSING,
    "succeed": TaskStatus.SUCCEEDED,
    "succeeded": TaskStatus.SUCCEEDED,
    "success": TaskStatus.SUCCEEDED,
    "completed": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
}


def is_known_status(raw: object) -> bool:
    """True when a provider's status string is one the contract documents."""
    return isinstance(raw, str) and raw.strip().lower() in _STATUS_MAP


def parse_status(raw: object) -> TaskStatus:
    """Map a provider's status string; anything unknown counts as still running."""
    if isinstance(raw, str):
        return _STATUS_MAP.get(raw.strip().lower(), TaskStatus.PROCESSING)
    return TaskStatus.PROCESSING


@dataclass(frozen=True)
class Task:
    """One generation task, whatever provider or response shape it came from.

    Made by :meth:`from_payload` from the service's answers; it is plain data (frozen), so a newer
    state is a new ``Task``.

    Parameters
    ----------
    id : str
        The service's task id.
    status : TaskStatus
        Where the task is, mapped from the provider's words.
    raw_status : str, optional
        The provider's own status word, as it said it.
    progress : float, optional
        0-100 when the service reports it.
    video_url : str, optional
        The result's link once it succeeded (the service deletes it after 30 days).
    video_duration : float, optional
        The result's length in seconds, as the service reports it.
    error : str, optional
        The service's reason when it failed.
    external_task_id : str, optional
        The id the client gave the create (journaled before sending).
    created_at, updated_at : datetime, optional
        Aware UTC times, as the service reports them.
    units : float, optional
        What the service charged, once known (Kling's ``final_unit_deduction``).
    raw : Mapping
        The answer it was read from.
    """

    id: str
    status: TaskStatus
    raw_status: str | None = None
    progress: float | None = None
    video_url: str | None = None
    video_duration: float | None = None
    error: str | None = None
    external_task_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    units: float | None = None  # what the service charged (Kling's final_unit_deduction), once known
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """True once the task succeeded or failed; it will not change again."""
        return self.status.done

    @property
    def complete(self) -> bool:
        """True when there is nothing more to ask the service: it failed, or it succeeded and gave its
        video link (a success without one is asked again a few times)."""
        return self.status is TaskStatus.FAILED or (self.status is TaskStatus.SUCCEEDED and bool(self.video_url))

    def elapsed_seconds(self, now: datetime | None = None) -> float | None:
        """How long the task ran, by the service's own times — the one definition every card uses: from
        ``created_at`` to ``updated_at`` once it ended (the service's finish time), to ``now`` while it
        runs.

        Parameters
        ----------
        now : datetime, optional
            The time a running task is measured to (default: the current time).

        Returns
        -------
        float or None
            Seconds, or None when no creation time is known.
        """
        if self.created_at is None:
            return None
        end = self.updated_at if self.done and self.updated_at else (now or datetime.now(timezone.utc))
        return max(0.0, (end - self.created_at).total_seconds())

    def __repr__(self) -> str:
        progress = "" if self.progress is None else f", progress={self.progress:g}"
        return f"Task(id={self.id!r}, status={self.status.value!r}{progress})"

    def _repr_html_(self) -> str:
        """The task as plain HTML, for a saved or exported notebook with no widget JavaScript: the video
        once it succeeded, the service's reason (escaped) when it failed, else where it is."""
        words = {"submitted": "Submitted", "processing": "Generating", "succeeded": "Done", "failed": "Failed"}
        head = f"<b>Kling task {escape_html(self.id)}</b> · {words[self.status.value]}"
        if self.progress is not None and not self.done:
            head += f" · {self.progress:.0f}%"
        if self.units:
            head += f" · {units_words(self.units)}"
        body = ""
        url = self.video_url or ""
        kept = simulator_video_file(url) if self.status is TaskStatus.SUCCEEDED else None
        if kept is not None and kept.is_file() and kept.stat().st_size <= MAX_EMBEDDED_KEPT:
            # The built-in simulator's video, on the kernel's loopback: no reader of the page can load that
            # link, so the copy the simulator kept travels in the page (small: a slideshow of the inputs).
            encoded = base64.b64encode(kept.read_bytes()).decode("ascii")
            body = video_html(f"data:video/mp4;base64,{encoded}") + "made by the built-in simulator"
        elif kept is not None:  # on the kernel's loopback and not kept: a player here would stay black
            body = (
                f'<div>The video is on the built-in simulator (<a href="{escape_html(url)}">{escape_html(url)}</a>), '
                "which only the kernel's machine reaches: <code>TaskView(task, client=client)</code> plays it "
                "in any browser, <code>client.embed(task)</code> carries it in the notebook.</div>"
            )
        elif self.status is TaskStatus.SUCCEEDED and is_url(url):
            body = (
                f'{video_html(url)}<a href="{escape_html(url)}" target="_blank" rel="noopener">'
                "the video</a> (the service deletes it after 30 days)"
            )
        elif self.status is TaskStatus.FAILED:
            reason = escape_html(self.error or "no reason given")
            body = f'<div style="color:#b3261e">The service could not make this video: {reason}</div>'
        return f'<div class="kling-task" style="font-size:13px;line-height:1.5">{head}{body}</div>'

    def with_external_id(self, external_task_id: str | None) -> Task:
        """The same task, remembering the external id the client gave it (gateway answers omit it).

        Parameters
        ----------
        external_task_id : str or None
            The id the create carried; None keeps the task's own.

        Returns
        -------
        Task
            This task, or a copy carrying the id.
        """
        if not external_task_id or self.external_task_id:
            return self
        return replace(self, external_task_id=external_task_id)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Task:
        """Normalise a gateway create answer, a gateway task envelope, a Kling direct answer, or
        Kling's bare task object (the callback body).

        Parameters
        ----------
        payload : Mapping
            The decoded JSON answer (or callback body).

        Returns
        -------
        Task
            The task it describes.

        Raises
        ------
        PayloadError
            The payload matches none of the documented shapes.
        """
        if not isinstance(payload, Mapping):
            raise PayloadError(f"task payload must be a JSON object, got {type(payload).__name__}")
        data = payload.get("data")
        if isinstance(data, Mapping) and "code" in payload:
            if "task_status" in data:  # Kling direct: {"code": 0, "data": {...}}
                return cls._from_kling(data, raw=payload)
            if "status" in data or "task_id" in data:  # gateway envelope
                return cls._from_envelope(data, raw=payload)
        if isinstance(data, str) and data.strip() and payload.get("code") in ("success", 0, "0"):
            # Inferred, tolerated: some tasks of the same gateway software answer a submit with the id alone.
            return cls(id=data.strip(), status=TaskStatus.SUBMITTED, raw_status=None, raw=payload)
        if "task_status" in payload:  # Kling's bare task object (callbacks)
            return cls._from_kling(payload, raw=payload)
        if "status" in payload and ("id" in payload or "task_id" in payload):
            return cls._from_video_object(payload)
        raise PayloadError("response matches none of the documented task shapes")

    @classmethod
    def _from_kling(cls, data: Mapping[str, Any], *, raw: Mapping[str, Any]) -> Task:
        task_id = as_text(data.get("task_id"))
        if not task_id:
            raise PayloadError("Kling task object without task_id")
        raw_status = as_text(data.get("task_status"))
        status = parse_status(raw_status)
        video = _first_video(data)
        return cls(
            id=task_id,
            status=status,
            raw_status=raw_status,
            progress=100.0 if status is TaskStatus.SUCCEEDED else None,
            video_url=as_text(video.get("url")),
            video_duration=as_number(video.get("duration")),
            error=as_text(data.get("task_status_msg")) if status is TaskStatus.FAILED else None,
            external_task_id=as_text(as_dict(data.get("task_info")).get("external_task_id")),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            units=as_number(data.get("final_unit_deduction")) if status is TaskStatus.SUCCEEDED else None,
            raw=raw,
        )

    @classmethod
    def _from_envelope(cls, data: Mapping[str, Any], *, raw: Mapping[str, Any]) -> Task:
        """The gateway's envelope around Kling's own answer: Kling's object first, the envelope's
        status, progress, reason and times over it. The flatter variant of the same software keeps
        the video at ``data.url`` and the reason at ``data.error.message``."""
        inner = as_dict(data.get("data"))
        kling = as_dict(inner.get("data")) if "data" in inner else inner
        task_id = as_text(data.get("task_id")) or as_text(kling.get("task_id"))
        if not task_id:
            raise PayloadError("gateway task envelope without task_id")
        base = cls._from_kling({**kling, "task_id": task_id}, raw=raw)
        raw_status = as_text(data.get("status")) or base.raw_status
        status = parse_status(raw_status)
        error = (
            as_text(data.get("fail_reason"))
            or as_text(as_dict(data.get("error")).get("message"))
            or as_text(kling.get("task_status_msg"))
        )
        metadata = as_dict(data.get("metadata"))
        progress = parse_progress(data.get("progress"))
        if progress is None:
            progress = parse_progress(metadata.get("progress"))
        return replace(
            base,
            status=status,
            raw_status=raw_status,
            progress=100.0 if status is TaskStatus.SUCCEEDED else progress,
            video_url=base.video_url
            or as_text(data.get("url"))
            or as_text(data.get("result_url"))  # inferred: other versions of the gateway software
            or as_text(metadata.get("url")),
            video_duration=base.video_duration or as_number(metadata.get("duration")),
            error=error if status is TaskStatus.FAILED else None,
            created_at=parse_time(data.get("submit_time")) or base.created_at,
            updated_at=parse_time(data.get("finish_time")) or parse_time(data.get("start_time")) or base.updated_at,
        )

    @classmethod
    def _from_video_object(cls, payload: Mapping[str, Any]) -> Task:
        task_id = as_text(payload.get("task_id")) or as_text(payload.get("id"))
        if not task_id:
            raise PayloadError("video object without id")
        raw_status = as_text(payload.get("status"))
        status = parse_status(raw_status)
        metadata = as_dict(payload.get("metadata"))
        error = as_dict(payload.get("error")).get("message") or payload.get("fail_reason")
        return cls(
            id=task_id,
            status=status,
            raw_status=raw_status,
            progress=100.0 if status is TaskStatus.SUCCEEDED else parse_progress(payload.get("progress")),
            video_url=as_text(metadata.get("url")) or as_text(payload.get("url")),
            video_duration=as_number(payload.get("seconds")),
            error=as_text(error) if status is TaskStatus.FAILED else None,
            external_task_id=as_text(payload.get("external_task_id")),
            created_at=parse_time(payload.get("created_at")),
            updated_at=parse_time(payload.get("completed_at")) or parse_time(payload.get("updated_at")),
            raw=payload,
        )


def _first_video(kling: Mapping[str, Any]) -> dict[str, Any]:
    videos = as_dict(kling.get("task_result")).get("videos")
    if isinstance(videos, list) and videos and isinstance(videos[0], dict):
        return videos[0]
    return {}
