"""Show code runs in the notebook that showed it, and alone in a fresh kernel.

Real kernels (nbclient): the quickstart's cells (its ``sim``, ``client``, ``request``, ``task``, ``path``),
then the bundle's ``to_code()`` output pasted into a cell of its own, then a look at what it changed; and
the same code alone in a new kernel."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SETUP = """
from kling_widgets import KlingClient, MultiImageToVideo, TaskHistory, VideoRequest
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg, save_samples

history = TaskHistory('journal/history.jsonl')
sim = Simulator(processing_seconds=0.3).start()
client = KlingClient(sim.api_key, base_url=sim.url, history=history)
app = MultiImageToVideo(client, history=history, poll_interval=0.1)
for path in save_samples('sample-images', count=1):
    app.image_picker.add(path)
app.image_picker.add(sample_jpeg(1, (800, 600)))  # an upload: only its bytes exist
app.prompt_box.value = 'The fox walks to the lighthouse'
app.options.aspect_ratio = '1:1'
task = app.submit().result(30)
request = VideoRequest([path], 'A fox looks at the sunset')
before = {'sim': sim, 'client': client, 'task': task, 'request': request, 'path': path}
created = len(sim.created)
"""

SHOW = "print(app.to_code())"

CHECK = """
import json
print(json.dumps({
    'same': {name: globals()[name] is value for name, value in before.items()},
    'running': len(Simulator.running()),
    'created': len(sim.created) - created,
    'bodies': [
        {k: v for k, v in c['body'].items() if k != 'external_task_id'} for c in sim.created[-2:]
    ],
}))
"""

ALONE_CHECK = """
import json
from kling_widgets.simulator import Simulator
print(json.dumps({'running': [len(s.created) for s in Simulator.running()]}))
"""


def _run(folder: Path, cells: list[str]) -> list[str]:
    """Run ``cells`` in one new kernel, in order; each cell's printed text (a cell may append more)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    runner = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    printed: list[str] = []
    with runner.setup_kernel():
        index = 0
        while index < len(cells):
            cell = nbformat.v4.new_code_cell(cells[index])
            notebook.cells.append(cell)
            runner.execute_cell(cell, index)
            printed.append("".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream"))
            if cells[index] == SHOW:  # paste what the bundle showed into the next cell, as a person would
                cells.insert(index + 1, printed[-1])
            index += 1
    return printed


def test_shown_code_runs_in_its_own_notebook_and_alone(tmp_path: Path) -> None:
    printed = _run(tmp_path, [SETUP, SHOW, CHECK])
    code = printed[1]
    # The quickstart's names are left alone: the code binds its own beside them.
    assert "client_2 = KlingClient(sim.api_key, base_url=sim.url)" in code and "task_2 = client_2.generate" in code
    assert "Simulator.shared(" in code and "sim-key" not in code
    found = json.loads(printed[-1])
    assert found["same"] == {"sim": True, "client": True, "task": True, "request": True, "path": True}
    assert found["running"] == 1  # no second simulator
    assert found["created"] == 1  # the task was created on the notebook's own simulator
    by_form, by_code = found["bodies"]
    assert by_code == by_form  # the same request: pictures, prompt, options

    # Pasted into a fresh kernel (the same folder: the saved upload is there), it runs alone.
    alone = _run(tmp_path, [code, ALONE_CHECK])
    assert "http://127.0.0.1:" in alone[0]  # printed the video's link
    assert json.loads(alone[-1]) == {"running": [1]}  # started its own simulator, created one task there
