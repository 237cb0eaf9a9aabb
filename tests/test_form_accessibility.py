"""What the form says and exposes to people who do not write code, and to screen readers, checked on the
widgets themselves (traits and the state the front end receives). The browser side — Tab, Enter, the
accessibility tree, contrast, a narrow pane — is tests/test_accessibility.py."""

from __future__ import annotations

import re
from typing import Any

import ipywidgets as widgets
from PIL import Image

from kling_widgets import KlingClient, MultiImageToVideo
from kling_widgets.simulator import Simulator
from kling_widgets.widgets._state import synced_state
from kling_widgets.widgets._style import CSS
from kling_widgets.widgets.images import ACCEPT, FORMATS, ImagePicker
from kling_widgets.widgets.options import OptionsPanel
from kling_widgets.widgets.status import TaskView

from .conftest import all_state, encode, wait_for


def wide(width: int = 1500, height: int = 400) -> bytes:
    return encode(Image.new("RGB", (width, height), (90, 120, 160)))


def classes(widget: widgets.Widget) -> list[str]:
    return list(widget.get_state()["_dom_classes"])


def test_a_picture_refused_for_its_shape_offers_pad_and_crop_as_buttons() -> None:
    picker = ImagePicker()
    assert picker.add({"name": "panorama.jpg", "content": wide()}) is None
    assert picker.fixable == ["panorama.jpg"] and picker._fix_row.layout.display == "flex"
    assert "fit=" not in picker.message and "Pad to fit" in picker.message  # words, not a Python argument
    assert "too wide (1500×400)" in picker.message
    assert [picker.pad_button.description, picker.crop_button.description] == ["Pad to fit", "Crop to fit"]

    picker.pad_button.click()
    (padded,) = picker.images
    assert (padded.width, padded.height) == (1500, 600) and picker.fixable == [] and picker.message == ""
    assert picker._fix_row.layout.display == "none"

    picker.add({"name": "tall.jpg", "content": wide(400, 1500)})
    picker.crop_button.click()
    assert (picker.images[1].width, picker.images[1].height) == (400, 1000)
    picker.max_side = 512  # prepared again from the original, with the fit it was brought in by
    wait_for(lambda: not picker.busy)
    # max_side is a wish, the service's 300 px a rule: a side is only longer than 512 where the short side
    # stops at 300 (2048x820 shrunk to 512x205 would be refused), and every shape stays inside 1:2.5-2.5:1
    assert all(max(i.width, i.height) <= 512 or min(i.width, i.height) == 300 for i in picker.images)
    assert all(min(i.width, i.height) >= 300 and 2 * max(i.width, i.height) <= 5 * min(i.width, i.height)
               for i in picker.images)  # fmt: skip  # without its fit each would be refused
    assert any("padded" in c for c in picker.images[0].changes) and any(
        "cropped" in c for c in picker.images[1].changes
    )


def test_a_picture_too_small_is_not_offered_a_fix_and_leave_out_forgets_the_refused() -> None:
    picker = ImagePicker()
    picker.add({"name": "tiny.jpg", "content": wide(200, 200)})
    assert picker.fixable == [] and "too small" in picker.message
    picker.add({"name": "thin-and-small.jpg", "content": wide(1000, 200)})  # padding would not make it big enough
    assert picker.fixable == []
    picker.add({"name": "panorama.jpg", "content": wide()})
    picker.dismiss_button.click()
    assert picker.fixable == [] and picker.message == "" and picker.images == []


def test_the_upload_button_names_the_formats_it_accepts() -> None:
    picker = ImagePicker()
    for word in FORMATS.split(", "):
        assert word in picker.upload.tooltip
    for extension in ("jpg", "png", "heic", "webp", "avif", "gif", "bmp", "tif", "jp2"):
        assert f".{extension}" in ACCEPT
    assert "JPEG or PNG," not in picker.upload.tooltip


def test_an_untouched_form_shows_a_hint_and_a_real_mistake_an_error(sim: Simulator, photo: bytes) -> None:
    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url))
    try:
        assert app.reason == "To generate: add 1 to 4 reference images; write a prompt describing the video you want"
        assert app.reason_kind == "hint"
        assert "kw-hint" in app._why.value and "kw-reason-error" not in app._why.value
        app.image_picker.add(photo)
        app.prompt_box.value = "x" * 2600  # something entered wrong: now it is an error
        assert app.reason_kind == "error" and "kw-reason-error" in app._why.value
        app.prompt_box.value = "a fox"
        assert app.reason.startswith("Ready") and app.reason_kind == "hint"
    finally:
        app.close()


