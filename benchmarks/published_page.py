"""The weight of a published tutorial: notebooks/quickstart.ipynb executed headless (nbclient storing widget
state, as ``jupyter nbconvert --execute`` does) and exported to HTML, with our widgets' comms detached from
the cell (what ships) against the same run with them attached (the baseline: every model's state saved).
Figures: the saved widget state (KB, models), the exported page (KB), and whether the page shows the form's
static picture. Goal: the state under 5% of the baseline's, the page at most 60% of it.

The baseline kernel runs an IPython startup file that makes ``_publish.detached`` a no-op.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
ATTACH = "import contextlib\nimport kling_widgets.widgets._publish as p\np.detached = contextlib.nullcontext\n"


def run(folder: Path, attached: bool) -> tuple[int, int, int, bool]:
    """(state bytes, models, page bytes, static picture shown) for one headless run in ``folder``."""
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", folder)
    env = {"KLING_WIDGETS_HOME": str(folder / "home"), "IPYTHONDIR": str(folder / "ipython")}
    if attached:
        startup = folder / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "attach.py").write_text(ATTACH)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        notebook = nbformat.read(folder / "quickstart.ipynb", as_version=4)  # type: ignore[no-untyped-call]
        client = NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        client.execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    html, _ = HTMLExporter().from_notebook_node(notebook)  # type: ignore[no-untyped-call]
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = len(state.get("state", {}))
    return len(json.dumps(state)), models, len(html.encode()), "kling-widgets-static" in html


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base_state, base_models, base_page, base_static = run(Path(tmp) / "attached", attached=True)
        state, models, page, static = run(Path(tmp) / "detached", attached=False)
    print(f"baseline (comms attached): state {base_state / 1000:.0f} KB in {base_models} models, "
          f"page {base_page / 1000:.0f} KB, static picture shown: {base_static}")  # fmt: skip
    print(f"shipped  (comms detached): state {state / 1000:.1f} KB in {models} models, "
          f"page {page / 1000:.0f} KB, static picture shown: {static}")  # fmt: skip
    print(f"state {state / base_state:.1%} of the baseline (goal < 5%), page {page / base_page:.0%} (goal <= 60%)")
    ok = state < 0.05 * base_state and page <= 0.6 * base_page and static
    print("goal met" if ok else "GOAL MISSED")


if __name__ == "__main__":
    main()
