"""One account, many kernels: the account's running slots, shared by every process that uses one key.

Kling counts running tasks per account (docs/guide/service.md: a task holds a slot from ``submitted``
until it ends), but every kernel — each visitor of a Voila app, each student of a JupyterHub, each notebook — would
otherwise learn that limit alone, from its own 1303 refusals, and the kernel that polls most often
wins. Here the kernels of one account agree on who may send: a create is sent only with a *lease*
on one of the account's slots, held from before the create until the task ends.

- **Where they agree.** By default a folder under the data directory (``$KLING_WIDGETS_HOME`` or the
  user's data folder), one per account: a JSON state guarded by a file lock, and one lock file per
  kernel held for its lifetime, so the OS releases a dead kernel's slots. ``KLING_WIDGETS_SLOTS=redis://…``
  puts the same state in Redis for kernels on several machines: a kernel's leases live while its key,
  refreshed every few seconds, has not expired. ``KLING_WIDGETS_SLOTS=off``: each kernel on its own; and
  a coordinator that cannot be reached leaves each kernel sending on its own too, never stuck.
- **A dead kernel** gives its slots back at once. Its tasks may still run at the service, so they are
  remembered for a while: a 1303 they explain holds one slot for the Retry-After, and teaches no limit.
- **What the limit is.** Learned from the first 1303 (the number of leases held then) and shared;
  forgotten after an hour so that a larger plan is found again. While it is unknown, one create is
  sent at a time across the account, so learning it costs a single refusal.
- **Who goes next.** Round-robin between kernels: a free slot goes to the waiting kernel that holds
  fewest slots, then to the one whose last turn is oldest (or that never had one), then to the one that
  queued first, so one student's sweep of 20 does not starve the class.
- **Handed on as soon as it frees.** While someone waits for a slot, the store says so (a marker file beside
  the state, a Redis key with a short expiry); each kernel's watcher asks about once a second and then
  looks at the tasks holding slots at the base pace (``watcher.set_hurry``), so a task that ends frees its
  slot within one base interval. A release in this kernel wakes its waiters at once; waiters in other
  kernels look every ``POLL``. Nobody waiting: no request more than before.

The account is named by a hash of provider, address and key fingerprint (``KlingClient.account``):
never the key, on disk or in Redis.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._home import data_dir
from .errors import KlingError
from .private_files import make_private_folder, write_private
from .watcher import look_again, set_hurry

if TYPE_CHECKING:
    from .client import KlingClient

log = logging.getLogger("kling_widgets")

SLOTS_ENV = "KLING_WIDGETS_SLOTS"
POLL = 0.1  # seconds between two looks at the account while waiting (a release in this process wakes at once)
LEASE_SECONDS = 10.0  # Redis: a kernel silent this long is gone, and its slots come back
STALE_WAITER = 10.0  # a waiter not seen this long has stopped waiting (a frozen kernel never blocks the queue)
LIMIT_SECONDS = 3600.0  # a learned limit is trusted this long, then learned again (the plan may have changed)
ORPHAN_SECONDS = 600.0  # a dead kernel's task may run on at the service this long: it explains 1303s meanwhile
RECHECK_SECONDS = 5.0  # a 1303 no lease of ours explains keeps one slot taken this long (or the Retry-After)
LIVENESS_EVERY = 1.0  # how often a kernel checks whether the others holding or waiting are still alive
STATE_TTL = 86400  # Redis: an account nobody used for a day leaves no key behind
WAITING_MARK = 3.0  # "someone waits" lasts this long unless a waiter's look renews it (a frozen one stops)
MARK_REFRESH = 1.0  # the marker file is touched at most this often while someone waits
WAITERS_EVERY = 1.0  # a kernel asks the store whether someone waits at most this often (a stat, one Redis call)
UNREACHABLE_PAUSE = 30.0  # a store that could not say is asked again after this long (the watcher never stalls)

T = TypeVar("T")
Alive = Callable[[set[str]], set[str]]


@dataclass
class SlotState:
    """What the kernels of one account agree on: the learned limit, the leases, the waiters.

    ``leases``: lease id → ``{"kernel", "sending"}`` (``sending`` until the create is answered);
    ``waiting``: waiter id → ``{"kernel", "seq", "seen"}`` (``seq`` orders the queue); ``served``:
    kernel → the number of its last turn (``seq`` counts queue entries and turns alike); ``orphans``:
    the running tasks of dead kernels, that may still run at the service (id → until when). A lease with
    ``until`` and no kernel keeps a slot taken for a moment after a refusal nobody's lease explains."""

    limit: int | None = None
    limit_until: float = 0.0
    seq: int = 0
    leases: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)
    orphans: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: bytes | None) -> SlotState:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(
                data.get("limit"),
                float(data.get("limit_until", 0.0)),
                int(data.get("seq", 0)),
                dict(data.get("leases", {})),
                dict(data.get("waiting", {})),
                dict(data.get("served", {})),
                dict(data.get("orphans", {})),
            )
        except (ValueError, TypeError, AttributeError):
            log.warning("the account's shared slots were unreadable: starting afresh")
            return cls()

    def dump(self) -> bytes:
        data = {
            "limit": self.limit,
            "limit_until": self.limit_until,
            "seq": self.seq,
            "leases": self.leases,
            "waiting": self.waiting,
            "served": self.served,
            "orphans": self.orphans,
        }
        return json.dumps(data, sort_keys=True).encode()

    def forget_dead(self, me: str, alive: Alive, now: float) -> None:
        """Free at once what dead kernels held or waited for; forget waiters that stopped looking, an old
        limit, a refusal's moment. A dead kernel's running task may still run at the service (a Voila
        visitor closed the tab): it is kept as an *orphan*, so that a 1303 it causes is not taken for a
        smaller limit."""
        others = {e["kernel"] for e in (*self.leases.values(), *self.waiting.values())} | set(self.served)
        others -= {me, ""}
        dead = others - alive(others) if others else set()
        for lease, entry in list(self.leases.items()):
            if entry["kernel"] in dead and not entry["sending"]:
                self.orphans[lease] = now + ORPHAN_SECONDS
            if entry["kernel"] in dead or entry.get("until", now) < now:
                del self.leases[lease]
        self.orphans = {k: until for k, until in self.orphans.items() if until >= now}
        self.waiting = {
            k: v for k, v in self.waiting.items() if v["kernel"] not in dead and now - v["seen"] <= STALE_WAITER
        }
        self.served = {k: v for k, v in self.served.items() if k not in dead}
        if self.limit is not None and now > self.limit_until:
            self.limit = None

    def someone_waits(self) -> bool:
        """True when a waiter is queued and no slot is free for it: the tasks holding the slots are what
        it waits for (a free slot goes to a waiter at its next look, so that wait is not counted)."""
        return bool(self.waiting) and self.free() <= 0

    def free(self) -> int:
        """Slots that may be handed out now. Limit unknown: one create at a time across the account."""
        if self.limit is None:
            return 0 if any(lease["sending"] or "until" in lease for lease in self.leases.values()) else 1
        return self.limit - len(self.leases)

    def take(self, waiter: str, kernel: str, now: float) -> str | None:
        """Queue ``waiter`` (or refresh it); hand it a lease when its turn has come."""
        entry = self.waiting.get(waiter)
        if entry is None:
            self.seq += 1
            entry = self.waiting[waiter] = {"kernel": kernel, "seq": self.seq, "seen": now}
        elif now - entry["seen"] > 1.0:  # written at most once a second while it only waits
            entry["seen"] = now
        free = self.free()
        if free <= 0:
            return None
        held = Counter(lease["kernel"] for lease in self.leases.values())

        def turn(w: str) -> tuple[int, int, int]:  # holding fewest, then served longest ago, then queued first
            k = self.waiting[w]["kernel"]
            return held[k], self.served.get(k, 0), self.waiting[w]["seq"]

        if waiter not in sorted(self.waiting, key=turn)[:free]:
            return None
        del self.waiting[waiter]
        self.seq += 1
        self.served[kernel] = self.seq
        return self.add_lease(kernel, sending=True)

    def add_lease(self, kernel: str, *, sending: bool) -> str:
        lease = uuid.uuid4().hex[:16]
        self.leases[lease] = {"kernel": kernel, "sending": sending}
        return lease

    def abandon(self, lease: str, now: float) -> None:
        """Its kernel stops watching a task that may still run: free the slot, remember the task."""
        entry = self.leases.pop(lease, None)
        if entry is not None and not entry["sending"]:
            self.orphans[lease] = now + ORPHAN_SECONDS

    def refused(self, lease: str, now: float, hold: float = RECHECK_SECONDS) -> int | None:
        """A 1303 for ``lease``'s create. Explained by a dead kernel's task still running, or by work
        outside these kernels (no lease of ours runs): one slot stays taken for ``hold`` seconds, the limit
        unchanged. Otherwise the account runs what the other leases hold: that is its limit."""
        self.leases.pop(lease, None)
        others = sum(1 for entry in self.leases.values() if "until" not in entry)
        if self.orphans or others == 0:
            if self.orphans:
                del self.orphans[min(self.orphans, key=self.orphans.__getitem__)]
            self.leases[uuid.uuid4().hex[:16]] = {"kernel": "", "sending": False, "until": now + hold}
        else:
            self.limit = others if self.limit is None else min(self.limit, others)
            self.limit_until = now + LIMIT_SECONDS
        return self.limit


