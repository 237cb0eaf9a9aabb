"""The documentation site: built as `make docs` builds it, read offline in Chromium, every link inside it
resolving, and an API reference that names every public name.

`make test` builds the site before pytest (`docs` is a prerequisite of `test`), so the build here only
confirms it is current (seconds); run alone it builds from nothing, executing the tutorials (minutes).
"""

from __future__ import annotations

import enum
import inspect
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site() -> Path:
    """The site, built with warnings as errors and every cross-reference checked (as `make docs`)."""
    sphinx = Path(sys.executable).with_name("sphinx-build")
    result = subprocess.run(
        [str(sphinx), "-b", "html", "-W", "--keep-going", "-n", "-q", "docs", str(SITE)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return SITE


def test_every_tutorial_is_a_page(site: Path) -> None:
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = site / "tutorials" / f"{notebook.stem}.html"
        assert page.exists(), page
        text = page.read_text()
        assert 'class="cell_output' in text  # executed: its outputs are on the page
        assert "Traceback" not in text


def test_the_api_reference_names_every_public_name(site: Path) -> None:
    import kling_widgets
    from kling_widgets.simulator import Simulator

    html = (site / "api.html").read_text()
    for name in kling_widgets.__all__:
        assert f'id="kling_widgets.{name}"' in html, name
    assert f'id="{Simulator.__module__.rsplit(".", 1)[0]}.Simulator"' in html


def test_no_public_parameter_is_undocumented(site: Path) -> None:
    """Every parameter of every public name — a function's, a class's constructor's, a public method's —
    appears under its entry's Parameters (numpydoc's PR01 also fails the build itself)."""
    import kling_widgets
    from kling_widgets.simulator import Simulator

    html = (site / "api.html").read_text()
    entries = dict(re.findall(r'<dt class="sig[^"]*" id="([^"]+)">(.*?)(?=<dt class="sig|\Z)', html, re.S))
    missing = []
    objects = {f"kling_widgets.{n}": getattr(kling_widgets, n) for n in kling_widgets.__all__ if n != "__version__"}
    objects["kling_widgets.simulator.Simulator"] = Simulator
    for qualified, obj in objects.items():
        callables = {qualified: obj.__init__ if inspect.isclass(obj) else obj}
        if inspect.isclass(obj) and issubclass(obj, enum.Enum):  # nobody calls an Enum with Enum's own arguments
            callables = {}
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member) and f"{qualified}.{attr}" in entries:
                    callables[f"{qualified}.{attr}"] = member
        for where, function in callables.items():
            if where not in entries or not inspect.isfunction(function):
                continue
            # numpydoc renders "access_key, secret_key : str" as one term naming both
            terms = re.findall(r"<strong>\**([A-Za-z_][A-Za-z_0-9, *]*)</strong>", entries[where])
            documented = {name.strip(" *") for term in terms for name in term.split(",")}
            for parameter in inspect.signature(function).parameters.values():
                if parameter.name in {"self", "cls"} or parameter.name.startswith("_"):
                    continue
                if parameter.name not in documented:
                    missing.append(f"{where}({parameter.name})")
    assert missing == []


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key == "id" and value:
                self.ids.add(value)
            if value and ((key == "href" and tag in {"a", "link"}) or (key == "src" and tag in {"img", "script"})):
                self.links.append(value)


def test_every_internal_link_resolves(site: Path) -> None:
    pages: dict[Path, _Links] = {}
    for page in site.rglob("*.html"):
        if page.relative_to(site).parts[0] in {"_static", "_sources"}:  # the theme's own templates
            continue
        parser = _Links()
        parser.feed(page.read_text())
        pages[page] = parser
    broken = []
    for page, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme in {"http", "https", "mailto", "data", "javascript"}:
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(site)} → {link}")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{page.relative_to(site)} → {link} (no such anchor)")
    assert broken == []


@pytest.fixture(scope="module")
def browser() -> object:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run); this test must not skip")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--autoplay-policy=no-user-gesture-required"]
        )
        yield chromium
        chromium.close()


def open_offline(browser: object, page_file: Path) -> tuple[object, list[str]]:
    """The page read from disk with every request that is not a file refused, as on a plane."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    refused: list[str] = []

    def route(request_route: object) -> None:
        url = request_route.request.url  # type: ignore[attr-defined]
        if url.startswith("file:"):
            request_route.continue_()  # type: ignore[attr-defined]
        else:
            refused.append(url)
            request_route.abort()  # type: ignore[attr-defined]

    page.route("**/*", route)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    return page, refused


PLAY_ALL = """async () => {
  const videos = [...document.querySelectorAll('video')];
  for (const video of videos) { video.muted = true; video.scrollIntoView(); try { await video.play(); } catch (e) {} }
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && videos.some(v => v.readyState < 2 || v.currentTime === 0)) {
    await new Promise(r => setTimeout(r, 100));
  }
  return videos.map(v => ({ready: v.readyState, time: v.currentTime, error: v.error && v.error.code}));
}"""


@pytest.mark.parametrize("name", ["quickstart", "storyboard"])
def test_the_tutorial_pages_show_their_widgets_and_play_their_videos_offline(
    site: Path, browser: object, name: str, tmp_path: Path
) -> None:
    page, refused = open_offline(browser, site / "tutorials" / f"{name}.html")
    statics = page.locator(".kling-widgets-static")  # type: ignore[attr-defined]
    assert statics.count() >= 1  # the widgets' static pictures, not empty widget boxes
    pictures = page.evaluate(  # type: ignore[attr-defined]
        "[...document.querySelectorAll('.kling-widgets-static img')].map(i => i.complete && i.naturalWidth)"
    )
    assert pictures and all(width and width > 0 for width in pictures)
    if name == "quickstart":  # the form as it was: its pictures and the prompt the tutorial typed
        form = statics.first.inner_text()
        assert "The fox walks to the lighthouse" in form
    videos = page.evaluate(PLAY_ALL)  # type: ignore[attr-defined]
    assert videos and all(v["ready"] >= 2 and v["time"] > 0 and v["error"] is None for v in videos), videos
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
    assert refused == []
    page.close()  # type: ignore[attr-defined]


def test_the_front_page_and_the_guide_read_offline(site: Path, browser: object) -> None:
    for page_file in [site / "index.html", site / "guide" / "front-ends.html", site / "api.html"]:
        page, refused = open_offline(browser, page_file)
        images = page.evaluate(  # type: ignore[attr-defined]
            "[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth])"
        )
        assert all(width for _, width in images), images
        assert refused == [], refused
        page.close()  # type: ignore[attr-defined]
