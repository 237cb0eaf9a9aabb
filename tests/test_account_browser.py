"""The account in a real browser: a Voila visitor (``make app``) whose key the service refuses sees it
said in the banner and beside a disabled Generate before any click; a large sweep asks first."""

from __future__ import annotations

from pathlib import Path

import pytest

from kling_widgets.simulator import Simulator

from .test_browser import ARTIFACTS, clean_env, free_port
from .test_front_ends import ROOT, browser_page, serve, stop

pytestmark = pytest.mark.browser


def test_a_refused_key_is_said_in_the_voila_app_before_any_click(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Simulator(processing_seconds=3) as sim:
        port = free_port()  # picked after the simulator took its own
        env = clean_env(tmp_path, KLING_API_KEY="sk-revoked-key", KLING_BASE_URL=sim.url, PORT=str(port))
        server = serve(
            ["make", "--no-print-directory", "-C", str(ROOT), "app"], f"http://127.0.0.1:{port}/", tmp_path, env
        )
        try:
            with browser_page("failure-voila-refused-key.png") as page:
                page.goto(f"http://127.0.0.1:{port}/")
                banner = page.locator(".kw-banner .kw-account-refused")
                expect(banner).to_contain_text("refused this key", timeout=90_000)
                expect(page.locator(".kw-reason-error")).to_contain_text("refused this key")
                expect(page.get_by_role("button", name="Generate video")).to_be_disabled()
                assert "sk-revoked-key" not in page.content()
                page.screenshot(path=str(ARTIFACTS / "11-voila-refused-key.png"))
        finally:
            stop(server)
        assert sim.creates == 0 and not [r for r in sim.requests if r.method == "POST"]
