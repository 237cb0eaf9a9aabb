"""Shared look: one small stylesheet (widgets/front/style.css) and a few HTML helpers, so every part reads
the same alone or bundled. The stylesheet rides in an HTML widget (``<style>``), the way ipywidgets apps
style themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets

from ..request import VideoRequest
from ..words import escape_html
from ._front import front_text

W = TypeVar("W", bound=widgets.Widget)

# The look every part shares: widgets/front/style.css (why its colours are what they are is said there).
CSS = front_text("style.css")


_SHARED: dict[str, Any] = {}


def shared(key: str, make: Callable[[], W]) -> W:
    """One widget for the whole kernel, shown in every part that asks for it: each part draws it, the
    page's state (and a saved notebook) holds it once. Made again if it was closed."""
    widget = _SHARED.get(key)
    if widget is None or widget.comm is None:
        widget = _SHARED[key] = make()
    return widget  # type: ignore[no-any-return]


def style_tag(css: str) -> str:
    """``css`` as a ``<style>`` element, for an HTML widget that styles the page (the way ipywidgets apps
    style themselves: a widget's own ``_css`` exists only for anywidgets).

    Parameters
    ----------
    css : str
        The stylesheet's text (read from widgets/front/).

    Returns
    -------
    str
        The element's HTML.
    """
    return f"<style>\n{css}</style>"


def stylesheet() -> widgets.HTML:
    return shared("stylesheet", lambda: widgets.HTML(style_tag(CSS), layout=widgets.Layout(display="none")))


esc = escape_html  # one HTML escape for the package (kept in words: Task renders itself too)


def title(text: str) -> widgets.HTML:
    return widgets.HTML(f'<div class="kw-section-title">{esc(text)}</div>')


def human_size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(1, size // 1000)} KB"


def message_html(text: str, kind: str = "error") -> str:
    return f'<div class="kw-{kind}">{esc(text)}</div>' if text else ""


def shorten(text: object, width: int) -> str:
    """``text`` on one line, at most ``width`` characters (an ellipsis says when it was cut)."""
    line = str(text).replace("\n", " ")
    return line if len(line) <= width else line[: width - 1] + "…"


def request_label(request: VideoRequest, width: int = 48) -> str:
    """The prompt (shortened) and the settings: two runs of one prompt differ at a glance."""
    prompt = shorten(request.prompt.strip(), width)
    return f"{prompt} · {request.mode} · {request.duration} s · {request.aspect_ratio}"
