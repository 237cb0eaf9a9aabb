"""``make smoke``: run as a user runs it (a separate process, credentials from the environment, the answer on
standard input) against a simulator standing in for the service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kling_widgets.simulator import Simulator


def run_smoke(tmp_path: Path, answer: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    clean["KLING_WIDGETS_HOME"] = str(tmp_path / "home")
    return subprocess.run(
        [sys.executable, "-m", "kling_widgets.smoke", "--out", str(tmp_path / "out"), "--timeout", "60"],
        input=answer,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )


def test_without_credentials_it_says_what_it_needs_and_exits_2(tmp_path: Path) -> None:
    done = run_smoke(tmp_path, "yes\n")
    assert done.returncode == 2
    assert "KLING_API_KEY" in done.stdout and "KLING_ACCESS_KEY" in done.stdout and "nothing was sent" in done.stdout


def test_it_checks_the_account_says_the_cost_and_creates_nothing_without_yes(tmp_path: Path) -> None:
    with Simulator(credit=4.0) as sim:
        done = run_smoke(tmp_path, "no\n", KLING_API_KEY=sim.api_key, KLING_BASE_URL=sim.url)
        assert done.returncode == 1, done.stderr
        assert "Key checked · models: kling-v1-6" in done.stdout and "4.00 left" in done.stdout
        assert "ONE task: std, 5 s" in done.stdout and "1 unit" in done.stdout and 'Type "yes"' in done.stdout
        assert "Nothing was created." in done.stdout
        assert sim.creates == 0 and all(r.method == "GET" for r in sim.requests)
        assert sim.api_key not in done.stdout + done.stderr


def test_yes_creates_the_cheapest_task_waits_and_saves_the_video(tmp_path: Path) -> None:
    with Simulator(processing_seconds=0.5) as sim:
        done = run_smoke(tmp_path, "yes\n", KLING_API_KEY=sim.api_key, KLING_BASE_URL=sim.url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sim.creates == 1
        body = sim.created[0]["body"]
        assert (body["mode"], body["duration"], len(body["image_list"])) == ("std", "5", 1)
        saved = Path(done.stdout.split("Saved: ", 1)[1].split("\n", 1)[0])
        assert saved.parent == (tmp_path / "out").resolve() and saved.read_bytes()[4:8] == b"ftyp"


def test_kling_direct_smoke(tmp_path: Path) -> None:
    with Simulator("kling", processing_seconds=0.5, units=5) as sim:
        env = {"KLING_ACCESS_KEY": sim.access_key, "KLING_SECRET_KEY": sim.secret_key, "KLING_BASE_URL": sim.url}
        done = run_smoke(tmp_path, "yes\n", **env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "5 units left in your resource packs" in done.stdout and sim.creates == 1
