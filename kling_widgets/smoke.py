"""``make smoke`` (``python -m kling_widgets.smoke``): one real, end-to-end check against the service your
key points at — for maintainers before a release, and for users who want to see their key work.

It first asks the account for free (the key, its models, what is left). Then, only after saying what it
will cost and reading ``yes`` on standard input, it creates the cheapest task there is (std, 5 s, one
small drawn picture), waits for it, downloads the video and prints where. Never part of ``make test``:
it is paid. Exit codes: 0 the video was made and saved; 1 it was not (declined, refused, failed);
2 no credentials in the environment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from .client import KlingClient
from .errors import AuthenticationError, KlingError
from .pricing import estimate_units
from .request import VideoRequest
from .task import Task, TaskStatus
from .words import units_words

NEEDS = """\
make smoke needs credentials in the environment (nothing was sent):
  gateway (anyfast):  export KLING_API_KEY=<your key>
  Kling direct:       export KLING_ACCESS_KEY=<access key> KLING_SECRET_KEY=<secret key>
  optional:           export KLING_BASE_URL=<the API's address>  (default: the provider's own)
It checks the account for free, says what the one test video will cost, and creates it only after you
type "yes"."""
PROMPT = "smoke test: a slow camera pan across a quiet landscape at dawn"


def smoke_request() -> VideoRequest:
    """The cheapest task there is: std, 5 s, one small picture drawn here (nothing to download)."""
    from .simulator.samples import sample_jpeg

    return VideoRequest([sample_jpeg(1, (480, 360))], PROMPT, mode="std", duration=5)


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kling_widgets.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=".", help="folder for the video (default: the current one)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the video")
    args = parser.parse_args(argv)
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout

    def say(text: str = "", end: str = "\n") -> None:
        print(text, end=end, file=out, flush=True)

    try:
        client = KlingClient()
    except AuthenticationError:
        say(NEEDS)
        return 2
    with client:
        simulator = client.is_simulator()
        say(f"Service: {client.base_url} ({client.provider}{', the built-in simulator' if simulator else ''})")
        try:
            status = client.account_status()
        except AuthenticationError as error:
            say(f"The service refused the key: {error}. Nothing was created.")
            return 1
        except KlingError as error:
            say(f"Could not check the account: {error}. Nothing was created.")
            return 1
        if status.models is not None:
            say(f"Key checked · models: {', '.join(status.models) or 'none listed'}")
        say(f"Account: {status}")
        request = smoke_request()
        cost = units_words(estimate_units([request]))
        billing = "the simulator bills nothing" if simulator else "billed to your account at your provider's price"
        say(f"It will create ONE task: std, 5 s, one 480x360 picture — about {cost} by Kling's table ({billing}).")
        say('Type "yes" to create it: ', end="")
        answer = stdin.readline().strip().lower()
        if answer != "yes":
            say("Nothing was created.")
            return 1
        try:
            task = client.create_task(request)
            say(f"Created task {task.id}; waiting for the video…")
            task = client.wait(task, timeout=args.timeout, on_update=lambda t: say(f"  {_progress(t)}"))
            if task.status is not TaskStatus.SUCCEEDED:
                say(f"The task failed: {task.error or 'no reason given'}")
                return 1
            folder = Path(args.out)
            folder.mkdir(parents=True, exist_ok=True)
            path = client.download(task, folder)
        except KlingError as error:
            say(f"Smoke test failed: {error}")
            return 1
        say(f"Saved: {path.resolve()}")
        if task.units and not simulator:  # the simulator's units are a stand-in: nothing was billed
            say(f"The service charged {units_words(task.units)}.")
        return 0


def _progress(task: Task) -> str:
    percent = "" if task.progress is None else f" {task.progress:.0f}%"
    return f"{task.status.value}{percent}"


if __name__ == "__main__":
    sys.exit(main())
