"""Every front end in a real browser (Debian's headless Chromium, driven by Playwright): the Voila app
that `make app` serves, the bundle in Notebook 7, and a tutorial exported to HTML read with no network.
Screenshots land in artifacts/browser/. A missing Chromium fails these tests: they never skip."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from PIL import Image

from kling_widgets import TaskHistory
from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

from ._browser import (
    ARTIFACTS,
    ROOT,
    browser_page,
    clean_env,
    expect_video_plays_and_saves,
    jupyter,
    run_cell,
    voila_page,
)
from .conftest import write_notebook

pytestmark = pytest.mark.browser


def generate_in(page: Any, picture: Path, shot: str) -> None:
    """Upload a picture, write a prompt, press Generate, and see the video play."""
    from playwright.sync_api import expect

    upload = page.locator(".widget-upload").first
    upload.wait_for(timeout=90_000)
    with page.expect_file_chooser() as chooser:
        upload.click()
    chooser.value.set_files(str(picture))
    expect(page.locator(".kw-card .kw-thumb")).to_have_count(1, timeout=60_000)
    page.locator("textarea[placeholder^='Describe the video']").fill("The fox walks toward the sunset")
    page.get_by_role("button", name="9:16").click()
    button = page.get_by_role("button", name="Generate video")
    expect(button).to_be_enabled(timeout=10_000)
    button.click()
    card = page.locator(".kw-task").first
    expect(card).to_be_visible(timeout=60_000)
    expect(card).to_be_in_viewport(timeout=10_000)  # the new card is brought into view (it is below the form)
    expect(page.locator(".kw-task video")).to_have_count(1, timeout=60_000)
    expect_video_plays_and_saves(page, ".kw-task", shot)  # from the simulator on the kernel's loopback


DROP_AND_PASTE = """async ([b64, kind]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], kind + ".jpg", { type: "image/jpeg" }));
  const zone = document.querySelector(".kw-drop");
  if (kind === "dropped") {
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  } else {
    zone.focus();
    zone.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }
}"""


def drop_and_paste(page: Any, picture: Path) -> None:
    """A picture dropped on the zone, another pasted into it: both arrive as cards."""
    import base64

    from playwright.sync_api import expect

    encoded = base64.b64encode(picture.read_bytes()).decode()
    page.evaluate(DROP_AND_PASTE, [encoded, "dropped"])
    expect(page.locator(".kw-card .kw-thumb")).to_have_count(2, timeout=30_000)
    page.evaluate(DROP_AND_PASTE, [encoded, "pasted"])
    expect(page.locator(".kw-card .kw-thumb")).to_have_count(3, timeout=30_000)
    expect(page.get_by_text("dropped.jpg")).to_be_visible()
    expect(page.get_by_text("pasted.jpg")).to_be_visible()


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "sunset-fox.jpg"
    path.write_bytes(sample_jpeg(0, (1280, 960)))
    return path


def test_the_voila_app_plays_its_videos_across_restarts_with_only_the_server_reachable(
    tmp_path: Path, picture: Path
) -> None:
    """`make app` with no key: its own simulator on the kernel's loopback, which a browser on another
    machine cannot reach. The video still plays and saves; after a restart (a new simulator, a new port)
    yesterday's card still plays, from the folder the simulator kept it in."""
    from playwright.sync_api import expect

    phone_photo = tmp_path / "phone-photo.jpg"  # over Tornado's 10 MiB message default: make app raises it
    Image.effect_noise((3000, 2400), 90).convert("RGB").save(phone_photo, "JPEG", quality=100)
    assert phone_photo.stat().st_size > 10_500_000
    with voila_page(tmp_path, "failure-voila.png") as page:  # no KLING_API_KEY: the app starts its simulator
        expect(page.get_by_text("Connected to the built-in simulator")).to_be_visible(timeout=90_000)
        assert page.locator(".jp-InputArea-editor, .cm-content").count() == 0  # an app: no code
        generate_in(page, picture, "6-voila-app.png")
    [made] = TaskHistory(tmp_path / ".home" / "history.jsonl").entries()
    assert made.video_url and (made.settings or {})["aspect_ratio"] == "9:16"
    old_link = made.video_url

    # The next day: the app again, a new simulator on a new port.
    with voila_page(tmp_path, "failure-voila-restarted.png") as page:
        expect(page.get_by_text("Connected to the built-in simulator")).to_be_visible(timeout=90_000)
        assert old_link.split("/sim/")[0] not in page.content()  # not yesterday's simulator
        expect(page.get_by_text("from history").first).to_be_visible(timeout=30_000)
        expect_video_plays_and_saves(page, ".kw-task", "6-voila-restarted.png")  # yesterday's video
        with page.expect_file_chooser() as chooser:
            page.locator(".widget-upload").first.click()
        chooser.value.set_files(str(phone_photo))
        expect(page.locator(".kw-card .kw-thumb")).to_have_count(1, timeout=60_000)
        drop_and_paste(page, picture)
        page.get_by_role("button", name="Show code").click()  # code that runs where it was shown
        code = page.locator(".kw-code")
        expect(code).to_contain_text("sim = Simulator.shared(", timeout=10_000)  # no key: the simulator
        expect(code).to_contain_text("'kling-pictures/dropped-")  # the uploads, saved as files it names
        assert "path/to" not in code.inner_text() and "KLING_API_KEY" not in code.inner_text()
        page.get_by_role("button", name="Show code").click()
        page.set_viewport_size({"width": 1920, "height": 1200})  # a wide screen: form and results side by side
        form, results = page.locator(".kw-column").all()
        expect(results).to_be_visible()
        assert results.bounding_box()["x"] > form.bounding_box()["x"] + 500  # type: ignore[index]
        page.screenshot(path=str(ARTIFACTS / "9-voila-wide.png"))
        page.get_by_text("History: every generation, with Reuse").click()  # the finished task is there
        card = page.locator(".kw-history .kw-card").first
        expect(card.get_by_role("button", name="Reuse")).to_be_visible(timeout=30_000)
        page.wait_for_function(  # a poster frame shows what the video is before it plays
            "() => { const v = document.querySelector('.kw-history .kw-card video'); "
            "return v && v.poster.startsWith('data:image/jpeg') }",
            timeout=30_000,
        )
        card.locator(".kw-player-start").click()  # the history card plays yesterday's video too
        expect_video_plays_and_saves(page, ".kw-history .kw-card")
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "10-voila-history.png"))
        page.set_viewport_size({"width": 1280, "height": 900})  # one column: the form is far above
        card.get_by_role("button", name="Reuse").click()
        prompt = page.locator("textarea[placeholder^='Describe the video']")
        expect(prompt).to_have_value("The fox walks toward the sunset", timeout=20_000)
        expect(prompt).to_be_in_viewport(timeout=10_000)  # the reloaded form is brought into view
        page.screenshot(path=str(ARTIFACTS / "11-voila-reused.png"))


