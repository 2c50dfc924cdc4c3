"""`cruxforge runtimes ...` and `cruxforge run`: doctor, selftest, build, bootstrap-base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runtimes.backend import Backend, Program, UnknownBackendError, get_backend
from runtimes.spec import (
    LANGUAGES,
    RuntimeSpecError,
    UnknownLanguageError,
    get_spec,
    parse_languages,
)

runtimes_app = typer.Typer(
    help="Per-language sandboxes: check toolchains, run the conformance suite, build images.",
    no_args_is_help=True,
)

BackendOpt = Annotated[
    str, typer.Option("--backend", "-b", help="Sandbox backend: local or docker.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LangsOpt = Annotated[
    list[str] | None,
    typer.Option("--lang", "-l", help="Language code (repeatable); default: all 19."),
]

console = Console()
err = Console(stderr=True)


def _backend(name: str) -> Backend:
    try:
        return get_backend(name)
    except UnknownBackendError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def _langs(langs: list[str] | None) -> list[str]:
    try:
        return parse_languages(langs)
    except UnknownLanguageError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


@runtimes_app.command()
def doctor(backend: BackendOpt = "local", json_out: JsonOpt = False) -> None:
    """Per language: is the toolchain available on BACKEND, its version, and why not."""
    be = _backend(backend)
    with be:
        statuses = [be.doctor(lang) for lang in LANGUAGES]
    if json_out:
        print(json.dumps([s.model_dump() for s in statuses], indent=2, ensure_ascii=False))
        return
    t = Table(title=f"runtimes on backend {backend!r}")
    for col in ("lang", "available", "version", "note"):
        t.add_column(col, overflow="fold")
    for s in statuses:
        mark = "[green]yes[/green]" if s.available else "[red]no[/red]"
        if s.available and not s.verified:
            mark += " (unverified)"
        t.add_row(s.lang, mark, s.version or "", s.reason or "")
    console.print(t)


@runtimes_app.command()
def selftest(
    backend: BackendOpt = "local",
    lang: LangsOpt = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Only this check (repeatable).")
    ] = None,
    json_out: JsonOpt = False,
    crossfire: Annotated[
        bool,
        typer.Option(
            help="hostile and correct programs at the same moment, per item and batched, "
            "with a Java compile: correct ones must get their verdicts as alone, hostile ones "
            "be contained, no process left"
        ),
    ] = False,
    hog: Annotated[
        bool, typer.Option(help="with --crossfire: a busy process per core alongside")
    ] = False,
) -> None:
    """Run the conformance suite (language x check); exit 1 if a check fails.

    Languages whose toolchain is unavailable are skipped with the reason. A failure in
    a language that is available but not verified on this host (e.g. Julia in Docker)
    is reported but does not change the exit status.
    """
    if crossfire:
        _crossfire(backend, _langs(lang), hog, json_out)
        return
    from runtimes.conformance import CHECKS, run_conformance

    langs = _langs(lang)
    be = _backend(backend)
    progress = None if json_out else (lambda m: err.print(f"[dim]{m}[/dim]"))
    try:
        with be:
            report = run_conformance(be, langs, check, progress=progress)
    except ValueError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    counted = [
        r for r in report.failures() if report.available.get(r.lang) and report.verified.get(r.lang)
    ]
    if json_out:
        data = report.model_dump()
        data["ok"] = not counted
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        checks = [c for c in CHECKS if not check or c in check]
        t = Table(title=f"conformance on backend {backend!r}")
        t.add_column("lang")
        for c in checks:
            t.add_column(c.replace("_", " "), justify="center")
        style = {"ok": "[green]ok[/green]", "fail": "[red]FAIL[/red]", "skipped": "[dim]skip[/dim]"}
        for lg, row in report.by_lang().items():
            t.add_row(lg, *[style[row[c].status] if c in row else "" for c in checks])
        console.print(t)
        for r in report.results:
            if r.status == "fail":
                console.print(f"[red]FAIL[/red] {r.lang} {r.check}: {r.detail}")
        skipped = {r.lang: r.detail for r in report.results if r.status == "skipped"}
        for lg, why in skipped.items():
            console.print(f"[dim]skipped {lg}: {why}[/dim]")
    if counted:
        raise typer.Exit(1)


def _crossfire(backend: str, langs: list[str], hog: bool, json_out: bool) -> None:
    from cruxforge.crossfire import crossfire  # the innocents are rendered demo items

    progress = None if json_out else (lambda m: err.print(f"[dim]{m}[/dim]"))
    report = crossfire(backend, langs, hog=hog, progress=progress)
    if json_out:
        print(json.dumps({**report.model_dump(), "ok": report.ok}, indent=2))
    else:
        t = Table(title=f"crossfire on backend {backend!r}" + (" with a CPU hog" if hog else ""))
        for col in ("lang", "check", "ok", "detail"):
            t.add_column(col, overflow="fold")
        for c in report.checks:
            t.add_row(c.lang, c.check, "[green]ok[/green]" if c.ok else "[red]FAIL[/red]",
                      c.detail[:200])  # fmt: skip
        console.print(t)
        for lg, why in report.skipped.items():
            console.print(f"[dim]skipped {lg}: {why}[/dim]")
        console.print(f"{len(report.checks)} checks in {report.seconds} s")
    if not report.ok:
        raise typer.Exit(1)


@runtimes_app.command()
def build(
    lang: LangsOpt = None,
    force: Annotated[bool, typer.Option(help="rebuild even when the tag exists")] = False,
    jobs: Annotated[int, typer.Option(min=1, help="images built at once")] = 2,
    prune: Annotated[bool, typer.Option(help="remove tags no current spec uses")] = False,
    for_auto: Annotated[
        bool,
        typer.Option(
            help="only the images the auto backend needs: languages without a toolchain on "
            "this host (e.g. Swift on Debian 12)"
        ),
    ] = False,
) -> None:
    """Build the docker images for LANG (default all) from runtimes/<lang>/Dockerfile.

    Exits non-zero when an image that should build fails (Julia's is skipped: unverified).
    """
    from runtimes import images

    wanted = _langs(lang) if lang else None
    if for_auto:
        local = get_backend("local")
        wanted = [x for x in (wanted or LANGUAGES) if not local.doctor(x).available]
        console.print(f"no host toolchain here for: {' '.join(wanted) or 'none'}")
        if not wanted:
            return
    try:
        results = images.build_images(wanted, force=force, log=console.print, jobs=jobs)
        if prune:
            for tag in images.remove_stale_images():
                console.print(f"removed stale image {tag}")
    except (images.ImageBuildError, images.DockerUnavailableError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    table = Table(title="runtime images")
    for col in ("lang", "status", "image", "seconds", "detail"):
        table.add_column(col)
    for r in results:
        table.add_row(r.lang, r.status, r.tag, f"{r.seconds:.0f}", (r.reason or "")[-300:])
    console.print(table)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@runtimes_app.command("bootstrap-base")
def bootstrap_base(
    force: Annotated[bool, typer.Option(help="rebuild even when the tag exists")] = False,
) -> None:
    """Make the base images offline (debootstrap + docker import) when no registry is reachable."""
    from runtimes import images

    try:
        results = images.bootstrap_base(force=force, log=console.print)
    except (images.ImageBuildError, images.DockerUnavailableError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    for r in results:
        console.print(f"{r.tag}: {r.status} ({r.seconds:.0f} s)")


def run(
    file: Annotated[Path, typer.Argument(help="Source file: a whole program with its harness.")],
    lang: Annotated[str, typer.Option("--lang", "-l", help="Language code, e.g. py, cpp.")],
    backend: BackendOpt = "local",
    cases: Annotated[
        int, typer.Option("--cases", "-n", min=0, help="Number of cases the harness reports.")
    ] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Run one program in the sandbox and print its verdict(s)."""
    _langs([lang])
    try:
        get_spec(lang)
        source = file.read_text(encoding="utf-8")
    except (OSError, RuntimeSpecError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    be = _backend(backend)
    with be:
        result = be.execute([Program(id=file.name, lang=lang, source=source, n_cases=cases)])[0]
    if json_out:
        print(result.model_dump_json(indent=2))
    else:
        t = Table(title=f"{file} ({lang}, backend {backend}) in {result.seconds:.2f}s")
        for col in ("case", "verdict", "actual", "message"):
            t.add_column(col, overflow="fold")
        for c in result.cases:
            color = "green" if c.verdict.value == "passed" else "red"
            t.add_row(
                str(c.case),
                f"[{color}]{c.verdict.value}[/{color}]",
                c.actual or "",
                (c.message or "")[:500],
            )
        console.print(t)
        if result.compile_output:
            console.print("[bold]compiler output[/bold]")
            console.print(result.compile_output, markup=False, highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(runtimes_app, name="runtimes")
    app.command("run")(run)
