"""Shared look: one small stylesheet and a few HTML helpers, so every part reads the same alone or
bundled. The stylesheet rides in an HTML widget (``<style>``), the way ipywidgets apps style themselves."""

from __future__ import annotations

import ipywidgets as widgets

from ..models import VideoRequest, escape_html

CSS = """
<style>
.kw-root { max-width: 1840px; font-size: 13px; }
.kw-columns { gap: 0 28px; align-items: flex-start; }
.kw-column { flex: 1 1 640px; min-width: min(640px, 100%); max-width: 920px; }
.kw-section-title { font-weight: 600; font-size: 13px; margin: 10px 0 2px 0; color: var(--jp-ui-font-color1, #222); }
.kw-lines { line-height: 1.45; padding: 2px 0; }  /* a hint that wraps, not 28 px apart (ipywidgets' line) */
.kw-hint { color: var(--jp-ui-font-color2, #666); font-size: 12px; line-height: 1.4; }
.kw-error { color: #b3261e; font-size: 12px; line-height: 1.4; }
.kw-warning { color: #8a5300; font-size: 12px; line-height: 1.4; }
.kw-ok { color: #1e7b34; font-size: 12px; }
.kw-card { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 6px; padding: 6px;
           margin: 0 8px 8px 0; background: var(--jp-layout-color1, #fff); }
.kw-card img { border-radius: 4px; object-fit: cover; }
.kw-counter { font-size: 11px; color: var(--jp-ui-font-color2, #777); text-align: right; }
.kw-counter.kw-error { color: #b3261e; font-weight: 600; }
.kw-card { overflow: hidden; }
.kw-card .widget-image, .kw-card img { max-width: 100%; overflow: hidden; object-fit: cover; display: block; }
.kw-root .widget-textarea, .kw-root .widget-textarea textarea { width: 100%; max-width: 100%; box-sizing: border-box; }
.kw-root .widget-textarea { margin-right: 0; padding-right: 2px; }
.kw-options .widget-toggle-button.mod-active, .kw-options .jupyter-button.mod-active {
  background-color: var(--jp-brand-color1, #1976d2); color: #fff; box-shadow: none; font-weight: 600; }
.kw-upload.widget-upload.jupyter-button { font-size: 0; }
.kw-upload.widget-upload.jupyter-button > i { font-size: var(--jp-widgets-font-size, 13px); margin-right: 5px; }
.kw-upload.widget-upload.jupyter-button::after { content: "Upload pictures";
  font-size: var(--jp-widgets-font-size, 13px); }
.kw-copy { font-size: 10px; margin-left: 4px; padding: 0 6px; line-height: 16px; cursor: pointer; color: inherit;
  border: 1px solid var(--jp-border-color2, #ccc); border-radius: 3px; background: var(--jp-layout-color2, #f3f3f3); }
.kw-copy:hover { background: var(--jp-layout-color3, #e6e6e6); }
.kw-thumb { width: 128px; height: 128px; object-fit: cover; border-radius: 4px; cursor: zoom-in; display: block; }
.kw-lightbox { display: none; position: fixed; inset: 0; z-index: 10000; background: rgba(0, 0, 0, 0.82);
  align-items: center; justify-content: center; cursor: zoom-out; }
.kw-lightbox img { max-width: 90vw; max-height: 90vh; border-radius: 6px; box-shadow: 0 4px 24px rgba(0,0,0,.5); }
.kw-preview-toggle:checked ~ .kw-lightbox { display: flex; }
.kw-reason-error { color: #b3261e; font-size: 13px; font-weight: 600; }
.kw-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 11px; font-weight: 600; }
.kw-badge-submitted { background: #e8eaf6; color: #303f9f; }
.kw-badge-processing { background: #fff3e0; color: #a04d00; }
.kw-badge-succeeded { background: #e6f4ea; color: #1e7b34; }
.kw-badge-failed { background: #fdecea; color: #b3261e; }
.kw-badge-unknown { background: #f1f1f1; color: #555; }
.kw-banner { padding: 6px 10px; border-radius: 6px; background: var(--jp-layout-color2, #f4f6f8); font-size: 12px; }
.kw-account { margin-top: 3px; }
.kw-account-refused { color: #b3261e; font-weight: 600; }
.kw-account-warning { color: #8a5300; }
.kw-task { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 8px; padding: 8px 10px; margin: 6px 0; }
.kw-task-compact { margin: 0 8px 8px 0; }
.kw-batch-grid { display: flex; flex-flow: row wrap; }
.kw-mono { font-family: var(--jp-code-font-family, monospace); font-size: 11px; }
</style>
"""


def stylesheet() -> widgets.HTML:
    return widgets.HTML(CSS, layout=widgets.Layout(display="none"))


esc = escape_html  # one HTML escape for the package (kept in models: Task renders itself too)


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
