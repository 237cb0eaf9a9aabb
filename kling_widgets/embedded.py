"""A finished video carried inside the notebook, for publishing.

The service deletes its videos after 30 days, and an exported page may be read offline:
``KlingClient.embed(task)`` fetches the bytes once and this object carries them as a data URI.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from .task import Task
from .words import escape_html, video_html


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
