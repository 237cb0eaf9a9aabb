"""The widgets: each part works alone, and MultiImageToVideo bundles them."""

from .app import MultiImageToVideo
from .batch import BatchView
from .gallery import HistoryGallery
from .images import ImagePicker
from .options import OptionsPanel
from .prompt import PromptBox
from .status import TaskGallery, TaskView
from .story import StoryboardView

__all__ = [
    "BatchView",
    "HistoryGallery",
    "ImagePicker",
    "MultiImageToVideo",
    "OptionsPanel",
    "PromptBox",
    "StoryboardView",
    "TaskGallery",
    "TaskView",
]
