"""Host sandbox slots: at most N programs run at once on this machine, across every process
(builds, served flow runs, ``cruxforge run``), and a slot never outlives its holder.

A slot is a file under the slots directory, held with ``flock(2)``. The kernel drops the lock
when the holding process dies, ``kill -9`` included, so a crashed build cannot leak a slot
(Prefect's global concurrency limits did: their leases lived in the killed ephemeral server,
and the next build waited forever). The bound is per host, which is what sandbox capacity
is: on a Dask cluster every machine bounds its own programs.

The holder writes who it is into its slot file (pid, label: the flow run, the command), so a
program that waits long for a slot says which slots are held and by whom, once a minute, on
the ``cruxforge.slots`` logger (the CLI routes it to the terminal and the Prefect run log).

Settings: ``CRUXFORGE_SANDBOX_SLOTS`` (default: the number of CPUs, at least 2) and
``CRUXFORGE_SLOTS_DIR`` (default ``<tmp>/cruxforge-<uid>/slots``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("cruxforge.slots")

NOTICE_AFTER_S = 5.0  # a wait shorter than this is ordinary queueing, not worth a word
NOTICE_EVERY_S = 60.0
POLL_S = 0.1  # how often a waiter looks for a slot freed by another process

_label = f"pid {os.getpid()}: {' '.join(os.path.basename(a) for a in sys.argv[:3])}".strip()


def set_holder_label(label: str) -> None:
    """Say who this process is in the slots it holds (e.g. ``flow run 'x' (build demo 1)``)."""
    global _label
    _label = label


@dataclass(frozen=True)
class Holder:
    slot: int
    pid: int
    label: str
    since: float

    def describe(self) -> str:
        held = max(0.0, time.time() - self.since)
        return f"slot {self.slot}: {self.label} (pid {self.pid}, {held:.0f} s)"


def default_limit() -> int:
    raw = os.environ.get("CRUXFORGE_SANDBOX_SLOTS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"CRUXFORGE_SANDBOX_SLOTS={raw!r} is not a whole number") from None
        if n < 1:
            raise ValueError(f"CRUXFORGE_SANDBOX_SLOTS={raw!r} must be at least 1")
        return n
    return max(2, os.cpu_count() or 2)


def default_directory() -> Path:
    raw = os.environ.get("CRUXFORGE_SLOTS_DIR", "").strip()
    if raw:
        return Path(raw)
    return Path(tempfile.gettempdir()) / f"cruxforge-{os.getuid()}" / "slots"


class HostSlots:
    """A counting semaphore over ``limit`` lock files, shared by every process of the host."""

    def __init__(self, limit: int | None = None, directory: Path | str | None = None) -> None:
        self.limit = default_limit() if limit is None else max(1, int(limit))
        self.directory = Path(directory) if directory is not None else default_directory()
        self._cond = threading.Condition()
        self._last_notice = 0.0

    def _path(self, slot: int) -> Path:
        return self.directory / f"slot-{slot}.lock"

    def _try(self, slot: int) -> int | None:
        """An fd holding ``slot``'s lock, or None when another holder has it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(slot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        record = json.dumps({"pid": os.getpid(), "label": _label, "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        return fd

    def _release(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor drops the flock
        with self._cond:
            self._cond.notify()

    def holders(self) -> list[Holder]:
        """Who holds the slots now (slots whose lock is taken)."""
        out = []
        for slot in range(self.limit):
            path = self._path(slot)
            if not path.exists():
                continue
            fd = self._try(slot)
            if fd is not None:  # free: put it back
                self._release(fd)
                continue
            try:
                rec = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                rec = {}
            out.append(
                Holder(
                    slot=slot,
                    pid=int(rec.get("pid", 0)),
                    label=str(rec.get("label", "unknown holder")),
                    since=float(rec.get("since", time.time())),
                )
            )
        return out

    def describe(self) -> str:
        held = self.holders()
        who = "; ".join(h.describe() for h in held) or "none"
        return (
            f"{len(held)} of {self.limit} host sandbox slots held (CRUXFORGE_SANDBOX_SLOTS, "
            f"{self.directory}): {who}"
        )

    @contextlib.contextmanager
    def hold(self) -> Iterator[int]:
        """Wait for a free slot and hold it for the ``with`` body; yields the slot number."""
        slot, fd = self.acquire()
        try:
            yield slot
        finally:
            self.release(fd)

    def acquire(self) -> tuple[int, int]:
        """Wait for a free slot; (slot number, the fd holding it). Give the fd back to
        :meth:`release`; if the process dies first, the kernel frees the slot."""
        start = time.monotonic()
        while True:
            for slot in range(self.limit):
                fd = self._try(slot)
                if fd is not None:
                    return slot, fd
            self._maybe_notice(start)
            with self._cond:  # woken at once by a release in this process
                self._cond.wait(POLL_S)

    def release(self, fd: int) -> None:
        self._release(fd)

    def _maybe_notice(self, start: float) -> None:
        now = time.monotonic()
        if now - start < NOTICE_AFTER_S:
            return
        with self._cond:
            if now - self._last_notice < NOTICE_EVERY_S:
                return
            self._last_notice = now
        # a slot whose record is empty is being taken or given back right now: not a
        # holder to report (and only other processes' holders are worth a word)
        others = [h for h in self.holders() if h.pid not in (0, os.getpid())]
        if others:
            log.warning("waiting %.0f s for a sandbox slot: %s", now - start, self.describe())


_host: HostSlots | None = None
_host_lock = threading.Lock()


def host_slots() -> HostSlots:
    """This process's view of the host's slots (settings read once)."""
    global _host
    with _host_lock:
        if _host is None:
            _host = HostSlots()
        return _host
