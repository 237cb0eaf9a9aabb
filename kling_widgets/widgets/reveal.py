"""Bring a result into view: after Generate the new card, after Reuse the reloaded form, is scrolled to
(in the notebook's panel, a Voila page, one of the app's two columns) and briefly outlined.

The kernel cannot scroll a page: a few lines of JavaScript (an anywidget, invisible, inside the bundle)
do it when told which widget to show. The widget is found by a class given to it, within the same
bundle on the page, so a bundle displayed twice scrolls each copy in its own place.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ._front import front_end_class
from ._publish import detached

ESM = r"""
function render({ model, el }) {
  el.style.display = "none";
  const onMessage = (message) => {
    if (!message || message.kind !== "reveal" || !/^kw-reveal-[\w-]+$/.test(message.css || "")) return;
    const root = el.closest(".kw-root") || document;
    let tries = 0;
    const find = () => {
      const target = root.querySelector("." + message.css);
      if (!target || !target.offsetParent) {  // the card's view may not be drawn yet
        if (tries++ < 40) setTimeout(find, 50);
        return;
      }
      const still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      target.scrollIntoView({ behavior: still ? "auto" : "smooth", block: message.block || "nearest" });
      target.classList.remove("kw-flash");
      void target.offsetWidth;  // restart the outline's animation when shown twice
      target.classList.add("kw-flash");
      setTimeout(() => target.classList.remove("kw-flash"), 2600);
    };
    find();
  };
  model.on("msg:custom", onMessage);
  return () => model.off("msg:custom", onMessage);
}
export default { render };
"""

CSS = """
@keyframes kw-flash { from { box-shadow: 0 0 0 3px var(--jp-brand-color1, #1976d2); }
                      to { box-shadow: 0 0 0 3px transparent; } }
.kw-flash { animation: kw-flash 2.5s ease-out; border-radius: 8px; }
"""


class Reveal:
    """``Reveal()``: put ``.widget`` in the bundle (it is invisible); ``show(target)`` scrolls every
    drawn copy of ``target`` into view and outlines it for a moment."""

    def __init__(self) -> None:
        with detached():
            self.widget: Any = front_end_class("Revealer", ESM, CSS)()

    def show(self, target: widgets.DOMWidget, *, block: str = "nearest") -> None:
        css = f"kw-reveal-{target.model_id[:12]}"
        if css not in target._dom_classes:
            target.add_class(css)
        self.widget.send({"kind": "reveal", "css": css, "block": block})
