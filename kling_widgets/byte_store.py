"""ByteStore: a private folder of files named by the sha256 of their bytes, each written once and whole."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .private_files import write_private


class ByteStore:
    """Bytes kept under a key — the sha256 of the bytes, or of what they were made from — one file each.

    The journal keeps pictures this way three times over: a storyboard's pictures, the history cards'
    thumbnails and the spool of queued pictures. The folder and its files are private (0700/0600) and
    created on the first :meth:`put`; a file is never seen half written.

    Parameters
    ----------
    folder : pathlib.Path
        Where the files are kept.
    suffix : str
        Added to each key to name its file (``".jpg"`` for thumbnails), so that existing folders still read.
    """

    def __init__(self, folder: Path, *, suffix: str = "") -> None:
        self.folder = folder
        self.suffix = suffix

    def __repr__(self) -> str:
        return f"ByteStore({str(self.folder)!r})"

    def path(self, key: str) -> Path:
        """The file of a key (it may not exist yet).

        Parameters
        ----------
        key : str
            The key, as :meth:`put` gave it.

        Returns
        -------
        pathlib.Path
            The file.

        Raises
        ------
        ValueError
            The key is not a plain file name (a journal line edited by hand must not reach other files).
        """
        if not _plain(key):
            raise ValueError(f"not a key of a byte store: {key!r}")
        return self.folder / (key + self.suffix)

    def has(self, key: str) -> bool:
        """Whether the bytes of a key are kept: a thumbnail need not be made again when they are.

        Parameters
        ----------
        key : str
            The key to look for.

        Returns
        -------
        bool
            True when its file exists (never for a key that is not a plain file name).
        """
        return _plain(key) and self.path(key).exists()

    def put(self, data: bytes, *, key: str | None = None) -> str:
        """Keep bytes (once: bytes already kept under the key are not written again).

        Parameters
        ----------
        data : bytes
            The bytes.
        key : str, optional
            Their sha256 when already known, or the key of what they were made from (a thumbnail is kept
            under its picture's key). Default: the sha256 of ``data``.

        Returns
        -------
        str
            The key, for :meth:`get`.
        """
        key = key or hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if not target.exists():
            write_private(target, data)
        return key

    def get(self, key: str) -> bytes:
        """The bytes kept under a key.

        Parameters
        ----------
        key : str
            Their key: their sha256, or that of what they were made from.

        Returns
        -------
        bytes
            The bytes.

        Raises
        ------
        FileNotFoundError
            Nothing is kept under that key (never kept, discarded, or not a plain file name).
        """
        if not _plain(key):
            raise FileNotFoundError(f"nothing is kept under {key!r} in {self.folder}")
        return self.path(key).read_bytes()

    def discard(self, key: str) -> None:
        """Forget the bytes of a key; nothing happens when none are kept.

        Parameters
        ----------
        key : str
            The key of the bytes to forget (one that is not a plain file name has nothing kept).
        """
        if _plain(key):
            self.path(key).unlink(missing_ok=True)

    def empty(self) -> bool:
        """Whether nothing is kept (a folder that cannot be read counts as empty).

        Returns
        -------
        bool
            True when no file is kept.
        """
        try:
            return not (self.folder.is_dir() and any(self.folder.iterdir()))
        except OSError:
            return True


def _plain(key: str) -> bool:
    """Whether a key names a file in the store's folder itself (no separator, not "." or "..")."""
    return bool(key) and key not in (".", "..") and "/" not in key and "\\" not in key
