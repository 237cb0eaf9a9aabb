"""Shared look: one small stylesheet and a few HTML helpers, so every part reads the same alone or
bundled. The stylesheet rides in an HTML widget (``<style>``), the way ipywidgets apps style themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets

from ..request import VideoRequest
from ..words import escape_html

W = TypeVar("W", bound=widgets.Widget)

# Colours come from JupyterLab's theme variables (Notebook 7 and Voila's lab template carry them too), with
# fallbacks for a page without them. A few of the theme's own shades are too faint for small text on one
# of the two themes (the dark theme's red on a card, its blue behind white text): the dark theme, which
# JupyterLab marks on <body>, gets the lighter shades. Text stays at 4.5:1 or more on both (the browser
# test measures it).
CSS = """
<style>
.kw-root, .kw-part, .kw-task {
  --kw-fg: var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87));
  /* Secondary text: the theme's text colour, a little lighter. The theme's own --jp-ui-font-color2 is
     4.6:1 on white and under 4.5:1 on a grey banner or a dark card: too faint for 12 px hints. */
  --kw-fg2: rgba(0, 0, 0, 0.66);
  --kw-fg2: color-mix(in srgb, var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87)) 76%, transparent);
  --kw-bg: var(--jp-layout-color1, #fff);
  --kw-bg2: var(--jp-layout-color2, #eee);
  --kw-border: var(--jp-border-color2, #e0e0e0);
  --kw-accent: var(--jp-brand-color1, #1976d2);
  --kw-focus: var(--jp-brand-color1, #1976d2);
  --kw-error: var(--jp-error-color0, #b71c1c);
  --kw-warn: #8a4b00;
  --kw-ok: var(--jp-success-color0, #1b5e20);
  --kw-tile: #eef1f5;
  --kw-pill-submitted: #e8eaf6; --kw-pill-submitted-fg: #303f9f;
  --kw-pill-processing: #fff3e0; --kw-pill-processing-fg: #8a4b00;
  --kw-pill-succeeded: #e6f4ea; --kw-pill-succeeded-fg: #1b5e20;
  --kw-pill-failed: #fdecea; --kw-pill-failed-fg: #b71c1c;
  --kw-pill-unknown: #f1f1f1; --kw-pill-unknown-fg: #4a4a4a;
  color: var(--kw-fg);
}
body[data-jp-theme-light="false"] :is(.kw-root, .kw-part, .kw-task) {
  --kw-accent: var(--jp-brand-color0, #1976d2);
  --kw-focus: var(--jp-brand-color2, #64b5f6);
  --kw-error: var(--jp-error-color2, #e57373);
  --kw-warn: var(--jp-warn-color2, #ffb74d);
  --kw-ok: var(--jp-success-color2, #81c784);
  --kw-tile: rgba(255, 255, 255, 0.08);
  --kw-pill-submitted: #283046; --kw-pill-submitted-fg: #c5cae9;
  --kw-pill-processing: #3d2c12; --kw-pill-processing-fg: #ffcc80;
  --kw-pill-succeeded: #1c3321; --kw-pill-succeeded-fg: #a5d6a7;
  --kw-pill-failed: #3e1f1f; --kw-pill-failed-fg: #ef9a9a;
  --kw-pill-unknown: #333; --kw-pill-unknown-fg: #ddd;
  scrollbar-color: rgba(200, 200, 200, 0.45) transparent;  /* a text area's scrollbar, light on dark */
}
.kw-root { max-width: 1840px; font-size: 13px; }
.kw-columns { gap: 0 28px; align-items: flex-start; }
.kw-column { flex: 1 1 640px; min-width: min(640px, 100%); max-width: 920px; }
.kw-section-title { font-weight: 600; font-size: 13px; margin: 10px 0 2px 0; color: var(--kw-fg); }
.kw-lines { padding: 2px 0; }
/* Text that wraps reads as lines 1.45 apart, not 28 px apart (ipywidgets' line height, made for one line). */
:is(.kw-root, .kw-part, .kw-task) .widget-html-content { line-height: 1.45; }
:is(.kw-root, .kw-part, .kw-task) .widget-html { height: auto; min-height: 0; }
.kw-hint { color: var(--kw-fg2); font-size: 12px; line-height: 1.4; }
.kw-error { color: var(--kw-error); font-size: 12px; line-height: 1.4; }
.kw-warning { color: var(--kw-warn); font-size: 12px; line-height: 1.4; }
.kw-ok { color: var(--kw-ok); font-size: 12px; }
/* Read by screen readers, not shown: the usual visually-hidden pattern. */
.kw-sr-only { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.kw-label { font-weight: 600; padding-top: 5px; color: var(--kw-fg); }
.kw-story { font-weight: 600; color: var(--kw-fg); margin-top: 2px; }
.kw-card { border: 1px solid var(--kw-border); border-radius: 6px; padding: 6px;
           margin: 0 8px 8px 0; background: var(--kw-bg); overflow: hidden; box-sizing: border-box; max-width: 100%; }
.kw-card img { border-radius: 4px; object-fit: cover; }
.kw-card .widget-image, .kw-card img { max-width: 100%; overflow: hidden; object-fit: cover; display: block; }
.kw-tile { background: var(--kw-tile); color: var(--kw-fg2); }
.kw-counter { font-size: 11px; color: var(--kw-fg2); text-align: right; }
.kw-counter.kw-error { color: var(--kw-error); font-weight: 600; }
/* Text areas fill their column exactly: ipywidgets' own margin would push them past it (a scrollbar). */
:is(.kw-root, .kw-part) .widget-textarea { width: 100%; max-width: 100%; box-sizing: border-box; margin-left: 0;
  margin-right: 0; }
:is(.kw-root, .kw-part) .widget-textarea textarea { width: 100%; max-width: 100%; box-sizing: border-box; }
:is(.kw-root, .kw-part) .widget-text { min-width: 0; }
:is(.kw-root, .kw-part) .widget-checkbox { height: auto; min-height: var(--jp-widgets-inline-height, 28px); }
:is(.kw-root, .kw-part) .widget-checkbox .widget-label-basic { white-space: normal; line-height: 1.35; }
/* A labelled button keeps its whole label: it does not shrink below it in a narrow pane. */
:is(.kw-root, .kw-part, .kw-task) .jupyter-button { flex-shrink: 0; }
:is(.kw-root, .kw-part, .kw-task) .jupyter-button:not(.kw-icon) { min-width: max-content; }
:is(.kw-root, .kw-part) .kw-wrap { flex-flow: row wrap; gap: 4px 0; }
/* The Voila app and a narrow notebook: nothing wider than the pane, no sideways scrollbar. */
.kw-root, .kw-part, .kw-task, .kw-column, .kw-columns { box-sizing: border-box; max-width: 100%; }
.kw-task { overflow-wrap: anywhere; }
.kw-task video, .kw-task .widget-video { max-width: 100%; }
/* A bar 100% wide plus ipywidgets' 2 px side margins is 4 px too wide: the card's sideways scrollbar. */
.kw-task .widget-hprogress { margin-left: 0; margin-right: 0; }
/* One focus ring on everything that takes focus: 2 px, the theme's accent. */
:is(.kw-root, .kw-part, .kw-task) :is(button, .jupyter-button, a, [tabindex="0"]):focus-visible,
:is(.kw-root, .kw-part, .kw-task) .jupyter-widget-Collapse-header:focus-visible,
:is(.kw-root, .kw-part, .kw-task) .widget-toggle-button:focus-visible {
  outline: 2px solid var(--kw-focus); outline-offset: 1px; box-shadow: none; }
:is(.kw-root, .kw-part) .jupyter-widget-Collapse-header { cursor: pointer; color: var(--kw-fg); }
:is(.kw-root, .kw-part) .jupyter-widget-Collapse-header:hover { background: var(--kw-bg2); }
.kw-options .widget-toggle-button.mod-active, .kw-options .jupyter-button.mod-active {
  background-color: var(--kw-accent); color: #fff; box-shadow: none; font-weight: 600; }
.kw-upload.widget-upload.jupyter-button { font-size: 0; --kw-name: "Upload pictures"; }
.kw-upload.widget-upload.jupyter-button > i { font-size: var(--jp-widgets-font-size, 13px); margin-right: 5px; }
.kw-upload.widget-upload.jupyter-button::after { content: var(--kw-name);
  font-size: var(--jp-widgets-font-size, 13px); }
.kw-fix { align-items: center; gap: 4px 6px; padding: 4px 0; }
.kw-copy { font-size: 10px; margin-left: 4px; padding: 0 6px; line-height: 16px; cursor: pointer; color: inherit;
  border: 1px solid var(--kw-border); border-radius: 3px; background: var(--kw-bg2); }
.kw-copy:hover { background: var(--jp-layout-color3, #e6e6e6); }
.kw-task a, .kw-card a, .kw-part a { color: var(--kw-accent); }
body[data-jp-theme-light="false"] :is(.kw-task, .kw-card, .kw-part) a { color: var(--jp-brand-color2, #64b5f6); }
/* A picked picture is shown whole, letterboxed on the tile colour: cropped to a square, the bars "Pad to
   fit" added (or the sides "Crop to fit" cut) would not show. More specific than .kw-card img (cover). */
.kw-card img.kw-thumb, .kw-thumb { width: 128px; height: 128px; object-fit: contain; background: var(--kw-tile);
  border-radius: 4px; cursor: zoom-in; display: block; }
.kw-lightbox { display: none; position: fixed; inset: 0; z-index: 10000; background: rgba(0, 0, 0, 0.82);
  align-items: center; justify-content: center; cursor: zoom-out; }
.kw-lightbox img { max-width: 90vw; max-height: 90vh; border-radius: 6px; box-shadow: 0 4px 24px rgba(0,0,0,.5); }
.kw-preview-toggle:checked ~ .kw-lightbox { display: flex; }
.kw-reason-error { color: var(--kw-error); font-size: 13px; font-weight: 600; }
.kw-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 11px; font-weight: 600; }
.kw-badge-submitted { background: var(--kw-pill-submitted); color: var(--kw-pill-submitted-fg); }
.kw-badge-processing { background: var(--kw-pill-processing); color: var(--kw-pill-processing-fg); }
.kw-badge-succeeded { background: var(--kw-pill-succeeded); color: var(--kw-pill-succeeded-fg); }
.kw-badge-failed { background: var(--kw-pill-failed); color: var(--kw-pill-failed-fg); }
.kw-badge-unknown { background: var(--kw-pill-unknown); color: var(--kw-pill-unknown-fg); }
.kw-banner { line-height: 1.45; padding: 6px 10px; border-radius: 6px; background: var(--kw-bg2); color: var(--kw-fg);
  font-size: 12px; }
.kw-account { margin-top: 3px; }
.kw-account-refused { color: var(--kw-error); font-weight: 600; }
.kw-account-warning { color: var(--kw-warn); }
.kw-task { border: 1px solid var(--kw-border); border-radius: 8px; padding: 8px 10px; margin: 6px 0; }
.kw-task-compact { margin: 0 8px 8px 0; }
.kw-batch-grid { display: flex; flex-flow: row wrap; }
.kw-mono { font-family: var(--jp-code-font-family, monospace); font-size: 11px; }
.kw-code { background: var(--kw-bg2); color: var(--kw-fg); }
</style>
"""


_SHARED: dict[str, Any] = {}


def shared(key: str, make: Callable[[], W]) -> W:
    """One widget for the whole kernel, shown in every part that asks for it: each part draws it, the
    page's state (and a saved notebook) holds it once. Made again if it was closed."""
    widget = _SHARED.get(key)
    if widget is None or widget.comm is None:
        widget = _SHARED[key] = make()
    return widget  # type: ignore[no-any-return]


def stylesheet() -> widgets.HTML:
    return shared("stylesheet", lambda: widgets.HTML(CSS, layout=widgets.Layout(display="none")))


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
