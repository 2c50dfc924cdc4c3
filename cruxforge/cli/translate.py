"""``cruxforge translate``: seeds -> translations validated by execution, with repair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runtimes.backend import BACKEND_HELP

console = Console()


def translate_command(
    seeds: Annotated[Path, typer.Option(help="seed file (CRUXEval JSONL or .py)")],
    out: Annotated[Path, typer.Option(help="output folder: <lang>.jsonl, report.jsonl")],
    languages: Annotated[str, typer.Option(help="comma-separated language ids, or 'all'")] = "all",
    translator: Annotated[
        str,
        typer.Option(help="llm | reference | replay:DIR (a recorded transcript) | none (drafts)"),
    ] = "llm",
    references: Annotated[
        Path | None, typer.Option(help="benchmark folder for the reference translator")
    ] = None,
    drafts: Annotated[
        Path | None,
        typer.Option(help="existing benchmark whose functions are round 0's answers"),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="LLM requests in flight at once (default 16)")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (or OPENAI_BASE_URL)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="model name")] = None,
    api_key_env: Annotated[
        str, typer.Option(help="env var holding the API key")
    ] = "OPENAI_API_KEY",
    llm_config: Annotated[Path | None, typer.Option(help="TOML file of LLM settings")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature")] = None,
    max_repairs: Annotated[int, typer.Option(help="repair rounds after the first draft")] = 3,
    agreement: Annotated[int, typer.Option(help="generated test inputs per seed")] = 10,
    transcript: Annotated[
        Path | None, typer.Option(help="transcript cache dir (default OUT/transcript)")
    ] = None,
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "batched",
) -> None:
    """Translate every seed into every language, validating and repairing by execution."""
    from cruxforge.cli.progress_view import show_progress
    from cruxforge.seeds.check import check_file
    from cruxforge.translate.drafters import make_drafter
    from cruxforge.translate.drafts import DraftsError, read_drafts
    from cruxforge.translate.loop import success_rates
    from cruxforge.translate.run import translate_all
    from runtimes.backend import get_backend
    from runtimes.spec import UnknownLanguageError, parse_languages

    try:
        langs = parse_languages(languages)
    except UnknownLanguageError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    config = None
    try:
        if translator == "llm" or translator.startswith("replay"):
            config = _llm_config(
                llm_config, base_url, model, api_key_env, temperature, concurrency
            )
        if translator == "none" and drafts is None:
            raise ValueError("--translator none validates drafts only: give --drafts DIR")
        drafter = make_drafter(
            translator,
            references=references,
            llm_config=config,
            transcript=transcript or out / "transcript",
        )
        found = read_drafts(drafts) if drafts is not None else None
    except (ValueError, KeyError, DraftsError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    checks = check_file(seeds)
    typed = [c.typed for c in checks if c.typed is not None]
    for c in checks:
        if c.status == "rejected" and c.reason is not None:
            console.print(f"[yellow]seed {c.id} rejected:[/yellow] {c.reason.message}")
    if found is not None:
        found.check_ids({s.id for s in typed})
        for p in found.problems:
            if p.lang is None or p.lang in langs:
                console.print(f"[yellow]drafts:[/yellow] {p.describe()}", soft_wrap=True)
    with get_backend(backend) as b, show_progress(console, "translate"):
        reports = translate_all(
            typed, langs, drafter, b, out, max_repairs, agreement, drafts=found
        )
    table = Table(title=f"translations in {out}")
    for col in ("lang", "validated", "failed", "skipped", "success after round 0..N"):
        table.add_column(col)
    rates = success_rates(reports, max_repairs)
    for lang in langs:
        rs = [r for r in reports if r.lang == lang]
        table.add_row(
            lang,
            *(str(sum(r.status == s for r in rs)) for s in ("validated", "failed", "skipped")),
            " ".join(f"{x:.0%}" for x in rates.get(lang, [])),
        )
    console.print(table)
    console.print(f"wrote {out}/report.jsonl")


def _llm_config(
    path: Path | None,
    base_url: str | None,
    model: str | None,
    key_env: str,
    temperature: float | None,
    concurrency: int | None = None,
):  # type: ignore[no-untyped-def]
    from cruxforge.llm.config import load_config

    overrides = {
        "base_url": base_url,
        "model": model,
        "api_key_env": key_env,
        "temperature": temperature,
        "concurrency": concurrency,
    }
    return load_config(path, {k: v for k, v in overrides.items() if v is not None})
