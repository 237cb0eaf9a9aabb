"""The front end as what it is: JavaScript modules and stylesheets in files of their own (widgets/front/),
each module the page gets parsed and imported by Node exactly as a widget class sends it, a few run against
stand-ins for anywidget's model, and no Python string of the package holding a script or a rule block."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import kling_widgets
from kling_widgets.widgets._front import FRONT, front_end_class

PACKAGE = Path(kling_widgets.__file__).parent
NODE = shutil.which("node")


def node(script: str, cwd: Path) -> Any:
    """Run ``script`` (an ES module) with Node; what it prints last is JSON."""
    assert NODE, "Node.js is needed to check the front end (Debian: apt-get install nodejs)"
    path = cwd / "check.mjs"
    path.write_text(script)
    result = subprocess.run([NODE, str(path)], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def shipped() -> dict[str, tuple[str, str]]:
    """Every front-end widget of the package: its class name -> (module text, stylesheet text) as sent."""
    from kling_widgets.widgets.a11y import accessibility
    from kling_widgets.widgets.compare import film_player, take_comparison
    from kling_widgets.widgets.drop import drop_zone
    from kling_widgets.widgets.reveal import Reveal
    from kling_widgets.widgets.video import VideoPlayer

    made = [
        accessibility(),
        take_comparison(),
        film_player(),
        drop_zone(lambda pictures: None),
        Reveal().widget,
        VideoPlayer("https://example.com/v.mp4"),
        front_end_class("Presence", "presence.js")(),
    ]
    try:
        return {type(w).__name__: (str(w._esm), str(getattr(w, "_css", "") or "")) for w in made}
    finally:
        for widget in made:
            widget.close()


def test_every_module_the_page_gets_parses_imports_and_exports_render(tmp_path: Path) -> None:
    modules = shipped()
    for name, (esm, _) in modules.items():
        (tmp_path / f"{name}.mjs").write_text(esm)
    checked = node(
        f"""
const names = {json.dumps(sorted(modules))};
const kinds = {{}};
for (const name of names) {{
  const module = await import(`./${{name}}.mjs`);
  kinds[name] = typeof (module.default && module.default.render);
}}
console.log(JSON.stringify(kinds));
""",
        tmp_path,
    )
    assert checked == {name: "function" for name in modules}
    # every file is part of something sent: no module or stylesheet left behind unused
    for file in FRONT.glob("*.js"):
        assert any(file.read_text() in esm for esm, _ in modules.values()), file.name
    from kling_widgets.widgets._style import stylesheet
    from kling_widgets.widgets.story import STRIP_CSS

    in_page = [stylesheet().value, STRIP_CSS]  # the shared look and the filmstrip's ride in HTML widgets
    for file in FRONT.glob("*.css"):
        text = file.read_text()
        assert any(text == css for _, css in modules.values()) or any(text in html for html in in_page), file.name


def test_every_js_file_is_valid_javascript(tmp_path: Path) -> None:
    files = sorted(FRONT.glob("*.js"))
    assert len(files) >= 8
    for file in files:
        copy = tmp_path / (file.stem + ".mjs")  # ES module syntax (import/export): checked as a module
        copy.write_text(file.read_text())
        assert NODE
        result = subprocess.run([NODE, "--check", str(copy)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{file.name}: {result.stderr}"


def test_presence_says_seen_once_and_reveal_lets_go_of_its_model(tmp_path: Path) -> None:
    modules = shipped()
    (tmp_path / "presence.mjs").write_text(modules["Presence"][0])
    (tmp_path / "reveal.mjs").write_text(modules["Revealer"][0])
    result = node(
        """
import presence from "./presence.mjs";
import reveal from "./reveal.mjs";
const sent = [];
const hidden = { style: {} };
presence.render({ model: { send: (message) => sent.push(message) }, el: hidden });
const handlers = [];
const model = {
  on: (event, f) => handlers.push([event, f]),
  off: (event, f) => {
    const at = handlers.findIndex(([e, g]) => e === event && g === f);
    if (at >= 0) handlers.splice(at, 1);
  },
};
const cleanup = reveal.render({ model, el: { style: {} } });
const listening = handlers.map(([event, f]) => event + ":" + typeof f);
cleanup();
console.log(JSON.stringify({ sent, display: hidden.style.display, listening, after: handlers.length }));
""",
        tmp_path,
    )
    assert result == {
        "sent": [{"kind": "seen"}],
        "display": "none",
        "listening": ["msg:custom:function"],
        "after": 0,
    }


def test_stylesheets_are_whole_rule_blocks() -> None:
    for file in FRONT.glob("*.css"):
        text = re.sub(r"/\*.*?\*/", "", file.read_text(), flags=re.S)
        assert "/*" not in text and "*/" not in text, f"{file.name}: an unclosed comment"
        depth = 0
        for char in text:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"{file.name}: a closing brace without its opening one"
        assert depth == 0, f"{file.name}: a rule block left open"
        assert "<style" not in text


# A JavaScript function or a CSS rule block ("selector { property: value; }") inside a Python string:
# style="…" attributes on generated HTML have no braces, and docstrings that name a message
# ({"kind": "want"}) have no declarations.
SCRIPT = re.compile(r"\bfunction\b\s*\w*\s*\(|=>|\bexport\s+default\b|\baddEventListener\b")
RULE_BLOCK = re.compile(r"[\w\])*>:.-]\s*\{[^{}]*?[a-z-]+\s*:\s*[^{};]+;[^{}]*\}")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_python_string_of_the_package_holds_front_end_code(path: Path) -> None:
    for found in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(found, ast.Constant) and isinstance(found.value, str):
            for kind, pattern in (("script", SCRIPT), ("rule block", RULE_BLOCK)):
                match = pattern.search(found.value)
                shown = match and match.group()[:80]
                assert match is None, f"line {found.lineno}: a {kind} in a Python string: {shown!r}"
