"""The compatibility face of the request, the task and the account status.

Earlier versions kept all of them in this one module, and code outside the package may still import
from here; every name it held is re-exported unchanged. Inside the package, import from the module
that owns the name:

- :mod:`kling_widgets.request`: ``VideoRequest``, its rules (``MODES``, ``MAX_IMAGES``…) and its body
- :mod:`kling_widgets.task`: ``Task``, ``TaskStatus``, reading the service's three answer shapes
- :mod:`kling_widgets.account_status`: ``AccountStatus``, ``ResourcePack``, the units they count
- :mod:`kling_widgets.fields`: reading one field of an answer leniently (times, progress)
- :mod:`kling_widgets.words`: the words and HTML a charge or a video shows (``units_words``…)
- :mod:`kling_widgets.embedded`: ``EmbeddedVideo``, a finished video carried in the notebook
"""

from __future__ import annotations

from .account_status import GATEWAY_UNIT, KLING_UNIT, UNLIMITED_GRANT, AccountStatus, ResourcePack
from .embedded import EmbeddedVideo
from .fields import parse_progress, parse_time
from .request import (
    ASPECT_RATIOS,
    DURATIONS,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MIN_IMAGE_BUDGET,
    MIN_IMAGES,
    MODE_HELP,
    MODEL_NAMES,
    MODES,
    ImageItem,
    VideoRequest,
    body_size,
    encode_body,
    text_problems,
)
from .task import MAX_EMBEDDED_KEPT, Task, TaskStatus, is_known_status, parse_status
from .words import charge_words, escape_html, units_words, video_html

__all__ = [
    "ASPECT_RATIOS",
    "DURATIONS",
    "GATEWAY_UNIT",
    "KLING_UNIT",
    "MAX_EMBEDDED_KEPT",
    "MAX_IMAGES",
    "MAX_PROMPT_CHARS",
    "MIN_IMAGES",
    "MIN_IMAGE_BUDGET",
    "MODEL_NAMES",
    "MODES",
    "MODE_HELP",
    "UNLIMITED_GRANT",
    "AccountStatus",
    "EmbeddedVideo",
    "ImageItem",
    "ResourcePack",
    "Task",
    "TaskStatus",
    "VideoRequest",
    "body_size",
    "charge_words",
    "encode_body",
    "escape_html",
    "is_known_status",
    "parse_progress",
    "parse_status",
    "parse_time",
    "text_problems",
    "units_words",
    "video_html",
]
