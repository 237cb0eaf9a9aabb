"""The widgets: each part works alone, and MultiImageToVideo bundles them."""

from .app import MultiImageToVideo
from .batch import BatchView
from .gallery import HistoryGallery
from .images import ImagePicker
from .options import OptionsPanel
from .prompt import PromptBox
from .status import TaskGallery, TaskView

__all__ = [
    "BatchView",
    "HistoryGallery",
    "ImagePicker",
    "MultiImageToVideo",
    "OptionsPanel",
    "PromptBox",
    "TaskGallery",
    "TaskView",
]
