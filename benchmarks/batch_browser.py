"""A sweep of 300 running, on one BatchView in JupyterLab, in Debian's headless Chromium (Playwright),
against the simulator (tasks of 30 s: they are created, polled and finish during the run).

Figures, each against its baseline in the same page: the time from a click on "Next" to the next page
drawn (its first card naming the page's first request), against a click on a plain ipywidgets button
that changes a label (the round trip through the kernel no page can beat); and the page's JavaScript
heap (after a forced garbage collection) and DOM nodes after paging through every page and back, twice,
against the same after the first page was drawn. Goals: a page turn answers within 200 ms; the heap and
the DOM stay flat (within 1.2× of the first page).

Needs /usr/bin/chromium (or CHROMIUM=…); nothing is downloaded. Screenshot: artifacts/benchmarks/.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from kling_widgets.simulator import Simulator

# The browser tests' way to start a Jupyter server (a folder of its own, a free port, a token), not a copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests._browser import jupyter

CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage", "--enable-precise-memory-info"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "benchmarks"
LAB_OPTIONS = ("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None")
COUNT, PAGE = 300, 12
CLICK_GOAL_MS, FLAT_GOAL = 200.0, 1.2
SETUP = """
import ipywidgets as widgets
from kling_widgets import Batch, BatchView, KlingClient, VideoRequest, sweep
client = KlingClient({key!r}, base_url={url!r})
batch = Batch(client, sweep(VideoRequest(["https://example.com/reference.jpg"], "x"),
                            prompt=[f"scene {{i}}" for i in range({count})]))
view = BatchView(batch)
batch.start()
view
"""
PING = """
ping, pong = widgets.Button(description="Ping"), widgets.HTML("0")
ping.on_click(lambda _: setattr(pong, "value", str(int(pong.value) + 1)))
box = widgets.HBox([ping, pong])
box.add_class("kw-ping")
box
"""
# A click in the page, and the time until ``done`` holds (checked at each DOM change and frame).
CLICK_JS = """
async ([selector, done]) => {
  const test = new Function("return (" + done + ")();");
  const started = performance.now();
  document.querySelector(selector).click();
  while (!test()) await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - started;
}
"""


def run_cell(page: Any, index: int) -> None:
    page.locator(".jp-Cell .cm-content").nth(index).click()
    page.keyboard.press("Shift+Enter")


def heap(page: Any, cdp: Any) -> tuple[float, int]:
    """(MB of JavaScript heap in use, DOM nodes) after a forced garbage collection."""
    time.sleep(1.0)
    cdp.send("HeapProfiler.collectGarbage")
    time.sleep(0.5)
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["JSHeapUsedSize"] / 1e6, int(metrics["Nodes"])


def first_card(index: int) -> str:
    """The test a page is drawn by: its first card names the request ``index`` (``scene 12 · std…``)."""
    return (
        "() => { const c = document.querySelector('.kw-batch .kw-batch-grid > *');"
        f" return !!c && c.textContent.includes('scene {index} ·'); }}"
    )


def cycle(page: Any, pages: int) -> list[float]:
    """Page through every page and back to the first; the time of each click (ms)."""
    forward, back = ".kw-batch .kw-batch-pager button:last-child", ".kw-batch .kw-batch-pager button:first-child"
    times = [page.evaluate(CLICK_JS, [forward, first_card(n * PAGE)]) for n in range(1, pages)]
    return times + [page.evaluate(CLICK_JS, [back, first_card(n * PAGE)]) for n in range(pages - 2, -1, -1)]


def main() -> int:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: install Debian's chromium")
        return 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, Simulator(processing_seconds=30) as sim:
        root = Path(folder)
        notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
        cells = (SETUP.format(key=sim.api_key, url=sim.url, count=COUNT), PING)
        notebook.cells = [nbformat.v4.new_code_cell(code) for code in cells]  # type: ignore[no-untyped-call]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, root / "sweep.ipynb")  # type: ignore[no-untyped-call]
        with jupyter("lab", root, *LAB_OPTIONS) as (base, token), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(f"{base}/lab/tree/sweep.ipynb?token={token}")
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
            run_cell(page, 0)
            page.wait_for_function(first_card(0), timeout=60_000)
            page.get_by_text(f"Page 1 of {COUNT // PAGE}").wait_for(timeout=30_000)
            run_cell(page, 1)
            page.locator(".kw-ping button").wait_for(timeout=30_000)
            pong = "() => document.querySelector('.kw-ping').textContent.includes('{}')"
            pings = [page.evaluate(CLICK_JS, [".kw-ping button", pong.format(n)]) for n in range(1, 11)]
            first = heap(page, cdp)
            clicks = cycle(page, COUNT // PAGE)
            once = heap(page, cdp)
            clicks += cycle(page, COUNT // PAGE)
            twice = heap(page, cdp)
            page.locator(".kw-batch").screenshot(path=str(ARTIFACTS / "batch-300.png"))
            summary = page.locator(".kw-batch .kw-live").first.text_content()
            browser.close()
    ping, turn, worst = statistics.median(pings), statistics.median(clicks), max(clicks)
    print(f"{COUNT} requests running ({summary.strip() if summary else '?'}), {len(clicks)} page turns:")
    met = "met" if turn <= CLICK_GOAL_MS else "NOT met"
    print(f"  a page turn: median {turn:.0f} ms, slowest {worst:.0f} ms; a plain button's round trip "
          f"{ping:.0f} ms (baseline): {turn / ping:.1f}× (goal ≤ {CLICK_GOAL_MS:.0f} ms: {met})")  # fmt: skip
    growth = max(once[0], twice[0]) / first[0]
    met = "met" if growth <= FLAT_GOAL else "NOT met"
    print(f"  JS heap: first page {first[0]:.1f} MB (baseline), after every page and back {once[0]:.1f} MB, "
          f"twice {twice[0]:.1f} MB: {growth:.2f}× (goal ≤ {FLAT_GOAL}×: {met})")  # fmt: skip
    print(f"  DOM nodes: first page {first[1]:,}, after {once[1]:,}, twice {twice[1]:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
