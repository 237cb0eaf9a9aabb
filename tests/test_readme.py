"""The README's and the docs pages' Python examples run as written (against the simulator)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kling_widgets.film import probe

ROOT = Path(__file__).resolve().parent.parent
# The front page, the site's own front page, and every page of the user's guide: what a reader copies.
PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
BLOCKS = [
    (page, index, block)
    for page in PAGES
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


# What each example shows, as the page's own comments tell the reader: every string is looked for in what
# the example printed. A comment saying "13.5" is a promise; this is where it is kept.
PRINTED = {
    "docs/guide/account.md#1": [
        "('kling-v1-6',) 5.0 USD",
        "5.00 left (USD as the gateway reports it).",
        "Not sent: this batch of 4 is estimated at 13.5 units, over the budget of 10 units",
    ],
    "docs/guide/account.md#2": ["Confirm: this click would send 6 tasks, about 13.5 units", "\n13.5\n"],
    "docs/guide/batches.md#1": [
        "4 tasks · about 13.5 units",
        "['succeeded', 'succeeded', 'succeeded', 'succeeded'] 13.5 units charged",
    ],
    "docs/guide/client.md#1": ["succeeded 100", "10.0 s → fox.mp4"],
    "docs/guide/client.md#2": ["images: give 1 to 4 images (got 0)", "prompt: at most 2500 characters", "(got 7)"],
    "docs/guide/images.md#1": ["downscaled 6000×4000 → 2048×1365", "6000×4000 image/jpeg"],
    "docs/guide/simulator.md#1": [" sim-access-key\n", " sim-key\n"],
    "docs/guide/storyboards.md#1": ["2.0 units", "100% film written", "film.mp4 (0, 1) ['succeeded', 'succeeded']"],
    "docs/guide/storyboards.md#2": ["2 shots · 3 takes · about 3 units estimated", "\n1 True\n", "Film saved to"],
}


def key_of(page: Path, index: int) -> str:
    return f"{page.relative_to(ROOT).as_posix()}#{index + 1}"


def check_what_it_made(key: str, namespace: dict[str, Any], folder: Path) -> None:
    """What an example leaves behind that its page describes: the files it saves, the client it made."""
    if key in ("README.md#1", "docs/index.md#1"):
        assert namespace["app"].client.is_simulator()  # the five lines need no key
    if key == "docs/guide/bundle.md#1":  # no key in this environment: a form, and nothing can be sent
        assert namespace["app"].client is None and namespace["app"].submit_button.disabled
    if key == "docs/guide/client.md#1":
        assert (folder / "fox.mp4").read_bytes()[4:8] == b"ftyp" and (folder / "fox.mp4").stat().st_size > 1000
    if key == "docs/guide/storyboards.md#1":  # two 5 s shots; the reopen found them and sent nothing again
        story, again = namespace["story"], namespace["again"]
        assert abs(probe(folder / "film.mp4").seconds - 10) < 0.5
        assert [[t.id for t in s.takes] for s in again.shots] == [[t.id for t in s.takes] for s in story.shots]
        assert again.shots[0].picked_index == 1 and namespace["sim"].creates == 3
    if key == "docs/guide/storyboards.md#2":
        assert abs(probe(folder / "film.mp4").seconds - 10) < 0.5


def checked(key: str, block: str) -> bool:
    """Whether this module checks what the example shows: its printed lines, the things it makes, or
    the example's own asserts."""
    made = ("README.md#1", "docs/index.md#1", "docs/guide/bundle.md#1", "docs/guide/storyboards.md#2")
    return key in PRINTED or key in made or "\nassert " in f"\n{block}" or "    assert " in block


@pytest.mark.parametrize(("page", "index", "block"), BLOCKS, ids=[key_of(p, i) for p, i, _ in BLOCKS])
def test_example_runs(
    page: Path, index: int, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme"}
    try:
        exec(compile(block, f"{page.name} block {index + 1}", "exec"), namespace)
        printed = capsys.readouterr().out
        missing = [text for text in PRINTED.get(key_of(page, index), []) if text not in printed]
        assert not missing, f"the page says it shows {missing}; it printed:\n{printed}"
        check_what_it_made(key_of(page, index), namespace, tmp_path)
    finally:  # the front pages' examples leave a simulator running and a bundle open, as a notebook would
        for name in ("app", "sim"):
            thing = namespace.get(name)
            closer = getattr(thing, "close", None) or getattr(thing, "stop", None)
            if callable(closer):
                closer()


def test_the_front_page_is_short_and_its_example_is_five_lines() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1 and len([line for line in blocks[0].splitlines() if line.strip()]) == 5
    assert "pip install kling-widgets" in readme and "make demo" in readme and "make test" in readme
    assert len(readme.splitlines()) < 100


def test_the_guide_has_the_examples() -> None:
    """Each page that teaches code shows it in an example this module runs (none escapes the runner),
    and what every example shows is checked."""
    with_examples = {p.relative_to(ROOT).as_posix() for p, _, _ in BLOCKS}
    teaching = ("account", "batches", "bundle", "client", "front-ends", "images", "simulator", "storyboards")
    assert {"README.md", "docs/index.md", *(f"docs/guide/{name}.md" for name in teaching)} <= with_examples
    assert sum(page.read_text().count("```python") for page in PAGES) == len(BLOCKS)
    unchecked = [key_of(p, i) for p, i, block in BLOCKS if not checked(key_of(p, i), block)]
    assert not unchecked, f"examples whose outcome nothing checks: {unchecked}"
    assert set(PRINTED) <= {key_of(p, i) for p, i, _ in BLOCKS}  # no promise kept for an example now gone


def test_no_page_points_at_a_file_outside_the_repository() -> None:
    for page in [*PAGES, ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "docs").glob("*.rst")]:
        text = page.read_text()
        assert "shared/" not in text, page
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve()
            assert path.is_relative_to(ROOT), (page, target)
            if path.parent == ROOT / "docs" / "tutorials" and path.suffix == ".ipynb":
                path = ROOT / "notebooks" / path.name  # the build copies the tutorials there
            assert path.exists(), (page, target)


def test_every_public_name_the_pages_use_is_importable_from_the_package() -> None:
    import kling_widgets

    exported = set(kling_widgets.__all__)
    assert exported <= set(dir(kling_widgets)), exported - set(dir(kling_widgets))
    text = "\n".join(page.read_text() for page in PAGES)
    used = set(re.findall(r"`([A-Z][A-Za-z]+)(?:\.[a-z_]+)?(?:\(|`)", text))
    classes = {n for n in used if n.endswith(("Client", "Request", "Watcher", "History", "View", "Gallery"))}
    assert classes <= exported, classes - exported
    imported = {
        name.strip() for names in re.findall(r"from kling_widgets import ([\w, ]+)", text) for name in names.split(",")
    }
    assert imported <= exported, imported - exported  # what the examples import, from the package itself
    gone = []
    for dotted in sorted(set(re.findall(r"kling_widgets(?:\.\w+)+", text))):  # `kling_widgets.images.JPEG_QUALITY`
        try:
            resolve(dotted)
        except (AttributeError, ImportError):
            gone.append(dotted)
    assert not gone, f"the pages name what the package does not have: {gone}"


def resolve(dotted: str) -> object:
    """The object a dotted name in a page stands for (modules imported as needed); raises if it is gone."""
    import importlib

    parts = dotted.split(".")
    found: object = importlib.import_module(parts[0])
    for depth, part in enumerate(parts[1:], start=2):
        try:
            found = getattr(found, part)
        except AttributeError:
            found = importlib.import_module(".".join(parts[:depth]))  # a submodule not imported yet
    return found
