"""The bundle for people on a keyboard, with a screen reader, in JupyterLab Dark and in a narrow pane, in
a real JupyterLab and Debian's headless Chromium (one Lab server for the module, one browser).

It walks the form with Tab, operates panels, toggles and buttons with Enter and Space, reads Chromium's
accessibility tree (Playwright's aria snapshot), measures the text contrast from computed colours in the
light and the dark theme, and narrows the pane to 470 px: no label cut, no sideways scrollbar.
Screenshots and the tree are kept in artifacts/browser/ (a11y-*)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

from ._browser import ARTIFACTS, browser_page, open_notebook, run_cell
from .conftest import write_notebook

pytestmark = pytest.mark.browser
NARROW = 470  # px of content: a laptop split in two, a phone held sideways

# Every control a person can reach in the bundle, as the browser sees it.
FOCUSABLE = """(root) => [...root.querySelectorAll(
  'button, input:not([type=file]):not([hidden]), textarea, select, a[href], [tabindex="0"]')]
  .filter((el) => !el.disabled && el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
  .map((el) => el.dataset.kwSeen = el.dataset.kwSeen || String(Math.random()).slice(2))"""

# Text contrast from computed colours: each element's own text over the background really behind it.
CONTRAST = r"""(root) => {
  const parse = (text) => {
    let m = text.match(/^rgba?\(([^)]+)\)/);
    if (m) { const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p[3] ?? 1]; }
    m = text.match(/^color\(srgb ([^)]+)\)/);
    if (m) {
      const p = m[1].split(/[\s\/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p[3] ?? 1];
    }
    return null;
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour[3] > 0) { layers.push(colour); if (colour[3] >= 1) break; }
    }
    let result = [255, 255, 255, 1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (c) => {
    const linear = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const [r, g, b] = c.slice(0, 3).map(linear);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const results = [];
  const candidates = [...root.querySelectorAll('*')].filter((el) =>
    (el.matches('input:not([type=checkbox]):not([type=radio]):not([type=file]), textarea, select') && el.value) ||
    [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()));
  for (const el of candidates) {
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === 'hidden' || parseFloat(style.fontSize) === 0) continue;
    if (el.closest('[disabled], .lm-mod-hidden, .kw-lightbox, style')) continue;  // disabled controls are exempt
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const text = (el.value || [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(''))
      .trim().slice(0, 50);
    results.push({ text, ratio: Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100, color: style.color });
  }
  return results;
}"""

# What overflows sideways: labels cut inside their button, anything wider than the bundle, scrollbars.
OVERFLOW = """(root) => {
  const box = root.getBoundingClientRect();
  const problems = [];
  const name = (el) =>
    (el.getAttribute('aria-label') || el.textContent || el.className || el.tagName).trim().slice(0, 40);
  for (const el of [root, root.closest('.jp-OutputArea-output') || root, ...root.querySelectorAll('*')]) {
    if (!el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (el.matches('button') && el.scrollWidth > el.clientWidth + 1) problems.push(`label cut: ${name(el)}`);
    const rect = el.getBoundingClientRect();
    if (rect.width && rect.right > box.right + 1 && !el.closest('.kw-lightbox')) {
      problems.push(`past the right edge by ${Math.round(rect.right - box.right)} px: ${name(el)}`);
    }
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);  // what can show a scrollbar
    if (scrolls && el.scrollWidth > el.clientWidth + 1) {
      // Name what sticks out: the element reaching furthest right, its right margin included.
      let widest = null, reach = 0;
      for (const child of el.querySelectorAll('*')) {
        if (!child.getClientRects().length) continue;
        const r = child.getBoundingClientRect().right + (parseFloat(getComputedStyle(child).marginRight) || 0);
        if (r > reach) { reach = r; widest = child; }
      }
      const past = Math.round(reach - el.getBoundingClientRect().right);
      const what = widest ? `${widest.className || widest.tagName} reaching ${past} px past` : '';
      const where = `${el.className.slice(0, 90)}; ${what}`;
      problems.push(`sideways scrollbar (${el.scrollWidth} > ${el.clientWidth}): ${where}`);
    }
  }
  return [...new Set(problems)];
}"""


# A text field's placeholder wider than the room inside the field: cut off mid-word on screen.
PLACEHOLDERS_CUT = """(root) => {
  const context = document.createElement('canvas').getContext('2d');
  return [...root.querySelectorAll('input[placeholder]')].filter((el) => {
    if (!el.placeholder || !el.getClientRects().length) return false;
    const style = getComputedStyle(el, '::placeholder');
    context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return context.measureText(el.placeholder).width > room + 1;
  }).map((el) => `${el.placeholder} (${el.clientWidth} px)`);
}"""

# The middle of each piece of the history's pager, from the top: one line when they are all the same.
PAGER_LINES = """(root) => [...root.querySelectorAll('.kw-history .kw-pager > *')].map((el) => {
  const r = el.getBoundingClientRect(); return Math.round(r.top + r.height / 2); })"""


def write_demo(root: Path, sim: Simulator) -> None:
    """A bundle with a history, a finished task, a sweep of both modes (still ticked) and a picture
    refused for its shape, so every part of the screen is there to be read."""
    sample = root / "sunset-fox.jpg"
    sample.write_bytes(sample_jpeg(0, (1280, 960)))
    Image.new("RGB", (1500, 400), (90, 120, 160)).save(root / "panorama.jpg", "JPEG")
    write_notebook(
        root / "demo.ipynb",
        "import time\n"
        "from kling_widgets import KlingClient, MultiImageToVideo, TaskHistory\n"
        f"client = KlingClient({sim.api_key!r}, base_url={sim.url!r})\n"
        "app = MultiImageToVideo(client, history=TaskHistory('journal/history.jsonl'), poll_interval=0.5)\n"
        "app.image_picker.add('sunset-fox.jpg')\n"
        "app.prompt_box.value = 'The fox walks toward the sunset, slow dolly-in'\n"
        "app.submit().result(30)\n"
        "while app.submitting: time.sleep(0.1)\n"
        "app.both_modes = True\n"
        "app.submit().result(30)\n"
        "app.image_picker.add('panorama.jpg')  # refused: too wide; the picker offers Pad / Crop to fit\n"
        "app",
    )


def shoot(page: Any, root: Any, name: str) -> None:
    """A picture of the whole bundle: the window made tall enough to hold it (JupyterLab scrolls the
    notebook inside its own panel, so a full-page screenshot would show one window's worth)."""
    height = page.evaluate("(el) => el.getBoundingClientRect().height", root.element_handle())
    viewport = page.viewport_size
    page.set_viewport_size({"width": viewport["width"], "height": int(height) + 300})
    root.evaluate("(el) => el.scrollIntoView()")
    root.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(viewport)


@pytest.fixture
def page(lab: tuple[str, Path, Simulator]) -> Iterator[Any]:
    from playwright.sync_api import expect

    url, root, sim = lab
    write_demo(root, sim)
    with browser_page("a11y-failure.png") as page:
        open_notebook(page, url)
        run_cell(page, 0)
        page.locator(".kw-root").wait_for(timeout=60_000)
        done = page.locator(".kw-root .kw-task .kw-badge-succeeded")
        expect(done).to_have_count(3, timeout=60_000)  # one task and a sweep of two, finished
        page.wait_for_function("() => document.querySelector('.kw-root [aria-pressed]')", timeout=20_000)
        yield page


def test_keyboard_screen_reader_dark_theme_and_narrow_pane(page: Any) -> None:
    from playwright.sync_api import expect

    root = page.locator(".kw-root")
    tree = root.aria_snapshot()
    (ARTIFACTS / "a11y-tree.yaml").write_text(tree)
    # Every field, dropdown and icon button has a name; panels say whether they are open; toggles whether
    # they are pressed; while both modes are ticked, neither mode is shown chosen.
    for expected in (
        'textbox "Prompt"',
        'textbox "Negative prompt"',
        'textbox "Picture file path or image URL"',
        'combobox "Model"',
        'button "Move image 1 earlier" [disabled]',
        'button "Move image 1 later" [disabled]',
        'button "Remove image 1"',
        'button "Pad to fit"',
        'button "Crop to fit"',
        'button "Upload pictures"',
        'button "Advanced"',
        'button "History: every generation, with Reuse"',
        'group "Mode"',
        'group "Duration"',
        'button "5 s" [pressed]',
        'checkbox "Both modes: a video in Standard and one in Pro" [checked]',
        'button "Larger view of sunset-fox.jpg"',
    ):
        assert expected in tree, f"{expected!r} not in the accessibility tree:\n{tree}"
    assert "fit='" not in tree  # words for people, not Python arguments
    for name in ("Advanced", "History: every generation, with Reuse"):  # closed, and saying so
        expect(page.get_by_role("button", name=name)).to_have_attribute("aria-expanded", "false")
    for name in ("Standard", "Pro"):  # both modes are sent: neither is shown chosen
        expect(page.get_by_role("button", name=name, exact=True)).to_have_attribute("aria-pressed", "false")
    live = root.locator('[aria-live="polite"]')
    assert live.count() >= 4  # the picker's status, the reason, the outcome, each task's header

    # Tab reaches every control, each with a visible focus ring (2 px) on the buttons.
    wanted = set(page.evaluate(FOCUSABLE, root.element_handle()))
    root.locator(".widget-upload").focus()
    reached, rings = set(), []
    for _ in range(120):
        seen = page.evaluate(
            """() => { const el = document.activeElement; const s = getComputedStyle(el);
                return {id: el.dataset.kwSeen || '', inside: !!el.closest('.kw-root'), button: el.tagName === 'BUTTON',
                        name: (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 30),
                        ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }"""
        )
        if not seen["inside"]:
            break
        reached.add(seen["id"])
        if seen["button"] and not seen["ring"]:
            rings.append(seen["name"])
        page.keyboard.press("Tab")
    assert wanted <= reached, f"{len(wanted - reached)} controls never reached by Tab"
    assert not rings, f"buttons without a visible focus ring: {rings}"

    # Enter and Space operate panels, toggles and buttons.
    advanced = page.get_by_role("button", name="Advanced")
    advanced.focus()
    page.keyboard.press("Enter")
    expect(advanced).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("textbox", name="Callback URL")).to_be_visible()
    page.keyboard.press(" ")
    expect(advanced).to_have_attribute("aria-expanded", "false")
    page.get_by_role("button", name="10 s").focus()
    page.keyboard.press(" ")
    expect(page.get_by_role("button", name="10 s")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Pro").focus()
    page.keyboard.press("Enter")  # one mode chosen: the sweep over both ends
    expect(page.get_by_role("button", name="Pro")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("checkbox", name=re.compile("^Both modes"))).not_to_be_checked()
    page.get_by_role("button", name="Larger view of sunset-fox.jpg").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".kw-lightbox").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".kw-lightbox").first).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator(".kw-lightbox").first).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator(".kw-lightbox").first).to_be_hidden()
    page.get_by_role("button", name="Pad to fit").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".kw-card .kw-thumb")).to_have_count(2, timeout=20_000)
    expect(page.get_by_text("padded 1500×400")).to_be_visible()
    history = page.get_by_role("button", name=re.compile("^History"))
    history.focus()
    page.keyboard.press("Enter")
    expect(history).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".kw-history .kw-card")).to_have_count(3, timeout=20_000)

    shoot(page, root, "a11y-light.png")
    low = [r for r in page.evaluate(CONTRAST, root.element_handle()) if r["ratio"] < 4.5]
    assert not low, f"text under 4.5:1 in the light theme: {low}"

    # JupyterLab Dark, chosen as a person would: Settings → Theme.
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Theme$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^JupyterLab Dark$")).click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    page.wait_for_function(  # the theme's stylesheet is in: the bundle's text turned light
        "(el) => +getComputedStyle(el).color.match(/[0-9.]+/g)[0] > 200", arg=root.element_handle(), timeout=20_000
    )
    shoot(page, root, "a11y-dark.png")
    low = [r for r in page.evaluate(CONTRAST, root.element_handle()) if r["ratio"] < 4.5]
    assert not low, f"text under 4.5:1 in JupyterLab Dark: {low}"

    # A narrow pane: 470 px of content, with everything open (Advanced, the code, the history).
    advanced.focus()
    page.keyboard.press("Enter")
    show_code = page.get_by_role("button", name="Show code")
    show_code.focus()
    page.keyboard.press(" ")
    expect(show_code).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".kw-code")).to_be_visible()
    measure = "(el) => el.getBoundingClientRect().width"
    for _ in range(3):
        width = page.evaluate(measure, root.element_handle())
        if abs(width - NARROW) <= 2:
            break
        viewport = page.viewport_size
        page.set_viewport_size({"width": int(viewport["width"] - (width - NARROW)), "height": viewport["height"]})
        page.wait_for_function(  # the notebook has laid itself out again at the new width
            f"([el, before]) => Math.abs(({measure})(el) - before) > 0.5", arg=[root.element_handle(), width]
        )
    assert abs(page.evaluate("(el) => el.getBoundingClientRect().width", root.element_handle()) - NARROW) <= 2
    problems = page.evaluate(OVERFLOW, root.element_handle())
    shoot(page, root, "a11y-narrow-dark.png")
    assert not problems, json.dumps(problems, indent=1)
    cut = page.evaluate(PLACEHOLDERS_CUT, root.element_handle())
    assert not cut, f"placeholders cut at {NARROW} px: {cut}"
    middles = page.evaluate(PAGER_LINES, root.element_handle())
    assert len(middles) == 4 and max(middles) - min(middles) <= 4, f"the history's pager wraps: {middles}"
