"""``cruxforge seeds ...``: the command-line face of seed intake, validation and typing.

Exit codes: 0 whenever a report was written (rejected seeds are data, not failures);
2 when the seed file itself can't be read (the message names the line and the cause).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cruxforge.models import SeedCheck
from cruxforge.seeds.check import check_intake, summarize, write_report
from cruxforge.seeds.intake import SeedFileError, read_seeds
from cruxforge.seeds.validate import RunOptions

seeds_app = typer.Typer(
    help="Seed intake, validation and type inference.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

EXIT_UNREADABLE = 2


@seeds_app.callback()
def _group() -> None:
    """Seed intake, validation and type inference."""


@seeds_app.command("check")
def check(
    seeds: Annotated[
        Path, typer.Argument(help="Seed file: CRUXEval .jsonl, or .py with asserts.")
    ],
    report: Annotated[Path, typer.Option("--report", help="Where to write the JSON report.")],
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Wall seconds per seed call.")
    ] = 5.0,
    memory_mb: Annotated[
        int, typer.Option("--memory-mb", min=64, help="Address-space limit (MiB).")
    ] = 512,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Seed-runner processes at once.")] = 2,
) -> None:
    """Validate and type every seed of SEEDS and write a report of ok/rejected records."""
    console = Console(stderr=True)
    try:
        intake = read_seeds(seeds)
    except SeedFileError as e:
        console.print(
            f"[red]error:[/red] cannot read seed file {e}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_UNREADABLE) from None
    options = RunOptions(timeout=timeout, memory_mb=memory_mb, jobs=jobs)
    started = time.monotonic()
    with Progress(
        TextColumn("checking seeds"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("seeds", total=len(intake.seeds))
        records = check_intake(intake, options, lambda n: progress.advance(task, n))
    seconds = time.monotonic() - started
    write_report(report, str(seeds), records, seconds)
    _print_summary(Console(), records, seconds, report)


def _print_summary(
    console: Console, records: list[SeedCheck], seconds: float, report: Path
) -> None:
    s = summarize(records)
    console.print(f"seeds check: {s['total']} records in {seconds:.1f} s", highlight=False)
    table = Table()
    table.add_column("status / reason")
    table.add_column("count", justify="right")
    for status in ("ok", "rejected"):
        table.add_row(status, str(s["by_status"].get(status, 0)))
    for code, n in sorted(s["by_reason"].items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(f"  {code}", str(n))
    console.print(table)
    console.print(f"report written to {report}")


if __name__ == "__main__":
    seeds_app()
