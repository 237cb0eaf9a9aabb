"""``python -m kling_widgets.simulator --port 8765 [--provider kling]``: serve the simulator, with a line
per request on standard output (as any server logs), so a person sees what was sent and how often."""

from __future__ import annotations

import argparse
import time

from .server import Simulator


def _print(line: str) -> None:
    print(line, flush=True)  # flushed: the lines reach a pipe or a log file as they happen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kling_widgets.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback unless told otherwise (0.0.0.0 exposes it to the network)"
    )
    parser.add_argument("--provider", choices=("gateway", "kling"), default="gateway")
    parser.add_argument("--processing-seconds", type=float, default=8.0)
    parser.add_argument("--task-shape", choices=("envelope", "flat"), default="envelope")
    parser.add_argument("--upload-kbps", type=float, default=None, help="throttle how fast bodies are read (KB/s)")
    parser.add_argument("--credit", type=float, default=None, help="gateway: the key's grant (default: unlimited)")
    parser.add_argument(
        "--billing", choices=("served", "html", "404", "405"), default="served", help="gateway billing routes"
    )
    parser.add_argument("--quiet", action="store_true", help="no line per request")
    args = parser.parse_args(argv)
    sim = Simulator(
        args.provider,
        host=args.host,
        port=args.port,
        processing_seconds=args.processing_seconds,
        task_shape=args.task_shape,
        credit=args.credit,
        billing=args.billing,
        upload_bytes_per_second=args.upload_kbps * 1000 if args.upload_kbps else None,
        log=None if args.quiet else _print,
    )
    sim.start()
    print(f"Kling simulator ({args.provider}) serving at {sim.url}", flush=True)
    if args.provider == "gateway":
        print(f"  export KLING_BASE_URL={sim.url} KLING_API_KEY={sim.api_key}", flush=True)
    else:
        print(
            f"  export KLING_BASE_URL={sim.url} KLING_ACCESS_KEY={sim.access_key} KLING_SECRET_KEY={sim.secret_key}",
            flush=True,
        )
    print("  Ctrl-C to stop." + ("" if args.quiet else " One line per request follows."), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
