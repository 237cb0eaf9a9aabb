"""Where kling-widgets keeps its files: ``$KLING_WIDGETS_HOME``, or the user's data directory.

Its own module, importing nothing of the package, so that the journal and the simulator (which must not
import the client, the models or the image pipeline) name the same place."""

from __future__ import annotations

import os
from pathlib import Path


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
