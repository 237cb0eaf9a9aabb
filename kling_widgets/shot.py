"""A shot of a storyboard: its prompt, its takes, and which take the film uses.

Plain state the :class:`~kling_widgets.story.Storyboard` keeps per shot and changes as its queue reports;
the storyboard decides when a shot is sent, continued or picked, the shot only says where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .batch_item import BatchItem
from .images import PreparedImage
from .task import Task, TaskStatus

MAX_TAKES = 4  # takes of one shot sent at once: more is a sweep, not a comparison

#: What a shot is doing: not sent yet (``draft``), waiting for the previous shot's pick (``waiting``),
#: reading the last frame of that pick (``preparing``), its takes given to the queue (``sent``), every
#: take ended (``done``), or it cannot be sent (``blocked``: ``Shot.problem`` says why).
SHOT_STATES = ("draft", "waiting", "preparing", "sent", "done", "blocked")


@dataclass(eq=False)
class Shot:
    """One shot of a storyboard: a prompt, its takes (tasks, in order) and the pick among them."""

    index: int  #: its place in the storyboard, from 0
    prompt: str
    negative_prompt: str | None = None
    duration: int = 5
    take_count: int = 1  #: how many takes are asked for
    images: tuple[PreparedImage | str, ...] | None = None  #: pictures this shot adds after the cast
    continue_from_previous: bool = False
    external_ids: list[str] = field(default_factory=list)  #: one per take, fixed when the shot is added
    state: str = "draft"
    note: str | None = None  #: what was done to its pictures (the continuity frame replacing a cast picture)
    problem: str | None = None  #: why it cannot be sent, while ``blocked``
    continued_from: tuple[int, int] | None = None  #: (shot, take) whose last frame it carries
    frame: PreparedImage | None = field(default=None, repr=False)  #: that frame, as sent
    picked_index: int | None = None  #: the take picked by hand (None: the first that succeeded)
    _items: list[BatchItem] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        return f"Shot({self.index}, {self.prompt[:40]!r}, {self.take_count} take(s), {self.state})"

    @property
    def label(self) -> str:
        """'shot 2' (counted from 1, for people)."""
        return f"shot {self.index + 1}"

    @property
    def takes(self) -> list[Task | None]:
        """The task of each take, in order (None while it has none). A take that created no task
        (refused, cancelled, outcome unknown) shows as a failed task carrying the reason."""
        tasks: list[Task | None] = [None] * self.take_count
        for take, item in enumerate(self._items[: self.take_count]):
            tasks[take] = item.outcome() if item.final else item.task
        return tasks

    @property
    def settled(self) -> bool:
        """True once every take ended (succeeded, failed or refused), or the shot cannot be sent."""
        if self.state == "blocked":
            return True
        return len(self._items) >= self.take_count and all(item.final for item in self._items)

    @property
    def picked(self) -> Task | None:
        """The take the film uses: the one picked by hand, else the first that succeeded (None: none yet)."""
        index = self.pick_index
        return None if index is None else self.takes[index]

    @property
    def pick_index(self) -> int | None:
        """The index of :attr:`picked` among the takes."""
        takes = self.takes
        if self.picked_index is not None:
            return self.picked_index
        return next((i for i, t in enumerate(takes) if t is not None and t.status is TaskStatus.SUCCEEDED), None)

    def settings(self) -> dict[str, Any]:
        """What the journal keeps of the shot (never picture bytes)."""
        return {
            "index": self.index,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "duration": self.duration,
            "takes": self.take_count,
            "continue_from_previous": self.continue_from_previous,
            "external_ids": list(self.external_ids),
        }


def takes_words(shot: Shot) -> str:
    """'takes: failed, processing' or 'not sent yet'."""
    takes = shot.takes
    if all(t is None for t in takes):
        return shot.problem or "not sent yet"
    return "takes: " + ", ".join("not sent" if t is None else t.status.value for t in takes)