class _Store(Protocol):
    """Where the state lives: ``transact`` reads it, lets ``change`` edit it, writes it back atomically."""

    shared: bool

    def transact(self, change: Callable[[SlotState, Alive], T]) -> T: ...

    def someone_waits(self) -> bool: ...


class FileStore:
    """One machine: ``<folder>/state.json`` guarded by ``state.lock``; ``kernels/<id>.lock`` held by each
    kernel for its life — a lock the OS drops when the process dies, however it dies."""

    shared = True

    def __init__(self, folder: Path, kernel: str) -> None:
        from filelock import FileLock

        self.folder = folder
        make_private_folder(folder, ours=True)
        make_private_folder(folder / "kernels", ours=True)
        self.path = folder / "state.json"
        self.marker = folder / "waiting"  # its time is when a waiter last looked; absent: nobody waits
        self._mutex = FileLock(str(folder / "state.lock"), mode=0o600)
        self._local = threading.Lock()  # a FileLock is re-entrant within a process: threads queue here first
        self._mine = FileLock(str(self._kernel_file(kernel)), mode=0o600, thread_local=False)
        self._mine.acquire(timeout=0)  # held until the process ends

    def _kernel_file(self, kernel: str) -> Path:
        return self.folder / "kernels" / f"{kernel}.lock"

    def alive(self, kernels: set[str]) -> set[str]:
        from filelock import FileLock, Timeout

        living = set()
        for kernel in kernels:
            probe = FileLock(str(self._kernel_file(kernel)), mode=0o600, thread_local=False)
            try:
                probe.acquire(timeout=0)
            except Timeout:
                living.add(kernel)
            else:
                probe.release()  # nobody held it: that kernel is gone (and so is its file now)
        return living

    def transact(self, change: Callable[[SlotState, Alive], T]) -> T:
        with self._local, self._mutex:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = None
            state = SlotState.load(raw)
            result = change(state, self.alive)
            written = state.dump()
            if written != raw:
                write_private(self.path, written)
            self._mark(state.someone_waits())
            return result

    def _mark(self, waiting: bool) -> None:
        """Keep the marker in step with the state (under the state's lock): renewed while someone waits,
        removed when nobody does. A marker that cannot be written only costs the hurry, never the slots."""
        try:
            if not waiting:
                self.marker.unlink(missing_ok=True)
            elif not self.someone_waits(MARK_REFRESH):
                self.marker.touch(mode=0o600)
        except OSError as error:
            log.debug("could not mark that someone waits for the account's slots: %s", error)

    def someone_waits(self, within: float = WAITING_MARK) -> bool:
        """Whether a waiter looked at the account in the last ``within`` seconds: one stat, no lock."""
        try:
            return time.time() - self.marker.stat().st_mtime < within
        except FileNotFoundError:
            return False


