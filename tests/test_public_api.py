"""The public surface: every name importable from the package, every error a user may meet among them,
and numpy-style docstrings that name every parameter (the API reference is generated from them)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import traitlets

import kling_widgets
from kling_widgets.simulator import Simulator

# DESIGN.md's public API, which tutorials and users import by these names.
DESIGN_NAMES = [
    "KlingClient",
    "VideoRequest",
    "Task",
    "TaskStatus",
    "PreparedImage",
    "prepare_image",
    "TaskHistory",
    "MultiImageToVideo",
    "ImagePicker",
    "PromptBox",
    "OptionsPanel",
    "TaskView",
    "Batch",
    "BatchView",
    "sweep",
    "estimate_units",
    "HistoryGallery",
    "AccountStatus",
    "Storyboard",
    "StoryboardView",
    "KlingError",
    "ValidationError",
    "APIError",
    "AuthenticationError",
    "RateLimitError",
    "TaskFailedError",
    "Problem",
    "VideoPlayer",
]


def public_objects() -> Iterator[tuple[str, Any]]:
    for name in kling_widgets.__all__:
        if name != "__version__":
            yield name, getattr(kling_widgets, name)
    yield "simulator.Simulator", Simulator


def test_every_public_name_imports_and_the_bare_import_loads_none_of_them() -> None:
    assert set(DESIGN_NAMES) <= set(kling_widgets.__all__)
    assert sorted(dir(kling_widgets)) == sorted(kling_widgets.__all__)
    probe = textwrap.dedent(
        """
        import sys
        import kling_widgets
        print(sorted(m for m in sys.modules if m.startswith("kling_widgets")))
        from kling_widgets import *
        missing = [n for n in kling_widgets.__all__ if n not in globals()]
        print(missing)
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded, missing = out.splitlines()
    assert loaded == "['kling_widgets', 'kling_widgets._version']"  # the rest loads on first use
    assert missing == "[]"
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = kling_widgets.no_such_name  # type: ignore[attr-defined]


def test_every_error_the_package_defines_is_importable_from_it() -> None:
    defined = set()
    for module in pkgutil.walk_packages(kling_widgets.__path__, "kling_widgets."):
        if module.name.endswith("__main__"):
            continue
        for name, value in vars(importlib.import_module(module.name)).items():
            if (
                isinstance(value, type)
                and issubclass(value, kling_widgets.KlingError)
                and value.__module__ == module.name
                and not name.startswith("_")
            ):
                defined.add(name)
    assert defined - set(kling_widgets.__all__) == set()
    for name in defined:
        assert getattr(kling_widgets, name).__name__ == name


# --- docstrings -------------------------------------------------------------------------------------------


def sections(doc: str | None) -> dict[str, list[str]]:
    """A numpy-style docstring's sections ("Parameters", "Returns"…) and their lines, dedented."""
    lines = inspect.cleandoc(doc or "").splitlines()
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for index, line in enumerate(lines):
        underline = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if line.strip() and len(underline) >= 3 and set(underline) == {"-"}:
            current = found.setdefault(line.strip(), [])
        elif set(line.strip()) != {"-"}:
            current.append(line)
    return found


def documented(doc: str | None) -> set[str]:
    """The names the ``Parameters`` (and ``Other Parameters``) sections give, as in ``name : type``."""
    names = set()
    found = sections(doc)
    for line in found.get("Parameters", []) + found.get("Other Parameters", []):
        if line and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip().lstrip("*"))
    return names


def parameters(function: Callable[..., Any], *, skip_first: bool) -> list[str]:
    names = [p for p in inspect.signature(function).parameters if not p.startswith("_")]  # "_x": private
    return names[1:] if skip_first else names


def ours(owner: type) -> bool:
    return owner.__module__.startswith("kling_widgets")


