"""The request and the task, with no network in sight.

``VideoRequest`` checks everything the service's contract states before a byte is sent, and produces
the exact JSON body. ``Task.from_payload`` turns any of the three documented response shapes (gateway
create, gateway envelope, Kling direct — plus Kling's bare callback object) into one ``Task``.
"""

from __future__ import annotations

import base64
import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, TypeGuard

from ._home import simulator_video_file
from .errors import PayloadError, Problem, ValidationError
from .images import (
    DEFAULT_MAX_SIDE,
    MIN_SIDE,
    ImageSource,
    PreparedImage,
    is_url,
    megabytes,
    prepare_image,
    shrink_to,
    side_by_side,
    within_rules,
)

MODEL_NAMES: tuple[str, ...] = ("kling-v1-6",)
MODES: tuple[str, ...] = ("std", "pro")
MODE_HELP: dict[str, str] = {
    "std": "Standard: faster and cheaper",
    "pro": "Professional: higher quality, costs more",
}
DURATIONS: tuple[int, ...] = (5, 10)
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1")
MIN_IMAGES, MAX_IMAGES = 1, 4
MAX_PROMPT_CHARS = 2500
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


def parse_time(value: object) -> datetime | None:
    """Unix seconds, Unix milliseconds (Kling direct) or ISO 8601, as an aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return parse_time(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        number = float(value)
        if number != number or number <= 0:  # NaN or unset
            return None
        if number > 1e11:  # milliseconds: 1e11 s is the year 5138
            number /= 1000.0
        try:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def parse_progress(value: object) -> float | None:
    """``30``, ``0.3``-free ints and strings like ``"30%"`` as a number from 0 to 100."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%?\s*", value)
        if not match:
            return None
        value = float(match.group(1))
    if isinstance(value, (int, float)):
        number = float(value)
        if number != number:
            return None
        return max(0.0, min(100.0, number))
    return None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None


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
        task_id = _text(data.get("task_id"))
        if not task_id:
            raise PayloadError("Kling task object without task_id")
        raw_status = _text(data.get("task_status"))
        status = parse_status(raw_status)
        video = _first_video(data)
        return cls(
            id=task_id,
            status=status,
            raw_status=raw_status,
            progress=100.0 if status is TaskStatus.SUCCEEDED else None,
            video_url=_text(video.get("url")),
            video_duration=_number(video.get("duration")),
            error=_text(data.get("task_status_msg")) if status is TaskStatus.FAILED else None,
            external_task_id=_text(_dict(data.get("task_info")).get("external_task_id")),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            units=_number(data.get("final_unit_deduction")) if status is TaskStatus.SUCCEEDED else None,
            raw=raw,
        )

    @classmethod
    def _from_envelope(cls, data: Mapping[str, Any], *, raw: Mapping[str, Any]) -> Task:
        """The gateway's envelope around Kling's own answer: Kling's object first, the envelope's
        status, progress, reason and times over it. The flatter variant of the same software keeps
        the video at ``data.url`` and the reason at ``data.error.message``."""
        inner = _dict(data.get("data"))
        kling = _dict(inner.get("data")) if "data" in inner else inner
        task_id = _text(data.get("task_id")) or _text(kling.get("task_id"))
        if not task_id:
            raise PayloadError("gateway task envelope without task_id")
        base = cls._from_kling({**kling, "task_id": task_id}, raw=raw)
        raw_status = _text(data.get("status")) or base.raw_status
        status = parse_status(raw_status)
        error = (
            _text(data.get("fail_reason"))
            or _text(_dict(data.get("error")).get("message"))
            or _text(kling.get("task_status_msg"))
        )
        metadata = _dict(data.get("metadata"))
        progress = parse_progress(data.get("progress"))
        if progress is None:
            progress = parse_progress(metadata.get("progress"))
        return replace(
            base,
            status=status,
            raw_status=raw_status,
            progress=100.0 if status is TaskStatus.SUCCEEDED else progress,
            video_url=base.video_url
            or _text(data.get("url"))
            or _text(data.get("result_url"))  # inferred: other versions of the gateway software
            or _text(metadata.get("url")),
            video_duration=base.video_duration or _number(metadata.get("duration")),
            error=error if status is TaskStatus.FAILED else None,
            created_at=parse_time(data.get("submit_time")) or base.created_at,
            updated_at=parse_time(data.get("finish_time")) or parse_time(data.get("start_time")) or base.updated_at,
        )

    @classmethod
    def _from_video_object(cls, payload: Mapping[str, Any]) -> Task:
        task_id = _text(payload.get("task_id")) or _text(payload.get("id"))
        if not task_id:
            raise PayloadError("video object without id")
        raw_status = _text(payload.get("status"))
        status = parse_status(raw_status)
        metadata = _dict(payload.get("metadata"))
        error = _dict(payload.get("error")).get("message") or payload.get("fail_reason")
        return cls(
            id=task_id,
            status=status,
            raw_status=raw_status,
            progress=100.0 if status is TaskStatus.SUCCEEDED else parse_progress(payload.get("progress")),
            video_url=_text(metadata.get("url")) or _text(payload.get("url")),
            video_duration=_number(payload.get("seconds")),
            error=_text(error) if status is TaskStatus.FAILED else None,
            external_task_id=_text(payload.get("external_task_id")),
            created_at=parse_time(payload.get("created_at")),
            updated_at=parse_time(payload.get("completed_at")) or parse_time(payload.get("updated_at")),
            raw=payload,
        )


