"""The account in a real browser: a Voila visitor (``make app``) whose key the service refuses sees it
said in the banner and beside a disabled Generate before any click; a large sweep asks first, and a
second click sends it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

from ._browser import ARTIFACTS, voila_page

pytestmark = pytest.mark.browser


def test_a_refused_key_is_said_in_the_voila_app_before_any_click(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with Simulator(processing_seconds=3) as sim:
        refused = {"KLING_API_KEY": "sk-revoked-key", "KLING_BASE_URL": sim.url}
        with voila_page(tmp_path, "failure-voila-refused-key.png", **refused) as page:
            banner = page.locator(".kw-banner .kw-account-refused")
            expect(banner).to_contain_text("refused this key", timeout=90_000)
            expect(page.locator(".kw-reason-error")).to_contain_text("refused this key")
            expect(page.get_by_role("button", name="Generate video")).to_be_disabled()
            assert "sk-revoked-key" not in page.content()
            page.screenshot(path=str(ARTIFACTS / "11-voila-refused-key.png"))
        assert sim.creates == 0 and not [r for r in sim.requests if r.method == "POST"]


def test_a_large_sweep_asks_first_in_the_voila_app(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    picture = tmp_path / "fox.jpg"
    picture.write_bytes(sample_jpeg(0, (1024, 768)))
    with Simulator(processing_seconds=2, credit=50.0) as sim:
        account = {"KLING_API_KEY": sim.api_key, "KLING_BASE_URL": sim.url}
        with voila_page(tmp_path, "failure-voila-confirm.png", **account) as page:
            expect(page.locator(".kw-account-ok")).to_contain_text("Key checked", timeout=90_000)
            upload = page.locator(".widget-upload").first
            with page.expect_file_chooser() as chooser:
                upload.click()
            chooser.value.set_files(str(picture))
            expect(page.locator(".kw-card .kw-thumb")).to_have_count(1, timeout=60_000)
            page.locator("textarea[placeholder^='Describe the video']").fill("a fox\na hare\nan owl")
            for label in (
                "Both modes: a video in Standard and one in Pro",
                "Both durations: 5 s and 10 s",
                "One video per line of the prompt",
            ):
                page.get_by_label(label).check()
            sweep = "12 videos: 3 prompt lines × Standard and Pro × 5 s and 10 s"
            expect(page.get_by_text(f"{sweep} · about 40.5 units")).to_be_visible(timeout=10_000)
            button = page.get_by_role("button", name="Generate video")
            button.dblclick()  # a habitual double click only asks: its second half confirms nothing
            expect(page.get_by_text("Confirm: this click would send 12 tasks")).to_be_visible(timeout=10_000)
            expect(page.get_by_text("Click Generate again to send all 12 tasks")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "12-voila-confirm.png"))
            page.wait_for_timeout(1200)  # a person reads the question...
            assert sim.creates == 0
            button.click()  # ...and confirms
            expect(page.get_by_text(f"{sweep} queued")).to_be_visible(timeout=30_000)
            deadline = time.monotonic() + 60
            while sim.creates < 12 and time.monotonic() < deadline:
                time.sleep(0.2)
        assert sim.creates == 12
