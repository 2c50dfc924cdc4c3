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
    out: Annotated[Path, typer.Option(help="output folder (audit.jsonl is written there)")],
    languages: Annotated[str, typer.Option(help="comma-separated language ids, or 'all'")] = "all",
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "local",
) -> None:
    """Run each item's function under cruxforge's own harness, and its code as published."""
    from cruxforge.audit import audit, summarize, write_audit
    from cruxforge.cli.progress_view import show_progress
    from cruxforge.seeds.check import check_file
    from cruxforge.translators.reference import BenchmarkError
    from runtimes.backend import get_backend

    langs = None if languages.strip() == "all" else _languages(languages)
    with console.status("checking seeds"):
        checks = check_file(seeds)
    try:
        with get_backend(backend) as b, show_progress(console, "audit"):
            records = audit(benchmark, checks, b, langs)
    except BenchmarkError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    path = write_audit(records, out)
    table = Table(title=f"audit of {benchmark}")
    for col in (
        "lang",
        "items",
        "own passed",
        "own failed",
        "own skipped",
        "published passed",
        "published failed",
        "published not run",
    ):
        table.add_column(col, justify="right" if col != "lang" else "left")
    for lang, c in sorted(summarize(records).items()):
        own_failed = c["items"] - c["own_passed"] - c["own_skipped"]
        pub_failed = c["items"] - c["published_passed"] - c["published_not_run"]
        table.add_row(
            lang,
            str(c["items"]),
            str(c["own_passed"]),
            str(own_failed),
            str(c["own_skipped"]),
            str(c["published_passed"]),
            str(pub_failed),
            str(c["published_not_run"]),
        )
    console.print(table)
    console.print(f"wrote {path}")


def export_command(
    seeds: Annotated[Path, typer.Option(help="the seed file (CRUXEval JSONL or .py)")],
    references: Annotated[
        Path, typer.Option(help="benchmark folder the reference translator reads")
    ],
    out: Annotated[Path, typer.Option(help="output folder for <lang>.jsonl items")],
    languages: Annotated[str, typer.Option(help="comma-separated language ids, or 'all'")] = "all",
) -> None:
    """Render seeds + reference translations as a CRUXEval-X-format benchmark (no execution)."""
    from cruxforge.export import export_benchmark
    from cruxforge.seeds.check import check_file
    from cruxforge.translators import get_translator

    langs = _languages(languages)
    typed = [c.typed for c in check_file(seeds) if c.typed is not None]
    counts, skips = export_benchmark(
        typed, get_translator("reference", folder=references), langs, out
    )
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
