"""kling-widgets: Kling multi-image-to-video in Jupyter, and a small client under it.

The public names load on first use (PEP 562), and heavy pieces (Pillow, PyJWT, PyAV, the simulator)
only when something needs them, so importing the package costs little more than ipywidgets and
requests themselves.

The public surface is listed once, in the ``TYPE_CHECKING`` block below: type checkers and editors read
those imports as they are, and at run time the same lines are read (not run) to learn which module
holds each name, the first time a name is asked for. To make a name public, add one line there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

if TYPE_CHECKING:
    from .account_status import AccountStatus as AccountStatus
    from .batch import Batch as Batch
    from .client import KlingClient as KlingClient
    from .download import DownloadError as DownloadError
    from .errors import AccountError as AccountError
    from .errors import APIConnectionError as APIConnectionError
    from .errors import APIError as APIError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import BadRequestError as BadRequestError
    from .errors import BatchTimeoutError as BatchTimeoutError
    from .errors import BudgetExceededError as BudgetExceededError
    from .errors import ContentPolicyError as ContentPolicyError
    from .errors import CreateOutcomeUnknownError as CreateOutcomeUnknownError
    from .errors import GatewayError as GatewayError
    from .errors import KlingError as KlingError
    from .errors import NotFoundError as NotFoundError
    from .errors import PayloadError as PayloadError
    from .errors import PermissionDeniedError as PermissionDeniedError
    from .errors import Problem as Problem
    from .errors import RateLimitError as RateLimitError
    from .errors import RedirectError as RedirectError
    from .errors import RequestTooLargeError as RequestTooLargeError
    from .errors import ServerError as ServerError
    from .errors import TaskFailedError as TaskFailedError
    from .errors import ValidationError as ValidationError
    from .errors import WaitTimeoutError as WaitTimeoutError
    from .film import FilmError as FilmError
    from .history import TaskHistory as TaskHistory
    from .images import PreparedImage as PreparedImage
    from .images import prepare_image as prepare_image
    from .playback import VideoUnavailable as VideoUnavailable
    from .pricing import estimate_units as estimate_units
    from .request import VideoRequest as VideoRequest
    from .story import Storyboard as Storyboard
    from .sweeps import sweep as sweep
    from .task import Task as Task
    from .task import TaskStatus as TaskStatus
    from .watcher import TaskWatcher as TaskWatcher
    from .widgets import BatchView as BatchView
    from .widgets import HistoryGallery as HistoryGallery
    from .widgets import ImagePicker as ImagePicker
    from .widgets import MultiImageToVideo as MultiImageToVideo
    from .widgets import OptionsPanel as OptionsPanel
    from .widgets import PromptBox as PromptBox
    from .widgets import StoryboardView as StoryboardView
    from .widgets import TaskView as TaskView
    from .widgets.video import VideoPlayer as VideoPlayer
else:
    _where: dict[str, str] | None = None

    def _public() -> dict[str, str]:
        """Public name → the submodule holding it, read once from the ``TYPE_CHECKING`` block above.

        The package's front-end files are read from disk already, so reading this one's source adds no
        new requirement; ``ast`` is loaded by ipywidgets anyway, and only on the first name asked for.
        """
        global _where
        if _where is None:
            import ast

            with open(__file__, encoding="utf-8") as source:
                tree = ast.parse(source.read())
            block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
            _where = {  # built whole, then published: another thread never sees half of it
                alias.asname or alias.name: str(line.module)
                for line in block.body
                if isinstance(line, ast.ImportFrom)
                for alias in line.names
            }
        return _where

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            value: Any = [*sorted(_public()), "__version__"]
        elif name in _public():
            import importlib

            value = getattr(importlib.import_module(f".{_public()[name]}", __name__), name)
        else:
            raise AttributeError(f"module 'kling_widgets' has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*_public(), "__version__"])