def units_words(units: float) -> str:
    """'1 unit', '3.5 units'."""
    return f"{units:g} unit" + ("" if units == 1 else "s")


def charge_words(units: float | None, *, simulated: bool) -> str:
    """What a card says of what a task cost: '1 unit charged' as the service reports it; for the built-in
    simulator, whose units are a stand-in, that nothing was billed.

    Parameters
    ----------
    units : float or None
        What the service reported (``Task.units``).
    simulated : bool
        True for a task of the built-in simulator (proven by the client, never guessed).

    Returns
    -------
    str
        The words, empty while nothing is reported.
    """
    if not units:
        return ""
    return "simulated: nothing billed" if simulated else f"{units_words(units)} charged"


UNLIMITED_GRANT = 100_000_000.0  # what the gateway's software shows for a key with no limit of its own
GATEWAY_UNIT = "USD as the gateway reports it"  # its fields say usd; a deployment may display CNY or quota
KLING_UNIT = "units"  # Kling's resource packs count the same units as final_unit_deduction


@dataclass(frozen=True)
class ResourcePack:
    """One of Kling direct's resource packs (``/account/costs``). ``remaining`` may lag up to ~12 h."""

    name: str
    kind: str | None = None
    total: float | None = None
    remaining: float | None = None
    status: str | None = None  # toBeOnline, online, expired, runOut
    effective_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_payload(cls, info: Mapping[str, Any]) -> ResourcePack:
        return cls(
            name=_text(info.get("resource_pack_name")) or "resource pack",
            kind=_text(info.get("resource_pack_type")),
            total=_number(info.get("total_quantity")),
            remaining=_number(info.get("remaining_quantity")),
            status=_text(info.get("status")),
            effective_at=parse_time(info.get("effective_time")),
            expires_at=parse_time(info.get("invalid_time")),
        )

    @property
    def usable(self) -> bool:
        """Counted in what is left: online (or a status this version does not know)."""
        return self.status not in ("expired", "runOut", "toBeOnline")


