"""How a backend runs a list of programs: up to ``parallel`` at once in this process, each
inside a host sandbox slot (:mod:`runtimes.slots`), results in the programs' order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from runtimes.backend import Program, RunResult
from runtimes.slots import HostSlots, host_slots


def run_programs(
    programs: Sequence[Program],
    run_one: Callable[[Program], RunResult],
    parallel: int,
    slots: HostSlots | None = None,
) -> list[RunResult]:
    """``slots``: the host's (default), or a pool of the caller's (the crossfire test runs
    more programs at once than the host has cores, on purpose)."""
    slots = slots or host_slots()

    def one(p: Program) -> RunResult:
        with slots.hold():
            return run_one(p)

    if parallel <= 1 or len(programs) <= 1:
        return [one(p) for p in programs]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, programs))
