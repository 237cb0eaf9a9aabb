"""The README's Python examples run as written (against the simulator)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md block {index + 1}", "exec"), {"__name__": "readme"})
    if "client.download" in BLOCKS[index]:
        assert (tmp_path / "fox.mp4").stat().st_size > 1000
        assert "succeeded" in capsys.readouterr().out


def test_readme_has_the_examples() -> None:
    assert len(BLOCKS) >= 4


def test_every_public_name_the_readme_and_design_use_is_importable_from_the_package() -> None:
    import kling_widgets

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name in kling_widgets.__all__:
        assert getattr(kling_widgets, name) is not None
    used = set(re.findall(r"`([A-Z][A-Za-z]+)(?:\.[a-z_]+)?(?:\(|`)", readme))
    classes = {n for n in used if n.endswith(("Client", "Request", "Watcher", "History", "View", "Gallery"))}
    assert classes <= set(kling_widgets.__all__), classes - set(kling_widgets.__all__)
