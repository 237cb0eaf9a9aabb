"""Where kling-widgets keeps its files: ``$KLING_WIDGETS_HOME``, or the user's data directory.

Its own module, importing nothing of the package, so that the journal and the simulator (which must not
import the client, the models or the image pipeline) name the same place."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

_SIM_VIDEO = re.compile(r"/sim/(?:videos|redirect)/([\w.-]+)\.mp4")


def data_dir() -> Path:
    """The folder for the journal, its thumbnails and the simulator's videos (not created here)."""
    home = os.environ.get("KLING_WIDGETS_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("kling-widgets", appauthor=False))


def simulator_videos_dir() -> Path:
    """Where the built-in simulator keeps the videos it made, named ``<task id>.mp4``: a restarted
    simulator (a new port) no longer serves them, but the kernel still finds them here."""
    return data_dir() / "simulator" / "videos"


def simulator_video_file(url: str) -> Path | None:
    """Where the built-in simulator keeps the video of a link it gave (``/sim/videos/<id>.mp4`` on the
    kernel's loopback), whether or not the file is still there; None for any other link."""
    parts = urlsplit(url)
    match = _SIM_VIDEO.fullmatch(parts.path)
    if match is None or not is_loopback(parts.hostname or ""):
        return None
    return simulator_videos_dir() / f"{match.group(1)}.mp4"


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8, ::1: this machine only (a browser elsewhere cannot reach it)."""
    host = host.lower().strip("[]")
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
