"""Watching one sandboxed process for the local backend: its output read and capped, its
time limit, the kill of whatever is left, and what was observed (a ProcessOutcome)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from runtimes.cgroups import Group
from runtimes.time_limit import CHECK_EVERY_S, out_of_time
from runtimes.verdicts import ProcessOutcome, signal_of_status


def _reader(stream: IO[bytes], cap: int, sink: bytearray, over: threading.Event) -> None:
    try:
        while True:
            chunk = stream.read1(65536)  # type: ignore[attr-defined]
            if not chunk:
                return
            room = cap - len(sink)
            if room > 0:
                sink += chunk[:room]
            if len(chunk) > room:
                over.set()
                # keep draining so the process never blocks on a full pipe before the kill
    except (OSError, ValueError):
        return


def decode(b: bytes | bytearray) -> str:
    return bytes(b).decode("utf-8", errors="replace")


@dataclass
class _Watched:
    """What watching a step's process saw: its output (capped) and how it stopped."""

    out: bytearray
    err: bytearray
    over: threading.Event  # stdout or stderr passed the cap
    readers: list[threading.Thread]
    timed_out: bool = False


def watch(
    proc: subprocess.Popen[bytes],
    start: float,
    limit: float,
    cap: int,
    cpu: Callable[[], float | None] | None = None,
) -> _Watched:
    """Read the process's output (capped) until it ends, floods or is out of time: past
    ``limit`` seconds since ``start`` and, where ``cpu`` counts its CPU time, past
    ``limit`` in CPU time too or at the wall cap (runtimes/time_limit.py)."""
    assert proc.stdout is not None and proc.stderr is not None
    w = _Watched(bytearray(), bytearray(), threading.Event(), [])
    w.readers = [
        threading.Thread(target=_reader, args=(proc.stdout, cap, w.out, w.over), daemon=True),
        threading.Thread(target=_reader, args=(proc.stderr, cap, w.err, w.over), daemon=True),
    ]
    for t in w.readers:
        t.start()
    next_check = start + limit
    while True:
        try:
            proc.wait(timeout=0.02)
            break
        except subprocess.TimeoutExpired:
            pass
        if w.over.is_set():
            break
        now = time.monotonic()
        if now < next_check:
            continue
        used = cpu() if cpu is not None else None
        if out_of_time(now - start, used, limit):
            w.timed_out = True
            break
        next_check = now + CHECK_EVERY_S
    return w


def reap(proc: subprocess.Popen[bytes], group: Group | None, w: _Watched) -> tuple[int, bool]:
    """Kill what is left of the step (its process group, its whole cgroup) and wait for
    it; (exit status, whether processes survived the kill)."""
    rc = proc.poll()
    survivors = False
    if rc is None or group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if group is not None and not group.kill_all():
            survivors = True
        rc = proc.wait()
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    for t in w.readers:
        t.join(timeout=5)
    return rc, survivors


def outcome_of(
    rc: int,
    w: _Watched,
    elapsed: float,
    oom: bool,
    cpu: float | None,
    survivors: bool,
    sandboxed: bool,
    status_text: str,
) -> ProcessOutcome:
    """What the backend observed, and whether the sandbox itself failed (infra_error)."""
    stderr = decode(w.err)
    outcome = ProcessOutcome(
        exit_code=None,
        stdout=decode(w.out),
        stderr=stderr,
        timed_out=w.timed_out,
        memory_exceeded=oom,
        output_exceeded=w.over.is_set() and not w.timed_out,
        seconds=round(elapsed, 3),
        cpu_seconds=None if cpu is None else round(cpu, 3),
    )
    if rc < 0:
        outcome.signal = -rc
    else:
        outcome.exit_code = rc
        outcome.signal = signal_of_status(rc)
    if survivors:
        outcome.infra_error = "processes survived the sandbox kill"
    elif sandboxed and '"child-pid"' not in status_text and not (w.timed_out or w.over.is_set()):
        outcome.infra_error = (
            f"sandbox setup failed (exit {rc}): {stderr.strip()[:500] or 'no message'}"
        )
    elif rc == 125 and stderr.startswith("cruxforge-sandbox: cannot join cgroup"):
        outcome.infra_error = stderr.strip()
    return outcome


