"""A program that waits for a core has not used its time (runtimes/time_limit.py).

On a loaded host, a program that needs 3 s of CPU under a 5 s limit gets only part of a
core and runs past 5 s of wall clock: it must pass, as it does alone, on both backends
and batched. A program that sleeps (no CPU) is still stopped, at the wall cap; a busy
loop still times out at about its limit on a quiet machine (test_local_backend)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from runtimes.backend import Program, RunResult, Verdict, get_backend
from runtimes.slots import HostSlots
from runtimes.spec import get_spec
from runtimes.time_limit import WALL_CAP_FACTOR, out_of_time, wall_cap
from tests.conftest import docker_available

HEAD = (
    "import os, time\n"
    "def report(s):\n"
    "    with open(os.environ['CRUXFORGE_VERDICTS'], 'a', encoding='utf-8') as f:\n"
    "        f.write(s + '\\n')\n"
)
LIMIT = get_spec("py").limits.run_seconds
BURN = 0.6 * LIMIT  # CPU seconds the starved program needs: within its limit
HOGS = 5  # sandboxed busy programs alongside: BURN then takes longer than LIMIT of wall
HOG_WALL = LIMIT + 3  # seconds each hog keeps a core busy (it passes, having had < LIMIT CPU)


def _program(source: str) -> Program:
    return Program(id=f"tl-{uuid.uuid4().hex[:6]}", lang="py", source=HEAD + source, n_cases=1)


STARVED = (
    f"t0 = time.process_time()\nwhile time.process_time() - t0 < {BURN}: pass\n"
    "report('CASE 0 PASS')\n"
)
SLEEPER = "time.sleep(1000)\nreport('CASE 0 PASS')\n"
HOG = (
    f"t0 = time.monotonic()\nwhile time.monotonic() - t0 < {HOG_WALL}: pass\n"
    "report('CASE 0 PASS')\n"
)


def _slots() -> dict[str, object]:
    """A private pool wide enough for the hogs and the program at once."""
    return {"parallel": HOGS + 2, "slots": HostSlots(16, Path(tempfile.mkdtemp(prefix="cf-tl-")))}


def _beside_hogs(backend_name: str, run: Callable[[], list[RunResult]]) -> list[RunResult]:
    """``run()`` while HOGS busy programs run in sandboxes of their own (each in its own
    cgroup or container, as the programs it competes with would be)."""
    with get_backend(backend_name, **_slots()) as b:
        hogs = threading.Thread(target=b.execute, args=([_program(HOG) for _ in range(HOGS)],))
        hogs.start()
        time.sleep(1.0)  # the hogs are running
        try:
            return run()
        finally:
            hogs.join()


def test_the_rule() -> None:
    assert not out_of_time(4.9, None, 5)
    assert out_of_time(5.0, None, 5)  # no CPU count: the wall limit
    assert not out_of_time(7.0, 2.0, 5)  # waited for a core
    assert out_of_time(7.0, 5.0, 5)  # had its time
    assert out_of_time(wall_cap(5), 0.0, 5)  # sleeps: stopped at the cap
    assert wall_cap(5) == 5 * WALL_CAP_FACTOR


def _starved_passes(backend_name: str) -> None:
    with get_backend(backend_name, **_slots()) as b:
        [r] = _beside_hogs(backend_name, lambda: b.execute([_program(STARVED)]))
    assert [c.verdict for c in r.cases] == [Verdict.passed], r
    assert r.run_cpu_seconds is not None and r.run_cpu_seconds < LIMIT, r
    # the hog did starve it: without the CPU count this run would have been a timeout
    assert r.seconds - r.compile_seconds > LIMIT, f"not starved ({r.seconds:.1f}s): no proof"


def _sleeper_stops_at_cap(backend_name: str) -> None:
    t = time.monotonic()
    with get_backend(backend_name, parallel=1) as b:
        [r] = b.execute([_program(SLEEPER)])
    took = time.monotonic() - t
    assert [c.verdict for c in r.cases] == [Verdict.timeout], r
    assert wall_cap(LIMIT) - 0.5 <= took <= wall_cap(LIMIT) + 8, took


NO_BWRAP = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap (bwrap) not installed"
)
BACKENDS = [
    pytest.param("local", marks=[pytest.mark.toolchains, NO_BWRAP]),
    pytest.param("docker", marks=pytest.mark.docker),
]


def _need(backend: str) -> None:
    why = docker_available() if backend == "docker" else None
    if why:
        pytest.skip(why)


@pytest.mark.parametrize("backend", BACKENDS)
def test_starved_program_is_not_a_timeout(backend: str) -> None:
    _need(backend)
    _starved_passes(backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sleeper_stops_at_the_wall_cap(backend: str) -> None:
    _need(backend)
    _sleeper_stops_at_cap(backend)


@pytest.mark.toolchains
@NO_BWRAP
def test_batched_starved_item_is_not_a_timeout() -> None:
    """Inside a batch too: the item's time is its CPU time once the host is loaded."""
    progs = [_program(STARVED) for _ in range(2)]
    with get_backend("batched", inner="local", **_slots()) as b:
        results = _beside_hogs("local", lambda: b.execute(progs))
    assert [[c.verdict for c in r.cases] for r in results] == [[Verdict.passed]] * 2, results
