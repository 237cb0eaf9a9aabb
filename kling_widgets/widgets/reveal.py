"""Bring a result into view: after Generate the new card, after Reuse the reloaded form, is scrolled to
(in the notebook's panel, a Voila page, one of the app's two columns) and briefly outlined.

The kernel cannot scroll a page: a few lines of JavaScript (front/reveal.js: an anywidget, invisible, inside
the bundle) do it when told which widget to show. The widget is found by a class given to it, within the same
bundle on the page, so a bundle displayed twice scrolls each copy in its own place.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ._front import front_end_class
from ._publish import detached


class Reveal:
    """``Reveal()``: put ``.widget`` in the bundle (it is invisible); ``show(target)`` scrolls every
    drawn copy of ``target`` into view and outlines it for a moment."""

    def __init__(self) -> None:
        with detached():
            self.widget: Any = front_end_class("Revealer", "reveal.js", "reveal.css")()

    def show(self, target: widgets.DOMWidget, *, block: str = "nearest") -> None:
        css = f"kw-reveal-{target.model_id[:12]}"
        target.add_class(css)  # once: ipywidgets adds a class the widget has not got yet
        self.widget.send({"kind": "reveal", "css": css, "block": block})
