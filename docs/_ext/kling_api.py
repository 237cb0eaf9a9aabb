"""The API reference, generated from the package's public names.

``kling_widgets.__all__`` is the contract of what users import; the reference documents exactly those
names (plus the simulator), grouped by what they are for, so a name added to ``__all__`` appears without
anyone editing a page. Each is documented under the name users import it by (``kling_widgets.Batch``),
and a reference to the module it lives in (``kling_widgets.batch.Batch``, as type hints and docstrings
name it) resolves to that entry.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

# Which section a public name belongs to, by the module it is defined in (first match wins).
SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("widgets", "Widgets", ("kling_widgets.widgets",)),
    ("client", "The client, requests and tasks", ("kling_widgets.client", "kling_widgets.request",
                                                  "kling_widgets.task", "kling_widgets.account_status",
                                                  "kling_widgets.images", "kling_widgets.playback")),
    ("batches", "Batches, sweeps and storyboards", ("kling_widgets.batch", "kling_widgets.sweeps",
                                                    "kling_widgets.pricing", "kling_widgets.story",
                                                    "kling_widgets.film")),
    ("history", "History, watching and the account", ("kling_widgets.history", "kling_widgets.watcher",
                                                      "kling_widgets.account")),
    ("errors", "Errors", ("kling_widgets.errors", "kling_widgets.download", "kling_widgets.http_errors")),
    ("simulator", "The simulator", ("kling_widgets.simulator",)),
]
EXTRA = {"Simulator": "kling_widgets.simulator"}  # public too, imported from its own module


def public_names() -> dict[str, tuple[str, Any]]:
    """Every documented name: ``{name: (the module users import it from, the object)}``."""
    package = importlib.import_module("kling_widgets")
    names = {n: ("kling_widgets", getattr(package, n)) for n in package.__all__ if n != "__version__"}
    for name, module in EXTRA.items():
        names[name] = (module, getattr(importlib.import_module(module), name))
    return names


def section_of(obj: Any) -> str:
    module = getattr(obj, "__module__", "") or ""
    for key, _title, prefixes in SECTIONS:
        if module.startswith(prefixes):
            return key
    return "more"


def directive_for(qualified: str, obj: Any) -> list[str]:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return [f".. autoexception:: {qualified}", "   :members:", ""]
    if inspect.isclass(obj):
        return [f".. autoclass:: {qualified}", "   :members:", ""]
    if callable(obj):
        return [f".. autofunction:: {qualified}", ""]
    return [f".. autodata:: {qualified}", ""]


class KlingApi(SphinxDirective):
    """``.. kling-api::``: every public name, a section per purpose, in a stable order."""

    def run(self) -> list[nodes.Node]:
        groups: dict[str, list[str]] = {}
        for name, (_module, obj) in public_names().items():
            groups.setdefault(section_of(obj), []).append(name)
        names = public_names()
        lines: list[str] = []
        titles = [(key, title) for key, title, _ in SECTIONS] + [("more", "More")]
        for key, title in titles:
            members = sorted(groups.get(key, []), key=lambda n: (not inspect.isclass(names[n][1]), n))
            if not members:
                continue
            lines += [title, "-" * len(title), ""]
            for name in members:
                module, obj = names[name]
                lines += directive_for(f"{module}.{name}", obj)
        lines += ["Version", "-------", "", ".. py:data:: kling_widgets.__version__", "",
                  "   The installed package's version, a string such as ``\"0.1.0\"``.", ""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="kling_widgets.__all__"), container)
        return list(container.children)


def resolve_by_public_name(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Node) -> Any:
    """``kling_widgets.batch.Batch`` (where it is defined) → ``kling_widgets.Batch`` (where it is documented)."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("kling_widgets."):
        return None
    names = public_names()
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in names:
            module = names[parts[i]][0]
            public = ".".join([module, *parts[i:]])
            if public == target:
                return None
            domain = env.get_domain("py")
            builder = app.builder
            for role in ("class", "exc", "func", "meth", "attr", "obj"):
                found = domain.resolve_xref(env, node["refdoc"], builder, role, public, node, contnode)
                if found is not None:
                    return found
            return None
    return None


def constructor_signature(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str | None, return_annotation: str | None
) -> tuple[str, str | None] | None:
    """A widget's signature is its ``__init__``'s (followed through our decorators), not the
    ``(*args, **kwargs)`` of traitlets' ``__new__`` that autodoc would otherwise show."""
    if what != "class" or not inspect.isclass(obj) or "__init__" not in vars(obj):
        return None
    try:
        found = inspect.signature(obj.__init__)
    except (TypeError, ValueError):
        return None
    parameters = [p.replace(annotation=inspect.Parameter.empty) for p in list(found.parameters.values())[1:]]
    return str(found.replace(parameters=parameters, return_annotation=inspect.Signature.empty)), None


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("kling-api", KlingApi)
    app.connect("autodoc-process-signature", constructor_signature)
    app.connect("missing-reference", resolve_by_public_name)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
