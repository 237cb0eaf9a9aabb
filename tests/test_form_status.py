"""A status speaks of the form as it is: what was said of a past action (a Reuse, a click created, refused,
not sent, asked to confirm) is cleared by any change to the form — pictures, prompt, every option, every
variation. What speaks of a task that may exist stays. Real widgets, a real simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kling_widgets import KlingClient, MultiImageToVideo, TaskHistory
from kling_widgets.simulator import Fault, Simulator
from kling_widgets.simulator.samples import sample_jpeg

from .conftest import wait_for

Change = Callable[[MultiImageToVideo], None]

# Every way a person changes the form, from the parts' own controls where there is one. (The model is
# observed too; with one model offered there is nothing to change it to.)
CHANGES: dict[str, Change] = {
    "a new picture": lambda app: app.image_picker.add(sample_jpeg(5, (800, 600))),
    "a picture removed": lambda app: app.image_picker.remove(0),
    "pictures reordered": lambda app: app.image_picker.move(1, -1),
    "the prompt": lambda app: setattr(app.prompt_box, "value", app.prompt_box.value + " at dawn"),
    "the negative prompt": lambda app: setattr(app.prompt_box, "negative_prompt", "rain"),
    "the mode": lambda app: setattr(app.options.mode_buttons, "value", "pro"),
    "the duration": lambda app: setattr(app.options.duration_buttons, "value", 10),
    "the aspect ratio": lambda app: setattr(app.options.aspect_buttons, "value", "1:1"),
    "the watermark": lambda app: setattr(app.options.watermark_box, "value", True),
    "full-size pictures": lambda app: setattr(app.options.originals_box, "value", True),
    "the callback URL": lambda app: setattr(app.options, "callback_url", "https://example.org/hook"),
    "an own task id": lambda app: setattr(app.options, "external_task_id", "my-id-1"),
    "both modes": lambda app: setattr(app, "both_modes", True),
    "both durations": lambda app: setattr(app, "both_durations", True),
    "one video per line": lambda app: setattr(app, "prompt_per_line", True),
}


@pytest.fixture
def served() -> Iterator[Simulator]:
    with Simulator(processing_seconds=0.2) as sim:
        yield sim


def bundle(sim: Simulator, history: TaskHistory | None = None) -> MultiImageToVideo:
    return MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url), history=history, poll_interval=0.05)


def two_pictures(app: MultiImageToVideo, folder: Path) -> None:
    for seed in (1, 2):
        path = folder / f"picture-{seed}.jpg"
        path.write_bytes(sample_jpeg(seed, (800, 600)))
        app.image_picker.add(str(path))
    app.prompt_box.value = "The fox and the keeper wave"


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_clears_what_a_reuse_said(change: str, served: Simulator, tmp_path: Path) -> None:
    history = TaskHistory(tmp_path / "journal" / "history.jsonl")
    first = bundle(served, history)
    two_pictures(first, tmp_path)
    first.image_picker.add(sample_jpeg(3, (800, 600)))  # an upload: it cannot be brought back
    future = first.submit()
    assert future is not None and future.result(timeout=20) is not None
    first.close()

    app = bundle(served, history)
    assert app.history_gallery is not None
    [entry] = app.history_gallery.entries
    missing = app.reuse(entry)
    assert len(missing) == 1 and "could not be brought back" in app.status
    assert "Not brought back" in app.image_picker.message
    CHANGES[change](app)
    assert app.status == "" and app.status_kind == ""
    assert "Not brought back" not in app.image_picker.message
    app.close()


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_clears_what_a_click_said(change: str, served: Simulator, tmp_path: Path) -> None:
    app = bundle(served)
    two_pictures(app, tmp_path)
    future = app.submit()
    assert future is not None and future.result(timeout=20) is not None
    wait_for(lambda: not app.submitting)
    assert "created" in app.status
    CHANGES[change](app)
    assert app.status == ""
    app.close()


def test_a_refusal_a_not_sent_and_a_question_are_cleared_by_a_change(served: Simulator, tmp_path: Path) -> None:
    app = bundle(served)
    two_pictures(app, tmp_path)
    served.inject(method="POST", status=400, code=1301, message="The prompt violates the content policy")
    future = app.submit()
    assert future is not None and future.result(timeout=20) is None
    assert app.status_kind == "error"
    app.options.aspect_buttons.value = "9:16"
    assert app.status == ""

    app.options.callback_url = "not a url"  # not sendable: the click says so
    assert app.submit() is None and app.status.startswith("Not sent")
    app.options.watermark_box.value = True
    assert app.status == ""
    app.options.callback_url = ""

    app.confirm_above_units = 0.1  # a click that asks first
    assert app.submit() is None and app.status_kind == "warning"
    app.options.model_dropdown.value = app.options.model_dropdown.options[0]  # the same model: not a change
    assert app.status_kind == "warning"
    app.prompt_box.value = "Something else"
    assert app.status == "" and served.creates == 0
    app.close()


def test_a_task_that_may_exist_is_still_spoken_of_after_a_change(served: Simulator, tmp_path: Path) -> None:
    app = bundle(served)
    two_pictures(app, tmp_path)
    served.inject(Fault(method="POST", apply=True, status=503, code=5001, times=1))  # created, answer lost
    future = app.submit()
    assert future is not None and future.result(timeout=20) is None
    said = app.status
    assert "outcome is unknown" in said
    for change in ("the prompt", "the aspect ratio", "a new picture"):
        CHANGES[change](app)
        assert app.status == said  # it may exist and be billed: that stays until said otherwise
    app.close()
