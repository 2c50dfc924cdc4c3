"""The run command of a batched program: the batch supervisor around the spec's own.

Both sandbox backends call :func:`run_argv` and :func:`run_seconds`, so a batch runs the
same way in a bwrap sandbox and in a container; the supervisor script is the one file
``runtimes/batch_supervisor.sh``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from runtimes.backend import Program
from runtimes.spec import RuntimeSpec
from runtimes.time_limit import wall_cap

SCRIPT_PATH = Path(__file__).resolve().parent / "batch_supervisor.sh"
STARTUP_ALLOWANCE = 30.0  # seconds for a batch's restarts, on top of its items' limits


@cache
def script() -> str:
    return SCRIPT_PATH.read_text(encoding="utf-8")


def run_argv(spec: RuntimeSpec, program: Program) -> list[str]:
    """The spec's run command, under the supervisor when ``program`` is a batch."""
    if program.batch is None:
        return list(spec.run)
    b = program.batch
    return [
        "bash", "-c", script(), "crux-batch",
        str(b.items),
        str(int(b.item_seconds * 1_000_000)),
        str(int(wall_cap(b.item_seconds) * 1_000_000)),
        str(int(b.suspect_seconds * 1_000_000)),
        str(spec.limits.output_kb * 1024),
        str(spec.limits.memory_mb * 1024 * 1024),
        "1" if b.rerun_in_process else "0",
        "--", *spec.run,
    ]  # fmt: skip


def run_seconds(spec: RuntimeSpec, program: Program) -> float:
    """The run step's wall-clock limit: for a batch, its items' limits twice (once in the
    batch, once for the items run again by themselves), else the spec's."""
    if program.batch is not None:
        return 2 * program.batch.items * program.batch.item_seconds + STARTUP_ALLOWANCE
    return spec.limits.run_seconds


def compile_seconds(spec: RuntimeSpec, program: Program) -> float:
    return program.compile_seconds or spec.limits.compile_seconds