@dataclass(frozen=True)
class AccountStatus:
    """What the service says of the account, for free: the models the key may use (gateway), what is left
    (``balance``, a number as the service reports it, or None where it does not tell) and what that
    number counts (``unit``), Kling direct's resource packs, and ``problem`` when the service says the
    account cannot create now (in arrears, packs used up).

    Made by :meth:`KlingClient.account_status`; plain data.

    Parameters
    ----------
    provider : str
        ``"gateway"`` or ``"kling"``.
    models : tuple of str, optional
        The models the key may use; None when the service did not list them.
    balance : float, optional
        What is left, in ``unit``; None where the service does not tell.
    unit : str, optional
        What ``balance`` counts (the gateway's currency, or Kling's units).
    packs : tuple of ResourcePack
        Kling direct's resource packs.
    unlimited : bool
        True for a gateway key with no spending limit of its own.
    granted : float, optional
        The gateway key's grant (``hard_limit_usd``).
    used : float, optional
        What the gateway key has spent, in the grant's unit.
    problem : str, optional
        Why the account cannot create now, in the service's words.
    """

    provider: str
    models: tuple[str, ...] | None = None  # None: the service did not list them
    balance: float | None = None
    unit: str | None = None
    packs: tuple[ResourcePack, ...] = ()
    unlimited: bool = False  # a gateway key with no limit of its own (its grant shows 100000000)
    granted: float | None = None  # the gateway key's grant (hard_limit_usd)
    used: float | None = None  # what the gateway key has spent, in the grant's unit
    problem: str | None = None

    def __str__(self) -> str:
        """One sentence: what is left, in the service's own terms."""
        if self.problem:
            return f"The account cannot create now: {self.problem}"
        if self.unlimited:
            return "This key has no spending limit of its own (what the account holds is not shown)."
        if self.balance is None:
            return "The service does not say what is left on this account."
        if self.unit == KLING_UNIT:
            return f"{self.balance:g} units left in your resource packs (Kling's figure may lag up to 12 h)."
        return f"{self.balance:.2f} left ({self.unit or 'as the service reports it'})."

    @classmethod
    def from_gateway(
        cls, models: Any, subscription: Any = None, usage: Any = None, *, provider: str = "gateway"
    ) -> AccountStatus:
        """From the answers of ``/v1/models`` and the billing routes (None where a route is missing).
        Left = ``hard_limit_usd - total_usage / 100`` (usage in cents); without usage, older builds give
        ``hard_limit_usd`` as what is left.

        Parameters
        ----------
        models : Any
            The decoded ``/v1/models`` answer.
        subscription : Any, optional
            The decoded ``/v1/dashboard/billing/subscription`` answer.
        usage : Any, optional
            The decoded ``/v1/dashboard/billing/usage`` answer.
        provider : str
            The provider to record.

        Returns
        -------
        AccountStatus
            What the answers say.
        """
        names: tuple[str, ...] | None = None
        if isinstance(models, Mapping) and isinstance(models.get("data"), list):
            names = tuple(str(m.get("id")) for m in models["data"] if isinstance(m, Mapping) and m.get("id"))
        grant = _number(subscription.get("hard_limit_usd")) if isinstance(subscription, Mapping) else None
        if grant is None:
            return cls(provider, models=names)
        if grant >= UNLIMITED_GRANT:
            return cls(provider, models=names, unlimited=True, granted=grant, unit=GATEWAY_UNIT)
        cents = _number(usage.get("total_usage")) if isinstance(usage, Mapping) else None
        used = None if cents is None else cents / 100
        left = grant if used is None else grant - used
        return cls(provider, models=names, balance=round(left, 6), unit=GATEWAY_UNIT, granted=grant, used=used)

    @classmethod
    def from_costs(cls, body: Any, *, provider: str = "kling") -> AccountStatus:
        """From Kling direct's ``/account/costs``: what is left is the sum over the usable packs.

        Parameters
        ----------
        body : Any
            The decoded ``/account/costs`` answer.
        provider : str
            The provider to record.

        Returns
        -------
        AccountStatus
            What the answer says.
        """
        data = _dict(_dict(body).get("data"))
        infos = data.get("resource_pack_subscribe_infos")
        packs = tuple(ResourcePack.from_payload(i) for i in infos or [] if isinstance(i, Mapping))
        left = sum(p.remaining or 0.0 for p in packs if p.usable)
        return cls(provider, balance=left, unit=KLING_UNIT, packs=packs)


def video_html(src: str) -> str:
    """A plain ``<video>`` for HTML readers without widget JavaScript (saved and exported notebooks)."""
    return (
        f'<video src="{escape_html(src)}" controls preload="metadata" '
        'style="max-width:min(560px, 100%);max-height:480px;display:block;margin-top:6px"></video>'
    )


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape_html(text: object) -> str:
    """HTML-escape (what ``html.escape`` does, without importing its 2,000 named entities)."""
    return str(text).translate(_HTML_ESCAPES)


def _first_video(kling: Mapping[str, Any]) -> dict[str, Any]:
    videos = _dict(kling.get("task_result")).get("videos")
    if isinstance(videos, list) and videos and isinstance(videos[0], dict):
        return videos[0]
    return {}


@dataclass(frozen=True)
class EmbeddedVideo:
    """A finished video carried inside the notebook (a data URI), for publishing: the service deletes its
    videos after 30 days, and an exported page may be read offline. ``KlingClient.embed(task)`` makes one;
    displaying it at the end of a cell saves the video with the notebook."""

    task: Task
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"EmbeddedVideo(task={self.task.id!r}, {len(self.data) / 1e6:.1f} MB)"

    def _repr_html_(self) -> str:
        encoded = base64.b64encode(self.data).decode("ascii")
        return (
            f'<div class="kling-task" style="font-size:13px"><b>Kling task {escape_html(self.task.id)}</b>'
            f"{video_html(f'data:video/mp4;base64,{encoded}')}</div>"
        )


