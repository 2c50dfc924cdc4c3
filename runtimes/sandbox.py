"""What every sandbox backend shares: the verdict file, the base environment of a
program, and how a list of programs is run (in parallel, each in a host sandbox slot)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from runtimes.backend import Program, RunResult
from runtimes.slots import HostSlots, host_slots

VERDICT_FILE = ".cruxforge-verdicts"  # in the work dir; its path is $CRUXFORGE_VERDICTS
MAX_VERDICT_BYTES = 4 * 1024 * 1024  # more than this of a verdict file is not read
BASE_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
LOCALE = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def base_env(home: str, path: Sequence[str] = ()) -> dict[str, str]:
    """A program's environment before its spec's own: PATH, HOME, TMPDIR and a UTF-8 locale."""
    return {"PATH": ":".join([*path, *BASE_PATH]), "HOME": home, "TMPDIR": "/tmp", **LOCALE}


def run_programs(
    programs: Sequence[Program],
    run_one: Callable[[Program], RunResult],
    parallel: int,
    slots: HostSlots | None = None,
) -> list[RunResult]:
    """Up to ``parallel`` programs at once in this process, each inside a host sandbox
    slot (``slots``: the host's by default, or a pool of the caller's: the crossfire test
    runs more programs at once than the host has cores, on purpose); results in order."""
    pool_slots = slots or host_slots()

    def one(p: Program) -> RunResult:
        with pool_slots.hold():
            return run_one(p)

    if parallel <= 1 or len(programs) <= 1:
        return [one(p) for p in programs]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, programs))
