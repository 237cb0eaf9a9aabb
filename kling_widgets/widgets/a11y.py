"""Keyboard and screen-reader support that ipywidgets cannot give from Python.

ipywidgets sets a control's ``title`` (the tooltip) and a ``<label for>`` (the description), nothing else:
no pressed state on toggle buttons, headers of Accordion panels that neither take focus nor say whether
they are open, no live regions. This small front-end piece (an anywidget, like the drop zone) fills that in
on the page, by class, and keeps it true as widgets redraw:

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

SCOPE = ".kw-root, .kw-part, .kw-task"  # every part of this package marks its root with one of these
ESM = (
    f"const SCOPE = {SCOPE!r};\n"
    + r"""
const inScope = (sel) => SCOPE.split(",").map((s) => `${s.trim()} ${sel}`).join(",");
const set = (el, name, value) => { if (el.getAttribute(name) !== value) el.setAttribute(name, value); };
const PRESS = inScope(".jupyter-widget-Collapse-header") + "," + inScope(".kw-press");

function apply() {
  for (const root of document.querySelectorAll(SCOPE)) set(root, "data-lm-suppress-shortcuts", "true");
  for (const el of document.querySelectorAll(inScope(".widget-toggle-button"))) {
    set(el, "aria-pressed", String(el.classList.contains("mod-active")));
  }
  for (const el of document.querySelectorAll(inScope(".widget-toggle-buttons"))) set(el, "role", "group");
  for (const el of document.querySelectorAll(inScope("button .fa"))) set(el, "aria-hidden", "true");
  for (const el of document.querySelectorAll(inScope(".jupyter-widget-Collapse-header"))) {
    set(el, "role", "button");
    set(el, "tabindex", "0");
    set(el, "aria-expanded", String(!!el.querySelector(".fa-caret-down")));
    const icon = el.querySelector(".fa");
    if (icon) set(icon, "aria-hidden", "true");
  }
  for (const el of document.querySelectorAll(".kw-named")) {
    // The control itself, or the field inside the widget; a group of toggle buttons is named as a group.
    const fields = "button, input, textarea, select";
    const own = el.matches(fields) || el.classList.contains("widget-toggle-buttons");
    const control = own ? el : el.querySelector(fields);
    const label = el.querySelector(":scope > .widget-label");  // where a toggle group keeps its tooltip
    const name = (control && control.getAttribute("title")) || el.getAttribute("title") || label?.getAttribute("title");
    if (control && name) set(control, "aria-label", name);
  }
  for (const el of document.querySelectorAll(inScope("button"))) {
    // A label drawn by the stylesheet (content: var(--kw-name)) is the button's name.
    const drawn = getComputedStyle(el).getPropertyValue("--kw-name").trim().replace(/^["']|["']$/g, "");
    if (drawn) set(el, "aria-label", drawn);
  }
  for (const el of document.querySelectorAll(".kw-live")) {
    set(el, "aria-live", "polite");
    set(el, "role", "status");
  }
  for (const el of document.querySelectorAll(inScope(".kw-press"))) {
    set(el, "tabindex", "0");
    if (!el.getAttribute("role")) set(el, "role", "button");
  }
  for (const el of document.querySelectorAll(inScope(".widget-hprogress"))) {
    set(el, "role", "progressbar");
    set(el, "aria-valuemin", "0");
    set(el, "aria-valuemax", "100");
    if (!el.getAttribute("aria-label")) set(el, "aria-label", "Progress");
    const bar = el.querySelector(".progress-bar");
    const width = bar ? parseFloat(bar.style.width || bar.style.height || "0") : NaN;
    if (!Number.isNaN(width)) set(el, "aria-valuenow", String(Math.round(width)));
  }
}

function install() {
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; apply(); });
  };
  new MutationObserver(schedule).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["class", "title", "style"],
  });
  // Enter or Space on a header or a kw-press element acts as a click, as on a button.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {  // Escape closes a picture's larger view
      for (const box of document.querySelectorAll(".kw-preview-toggle:checked")) box.checked = false;
      return;
    }
    if (event.key !== "Enter" && event.key !== " ") return;
    const target = event.target;
    if (!(target instanceof Element) || !target.matches(PRESS)) return;
    event.preventDefault();
    event.stopPropagation();
    target.click();
    schedule();
  }, true);
  apply();
}

function render({ el }) {
  el.style.display = "none";
  if (!window.__klingWidgetsA11y) {
    window.__klingWidgetsA11y = true;
    install();
  }
}
export default { render };
"""
)


def accessibility() -> Any:
    """The front-end piece, to put (hidden) in a part's children: once per page is enough, any part may
    (one widget for the kernel, like the stylesheet)."""
    return shared("accessibility", lambda: front_end_class("Accessibility", ESM)(layout=widgets.Layout(display="none")))


W = TypeVar("W", bound=widgets.DOMWidget)


def named(widget: W, name: str) -> W:
    """Give ``widget`` an accessible name (and the same words as its tooltip): a field, a dropdown or
    an icon button whose glyph says nothing to a screen reader."""
    widget.tooltip = name
    widget.add_class("kw-named")
    return widget
