"""kling-widgets: Kling multi-image-to-video in Jupyter, and a small client under it.

Heavy pieces (Pillow, PyJWT, PyAV, the widgets' image work, the simulator) load on first use, so
importing this package costs little more than ipywidgets and requests themselves.
"""

from ._version import __version__
from .client import KlingClient
from .errors import (
    APIError,
    AuthenticationError,
    KlingError,
    RateLimitError,
    TaskFailedError,
    ValidationError,
)
from .history import TaskHistory
from .images import PreparedImage, prepare_image
from .models import Task, TaskStatus, VideoRequest
from .widgets import ImagePicker, MultiImageToVideo, OptionsPanel, PromptBox, TaskView

__all__ = [
    "APIError",
    "AuthenticationError",
    "ImagePicker",
    "KlingClient",
    "KlingError",
    "MultiImageToVideo",
    "OptionsPanel",
    "PreparedImage",
    "PromptBox",
    "RateLimitError",
    "Task",
    "TaskFailedError",
    "TaskHistory",
    "TaskStatus",
    "TaskView",
    "ValidationError",
    "VideoRequest",
    "__version__",
    "prepare_image",
]
