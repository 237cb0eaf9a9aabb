"""Import cost of the widget bundle against the two libraries it cannot avoid.

Measures, in fresh interpreter processes and in one run, the median time of
    from kling_widgets import MultiImageToVideo, KlingClient, VideoRequest
against the baseline
    import ipywidgets, requests
each timed inside the process (interpreter start-up excluded). Goal: ratio at most 1.15 — Pillow, PyJWT,
PyAV and the simulator load only when used. Bytecode is compiled first, as pip does on install (this
machine sets PYTHONDONTWRITEBYTECODE, which would otherwise make every run compile from source).
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.15
RUNS = 31
TIMER = "import time as _t; _s = _t.perf_counter(); {stmt}; print(_t.perf_counter() - _s)"
BASELINE = "import ipywidgets, requests"
OURS = "from kling_widgets import MultiImageToVideo, KlingClient, VideoRequest"
LAZY = ("PIL", "jwt", "av", "kling_widgets.simulator", "filelock", "platformdirs")


def measure(stmt: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(stmt=stmt)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(out.stdout.strip())


def loaded_lazy_modules() -> list[str]:
    probe = f"{OURS}; import sys; print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.split()


def main() -> int:
    compileall.compile_dir(str(ROOT / "kling_widgets"), quiet=1)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    measure(OURS)  # warm the file cache
    base, ours = [], []
    for _ in range(RUNS):  # interleaved, so drift in machine load hits both alike
        base.append(measure(BASELINE))
        ours.append(measure(OURS))
    base_ms, ours_ms = statistics.median(base) * 1000, statistics.median(ours) * 1000
    ratio = ours_ms / base_ms
    lazy = loaded_lazy_modules()
    print(f"baseline  `{BASELINE}`: median {base_ms:.1f} ms over {RUNS} fresh processes")
    print(f"ours      `{OURS}`: median {ours_ms:.1f} ms")
    print(f"ratio {ratio:.3f} (goal ≤ {GOAL}) — {'met' if ratio <= GOAL else 'NOT met'}")
    print(f"heavy modules loaded by the import: {', '.join(lazy) or 'none'}")
    return 0 if ratio <= GOAL and not lazy else 1


if __name__ == "__main__":
    raise SystemExit(main())
