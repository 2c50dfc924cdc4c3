"""``cruxforge audit``: re-validate a CRUXEval-X-format benchmark against seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runtimes.backend import BACKEND_HELP

console = Console()


def audit_command(
    benchmark: Annotated[Path, typer.Option(help="folder of CRUXEval-X-format <lang>.jsonl files")],
    seeds: Annotated[Path, typer.Option(help="the seed file (CRUXEval JSONL or .py)")],
    out: Annotated[
        Path, typer.Option(help="output folder: audit.jsonl, summary.json, report.md")
    ],
    languages: Annotated[str, typer.Option(help="comma-separated language ids, or 'all'")] = "all",
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "batched",
    agreement: Annotated[
        int, typer.Option(min=0, help="generated cases besides the example (Python decides)")
    ] = 10,
    repeat: Annotated[
        int, typer.Option(min=0, help="re-runs of each item in fresh processes, for flakiness")
    ] = 2,
    dialect: Annotated[
        str | None,
        typer.Option(help="the rule-file dialect the items are written in (cruxeval-x), for "
                     "the languages that have it; by default each item's is detected from "
                     "its function's declaration"),
    ] = None,
) -> None:
    """Audit a benchmark: our harness on the example and agreement cases, repeats, the
    code as published and with a wrong expected value planted. Exit 0 whatever it
    finds; 2 when the benchmark or seed file can't be read."""
    from cruxforge.audit import AuditOptions, audit, write_audit, write_report, write_summary
    from cruxforge.audit.report import COLUMNS, language_counts
    from cruxforge.audit.run import DialectError
    from cruxforge.cli.progress_view import show_progress
    from cruxforge.seeds.check import check_file
    from cruxforge.seeds.intake import SeedFileError
    from cruxforge.translators.reference import BenchmarkError
    from runtimes.backend import get_backend

    langs = None if languages.strip() == "all" else _languages(languages)
    try:
        with console.status("checking seeds"):
            checks = check_file(seeds)
        with get_backend(backend) as b, show_progress(console, "audit"):
            records = audit(benchmark, checks, b, langs,
                            options=AuditOptions(agreement=agreement, repeat=repeat,
                                                 dialect=dialect))  # fmt: skip
    except (BenchmarkError, SeedFileError, DialectError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    path = write_audit(records, out)
    write_summary(records, out)
    report = write_report(records, out, str(benchmark))
    table = Table(title=f"audit of {benchmark}")
    table.add_column("lang")
    for col in COLUMNS:
        table.add_column(col, justify="right")
    for lang, c in language_counts(records).items():
        table.add_row(lang, *(str(c[k]) for k in COLUMNS))
    console.print(table)
    console.print(f"wrote {path}, {out / 'summary.json'}, {report}")


def export_command(
    seeds: Annotated[Path, typer.Option(help="the seed file (CRUXEval JSONL or .py)")],
    references: Annotated[
        Path, typer.Option(help="benchmark folder the reference translator reads")
    ],
    out: Annotated[Path, typer.Option(help="output folder for <lang>.jsonl items")],
    languages: Annotated[str, typer.Option(help="comma-separated language ids, or 'all'")] = "all",
    dialect: Annotated[
        str | None,
        typer.Option(help="write items in a rule-file dialect (cruxeval-x), where the "
                     "language has it; default: cruxforge's own conventions"),
    ] = None,
) -> None:
    """Render seeds + reference translations as a CRUXEval-X-format benchmark (no execution)."""
    from cruxforge.export import export_benchmark
    from cruxforge.seeds.check import check_file
    from cruxforge.translators import get_translator

    langs = _languages(languages)
    typed = [c.typed for c in check_file(seeds) if c.typed is not None]
    try:
        counts, skips = export_benchmark(
            typed, get_translator("reference", folder=references), langs, out, dialect
        )
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    table = Table(title=f"exported to {out}")
    table.add_column("lang")
    table.add_column("items", justify="right")
    table.add_column("skipped", justify="right")
    for lang in langs:
        table.add_row(lang, str(counts.get(lang, 0)), str(sum(s.lang == lang for s in skips)))
    console.print(table)


def _languages(text: str) -> list[str]:
    from runtimes.spec import UnknownLanguageError, parse_languages

    try:
        return parse_languages(text)
    except UnknownLanguageError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
