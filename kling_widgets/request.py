"""The request: everything one multi-image-to-video create needs, checked before a byte is sent.

``VideoRequest`` checks everything the service's contract states (all problems at once, each naming
its field and limit), prepares its pictures once, and produces the exact JSON body — shrinking local
pictures when the body would be over the service's cap. No network here.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .errors import Problem, ValidationError
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
