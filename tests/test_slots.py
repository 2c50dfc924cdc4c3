"""Host sandbox slots: a bound across threads and processes that dies with its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runtimes.slots import HostSlots, default_limit
from tests.conftest import ROOT

HOLD = (
    "import sys, time\n"
    "from runtimes.slots import HostSlots, set_holder_label\n"
    "set_holder_label('holder ' + sys.argv[2])\n"
    "with HostSlots(int(sys.argv[3]), sys.argv[1]).hold() as n:\n"
    "    print(n, flush=True); time.sleep(3600)\n"
)


def hold_in_process(directory: Path, name: str, limit: int) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(directory), name, str(limit)],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert p.stdout is not None and p.stdout.readline().strip().isdigit()
    return p


def test_at_most_limit_holders_across_threads(tmp_path: Path) -> None:
    slots = HostSlots(2, tmp_path)
    now, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal now, most
        with slots.hold():
            with lock:
                now += 1
                most = max(most, now)
            time.sleep(0.05)
            with lock:
                now -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most == 2 and now == 0


def test_slots_are_shared_between_processes_and_freed_by_kill_9(tmp_path: Path) -> None:
    a = hold_in_process(tmp_path, "a", 2)
    b = hold_in_process(tmp_path, "b", 2)
    try:
        slots = HostSlots(2, tmp_path)
        held = slots.holders()
        assert sorted(h.label for h in held) == ["holder a", "holder b"]
        assert {h.pid for h in held} == {a.pid, b.pid}
        assert "2 of 2 host sandbox slots held" in slots.describe()
        got: list[int] = []
        t = threading.Thread(target=lambda: got.append(slots.hold().__enter__()))
        t.start()
        t.join(1.0)
        assert t.is_alive() and not got  # every slot is taken by another process
        os.kill(a.pid, signal.SIGKILL)  # no cleanup runs: the kernel drops the flock
        a.wait()
        t.join(10)
        assert got and not t.is_alive()
        assert [h.label for h in slots.holders() if h.pid != os.getpid()] == ["holder b"]
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
            p.wait()


def test_bad_slot_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUXFORGE_SANDBOX_SLOTS", "two")
    with pytest.raises(ValueError, match="CRUXFORGE_SANDBOX_SLOTS='two'"):
        default_limit()
    monkeypatch.setenv("CRUXFORGE_SANDBOX_SLOTS", "3")
    assert default_limit() == 3
