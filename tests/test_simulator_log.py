"""The simulator's request log: the command line prints one line per request, as any server does (what was
asked, what was answered, which task), never a key or a picture; a Simulator made in code stays quiet
unless given ``log``."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time

import pytest
import requests

from kling_widgets.simulator import Simulator
from kling_widgets.simulator.samples import sample_jpeg

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 127\.0\.0\.1 (GET|POST) (\S+) (\d{3}|-)\b(.*) \d+ ms$")


def test_the_cli_logs_one_line_per_request_and_no_secret() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kling_widgets.simulator", "--port", "0", "--processing-seconds", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert url is not None
        base, key = url.group(0), "sim-key"
        picture = base64.b64encode(sample_jpeg(0, (640, 480))).decode()
        body = {"model_name": "kling-v1-6", "prompt": "a fox", "image_list": [{"image": picture}], "duration": "5"}
        created = requests.post(
            base + "/kling/v1/videos/multi-image2video", json=body, headers={"Authorization": f"Bearer {key}"}
        ).json()
        task = created["task_id"]
        query, polls, deadline = base + f"/kling/v1/videos/text2video/{task}", 0, time.monotonic() + 30
        while True:  # poll as a client does, until the task succeeds
            polls += 1
            if requests.get(query, headers={"Authorization": f"Bearer {key}"}).json()["data"]["status"] == "SUCCESS":
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert requests.get(base + f"/sim/videos/{task}.mp4").status_code == 200
        refused = requests.get(base + "/v1/models", headers={"Authorization": "Bearer sk-not-this-one"})
        assert refused.status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    lines = [line for line in out.splitlines() if LINE.match(line)]
    assert len(lines) == polls + 3, out + err
    asked = [(m.group(1), m.group(2), m.group(3)) for m in map(LINE.match, lines) if m]
    assert asked == [  # one line per request, in the order they were made, with its status
        ("POST", "/kling/v1/videos/multi-image2video", "200"),
        *[("GET", f"/kling/v1/videos/text2video/{task}", "200")] * polls,
        ("GET", f"/sim/videos/{task}.mp4", "200"),
        ("GET", "/v1/models", "401"),
    ]
    assert f"task={task}" in lines[0] and "kB" in lines[0]  # the task it made, and how big the body was
    assert "code=success" in lines[polls] and "(SUCCESS)" in lines[polls]
    assert "code=invalid_api_key" in lines[-1]
    logged = "\n".join(lines) + err  # the banner above them prints the simulator's own key on purpose
    for secret in (key, "sk-not-this-one", "Bearer", picture[:40]):
        assert secret not in logged
    assert "sk-not-this-one" not in out


def test_a_simulator_in_code_is_quiet_unless_given_a_log(capfd: pytest.CaptureFixture[str]) -> None:
    with Simulator() as sim:
        assert requests.get(sim.url + "/v1/models", headers={"Authorization": "Bearer sim-key"}).status_code == 200
        requests.get(sim.url + "/nowhere")
    assert capfd.readouterr() == ("", "")
    lines: list[str] = []
    with Simulator(log=lines.append) as sim:
        requests.get(sim.url + "/v1/models", headers={"Authorization": "Bearer sim-key"})
        requests.post(sim.url + "/kling/v1/videos/multi-image2video", data=b"{not json")
    assert len(lines) == 2 and " GET /v1/models 200 " in lines[0]
    assert " POST /kling/v1/videos/multi-image2video 401 " in lines[1] and "sim-key" not in "".join(lines)
    assert capfd.readouterr() == ("", "")
