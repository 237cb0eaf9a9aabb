"""The package's front-end code: where it lives, and the small anywidget classes that run it.

Every script and stylesheet the browser runs is a file of its own in ``widgets/front/``: ``<part>.js``
is an ES module whose default export has ``render`` (anywidget's contract), ``<part>.css`` its styles,
``style.css`` the look every part shares. They ship as package data (pyproject.toml) and
tests/test_front_files.py has Node parse and import every module as shipped. A widget class takes the
file's path (``_esm = front_file("video.js")``): anywidget reads it when the class is made and, in a
source checkout with ``ANYWIDGET_HMR=1`` (and watchfiles installed), reloads it in the page when the
file changes. anywidget is imported when the first such piece is made, not with the package.
"""

from __future__ import annotations

import functools
from pathlib import Path

FRONT = Path(__file__).with_name("front")


def front_file(name: str) -> Path:
    """The path of a front-end file shipped with the package.

    Parameters
    ----------
    name : str
        Its name in ``widgets/front/`` ("video.js").

    Returns
    -------
    Path
        Where it is.
    """
    return FRONT / name


def front_text(*names: str) -> str:
    """The text of one or more front-end files, joined in order: a module that needs helpers of another
    file (a module anywidget loads as text cannot import a neighbour), or a stylesheet put into a page.

    Parameters
    ----------
    *names : str
        File names in ``widgets/front/``.

    Returns
    -------
    str
        Their contents, one after another.
    """
    return "\n".join(front_file(name).read_text(encoding="utf-8") for name in names)


@functools.cache
def front_end_class(name: str, esm: str, css: str = "") -> type:
    """The anywidget class ``name`` running the module file ``esm``, styled by the file ``css``.

    Parameters
    ----------
    name : str
        The class's name (the page's widget manager tells classes apart by it).
    esm : str
        The ES module's file name in ``widgets/front/``.
    css : str
        A stylesheet's file name there, or "" for none.

    Returns
    -------
    type
        A subclass of ``anywidget.AnyWidget``, made once per set of arguments.
    """
    import anywidget

    body: dict[str, object] = {"_esm": front_file(esm), "__module__": __name__}
    if css:
        body["_css"] = front_file(css)
    return type(name, (anywidget.AnyWidget,), body)
