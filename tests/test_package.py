"""What a pip user installs: the wheel and the sdist build from the sources and pass `twine check`, and the
wheel — installed, not editable, into a fresh environment outside the repository — runs the quickstart
with no key, every file the package reads at run time inside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` from a copy of the tracked files only (as a clean clone has them)."""
    clone = tmp_path_factory.mktemp("clone")
    tracked = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            (clone / name).write_bytes(source.read_bytes())
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ".", cwd=clone)
    return out


def test_the_wheel_and_the_sdist_pass_twine_check(dist: Path) -> None:
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"]
    assert "PASSED" in run(sys.executable, "-m", "twine", "check", "--strict", *files, cwd=dist)


def test_the_wheel_holds_every_file_the_package_reads(dist: Path) -> None:
    wheel = next(dist.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    package = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "kling_widgets", cwd=ROOT).split()
    assert sorted(set(package) - names) == []  # every tracked file of the package, code or not
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    for line in ("Project-URL: Documentation", "Provides-Extra: redis", "Provides-Extra: app",
                 "Classifier: Framework :: Jupyter", "Requires-Python: >=3.10"):
        assert line in metadata, line


def test_the_installed_wheel_runs_the_quickstart_outside_the_repository_with_no_key(
    dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("user")
    venv = home / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=home)
    python = venv / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    # nbclient and ipykernel run the notebook as Jupyter would; they are the user's Jupyter, not ours.
    run(python, "-m", "pip", "install", "--quiet", wheel, "nbclient", "ipykernel", cwd=home, timeout=900)
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("KLING_", "PYTHONPATH", "JUPYTER", "VIRTUAL_ENV"))
    }
    env |= {"HOME": str(home), "KLING_WIDGETS_HOME": str(home / "data"), "JUPYTER_DATA_DIR": str(home / "jupyter"),
            "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"}
    where = run(python, "-c", "import kling_widgets; print(kling_widgets.__file__)", cwd=home, env=env)
    assert Path(where.strip()).is_relative_to(venv) and not Path(where.strip()).is_relative_to(ROOT)
    notebook = home / "quickstart.ipynb"
    notebook.write_bytes((ROOT / "notebooks" / "quickstart.ipynb").read_bytes())
    run(venv / "bin" / "jupyter-execute", "--timeout=300", "--output=executed", notebook, cwd=home, env=env)
    executed = json.loads((home / "executed.ipynb").read_text())
    outputs = [o for cell in executed["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "kling-widgets-static" in html and "data:video/mp4;base64," in html  # the form and a played video
    assert "built-in simulator" in "".join("".join(o.get("text", "")) for o in outputs)
