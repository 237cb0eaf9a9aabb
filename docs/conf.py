"""Sphinx configuration: the tutorials executed (cached), the user's guide, and the API reference.

Built by ``make docs`` into ``docs/_build/html``, with warnings as errors and every reference checked
(``-W --keep-going -n``). The page must read offline: no CDN, no web fonts, no widget script.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(ROOT))

from kling_widgets import __version__  # noqa: E402


def copy_tutorials() -> None:
    """The tutorials live in ``notebooks/`` (where ``make demo`` and the tests use them); Sphinx reads only
    its own folder, so each is copied into ``docs/tutorials/`` — only when it changed, so the copy keeps
    its time stamp and an unchanged tutorial is neither read again nor executed again."""
    target = HERE / "tutorials"
    target.mkdir(exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for source in sources:
        copy = target / source.name
        if not copy.exists() or not filecmp.cmp(source, copy, shallow=False):
            shutil.copy2(source, copy)
    for stale in set(target.glob("*.ipynb")) - {target / s.name for s in sources}:
        stale.unlink()


copy_tutorials()

# The tutorials run against the built-in simulator, never the real (billed) service, whatever the shell
# that runs the build holds; and what they journal goes under the build, not into the user's history.
for _name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_BASE_URL"):
    os.environ.pop(_name, None)
os.environ["KLING_WIDGETS_HOME"] = str(HERE / "_build" / "kling-home")

project = "kling-widgets"
author = "The kling-widgets authors"
copyright = "2026, the kling-widgets authors"
version = release = __version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "numpydoc",
    "kling_api",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "tutorials/sample-images", "tutorials/kling-pictures"]
suppress_warnings = ["myst.header"]  # the tutorials' titles are Markdown H1s in notebooks meant for Jupyter

# --- the tutorials: executed at build time against the built-in simulator (no key), cached ---------------
# jupyter-cache keys each notebook by its code cells: a rebuild with no tutorial changed executes nothing.
nb_execution_mode = "cache"
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True  # what a tutorial writes (pictures, videos, journals) stays out of docs/
nb_execution_excludepatterns: list[str] = []
# Our widgets open their comms detached, so an executed tutorial holds no widget state: each widget's
# output carries a text/html fallback (the form's static picture, task cards with their videos as data).
# A widget view without state would render as an empty box, and its script comes from a CDN: prefer the
# fallback, and load no widget script at all (the page must read offline).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# --- the API reference ---------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpy-style docstrings give every parameter's type in words
autodoc_default_options = {"members": True}  # no "Bases:" line: the bases are ipywidgets' or private
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Strict where it matters to a reader: every parameter documented (PR01), none documented that does not
# exist (PR02). Style trivia (summary punctuation, section order) is left to review.
numpydoc_validation_checks = {"PR01", "PR02"}
# TaskStatus is an Enum: nobody calls it with the parameters of Enum's functional API.
numpydoc_validation_exclude = {r"\.__init__$", r"\._[a-z]", r"^kling_widgets\.TaskStatus$"}

# --- checks -------------------------------------------------------------------------------------------------
nitpicky = True
# References outside the package (the standard library, ipywidgets, Pillow…) have no inventory offline:
# only the package's own names must resolve.
# Private names (a leading underscore) are not documented either.
nitpick_ignore_regex = [(r"py:.*", r"^(?!kling_widgets).*"), (r"py:.*", r".*\._[A-Za-z].*")]

# --- the page -----------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"kling-widgets {release}"
html_static_path = ["_static"]
html_css_files = ["kling.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
    "icon_links": [],
}
html_sidebars = {"index": [], "service": []}
html_show_sourcelink = False
html_copy_source = False