ImageItem = ImageSource | PreparedImage


@dataclass(frozen=True)
class VideoRequest:
    """Everything one multi-image-to-video create needs, checked against the service's rules.

    Build it freely — even with mistakes; :meth:`validate` then lists every problem at once, and
    :meth:`to_payload` gives the exact JSON body. Images may be paths, http(s) URLs (sent as they
    are), bytes, PIL images or :class:`PreparedImage` objects. Pictures are sent at most ``max_side``
    pixels on their longest side (2048 by default: see ``images.DEFAULT_MAX_SIDE``); ``max_side=None``
    sends them at full size. A :class:`PreparedImage` is sent as it is.

    Parameters
    ----------
    images : sequence of image sources
        1-4 pictures: paths, http(s) URLs, bytes, PIL images or :class:`PreparedImage` objects.
    prompt : str
        What should happen in the video (at most 2500 characters).
    negative_prompt : str, optional
        What to keep out of it (at most 2500 characters).
    model_name : str
        The model (``"kling-v1-6"``).
    mode : {"std", "pro"}
        Standard is faster and cheaper; professional looks better and costs more.
    duration : {5, 10}
        Seconds of video.
    aspect_ratio : {"16:9", "9:16", "1:1"}
        The video's frame.
    watermark : bool, optional
        Ask for (or against) the service's watermark; None leaves it to the service.
    callback_url : str, optional
        Where the service posts the task's changes.
    external_task_id : str, optional
        Your own id for the create (the client makes one when absent).
    max_side : int, optional
        The longest side, in pixels, pictures are sent at; None sends them at full size.
    """

    images: Sequence[ImageItem]
    prompt: str
    negative_prompt: str | None = None
    model_name: str = "kling-v1-6"
    mode: str = "std"
    duration: int = 5
    aspect_ratio: str = "16:9"
    watermark: bool | None = None
    callback_url: str | None = None
    external_task_id: str | None = None
    max_side: int | None = DEFAULT_MAX_SIDE
    _prepared: dict[int, PreparedImage | str | ValidationError] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        images = self.images
        if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
            images = [images]
        object.__setattr__(self, "images", tuple(images))
        if isinstance(self.duration, str) and self.duration.strip().isdigit():
            object.__setattr__(self, "duration", int(self.duration))

    def __repr__(self) -> str:
        return (
            f"VideoRequest(images={len(self.images)}, prompt={_short(self.prompt)!r}, mode={self.mode!r}, "
            f"duration={self.duration!r}, aspect_ratio={self.aspect_ratio!r})"
        )

    def with_external_task_id(self, external_task_id: str) -> VideoRequest:
        """A copy carrying ``external_task_id`` (prepared images are kept, not redone).

        Parameters
        ----------
        external_task_id : str
            The id the create will carry.

        Returns
        -------
        VideoRequest
            The copy.
        """
        return self.replaced(external_task_id=external_task_id)

    def replaced(self, **changes: Any) -> VideoRequest:
        """A copy with ``changes`` (any of the fields); pictures already prepared are kept, not redone,
        unless the images themselves change.

        Parameters
        ----------
        **changes
            New values of any of the fields.

        Returns
        -------
        VideoRequest
            The copy.
        """
        fields = {k: v for k, v in self.__dict__.items() if k != "_prepared"}
        copy = VideoRequest(**{**fields, **changes})
        if "images" not in changes:
            copy._prepared.update(self._prepared)
        return copy

    def problems(self) -> list[Problem]:
        """Every problem with this request; empty when it can be sent.

        Returns
        -------
        list of Problem
            Each with the field, the rule and what was given.
        """
        problems: list[Problem] = []
        count = len(self.images)
        if not MIN_IMAGES <= count <= MAX_IMAGES:
            problems.append(
                Problem("images", f"give 1 to {MAX_IMAGES} images (got {count})", (MIN_IMAGES, MAX_IMAGES), count)
            )
        self._prepare_pending()
        for index in range(min(count, MAX_IMAGES)):
            outcome = self._outcome(index)
            if isinstance(outcome, ValidationError):
                problems += [Problem(f"images[{index}]", p.message, p.limit, p.value) for p in outcome.problems]
        problems += text_problems("prompt", self.prompt, required=True)
        problems += text_problems("negative_prompt", self.negative_prompt, required=False)
        problems += _choice("model_name", self.model_name, MODEL_NAMES)
        problems += _choice("mode", self.mode, MODES)
        problems += _choice("duration", self.duration, DURATIONS, unit=" s")
        problems += _choice("aspect_ratio", self.aspect_ratio, ASPECT_RATIOS)
        if self.watermark is not None and not isinstance(self.watermark, bool):
            problems.append(Problem("watermark", "must be True, False or None", None, self.watermark))
        if self.callback_url is not None and not (isinstance(self.callback_url, str) and is_url(self.callback_url)):
            problems.append(
                Problem("callback_url", "must be an http(s) URL the service can reach", None, self.callback_url)
            )
        if self.max_side is not None and not (isinstance(self.max_side, int) and self.max_side >= MIN_SIDE):
            problems.append(
                Problem("max_side", f"must be None (full size) or a whole number ≥ {MIN_SIDE}", MIN_SIDE, self.max_side)
            )
        ext = self.external_task_id
        if ext is not None and not (isinstance(ext, str) and ext.strip() and not re.search(r"\s", ext)):
            problems.append(
                Problem(
                    "external_task_id",
                    "must be a non-empty string without spaces, unique per account",
                    None,
                    ext,
                )
            )
        return problems

    def validate(self) -> VideoRequest:
        """Check the request against the service's rules, all of them at once.

        Returns
        -------
        VideoRequest
            ``self``, when there is no problem (so calls chain).

        Raises
        ------
        ValidationError
            Listing every problem found.
        """
        problems = self.problems()
        if problems:
            raise ValidationError(problems)
        return self

    def prepared_images(self) -> list[PreparedImage | str]:
        """Each image as sent: a :class:`PreparedImage`, or a URL string passed through untouched.

        Returns
        -------
        list of PreparedImage or str
            One per image, in order.

        Raises
        ------
        ValidationError
            The first image's refusal, if any.
        """
        self._prepare_pending()
        return [self._image(i) for i in range(len(self.images))]

    def prepare_all(self) -> None:
        """Prepare every picture now (in parallel), keeping results and refusals: later checks and
        copies of this request reuse them."""
        self._prepare_pending()
        for index in range(min(len(self.images), MAX_IMAGES)):
            self._outcome(index)

    def _prepare_pending(self) -> None:
        """Prepare the images that need work side by side (``images.side_by_side``): Pillow releases the
        GIL while it decodes and encodes, so four phone photos take about half as long on two cores.
        Results and refusals are both kept, so nothing is prepared twice."""
        pending = [
            i
            for i, item in enumerate(self.images[:MAX_IMAGES])
            if i not in self._prepared
            and not isinstance(item, PreparedImage)
            and not (isinstance(item, str) and is_url(item))
        ]
        if len(pending) > 1:
            side_by_side(self._outcome, pending)

    def to_payload(self) -> dict[str, Any]:
        """The exact JSON body of the create call. Validates first; ``None`` fields are left out.

        Returns
        -------
        dict
            The body, ready for ``json.dumps``.

        Raises
        ------
        ValidationError
            The request is invalid.
        """
        self.validate()
        image_list = [
            {"image": item if isinstance(item, str) else base64.b64encode(item.data).decode("ascii")}
            for item in self.prepared_images()
        ]
        body: dict[str, Any] = {
            "model_name": self.model_name,
            "image_list": image_list,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt or None,
            "mode": self.mode,
            "duration": str(self.duration),
            "aspect_ratio": self.aspect_ratio,
            "watermark_info": None if self.watermark is None else {"enabled": self.watermark},
            "callback_url": self.callback_url,
            "external_task_id": self.external_task_id,
        }
        return {k: v for k, v in body.items() if v is not None}

    def within_body_cap(self, max_body_bytes: int) -> VideoRequest:
        """This request, or a copy whose local pictures are re-encoded smaller so that the JSON body
        stays under ``max_body_bytes`` (the gateway refuses larger bodies with 413).

        Parameters
        ----------
        max_body_bytes : int
            The service's cap on the body.

        Returns
        -------
        VideoRequest
            ``self`` when it fits, else the smaller copy.

        Raises
        ------
        ValidationError
            Naming the total and the cap, when even the smallest pictures cannot fit.
        """
        payload = self.to_payload()
        size = body_size(payload)
        if size <= max_body_bytes:
            return self
        prepared = self.prepared_images()
        local = [i for i, item in enumerate(prepared) if isinstance(item, PreparedImage)]
        encoded = sum(4 * -(-item.size // 3) for item in prepared if isinstance(item, PreparedImage))
        room = max_body_bytes * 0.98 - (size - encoded)  # what the pictures may take, base64 included
        budget = int(room * 3 / 4 / len(local)) if local else 0
        if budget >= MIN_IMAGE_BUDGET:
            images = list(self.images)
            for i in local:
                item = prepared[i]
                assert isinstance(item, PreparedImage)
                if item.size > budget:
                    images[i] = shrink_to(item, budget, f"to keep the request under {megabytes(max_body_bytes)}")
            fitted = self.replaced(images=images)
            size = body_size(fitted.to_payload())
            if size <= max_body_bytes:
                return fitted
        raise ValidationError(
            Problem(
                "image_list",
                f"the request body would be {megabytes(size)}, over the {megabytes(max_body_bytes)} the service "
                "accepts: use fewer or smaller pictures",
                max_body_bytes,
                size,
            )
        )

    def settings(self) -> dict[str, Any]:
        """The choices without the images or prompt text — what a journal or a log may keep.

        Returns
        -------
        dict
            Model, mode, duration, aspect ratio and the other options.
        """
        return {
            "model_name": self.model_name,
            "mode": self.mode,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
            "watermark": self.watermark,
            "callback_url": self.callback_url,
            "max_side": self.max_side,
        }

    def _outcome(self, index: int) -> PreparedImage | str | ValidationError:
        """The image at ``index`` as sent, or why it was refused; worked out once."""
        outcome = self._prepared.get(index)
        if outcome is None:
            item = self.images[index]
            if _sent_as_is(item):
                outcome = item
            else:
                try:
                    outcome = prepare_image(item, max_side=self.max_side)
                except ValidationError as refusal:
                    outcome = refusal
            self._prepared[index] = outcome
        return outcome

    def _image(self, index: int) -> PreparedImage | str:
        outcome = self._outcome(index)
        if isinstance(outcome, ValidationError):
            raise outcome
        return outcome


MIN_IMAGE_BUDGET = 200_000  # below this per picture, shrinking would ruin the reference: refuse instead


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The JSON body exactly as the client sends it (compact separators)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def body_size(payload: Mapping[str, Any]) -> int:
    """Bytes of the JSON body as the client sends it."""
    return len(encode_body(payload))


def _sent_as_is(item: object) -> TypeGuard[PreparedImage | str]:
    """A URL, or a PreparedImage within the service's size rules (exactly: one made elsewhere at 2048×819
    is checked again by ``prepare_image`` and refused in words, not sent to be refused with 1201)."""
    if isinstance(item, PreparedImage):
        return within_rules(item.width, item.height)
    return isinstance(item, str) and is_url(item)


def _short(text: object, width: int = 40) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def text_problems(name: str, value: object, *, required: bool) -> list[Problem]:
    """The problems of a prompt-like field: required or not, text, at most 2500 characters."""
    if value is None or value == "":
        return [Problem(name, "is required: describe the video you want", MAX_PROMPT_CHARS, value)] if required else []
    if not isinstance(value, str):
        return [Problem(name, "must be text", None, value)]
    if required and not value.strip():
        return [Problem(name, "is required: describe the video you want", MAX_PROMPT_CHARS, value)]
    if len(value) > MAX_PROMPT_CHARS:
        over = len(value) - MAX_PROMPT_CHARS
        return [
            Problem(
                name,
                f"at most {MAX_PROMPT_CHARS} characters (got {len(value)}, {over} too many)",
                MAX_PROMPT_CHARS,
                len(value),
            )
        ]
    return []


def _choice(name: str, value: object, allowed: Sequence[object], unit: str = "") -> list[Problem]:
    if value in allowed and type(value) is type(allowed[0]):
        return []
    options = ", ".join(f"{a}{unit}" for a in allowed)
    return [Problem(name, f"must be one of {options} (got {value!r})", tuple(allowed), value)]