def test_the_bundle_in_notebook_7(tmp_path: Path, picture: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    with Simulator(processing_seconds=3) as sim:
        write_notebook(  # the server's port is picked after the simulator took its own
            tmp_path / "demo.ipynb",
            "from kling_widgets import KlingClient, MultiImageToVideo\n"
            f"MultiImageToVideo(KlingClient({sim.api_key!r}, base_url={sim.url!r}), poll_interval=0.5)",
        )
        with (
            jupyter("notebook", tmp_path) as (base, token),
            browser_page("failure-notebook7.png", base.removeprefix("http://")) as page,
        ):
            page.goto(f"{base}/notebooks/demo.ipynb?token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
            choose = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
            with contextlib.suppress(PlaywrightTimeout):  # a slow kernel start makes Notebook 7 ask
                choose.wait_for(timeout=5_000)
                choose.click()
            run_cell(page, 0)
            generate_in(page, picture, "7-notebook-7.png")
            # A sweep: its cards play the simulator's videos through the kernel too, and save them.
            page.get_by_label("Both durations: 5 s and 10 s").check()
            page.get_by_role("button", name="Generate video").click()
            sweep = page.locator(".kw-task:has(.kw-task-compact)").first
            expect(sweep).to_be_in_viewport(timeout=30_000)  # the new sweep card is brought into view
            expect(page.locator(".kw-task-compact video")).to_have_count(2, timeout=60_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.kw-task-compact video')]"
                ".every((v) => v.readyState >= 2 && v.duration > 4)",
                timeout=60_000,
            )
            expect_video_plays_and_saves(page, ".kw-task-compact", "7-notebook-7-sweep.png")
        assert sim.creates == 3


def test_an_exported_tutorial_shows_its_video_with_no_network(tmp_path: Path) -> None:
    """`jupyter nbconvert --execute --to html` (which stores widget state) on the quickstart, read with no
    network at all: the form's static picture, every task card and every video show — the simulator's
    videos travel in the page — and the page carries no widget state that would show nothing."""
    import json

    from playwright.sync_api import expect

    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", tmp_path / "quickstart.ipynb")
    nbconvert = [str(Path(sys.executable).with_name("jupyter")), "nbconvert"]
    subprocess.run(
        [*nbconvert, "--to", "notebook", "--execute", "--output", "executed.ipynb", "quickstart.ipynb"],
        cwd=tmp_path, env=clean_env(tmp_path), check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    subprocess.run(
        [*nbconvert, "--to", "html", "--output", "quickstart.html", "executed.ipynb"],
        cwd=tmp_path, env=clean_env(tmp_path), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    state = executed.metadata.get("widgets", {})
    assert len(json.dumps(state)) < 20_000  # was ~400 KB of layouts, styles and pictures that show nothing
    html = (tmp_path / "quickstart.html").read_text(encoding="utf-8")
    assert '<script type="application/vnd.jupyter.widget-view+json">' not in html  # each output: its picture
    assert len(html) < 600_000
    with browser_page(offline=True) as page:  # no network at all: only the file itself
        page.goto((tmp_path / "quickstart.html").as_uri())
        form = page.locator(".kling-widgets-static").first  # the bundle (its parts inside)
        expect(form).to_be_visible(timeout=20_000)
        expect(form.locator("img")).to_have_count(2)  # the two sample pictures the form held
        expect(form.get_by_text("The fox walks to the lighthouse at sunset").first).to_be_visible()
        embedded = page.locator("video[src^='data:video/mp4']")
        expect(embedded).to_have_count(3, timeout=20_000)  # the form's task, the card, client.embed
        page.wait_for_function(
            "() => [...document.querySelectorAll(\"video[src^='data:video/mp4']\")]"
            ".every((v) => v.readyState >= 2 && v.duration > 4)",
            timeout=20_000,
        )
        assert page.locator("video:not([src^='data:'])").count() == 0  # no dead loopback link left
        form.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "8-exported-offline.png"), full_page=False)
        embedded.nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "8-exported-offline-card.png"), full_page=False)
