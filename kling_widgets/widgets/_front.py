"""Small front-end pieces (a few lines of JavaScript each) as anywidget classes, made when first used:
anywidget loads with the first such piece, not with the package."""

from __future__ import annotations

import functools


@functools.cache
def front_end_class(name: str, esm: str, css: str = "") -> type:
    """The anywidget class ``name`` running ``esm`` (an ES module with ``render``), styled by ``css``."""
    import anywidget

    return type(name, (anywidget.AnyWidget,), {"_esm": esm, "_css": css, "__module__": __name__})
