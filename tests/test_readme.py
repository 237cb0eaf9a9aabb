"""The README's and the docs pages' Python examples run as written (against the simulator)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The front page, the site's own front page, and every page of the user's guide: what a reader copies.
PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
BLOCKS = [
    (page, index, block)
    for page in PAGES
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


@pytest.mark.parametrize(
    ("page", "index", "block"), BLOCKS, ids=[f"{p.relative_to(ROOT)}#{i + 1}" for p, i, _ in BLOCKS]
)
def test_example_runs(
    page: Path, index: int, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    try:
        exec(compile(block, f"{page.name} block {index + 1}", "exec"), namespace)
    finally:  # the front pages' examples leave a simulator running and a bundle open, as a notebook would
        for name in ("app", "sim"):
            thing = namespace.get(name)
            closer = getattr(thing, "close", None) or getattr(thing, "stop", None)
            if callable(closer):
                closer()
    if "client.download" in block:
        assert (tmp_path / "fox.mp4").stat().st_size > 1000
        assert "succeeded" in capsys.readouterr().out
    if "MultiImageToVideo(KlingClient(sim.api_key" in block and page.name in {"README.md", "index.md"}:
        app = namespace["app"]
        assert app.client.is_simulator()  # type: ignore[attr-defined]  # the five lines need no key


def test_the_front_page_is_short_and_its_example_is_five_lines() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1 and len([line for line in blocks[0].splitlines() if line.strip()]) == 5
    assert "pip install kling-widgets" in readme and "make demo" in readme and "make test" in readme
    assert len(readme.splitlines()) < 100


def test_the_guide_has_the_examples() -> None:
    assert len(BLOCKS) >= 10


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

    for name in kling_widgets.__all__:
        assert getattr(kling_widgets, name) is not None
    text = "\n".join(page.read_text() for page in PAGES)
    used = set(re.findall(r"`([A-Z][A-Za-z]+)(?:\.[a-z_]+)?(?:\(|`)", text))
    classes = {n for n in used if n.endswith(("Client", "Request", "Watcher", "History", "View", "Gallery"))}
    assert classes <= set(kling_widgets.__all__), classes - set(kling_widgets.__all__)