class RedisStore:
    """Several machines: the state under one Redis key, changed in WATCH/MULTI transactions; each kernel
    keeps a key of its own alive (``LEASE_SECONDS``, refreshed by a background thread)."""

    shared = True

    def __init__(self, url: str, account: str, kernel: str) -> None:
        try:
            import redis
        except ImportError as error:
            raise KlingError(f"{SLOTS_ENV}={_safe(url)} needs redis-py: pip install 'kling-widgets[redis]'") from error
        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)  # down: alone, soon
        self._prefix = f"kling-widgets:{account}"
        self.key = f"{self._prefix}:slots"
        self.marker = f"{self._prefix}:waiting"  # exists while someone waits (expires unless renewed)
        self._kernel = kernel
        self._beating = threading.Event()
        self._beat_lock = threading.Lock()

    def _kernel_key(self, kernel: str) -> str:
        return f"{self._prefix}:kernel:{kernel}"

    def _start_heartbeat(self) -> None:
        with self._beat_lock:
            if self._beating.is_set():
                return
            self._redis.set(self._kernel_key(self._kernel), "1", px=int(LEASE_SECONDS * 1000))
            self._beating.set()
        threading.Thread(target=self._heartbeat, name="kling-slots-lease", daemon=True).start()

    def _heartbeat(self) -> None:
        while True:
            time.sleep(LEASE_SECONDS / 4)
            try:
                self._redis.set(self._kernel_key(self._kernel), "1", px=int(LEASE_SECONDS * 1000))
            except Exception as error:  # Redis away for a moment: try again; the lease may lapse meanwhile
                log.warning("could not refresh this kernel's lease on %s: %s", _safe(self.url), error)

    def alive(self, kernels: set[str]) -> set[str]:
        ordered = sorted(kernels)
        found = self._redis.exists(*(self._kernel_key(k) for k in ordered)) if ordered else 0
        if found == len(ordered):
            return set(ordered)
        pipe = self._redis.pipeline(transaction=False)
        for kernel in ordered:
            pipe.exists(self._kernel_key(kernel))
        return {k for k, there in zip(ordered, pipe.execute(), strict=True) if there}

    def transact(self, change: Callable[[SlotState, Alive], T]) -> T:
        self._start_heartbeat()

        def run(pipe: Any) -> T:
            raw = pipe.get(self.key)
            state = SlotState.load(raw)
            waited = state.someone_waits()
            result = change(state, self.alive)
            written = state.dump()
            pipe.multi()
            if written != raw:
                pipe.set(self.key, written, ex=STATE_TTL)
            if state.someone_waits():  # in the same transaction as the state: the marker never lies for long
                pipe.set(self.marker, "1", px=int(WAITING_MARK * 1000))
            elif waited:
                pipe.delete(self.marker)
            return result

        result: T = self._redis.transaction(run, self.key, value_from_callable=True)  # type: ignore[arg-type,assignment]
        return result

    def someone_waits(self) -> bool:
        """Whether the marker key lives: one Redis call."""
        return bool(self._redis.exists(self.marker))