def exported_errors_raised(function: Callable[..., Any]) -> set[str]:
    """The package's own errors a function raises directly (``raise SomeError(…)`` in its body)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError):
        return set()
    raised = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            called = node.exc.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
            if name in kling_widgets.__all__ and isinstance(getattr(kling_widgets, name), type):
                raised.add(name)
    return raised


def check_callable(where: str, function: Callable[..., Any], *, skip_first: bool, gaps: list[str]) -> None:
    doc = inspect.getdoc(function)
    if not doc:
        gaps.append(f"{where}: no docstring")
        return
    missing = [p for p in parameters(function, skip_first=skip_first) if p not in documented(doc)]
    if missing:
        gaps.append(f"{where}: parameters not documented: {', '.join(missing)}")
    returns = inspect.signature(function).return_annotation
    found = sections(doc)
    if returns not in ("None", None, inspect.Signature.empty) and not {"Returns", "Yields"} & set(found):
        gaps.append(f"{where}: no Returns section")
    unsaid = {e for e in exported_errors_raised(function) if e not in " ".join(found.get("Raises", []))}
    if unsaid:
        gaps.append(f"{where}: Raises does not name {', '.join(sorted(unsaid))}")


def check_class(name: str, cls: type, gaps: list[str]) -> None:
    if not inspect.getdoc(cls):
        gaps.append(f"{name}: no docstring")
    given = documented(cls.__doc__) | documented(getattr(cls, "__init__", None).__doc__)
    try:
        constructor = list(inspect.signature(cls).parameters)
    except ValueError:  # an error class that keeps Exception's own constructor: nothing of ours to name
        constructor = []
    if not issubclass(cls, kling_widgets.TaskStatus):  # an Enum's "constructor" is the members' lookup
        missing = [p for p in constructor if p not in given and not p.startswith("_")]
        if missing:
            gaps.append(f"{name}(): parameters not documented: {', '.join(missing)}")
    seen: set[str] = set()
    for owner in cls.__mro__:
        if not ours(owner):
            continue
        for attr, value in vars(owner).items():
            if attr.startswith("_") or attr in seen:
                continue
            seen.add(attr)
            where = f"{name}.{attr}"
            if isinstance(value, property):
                if not (value.__doc__ or "").strip():
                    gaps.append(f"{where}: property with no docstring")
            elif isinstance(value, traitlets.TraitType):
                if not (value.help or "").strip():
                    gaps.append(f"{where}: trait with no help")
            elif isinstance(value, staticmethod):
                check_callable(where, value.__func__, skip_first=False, gaps=gaps)
            elif isinstance(value, classmethod):
                check_callable(where, value.__func__, skip_first=True, gaps=gaps)
            elif inspect.isfunction(value):
                check_callable(where, value, skip_first=True, gaps=gaps)


def docstring_gaps() -> list[str]:
    gaps: list[str] = []
    for name, value in public_objects():
        if isinstance(value, type):
            check_class(name, value, gaps)
        elif callable(value):
            check_callable(name, value, skip_first=False, gaps=gaps)
    return gaps


def test_every_public_parameter_is_documented_numpy_style() -> None:
    gaps = docstring_gaps()
    assert not gaps, "\n".join(gaps)


def test_the_docstring_reader_sees_a_missing_parameter() -> None:
    def documented_twice(a: int, *, b: int = 0, **rest: Any) -> int:
        """Add.

        Parameters
        ----------
        a, b : int
            The terms.
        **rest
            Ignored.

        Returns
        -------
        int
            The sum.
        """
        return a + b

    def half(a: int, b: int) -> int:
        """Add.

        Parameters
        ----------
        a : int
            One term; ``b`` is named here only in words.
        """
        if a < 0:
            raise kling_widgets.ValidationError("a must be positive", field="a")
        return a + b

    gaps: list[str] = []
    check_callable("documented_twice", documented_twice, skip_first=False, gaps=gaps)
    assert gaps == []
    check_callable("half", half, skip_first=False, gaps=gaps)
    assert gaps == [
        "half: parameters not documented: b",
        "half: no Returns section",
        "half: Raises does not name ValidationError",
    ]
