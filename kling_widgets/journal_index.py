"""The journal's index: the lines a resume needs, kept beside the journal so that opening a bundle, a
resume or a storyboard over a journal of years reads a few kilobytes, not all of it.

The journal (``history.jsonl``) stays the one source of truth; the index (``history.index``) is a copy
of some of its lines and can always be rebuilt from it. It keeps, verbatim and in journal order:

- every line of every *live* unit — a batch, or one group of the bundle's queue, or a lone submission
  (see :func:`unit_of`) with at least one request not ended — so that a resume gets each interrupted
  batch whole, its finished requests too;
- every line of a storyboard's takes, and every storyboard step (``event: story``), ended or not, so that
  a storyboard reopens from the index alone;
- a fingerprint of every batch unit ever seen, so that a request added later to a batch that had ended
  (``Batch.retry``) is noticed: then the index is rebuilt once, to bring that batch's older lines back.

Its first line says how far into the journal it goes (a byte offset), which file that was (device and
inode) and a digest of the bytes just before that offset. Each read brings it up to date by reading only
the journal's lines past that offset; it is rebuilt from the whole journal whenever it is missing,
unreadable, of another version, or the journal shrank or was replaced. It is written whole under a
temporary name of its own and renamed (atomic): several kernels may read and rewrite it at once, and the
worst a race does is leave an index that stops earlier, whose next reader reads a longer tail.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from pathlib import Path
from typing import Any

#: Statuses after which a request will not change again (``HistoryEntry.unfinished`` is their complement).
ENDED = frozenset({"succeeded", "failed", "rejected", "cancelled"})
LEGACY_BUNDLE = "bundle"  # the bundle's queue before it had a name of its own: its clicks are not one batch
VERSION = 1
RECORDS_PER_PARSE = 500
CHECK_BYTES = 256  # the bytes before the offset whose digest tells a replaced journal from a grown one
PRIVATE_FILE = 0o600  # the index copies prompts and task links: its owner's eyes only, as the journal


def unit_of(batch: str | None, group: str | None, external_task_id: str) -> tuple[str, str | None]:
    """What a resume brings back together: a batch (or one group of it); an entry of no batch alone.

    Parameters
    ----------
    batch : str or None
        The batch the entry was journaled in.
    group : str or None
        Its group within the batch (one click of the bundle).
    external_task_id : str
        The entry's id.

    Returns
    -------
    tuple of (str, str or None)
        The unit's key: ``("", external_task_id)`` for an entry alone.
    """
    alone = not batch or (batch == LEGACY_BUNDLE and group is None)
    return ("", external_task_id) if alone else (batch or "", group)


def records(block: bytes) -> list[Any]:
    """The JSON records of whole lines, a few hundred lines per parse (fast for a journal of thousands,
    and the other threads — the kernel's — get a turn between two parses).

    Parameters
    ----------
    block : bytes
        Whole lines of JSON.

    Returns
    -------
    list
        Their records, torn lines (a crash mid-write) skipped.
    """
    lines = [line for line in block.splitlines() if line.strip()]
    parsed: list[Any] = []
    for start in range(0, len(lines), RECORDS_PER_PARSE):
        parsed += _parse(lines[start : start + RECORDS_PER_PARSE])
    return parsed


def _parse(lines: list[bytes]) -> list[Any]:
    """All at once when every line is whole (one parse), line by line otherwise, skipping torn lines
    from a crash."""
    try:
        parsed = json.loads(b"[" + b",".join(lines) + b"]")
        if isinstance(parsed, list) and len(parsed) == len(lines):
            return parsed
    except (ValueError, UnicodeDecodeError):
        pass
    each = []
    for line in lines:
        try:
            each.append(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            continue  # a torn line from a crash: skip it, keep the rest
    return each


def _fingerprint(key: tuple[str, str | None]) -> int:
    """A unit's 8-byte fingerprint: a collision only costs one needless rebuild."""
    return int.from_bytes(hashlib.blake2b(json.dumps(key).encode(), digest_size=8).digest(), "little")


class _Rebuild(Exception):
    """The tail names a request the index cannot place (a batch that had ended got a new request)."""


class JournalIndex:
    """The index of one journal: :meth:`lines` gives the kept records, brought up to date.

    Parameters
    ----------
    journal : Path
        The journal (JSON lines).
    path : Path
        The index file beside it.
    """

    def __init__(self, journal: Path, path: Path) -> None:
        self.journal = journal
        self.path = path
        self._lock = threading.Lock()
        self._loaded = False
        self._reset()
        #: how many times this object read the whole journal (for tests and benchmarks)
        self.rebuilds = 0

    def _reset(self) -> None:
        self._upto = 0
        self._identity: tuple[int, int] | None = None
        self._check = ""
        self._kept: dict[str, list[dict[str, Any]]] = {}  # external id → its lines, in journal order
        self._stories: list[dict[str, Any]] = []
        self._order: list[tuple[str, int]] = []  # (external id or "", place) of each kept line, in order
        self._known: set[int] | None = set()
        self._known_hex = ""
        self._live: set[tuple[str, str | None]] = set()  # the units kept, while a tail is read

    # -- reading -------------------------------------------------------------------------------------
    def lines(self) -> list[dict[str, Any]]:
        """The kept lines, in journal order, after reading what the journal gained since (or rebuilding).

        Returns
        -------
        list of dict
            The records (shared: do not change them).
        """
        with self._lock:
            self._refresh()
            return self._lines()

    def lag(self) -> int:
        """How much of the journal the index has yet to read, in bytes (all of it when the index must be
        rebuilt): what the next :meth:`lines` reads.

        Returns
        -------
        int
            The bytes.
        """
        with self._lock:
            try:
                stat = self.journal.stat()
            except FileNotFoundError:
                return 0
            identity = (stat.st_dev, stat.st_ino)
            self._load_once(identity, stat.st_size)
            if identity != self._identity or stat.st_size < self._upto:
                return stat.st_size
            return stat.st_size - self._upto

    def rebuild(self) -> None:
        """Read the whole journal again and rewrite the index (what a missing index costs)."""
        with self._lock:
            self._rebuild()

    def _refresh(self) -> None:
        try:
            stat = self.journal.stat()
        except FileNotFoundError:
            self._reset()
            self._loaded = True
            return
        identity = (stat.st_dev, stat.st_ino)
        self._load_once(identity, stat.st_size)
        if identity != self._identity or stat.st_size < self._upto:
            self._rebuild()
            return
        if stat.st_size == self._upto:
            return
        with open(self.journal, "rb") as handle:
            if self._digest(handle, self._upto) != self._check:
                self._rebuild()  # the same file, grown, but not from what was read: rewritten in place
                return
            handle.seek(self._upto)
            chunk = handle.read(stat.st_size - self._upto)
            end = chunk.rfind(b"\n") + 1
            if end == 0:
                return  # a line being written: it is read once whole
            check = self._digest(handle, self._upto + end)
        self._live = {self._unit(lines) for lines in self._kept.values()}
        try:
            for record in records(chunk[:end]):
                self._take(record, whole=False)
        except _Rebuild:
            self._rebuild()
            return
        self._upto += end
        self._check = check
        self._prune()
        self._save()

    def _load_once(self, identity: tuple[int, int], size: int) -> None:
        """Read the index file the first time it is needed (a failed read leaves it to be rebuilt)."""
        if not self._loaded:
            self._loaded = True
            if not self._load(identity, size):
                self._reset()

    def _rebuild(self) -> None:
        self._reset()
        self.rebuilds += 1
        try:
            stat = self.journal.stat()
            with open(self.journal, "rb") as handle:
                chunk = handle.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1
        for record in records(chunk[:end]):
            self._take(record, whole=True)
        self._identity = (stat.st_dev, stat.st_ino)
        self._upto = end
        with open(self.journal, "rb") as handle:
            self._check = self._digest(handle, end)
        self._prune()
        self._save()

    def _take(self, record: Any, *, whole: bool) -> None:
        """Keep one line if the index needs it. ``whole``: reading the journal from its start (every
        request is new), else its tail (a request seen before and not kept has ended)."""
        if not isinstance(record, dict):
            return
        ext = record.get("external_task_id")
        if not isinstance(ext, str):
            if record.get("event") == "story" and isinstance(record.get("story"), str):
                self._order.append(("", len(self._stories)))
                self._stories.append(record)
            return
        kept = self._kept.get(ext)
        if kept is None and not whole:
            if record.get("event") not in ("submit", "queued"):
                status = record.get("status")
                if status is None or status in ENDED:
                    return  # news of a request that had ended (a download, a late answer)
                # a task journaled without its submission (watched by a watcher given the journal):
                # kept from here on, as a fold of the whole journal has it
            key = unit_of(record.get("batch"), record.get("group"), ext)
            if key[0] and key not in self._live and _fingerprint(key) in self._known_units():
                raise _Rebuild  # a batch that had ended got a new request: its older lines are needed
            self._live.add(key)
        if kept is None:
            kept = self._kept[ext] = []
        self._order.append((ext, len(kept)))
        kept.append(record)

    def _known_units(self) -> set[int]:
        if self._known is None:
            data = bytes.fromhex(self._known_hex)
            self._known = set(struct.unpack(f"<{len(data) // 8}Q", data))
        return self._known

    @staticmethod
    def _unit(lines: list[dict[str, Any]]) -> tuple[str, str | None]:
        batch = group = None
        for line in lines:  # as the entry folds: the last value given wins
            batch = line.get("batch") if line.get("batch") is not None else batch
            group = line.get("group") if line.get("group") is not None else group
        return unit_of(batch, group, str(lines[0]["external_task_id"]))

    @staticmethod
    def _keeps(lines: list[dict[str, Any]]) -> bool:
        """Whether a request keeps its unit in the index: not ended, or a storyboard's take."""
        status = "sending"
        story = False
        for line in lines:
            status = line["status"] if isinstance(line.get("status"), str) else status
            tags = line.get("tags")
            story = story or (isinstance(tags, dict) and tags.get("story") is not None)
        return story or status not in ENDED

    def _prune(self) -> None:
        """Drop the units that ended (every request in them ended, and none is a storyboard's take)."""
        units = {ext: self._unit(lines) for ext, lines in self._kept.items()}
        live = {units[ext] for ext, lines in self._kept.items() if self._keeps(lines)}
        known = self._known_units()
        known.update(_fingerprint(key) for key in units.values() if key[0])
        gone = {ext for ext, key in units.items() if key not in live}
        if gone:
            self._kept = {ext: lines for ext, lines in self._kept.items() if ext not in gone}
            self._order = [(ext, place) for ext, place in self._order if ext not in gone]

    # -- the file ------------------------------------------------------------------------------------
    @staticmethod
    def _digest_of(before: bytes, upto: int) -> str:
        return f"{upto}:" + hashlib.blake2b(before[-CHECK_BYTES:], digest_size=16).hexdigest()

    def _digest(self, handle: Any, upto: int) -> str:
        start = max(0, upto - CHECK_BYTES)
        handle.seek(start)
        return self._digest_of(handle.read(upto - start), upto)

    def _load(self, identity: tuple[int, int], size: int) -> bool:
        """Read the index file; False when it is missing, unreadable or not this journal's."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return False
        head, _, body = data.partition(b"\n")
        try:
            header = json.loads(head)
            ok = (
                isinstance(header, dict)
                and header.get("version") == VERSION
                and [header.get("device"), header.get("inode")] == list(identity)
                and isinstance(header.get("upto"), int)
                and 0 <= header["upto"] <= size
                and isinstance(header.get("check"), str)
                and isinstance(header.get("units"), str)
                and header.get("lines") == body.count(b"\n")
            )
            if ok:
                with open(self.journal, "rb") as handle:
                    ok = self._digest(handle, header["upto"]) == header["check"]
            kept = records(body) if ok else []
            ok = ok and len(kept) == header["lines"]
        except (ValueError, UnicodeDecodeError, OSError):
            return False
        if not ok:
            return False
        self._reset()
        self._identity, self._upto, self._check = identity, header["upto"], header["check"]
        self._known, self._known_hex = None, header["units"]
        for record in kept:
            self._take(record, whole=True)
        return True

    def _save(self) -> None:
        """Write the index whole under a name of this thread's own, then rename it into place."""
        if self._identity is None:
            return
        known = sorted(self._known_units())
        header = {
            "version": VERSION,
            "device": self._identity[0],
            "inode": self._identity[1],
            "upto": self._upto,
            "check": self._check,
            "lines": len(self._order),
            "units": struct.pack(f"<{len(known)}Q", *known).hex(),
        }
        body = [json.dumps(header)]
        for record in self._lines():
            body.append(json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str))
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(("\n".join(body) + "\n").encode("utf-8"))
            os.replace(temporary, self.path)
        except OSError:  # a read-only folder: the index is a convenience, the journal is the record
            temporary.unlink(missing_ok=True)

    def _lines(self) -> list[dict[str, Any]]:
        """The kept lines as they stand, in journal order (call with the lock held)."""
        return [self._stories[place] if ext == "" else self._kept[ext][place] for ext, place in self._order]
