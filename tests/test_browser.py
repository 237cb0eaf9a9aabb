"""The bundle in a real browser: JupyterLab started here, driven by Playwright in Debian's headless
Chromium, against the simulator. Upload an image, type a prompt, change an option, press the button,
see the video. Screenshots are kept in artifacts/browser/. If Chromium is missing this fails: CI
installs it (.ci/run), and a browser test that silently skips proves nothing."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

from ._browser import ARTIFACTS, browser_page, expect_video_plays_and_saves, open_notebook, run_cell
from .conftest import write_notebook

pytestmark = pytest.mark.browser


def test_upload_prompt_option_submit_and_watch_the_video(lab: tuple[str, Path, Simulator]) -> None:
    from playwright.sync_api import expect

    url, root, sim = lab
    write_notebook(
        root / "demo.ipynb",
        "from kling_widgets import KlingClient, MultiImageToVideo\n"
        f"app = MultiImageToVideo(KlingClient({sim.api_key!r}, base_url={sim.url!r}), poll_interval=0.5)\n"
        "app",
        "print('kernel is free:', 6 * 7)",
    )
    picture = root / "sunset-fox.jpg"
    picture.write_bytes(sample_jpeg(0, (1280, 960)))
    tiny = root / "thumbnail.jpg"
    tiny.write_bytes(sample_jpeg(2, (200, 200)))
    phone_photo = root / "phone-photo.jpg"  # over the 10 MB cap: must arrive, and be re-encoded under it
    Image.effect_noise((3000, 2400), 90).convert("RGB").save(phone_photo, "JPEG", quality=100)
    assert phone_photo.stat().st_size > 10_000_000
    refused: list[str] = []  # as on Binder or a JupyterHub: the browser reaches the Jupyter server only
    with browser_page("failure.png", urlsplit(url).netloc, height=1500, refused=refused) as page:
        open_notebook(page, url)
        run_cell(page, 0)
        upload = page.locator(".jp-OutputArea .widget-upload")
        upload.wait_for(timeout=60_000)
        button = page.get_by_role("button", name="Generate video")
        expect(button).to_be_disabled()
        expect(page.get_by_text("add 1 to 4 reference images")).to_be_visible()

        with page.expect_file_chooser() as chooser:
            upload.click()
        chooser.value.set_files([str(picture), str(phone_photo)])
        expect(page.locator(".kw-card .kw-thumb")).to_have_count(2, timeout=60_000)
        expect(page.get_by_text(re.compile(r"re-encoded 1\d\.\d MB → \d\.\d MB"))).to_be_visible()
        page.get_by_title("Remove image 2").click()
        expect(page.locator(".kw-card .kw-thumb")).to_have_count(1, timeout=10_000)
        page.locator(".kw-card .kw-thumb").first.click()  # a larger preview, and back
        expect(page.locator(".kw-lightbox").first).to_be_visible(timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / "1-preview.png"))
        page.locator(".kw-lightbox").first.click(position={"x": 10, "y": 10})
        expect(page.locator(".kw-lightbox").first).to_be_hidden(timeout=5_000)
        page.locator("textarea[placeholder^='Describe the video']").fill(
            "The fox walks toward the sunset, slow dolly-in"
        )
        page.get_by_role("button", name="10 s").click()
        page.get_by_role("button", name="9:16").click()
        expect(button).to_be_enabled(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "1-form-filled.png"), full_page=True)

        button.dblclick()  # a double click is one task
        expect(page.locator(".kw-task")).to_have_count(1, timeout=30_000)
        expect(page.locator(".kw-task").first).to_be_in_viewport(timeout=10_000)  # brought into view
        page.screenshot(path=str(ARTIFACTS / "2-task-running.png"), full_page=True)

        run_cell(page, 1)  # the kernel is free while the task runs
        expect(page.get_by_text("kernel is free: 42")).to_be_visible(timeout=20_000)
        assert sim.task_status(sim.created[0]["task_id"]) != "succeed"  # the other cell ran mid-task

        video = page.locator(".kw-task video")
        expect(video).to_have_count(1, timeout=60_000)
        page.wait_for_function(
            "() => { const v = document.querySelector('.kw-task video'); return v && v.readyState >= 1 }",
            timeout=30_000,
        )
        expect_video_plays_and_saves(page)  # the simulator is on the kernel's loopback: via the kernel
        link = page.locator(".kw-task .kw-player-download").first
        style = link.evaluate("(a) => [getComputedStyle(a).textDecorationLine, getComputedStyle(a).color]")
        assert style[0] == "underline" and style[1] != "rgba(0, 0, 0, 0.87)", style  # reads as a link
        assert not [u for u in refused if f"127.0.0.1:{sim.port}" in u]  # never asked of the browser
        duration = page.evaluate("() => document.querySelector('.kw-task video').duration")
        page.screenshot(path=str(ARTIFACTS / "3-video.png"), full_page=True)
        page.locator(".kw-task").first.screenshot(path=str(ARTIFACTS / "4-task-card.png"))

        # A refused picture says why next to the picker; a failed task says why in its card.
        with page.expect_file_chooser() as chooser:
            upload.click()
        chooser.value.set_files(str(tiny))
        expect(page.get_by_text("too small: 200×200, each side must be at least 300 px")).to_be_visible(timeout=20_000)
        page.locator("textarea[placeholder^='Describe the video']").fill("This one is meant to [fail]")
        expect(button).to_be_enabled(timeout=10_000)
        button.click()
        expect(page.get_by_text("The service could not make this video")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "5-refused-and-failed.png"), full_page=True)
    assert sim.creates == 2  # one per click: the double click made one task
    body = sim.created[0]["body"]
    assert body["duration"] == "10" and body["aspect_ratio"] == "9:16" and body["prompt"].startswith("The fox")
    assert abs(duration - 10) < 0.5


def test_the_pickers_thumbnails_show_the_whole_picture_and_the_bars_pad_added(
    lab: tuple[str, Path, Simulator],
) -> None:
    """A padded panorama's thumbnail is the whole picture letterboxed on the tile colour, not a square cut
    from its middle (which looks exactly like the picture before Pad added its bars)."""
    from playwright.sync_api import expect

    url, root, _ = lab
    write_notebook(
        root / "picker.ipynb",
        "from kling_widgets import ImagePicker\n"
        "from kling_widgets.simulator.samples import sample_image\n"
        "picker = ImagePicker()\n"
        "picker.add(sample_image(1, (4000, 1200)), fit='pad')\n"
        "picker.add(sample_image(0, (1024, 768)))\n"
        "picker.add(sample_image(2, (500, 1600)), fit='pad')\n"
        "picker",
    )
    with browser_page(width=900, height=700) as page:
        open_notebook(page, url.replace("/demo.ipynb", "/picker.ipynb") + "&reset")  # not also the last test's notebook
        run_cell(page, 0)
        thumbs = page.locator(".kw-card .kw-thumb")
        expect(thumbs).to_have_count(3, timeout=60_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.kw-card .kw-thumb')].every(i => i.complete && i.naturalWidth)"
        )
        shown = thumbs.evaluate_all(
            "(imgs) => imgs.map(i => [getComputedStyle(i).objectFit, i.naturalWidth / i.naturalHeight,"
            " i.clientWidth, i.clientHeight])"
        )
        # The whole picture, scaled into the 128 px square: 2048×820 and 640×1600 are 2.5:1 and 1:2.5.
        assert [fit for fit, *_ in shown] == ["contain"] * 3, shown
        assert abs(shown[0][1] - 2.5) < 0.1 and abs(shown[2][1] - 0.4) < 0.05, shown
        assert all(width == height == 128 for *_, width, height in shown), shown
        page.locator(".kw-part").first.screenshot(path=str(ARTIFACTS / "picker-padded.png"))
