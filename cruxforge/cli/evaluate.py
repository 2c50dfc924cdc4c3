"""``cruxforge evaluate`` and ``cruxforge analyse``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def evaluate_command(
    release: Annotated[
        Path, typer.Option(help="release or bare CRUXEval-X folder of <lang>.jsonl files")
    ],
    out: Annotated[Path, typer.Option(help="output folder: results.jsonl, scores.*")],
    model: Annotated[
        str | None, typer.Option(help="model name (asked live; also the results' model)")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint")] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(help="folder of <lang>_<task>.json, or one JSONL (lang, task, id, answer)"),
    ] = None,
    languages: Annotated[str | None, typer.Option(help="comma-separated language ids")] = None,
    tasks: Annotated[str, typer.Option(help="input,output or one of them")] = "input,output",
    backend: Annotated[str, typer.Option(help="sandbox backend")] = "local",
    llm_config: Annotated[Path | None, typer.Option(help="LLM config TOML")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="env var with the API key")] = None,
    shots: Annotated[int, typer.Option(help="few-shot examples per prompt")] = 1,
    transcript: Annotated[
        Path | None, typer.Option(help="transcript cache dir (default OUT/transcript)")
    ] = None,
    replay: Annotated[bool, typer.Option(help="answer only from the transcript")] = False,
) -> None:
    """Evaluate a model (asked live, or from imported predictions) by executing its answers."""
    from cruxforge.evaluate.items import TASKS, ReleaseError
    from cruxforge.evaluate.predictions import read_predictions
    from cruxforge.evaluate.run import (
        Answerer,
        evaluate_release,
        model_answerer,
        predictions_answerer,
    )
    from runtimes.backend import get_backend
    from runtimes.spec import UnknownLanguageError, parse_languages

    try:
        langs = parse_languages(languages) if languages else None
    except UnknownLanguageError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    task_list = [t.strip() for t in tasks.split(",") if t.strip()]
    if not task_list or any(t not in TASKS for t in task_list):
        console.print("[red]error:[/red] --tasks takes input, output or both")
        raise typer.Exit(2)
    live = base_url is not None or llm_config is not None
    if (predictions is not None and live) or (predictions is None and not (live or model)):
        console.print(
            "[red]error:[/red] give either --predictions (with --model to name the results) "
            "or a model to ask (--model with --base-url or --llm-config)"
        )
        raise typer.Exit(2)
    client = None
    try:
        answerer: Answerer
        if predictions is not None:
            answerer = predictions_answerer(read_predictions(predictions))
            name = model or predictions.stem
            concurrency = 1
        else:
            from cruxforge.llm.client import ChatClient
            from cruxforge.llm.config import load_config
            from cruxforge.llm.transcript import TranscriptCache

            overrides = {"model": model, "base_url": base_url, "api_key_env": api_key_env}
            config = load_config(llm_config, {k: v for k, v in overrides.items() if v})
            client = ChatClient(
                config,
                TranscriptCache(transcript or out / "transcript"),
                "replay" if replay else "live",
            )
            answerer = model_answerer(client, shots)
            name = config.model
            concurrency = config.concurrency
        from cruxforge.cli.progress_view import show_progress

        with get_backend(backend) as b, show_progress(console, f"evaluate {name}"):
            scores = evaluate_release(
                release,
                out,
                model=name,
                answerer=answerer,
                backend=b,
                languages=langs,
                tasks=task_list,  # type: ignore[arg-type]
                concurrency=concurrency,
            )
    except (ReleaseError, ValueError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    finally:
        if client is not None:
            client.close()
    table = Table(title=f"pass@1 of {name} (common = {scores['n_common_ids']} ids)")
    for col in ("lang", "task", "all", "common"):
        table.add_column(col)
    for lang, ts in scores["models"][name].items():
        for task, cells in ts.items():
            table.add_row(lang, task, *(_fmt(cells[s]) for s in ("all", "common")))
    console.print(table)
    console.print(f"wrote {out}/results.jsonl, scores.json, scores.csv, scores.md")


def _fmt(cell: dict) -> str:  # type: ignore[type-arg]
    if cell["pass@1"] is None:
        return "-"
    return f"{100 * cell['pass@1']:.1f}% ({cell['passed']}/{cell['n']})"


def analyse_command(
    ctx: typer.Context,
    results: Annotated[
        list[Path],
        typer.Option(help="results.jsonl files or folders holding one: --results R1 R2 ..."),
    ],
    out: Annotated[Path, typer.Option(help="report folder: report.md, *.png, *.csv")],
    release: Annotated[
        Path | None, typer.Option(help="release folder with report.jsonl (construction stats)")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples")] = 2000,
    seed: Annotated[int, typer.Option(help="RNG seed of the bootstrap")] = 0,
) -> None:
    """Cross-language correlation report from the results of several models."""
    from analysis.report import build_report

    results = list(results) + [Path(a) for a in ctx.args]
    try:
        report = build_report(results, out, release=release, n_boot=bootstrap, seed=seed)
    except (OSError, ValueError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    console.print(f"wrote {report}")
