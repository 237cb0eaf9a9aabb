"""The tutorials run top to bottom against the simulator, and a saved notebook never holds the key."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import NOTEBOOKS, execute, outputs
from .conftest import notebook as new_notebook

# `make docs` (run by `make test` before pytest) executes every tutorial in a temporary folder and keeps
# the result in jupyter-cache, keyed by the notebook's code: reading that execution back is the same run,
# without executing the seven tutorials a second time. Without a matching entry, the test executes.
DOCS_CACHE = NOTEBOOKS.parent / "docs" / "_build" / ".jupyter_cache"


def executed_by_the_docs_build(path: Path) -> nbformat.NotebookNode | None:
    if not DOCS_CACHE.is_dir():
        return None
    from jupyter_cache import get_cache

    try:
        _, notebook = get_cache(DOCS_CACHE).merge_match_into_file(path)
    except KeyError:  # no execution of this version of the tutorial
        return None
    return notebook


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_tutorial_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    notebook = executed_by_the_docs_build(NOTEBOOKS / name) or execute(
        nbformat.read(tmp_path / name, as_version=4), tmp_path
    )
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    text = outputs(notebook)
    if name == "quickstart.ipynb":
        assert "using the built-in simulator" in text and ": nothing is billed." in text and "Key accepted" in text
        html = outputs(notebook, "text/html")
        assert "<video src=" in html and "data:video/mp4;base64," in html  # the task, and the video embedded
        assert "succeeded 5.0 s" in text
    if name == "parts_alone.ipynb":
        assert "now 1 image(s)" in text and "too wide (3000×900)" in text and "succeeded 10.0 s" in text
        assert "padded 3000×900" in text
    if name == "history_and_reuse.ipynb":
        assert "2 generations:" in text and "['The fox runs along the shore at dusk']" in text
        assert "brought back: 2 pictures; missing: []" in text
        assert "std 10 s · The fox and the keeper wave at each other" in text
        assert "keeper.jpg (no longer at" in text and ".mp4 + " in text and ".json" in text
    if name == "client_alone.ipynb":
        assert "succeeded 100" in text and "client-alone.mp4" in text and "images: give 1 to 4" in text
        assert "'alg': 'HS256'" in text and "by external id: succeeded" in text and "recent: True" in text
    if name == "sweeps.ipynb":
        assert "4 tasks · about 9 units" in text and "creates sent: 4" in text
        assert text.count("succeeded") >= 4 and "limit learned from 1303: 2" in text
    if name == "storyboard.ipynb":
        assert "take 1: succeeded" in text and "take 2: succeeded" in text and "shot 1 uses take 2" in text
        assert "shot 2 continues from shot 1 take 2" in text and "creates sent: 4" in text
        assert "film: 15.0 s" in text and "100%  film written" in text and "picks: [1, 0, 0]" in text
        html = outputs(notebook, "text/html")
        assert 'src="data:video/mp4;base64,' in html  # the film, shown inline
    if name == "resume_after_restart.ipynb":
        assert "unfinished:" in text and "'succeeded'" in text and "unfinished now: []" in text


def test_saved_notebook_with_widget_state_holds_no_key(tmp_path: Path) -> None:
    secret = "sk-test-SAVED-NOTEBOOK-9876543210"
    notebook = new_notebook(
        "import os\n"
        "from kling_widgets import KlingClient, MultiImageToVideo, TaskHistory\n"
        "from kling_widgets.simulator import Simulator\n"
        "from kling_widgets.simulator.samples import sample_jpeg\n"
        "sim = Simulator(api_key=os.environ['KLING_API_KEY'], processing_seconds=0.5).start()\n"
        "client = KlingClient(base_url=sim.url)  # the key comes from the environment\n"
        "app = MultiImageToVideo(client, history=TaskHistory('journal.jsonl'), poll_interval=0.1)\n"
        "app.image_picker.add(sample_jpeg(0))\n"
        "app.prompt_box.value = 'a fox'\n"
        "app",
        "task = app.submit().result()\napp.watcher.wait_idle(20)\nprint(app.tasks, client)",
        "client.get_task('missing')  # an error with a traceback",
        "import logging\n"
        "logging.getLogger('kling_widgets').warning('Authorization: Bearer %s', os.environ['KLING_API_KEY'])",
    )
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        store_widget_state=True,
        allow_errors=True,
    ).execute(env={**os.environ, "KLING_API_KEY": secret})
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)
    text = saved.read_text()
    assert "application/vnd.jupyter.widget-state+json" in text  # the widget state really was saved
    assert "succeeded" in text and "NotFoundError" in text and "Bearer ***" in text
    assert secret not in text and "SAVED-NOTEBOOK" not in text
    assert secret not in (tmp_path / "journal.jsonl").read_text()