def _safe(url: str) -> str:
    """A Redis address without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def account_hash(client: KlingClient) -> str:
    """The account's name where kernels meet: a hash of provider, address and key fingerprint."""
    return hashlib.sha256(client.account.encode()).hexdigest()[:32]


class AccountSlots:
    """The running slots of one account, as this kernel sees them: ``acquire`` before a create (waits its
    turn), ``sent`` once it was accepted, ``release`` when the task ends, ``refused`` after a 1303.
    ``AccountSlots.for_client(client)`` gives the process's one instance per account."""

    _instances: dict[tuple[str, str, str], AccountSlots] = {}  # noqa: RUF012 (the process's registry)
    _registry_lock = threading.Lock()

    def __init__(self, store: _Store | None, kernel: str) -> None:
        self.store = store
        self.kernel = kernel
        self._cond = threading.Condition()
        self._checked = 0.0  # when the others' liveness was last checked
        self._warned = 0.0
        self._waiting_here = 0  # acquires of this kernel that found every slot taken and wait
        self._waits = False  # what the store said last about waiters...
        self._ask_at = 0.0  # ...and when to ask it again

    def __repr__(self) -> str:
        where = type(self.store).__name__ if self.store else "not shared"
        return f"AccountSlots({where})"

    @property
    def shared(self) -> bool:
        return self.store is not None

    @classmethod
    def for_client(cls, client: KlingClient) -> AccountSlots:
        """The slots of ``client``'s account, coordinated as ``KLING_WIDGETS_SLOTS`` says: unset (a folder
        under the data directory), ``redis://…`` / ``rediss://…`` / ``unix://…``, or ``off``."""
        spec = os.environ.get(SLOTS_ENV, "").strip()
        account = account_hash(client)
        where = spec if spec else str(data_dir())
        key = (f"{os.getpid()}", where, account)  # a forked child is a kernel of its own
        with cls._registry_lock:
            slots = cls._instances.get(key)
            if slots is None:
                kernel = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
                slots = cls._instances[key] = cls(_store(spec, account, kernel), kernel)
                if slots.store is not None:
                    set_hurry(client.account, slots.someone_waits)
            return slots

    # -- a create's life ------------------------------------------------------------------------------
    def acquire(self, stop: Callable[[], bool], on_wait: Callable[[], None] | None = None) -> str | None:
        """Wait for this kernel's turn and a free slot; the lease, or None when ``stop()`` says to give up.
        ``on_wait()`` is called once, when a look finds every slot taken (not merely another kernel's create
        in flight while the limit is still unknown: that wait is short)."""
        if self.store is None:
            return None if stop() else "local"
        waiter = uuid.uuid4().hex[:16]
        told, granted = False, False
        full: list[bool] = [False]  # what the last look found
        take = functools.partial(self._take, waiter=waiter, full=full)
        alone: str | None = "local"  # the coordinator cannot be reached: send as a kernel alone would
        counted = False
        try:
            while not stop():
                lease = self._change(take, alone)
                if lease is not None:
                    granted = True
                    return lease
                if full[0] and not counted:  # the running tasks are what it waits for: look at them often
                    counted = True
                    with self._cond:
                        self._waiting_here += 1
                    look_again()
                if full[0] and not told and on_wait is not None:
                    told = True
                    on_wait()
                with self._cond:
                    self._cond.wait(POLL)
            return None
        finally:
            if counted:
                with self._cond:
                    self._waiting_here -= 1
            if not granted:
                self._change(lambda state, alive: state.waiting.pop(waiter, None), None)

    def _take(self, state: SlotState, alive: Alive, *, waiter: str, full: list[bool]) -> str | None:
        now = time.time()
        state.forget_dead(self.kernel, self._alive(alive), now)
        lease = state.take(waiter, self.kernel, now)
        full[0] = lease is None and state.limit is not None
        return lease

    def _alive(self, alive: Alive) -> Alive:
        """Checking every other kernel on every look would cost more than the look: once a second."""
        now = time.monotonic()
        if now - self._checked < LIVENESS_EVERY:
            return lambda kernels: kernels
        self._checked = now
        return alive

    def someone_waits(self) -> bool:
        """True while an intention waits for a slot of this account, in this kernel or another: the
        watcher then looks at the tasks holding the slots at the base pace. The shared store is asked at
        most once every ``WAITERS_EVERY`` seconds; one that cannot say is left alone a while (the
        watcher's thread asks, and must not wait on it every turn).

        Returns
        -------
        bool
            Whether someone waits (False when nobody is known to).
        """
        if self._waiting_here:
            return True
        if self.store is None:
            return False
        now = time.monotonic()
        if now < self._ask_at:
            return self._waits
        self._ask_at = now + WAITERS_EVERY
        try:
            self._waits = self.store.someone_waits()
        except Exception as error:
            self._ask_at = now + UNREACHABLE_PAUSE
            self._waits = False
            log.debug("could not tell whether someone waits for the account's slots: %s", error)
        return self._waits

    def sent(self, lease: str | None) -> None:
        """The create was accepted: the lease now counts a running task, and the next create may go."""
        if self._ours(lease):
            self._change(lambda state, _: state.leases.get(str(lease), {}).update(sending=False), None)
        self._wake()

    def release(self, lease: str | None) -> None:
        """The task ended (or was never created): its slot is free for whoever's turn it is."""
        if self._ours(lease):
            self._change(lambda state, _: state.leases.pop(str(lease), None), None)
        self._wake()

    def abandon(self, lease: str | None) -> None:
        """This kernel stops watching the lease's task, which may run on: its slot goes back to the
        account now, as a dead kernel's would."""
        if self._ours(lease):
            self._change(lambda state, _: state.abandon(str(lease), time.time()), None)
        self._wake()

    def refused(self, lease: str | None, retry_after: float | None = None) -> int | None:
        """A 1303 for this lease's create: learn the account's limit (shared) and return it — or, when no
        lease of ours explains the refusal, keep a slot taken for ``retry_after`` (else a few seconds)."""
        if not self._ours(lease):
            return None
        hold = min(retry_after, 60.0) if retry_after else RECHECK_SECONDS
        limit = self._change(lambda state, _: state.refused(str(lease), time.time(), hold), None)
        self._wake()
        return limit

    def claim(self) -> str | None:
        """A lease for a task that runs already (picked up after a restart): counted, never waited for."""
        if self.store is None:
            return "local"
        return self._change(lambda state, _: state.add_lease(self.kernel, sending=False), "local")

    @property
    def limit(self) -> int | None:
        """The account's limit as learned by any of its kernels (None while unknown)."""
        if self.store is None:
            return None
        return self._change(lambda state, _: state.limit, None)

    def _ours(self, lease: str | None) -> bool:
        return self.store is not None and lease not in (None, "local")

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _change(self, change: Callable[[SlotState, Alive], T], fallback: T) -> T:
        """Run ``change`` on the shared state. If the coordinator cannot be reached (Redis down, a full
        disk), sending goes on as a kernel alone would (``fallback``): a warning, never a stuck queue."""
        assert self.store is not None
        try:
            return self.store.transact(change)
        except Exception as error:
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("the account's shared slots cannot be reached (%s): sending as if alone", error)
            return fallback


