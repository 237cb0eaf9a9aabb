"""PromptBox: the prompt and the negative prompt, each with a live counter against the 2500 limit."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets

from ..errors import Problem
from ..request import MAX_PROMPT_CHARS, text_problems
from ._publish import Published, detach
from ._style import esc, stylesheet, title
from .a11y import accessibility, named

PLACEHOLDER = "Describe the video: who is in it, what happens, where, and how the camera moves."
NEGATIVE_PLACEHOLDER = "Optional: what to avoid (blur, distorted hands, text on screen…)"


class PromptBox(Published, widgets.VBox):
    """``value`` is the prompt, ``negative_prompt`` the optional negative prompt.

    Parameters
    ----------
    value : str
        The prompt to start with.
    negative_prompt : str
        The negative prompt to start with.
    **kwargs
        Passed on to the ipywidgets box (``layout``, for instance).
    """

    value = traitlets.Unicode("", help="The prompt: what the video should show (at most 2500 characters).")
    negative_prompt = traitlets.Unicode("", help="What the video should avoid (optional, at most 2500 characters).")

    @detach
    def __init__(self, value: str = "", negative_prompt: str = "", **kwargs: Any) -> None:
        self.prompt_area = named(
            widgets.Textarea(
                placeholder=PLACEHOLDER, rows=4, continuous_update=True, layout=widgets.Layout(width="100%")
            ),
            "Prompt",
        )
        self.negative_area = named(
            widgets.Textarea(
                placeholder=NEGATIVE_PLACEHOLDER, rows=2, continuous_update=True, layout=widgets.Layout(width="100%")
            ),
            "Negative prompt",
        )
        self._prompt_count = widgets.HTML()
        self._negative_count = widgets.HTML()
        super().__init__(
            [
                stylesheet(),
                accessibility(),
                title("Prompt"),
                self.prompt_area,
                self._prompt_count,
                title("Negative prompt"),
                self.negative_area,
                self._negative_count,
            ],
            **kwargs,
        )
        self.add_class("kw-part")
        traitlets.link((self, "value"), (self.prompt_area, "value"))
        traitlets.link((self, "negative_prompt"), (self.negative_area, "value"))
        self.observe(self._count, names=["value", "negative_prompt"])
        self.value, self.negative_prompt = value, negative_prompt
        self._count()

    def static_html(self) -> str:
        """The prompt (and what to avoid) as text, for a saved notebook or an exported page.

        Returns
        -------
        str
            HTML that needs no widget script.
        """
        avoid = f'<div style="color:#666">Avoid: {esc(self.negative_prompt)}</div>' if self.negative_prompt else ""
        return f'<div class="kling-widgets-static"><div>Prompt: <i>{esc(self.value)}</i></div>{avoid}</div>'

    def __repr__(self) -> str:
        return f"PromptBox(value={self.value[:30]!r}, {len(self.value)} chars)"

    @property
    def problems(self) -> list[Problem]:
        """Length problems of either field (an empty prompt is the bundle's concern, not the box's)."""
        return text_problems("prompt", self.value, required=False) + text_problems(
            "negative_prompt", self.negative_prompt, required=False
        )

    def _count(self, _: object = None) -> None:
        self._prompt_count.value = _counter(len(self.value))
        self._negative_count.value = _counter(len(self.negative_prompt))


def _counter(length: int) -> str:
    if length > MAX_PROMPT_CHARS:
        over = length - MAX_PROMPT_CHARS
        return (
            f'<div class="kw-counter kw-error" style="text-align:right">{length:,} / {MAX_PROMPT_CHARS:,} — '
            f"{over:,} character{'s' if over != 1 else ''} over the limit: shorten it to send</div>"
        )
    return f'<div class="kw-counter">{length:,} / {MAX_PROMPT_CHARS:,}</div>'
