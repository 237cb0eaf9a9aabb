"""kling-widgets: Kling multi-image-to-video in Jupyter, and a small client under it.

The public names load on first use (PEP 562), and heavy pieces (Pillow, PyJWT, PyAV, the simulator)
only when something needs them, so importing the package costs little more than ipywidgets and
requests themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_WHERE = {
    "KlingClient": "client",
    "VideoRequest": "models",
    "Task": "models",
    "TaskStatus": "models",
    "AccountStatus": "models",
    "PreparedImage": "images",
    "prepare_image": "images",
    "TaskHistory": "history",
    "TaskWatcher": "watcher",
    "Batch": "batch",
    "sweep": "batch",
    "estimate_units": "batch",
    "MultiImageToVideo": "widgets",
    "ImagePicker": "widgets",
    "PromptBox": "widgets",
    "OptionsPanel": "widgets",
    "TaskView": "widgets",
    "BatchView": "widgets",
    "HistoryGallery": "widgets",
    "KlingError": "errors",
    "ValidationError": "errors",
    "APIError": "errors",
    "AuthenticationError": "errors",
    "RateLimitError": "errors",
    "TaskFailedError": "errors",
}
__all__ = [*sorted(_WHERE), "__version__"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kling_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .batch import Batch as Batch
    from .batch import estimate_units as estimate_units
    from .batch import sweep as sweep
    from .client import KlingClient as KlingClient
    from .errors import (
        APIError as APIError,
    )
    from .errors import (
        AuthenticationError as AuthenticationError,
    )
    from .errors import (
        KlingError as KlingError,
    )
    from .errors import (
        RateLimitError as RateLimitError,
    )
    from .errors import (
        TaskFailedError as TaskFailedError,
    )
    from .errors import (
        ValidationError as ValidationError,
    )
    from .history import TaskHistory as TaskHistory
    from .images import PreparedImage as PreparedImage
    from .images import prepare_image as prepare_image
    from .models import AccountStatus as AccountStatus
    from .models import Task as Task
    from .models import TaskStatus as TaskStatus
    from .models import VideoRequest as VideoRequest
    from .watcher import TaskWatcher as TaskWatcher
    from .widgets import BatchView as BatchView
    from .widgets import HistoryGallery as HistoryGallery
    from .widgets import ImagePicker as ImagePicker
    from .widgets import MultiImageToVideo as MultiImageToVideo
    from .widgets import OptionsPanel as OptionsPanel
    from .widgets import PromptBox as PromptBox
    from .widgets import TaskView as TaskView