def test_a_sweep_says_what_it_makes_and_the_mode_toggle_shows_neither_while_both_are_sent(
    sim: Simulator, photo: bytes
) -> None:
    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url))
    try:
        app.image_picker.add(photo)
        app.prompt_box.value = "a fox"
        app.both_modes = app.both_durations = True
        assert "4 videos: Standard and Pro × 5 s and 10 s" in app.reason
        options = app.options
        assert options.mode_swept and options.mode_buttons.value is None and options.mode_buttons.index is None
        assert options.duration_buttons.get_state()["index"] is None  # what the front end draws: nothing chosen
        assert options.mode == "std" and "Standard, one in Pro" in options._mode_help.value
        options.mode_buttons.value = "pro"  # a person picks one mode: the sweep over modes ends
        assert options.mode == "pro" and not app.both_modes and app.both_durations
        assert "2 videos: 5 s and 10 s" in app.reason
        app.both_durations = False
        assert options.duration_buttons.value == 5  # the choice comes back as it was
    finally:
        app.close()


def test_fields_dropdowns_and_icon_buttons_carry_names_and_the_helper_rides_along(sim: Simulator, photo: bytes) -> None:
    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url))
    try:
        app.image_picker.add(photo)
        named: dict[str, Any] = {
            "Prompt": app.prompt_box.prompt_area,
            "Negative prompt": app.prompt_box.negative_area,
            "Model": app.options.model_dropdown,
            "Mode": app.options.mode_buttons,
            "Callback URL": app.options.callback_text,
            "Picture file path or image URL": app.image_picker.source,
        }
        for name, widget in named.items():
            assert widget.tooltip == name and "kw-named" in classes(widget), name
        card_buttons = app.image_picker._cards.children[0].children[2].children
        assert [b.tooltip for b in card_buttons] == ["Move image 1 earlier", "Move image 1 later", "Remove image 1"]
        assert all("kw-named" in classes(b) for b in card_buttons)
        for live in (app._status, app._why, app.image_picker._status):
            assert "kw-live" in classes(live)
        state = all_state(app)
        assert state.count("__klingWidgetsA11y") >= 1  # the front-end helper is in what the page receives
        for name in ("Upload pictures", "Generate video", "Show code"):
            assert name in state or name in CSS
    finally:
        app.close()


def test_a_task_card_speaks_its_status_and_progress_not_every_elapsed_second() -> None:
    from datetime import datetime, timezone

    from kling_widgets.models import Task, TaskStatus

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    task = Task(id="t1", status=TaskStatus.PROCESSING, progress=40, created_at=start)
    view = TaskView(task, label="a fox")
    assert "kw-live" in classes(view._spoken) and "kw-sr-only" in classes(view._spoken)
    assert view._spoken.value == "a fox: Generating · 40%"
    said = view._spoken.value
    view.update(task)  # the elapsed time moves on; what is said does not
    assert view._spoken.value == said
    view.update(Task(id="t1", status=TaskStatus.FAILED, error="blocked by the content filter", created_at=start))
    assert view._spoken.value == "a fox: Failed: blocked by the content filter"


def test_colours_come_from_the_theme_with_lighter_shades_in_the_dark() -> None:
    assert "--jp-ui-font-color1" in CSS and "--jp-layout-color1" in CSS and "--jp-border-color2" in CSS
    assert "--jp-brand-color1" in CSS and "--jp-error-color0" in CSS
    dark = CSS.split('body[data-jp-theme-light="false"]', 1)[1]
    assert "--jp-error-color2" in dark and "--kw-focus" in dark
    rules = re.findall(r"\{[^}]*\}", CSS)
    hard = [r for r in rules if re.search(r"(?<![-\w])color:\s*#", r) and "--kw-" not in r]
    assert not hard, hard  # text colours are theme variables (or ours, set per theme), not fixed hex
    options = OptionsPanel()
    assert "kw-part" in classes(options)


def test_the_stylesheet_and_the_helper_are_held_once_however_many_parts_show_them(sim: Simulator, photo: bytes) -> None:
    app = MultiImageToVideo(KlingClient(sim.api_key, base_url=sim.url))
    try:
        state = synced_state(app)
        assert sum("<style>" in str(s.get("value", "")) for s in state.values()) == 1
        assert sum("__klingWidgetsA11y" in str(s.get("_esm", "")) for s in state.values()) == 1
        sheet = app.children[0]
        sheet.close()  # closed (a kernel's cleanup): the next part gets a live one
        assert OptionsPanel().children[0] is not sheet
    finally:
        app.close()
