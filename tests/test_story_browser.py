"""A storyboard in a real browser: JupyterLab in Debian's headless Chromium, against the simulator. Press
Generate, play the takes of one shot in step (their ``currentTime``, read from the page, stays together;
the videos come through the kernel as bytes, as a remote kernel needs), pick the second take in the page
(the kernel hears it), and play the film: the picked takes one after another, in shot order.
Screenshots: artifacts/browser/storyboard*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kling_widgets.simulator import Simulator

from ._browser import ARTIFACTS, browser_page, open_notebook, run_cell
from .conftest import write_notebook

pytestmark = pytest.mark.browser

# Every take's position and state, read in one go (so one reading is one moment of the page).
POSITIONS = """(shot) => [...document.querySelectorAll('.kw-shot')[shot].querySelectorAll('.kw-compare-take video')]
  .map((v) => ({ t: v.currentTime, paused: v.paused, src: v.currentSrc }))"""

# The largest gap between the takes of a shot over a second and a half of playing.
SPREAD = """async (shot) => {
  let worst = 0;
  for (let i = 0; i < 6; i++) {
    const times = [...document.querySelectorAll('.kw-shot')[shot].querySelectorAll('.kw-compare-take video')]
      .map((v) => v.currentTime);
    worst = Math.max(worst, Math.max(...times) - Math.min(...times));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return worst;
}"""


def test_takes_play_in_step_a_pick_and_the_film(lab: tuple[str, Path, Simulator]) -> None:
    from playwright.sync_api import expect

    url, root, sim = lab
    write_notebook(
        root / "demo.ipynb",
        "from kling_widgets import KlingClient, Storyboard, StoryboardView\n"
        "from kling_widgets.simulator.samples import sample_jpeg\n"
        f"client = KlingClient({sim.api_key!r}, base_url={sim.url!r}, poll_interval=0.3)\n"
        "story = Storyboard(client, [sample_jpeg(0, (800, 600)), sample_jpeg(1, (800, 600))])\n"
        "story.add_shot('The fox and the owl meet by the campfire', takes=2)\n"
        "story.add_shot('The owl flies off into the night sky', continue_from_previous=True)\n"
        "view = StoryboardView(story, through_kernel=True)  # the videos come as bytes, as on a remote kernel\n"
        "view",
        "print('picked:', [s.pick_index for s in story.shots])",
    )
    creates_before = sim.creates
    with browser_page("storyboard-failure.png", height=2200) as page:
        open_notebook(page, url)
        run_cell(page, 0)
        generate = page.get_by_role("button", name="Generate")
        expect(generate).to_be_enabled(timeout=60_000)
        expect(page.get_by_text("Sends 3 takes · about 3 units")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "storyboard-before.png"))
        generate.click()

        # Shot 1: both takes arrive and can play.
        first = page.locator(".kw-shot").nth(0)
        expect(first.locator(".kw-compare-take video")).to_have_count(2, timeout=60_000)
        page.wait_for_function(
            "() => { const v = document.querySelectorAll('.kw-shot')[0].querySelectorAll('video');"
            " return v.length === 2 && [...v].every((x) => x.readyState >= 3) }",
            timeout=30_000,
        )
        first.get_by_role("button", name="Play in step", exact=True).click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.kw-shot')[0].querySelectorAll('video')]"
            ".every((v) => !v.paused && v.currentTime > 0.8)",
            timeout=20_000,
        )
        positions: list[dict[str, Any]] = page.evaluate(POSITIONS, 0)
        assert all(p["src"].startswith("blob:") for p in positions), positions  # bytes from the kernel
        assert all(not p["paused"] for p in positions), positions
        spread = page.evaluate(SPREAD, 0)
        assert spread < 0.3, f"the takes drifted {spread:.2f} s apart"
        # A take knocked a second off (as a stalled download would) is brought back in step.
        page.evaluate(
            "() => { document.querySelectorAll('.kw-shot')[0].querySelectorAll('video')[1].currentTime += 1 }"
        )
        page.wait_for_function(
            "() => { const [a, b] = document.querySelectorAll('.kw-shot')[0].querySelectorAll('video');"
            " return !a.paused && !b.paused && Math.abs(a.currentTime - b.currentTime) < 0.15 }",
            timeout=10_000,
        )
        assert page.evaluate(SPREAD, 0) < 0.3
        page.screenshot(path=str(ARTIFACTS / "storyboard.png"))

        # One slider moves both.
        first.get_by_role("button", name="Pause", exact=True).click()
        page.evaluate(
            "() => { const s = document.querySelectorAll('.kw-shot')[0].querySelector('.kw-compare-seek');"
            " s.value = '2.5'; s.dispatchEvent(new Event('input')); }"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('.kw-shot')[0].querySelectorAll('video')]"
            ".every((v) => Math.abs(v.currentTime - 2.5) < 0.05)",
            timeout=10_000,
        )

        # Pick the second take in the page: the kernel's storyboard hears it.
        # each pick button is named by its take (not "Pick this take" twice) and says whether it is pressed
        pick = first.get_by_role("button", name="Pick this take: Take 2", exact=True)
        pick.click()
        expect(pick).to_have_attribute("aria-pressed", "true")
        expect(pick).to_have_text("✓ Picked")
        expect(first.locator(".kw-compare-picked")).to_have_count(1)
        expect(page.get_by_text("take 2 picked").first).to_be_visible(timeout=10_000)
        second = page.locator(".kw-shot").nth(1)
        expect(second.locator(".kw-compare-take video")).to_have_count(1, timeout=60_000)
        run_cell(page, 1)
        expect(page.get_by_text("picked: [1, 0]")).to_be_visible(timeout=60_000)

        # The film: the picked takes one after another, in shot order (played fast).
        film = page.get_by_role("button", name="Play the film", exact=True)
        expect(film).to_be_enabled(timeout=10_000)
        page.evaluate(
            "() => { window.__film = []; for (const v of document.querySelectorAll('.kw-film video')) {"
            " v.defaultPlaybackRate = 4; v.addEventListener('playing', () => {"
            " v.playbackRate = 4; window.__film.push(v.dataset.key); }); } }"
        )
        film.click()
        page.wait_for_function("() => document.querySelector('.kw-film').dataset.state === 'ended'", timeout=30_000)
        played = page.evaluate("() => [...new Set(window.__film)]")
        picked = page.evaluate(
            "() => [...document.querySelectorAll('.kw-shot')].map((s) => {"
            " const tiles = [...s.querySelectorAll('.kw-compare-take')];"
            " const t = tiles.find((x) => x.classList.contains('kw-compare-picked')) || tiles[0];"
            " return t.querySelector('video').dataset.key; })"
        )
        assert played == picked and len(set(picked)) == 2, (played, picked)
        assert page.evaluate("() => document.querySelector('.kw-film').dataset.played") == "0,1"
        expect(page.get_by_text("The end · 2 shots played")).to_be_visible()
        page.locator(".kw-root").first.screenshot(path=str(ARTIFACTS / "storyboard-film.png"))
    assert sim.creates - creates_before == 3  # two takes of shot 1, one of shot 2: nothing twice
