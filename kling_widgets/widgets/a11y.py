"""Keyboard and screen-reader support that ipywidgets cannot give from Python.

ipywidgets sets a control's ``title`` (the tooltip) and a ``<label for>`` (the description), nothing else:
no pressed state on toggle buttons, headers of Accordion panels that neither take focus nor say whether
they are open, no live regions. This small front-end piece (front/a11y.js, an anywidget like the drop
zone) fills that in on the page, by class, and keeps it true as widgets redraw:

- toggle buttons say whether they are pressed (``aria-pressed``);
- panel headers take focus, open with Enter or Space, and say whether they are open (``aria-expanded``);
- a widget given ``kw-named`` takes its tooltip as its accessible name (``aria-label``): icon buttons
  (◀ ▶ ✕) are named by what they do, not by their glyph; icons inside buttons are hidden from readers; a
  button whose label the stylesheet draws (``--kw-name``) is named by it;
- ``kw-live`` regions announce their changes politely (``aria-live="polite"``, ``role="status"``);
- elements given ``kw-press`` (a thumbnail that opens a preview) are operated like buttons, and Escape
  closes the preview;
- progress bars are progress bars, with their value; keys typed inside a part are its own, never
  JupyterLab's notebook shortcuts (``data-lm-suppress-shortcuts``), so Enter presses the button that has
  focus instead of opening the cell for editing.

The script installs itself once per page, however many parts carry it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import ipywidgets as widgets

from ._front import front_end_class
from ._style import shared


def accessibility() -> Any:
    """The front-end piece, to put (hidden) in a part's children: once per page is enough, any part may
    (one widget for the kernel, like the stylesheet)."""
    hidden = widgets.Layout(display="none")
    return shared("accessibility", lambda: front_end_class("Accessibility", "a11y.js")(layout=hidden))


W = TypeVar("W", bound=widgets.DOMWidget)


def named(widget: W, name: str) -> W:
    """Give ``widget`` an accessible name (and the same words as its tooltip): a field, a dropdown or
    an icon button whose glyph says nothing to a screen reader."""
    widget.tooltip = name
    widget.add_class("kw-named")
    return widget