def _store(spec: str, account: str, kernel: str) -> _Store | None:
    if spec.lower() in ("off", "none", "0", "false", "no"):
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(spec, account, kernel)
    if spec:
        raise KlingError(
            f"{SLOTS_ENV} must be unset (kernels of this machine share the account through a folder of the data "
            f"directory), 'off', or a Redis address redis://host:port/db (got {_safe(spec)!r})"
        )
    folder = data_dir() / "accounts" / account
    try:
        store = FileStore(folder, kernel)
    except OSError as error:  # a read-only home, a full disk: send as a kernel alone would, and say why
        log.warning("the account's slots cannot be shared through %s (%s): this kernel sends on its own", folder, error)
        return None
    forget_stale_accounts(folder.parent, keep=account)
    return store


def forget_stale_accounts(accounts: Path, *, keep: str) -> None:
    """Remove the folders of accounts nobody used for a day and no live kernel holds (each simulator
    address is an account of its own: tutorials would otherwise leave one behind at every run)."""
    import shutil

    from filelock import FileLock, Timeout

    cutoff = time.time() - STATE_TTL
    for folder in accounts.iterdir():
        try:
            if folder.name == keep or not folder.is_dir() or (folder / "state.json").stat().st_mtime > cutoff:
                continue
            for lock in (folder / "kernels").glob("*.lock"):
                probe = FileLock(str(lock), mode=0o600, thread_local=False)
                probe.acquire(timeout=0)  # Timeout: a kernel still holds it, leave the folder be
                probe.release()
            shutil.rmtree(folder)
        except (OSError, Timeout):
            continue
