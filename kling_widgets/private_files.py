"""Files and folders that only their owner may read, written whole or appended to, never seen half written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, cast

#: The journal, kept pictures and the account's state hold prompts, task links and pictures: the owner's eyes only.
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def make_private_folder(folder: Path, *, ours: bool) -> None:
    """Create ``folder`` readable by its owner only.

    A folder that already existed is made private only when it is ours (the default data folder); a
    folder the user chose keeps its own mode.

    Parameters
    ----------
    folder : pathlib.Path
        The folder (its parents are created too).
    ours : bool
        Whether the package owns the folder, so that an existing one may be made private.
    """
    existed = folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    if not existed or ours:
        make_private(folder, PRIVATE_FOLDER)


def make_private(path: Path, mode: int) -> None:
    """Give ``path`` the private ``mode`` when it is the user's own; a file we may not change is left as it is.

    Parameters
    ----------
    path : pathlib.Path
        An existing file or folder.
    mode : int
        :data:`PRIVATE_FILE` or :data:`PRIVATE_FOLDER`.
    """
    if os.name != "posix":
        return
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError:
        pass  # a file we may not change: leave it as it is


def open_private(path: Path, *, append: bool = True) -> BinaryIO:
    """Open a file for writing bytes; a new file is created private (0600), whatever the umask allows others.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    append : bool
        Append to what is there; False empties it first.

    Returns
    -------
    BinaryIO
        The open file, for a ``with`` block.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    return cast(BinaryIO, os.fdopen(fd, "ab" if append else "wb"))


def write_private(path: Path, data: bytes) -> None:
    """Write a whole file, private (0600) in a private folder, under a temporary name first.

    A reader never finds it half written: the file appears whole, by a rename.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    data : bytes
        Its contents.
    """
    make_private_folder(path.parent, ours=True)
    temporary = path.with_name(path.name + ".part")
    with open_private(temporary, append=False) as handle:
        handle.write(data)
    os.replace(temporary, path)
