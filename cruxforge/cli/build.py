"""``cruxforge build``, ``cruxforge serve`` and ``cruxforge release verify``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from runtimes.backend import BACKEND_HELP

console = Console()
ROOT = Path(__file__).resolve().parents[2]
release_app = typer.Typer(help="Inspect and verify releases.", no_args_is_help=True)


def prefect_env() -> None:
    """Offline-friendly Prefect defaults (set before Prefect is imported); never overrides."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the ephemeral server's first start can exceed Prefect's 20 s default on a busy host
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # INFO reaches the run's logs in the Prefect UI; the terminal shows warnings only
    # (progress bars show the rest)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    # cruxforge's own loggers (a wait for a sandbox slot, ...) reach the terminal and the
    # run's logs in the Prefect UI
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "cruxforge")


def _h(name: str) -> str:
    """An option's help: the BuildSpec field's description (one text for CLI and UI)."""
    from cruxforge.release.spec import field_help

    return field_help(name)


def build_command(
    seeds: Annotated[Path, typer.Option(help=_h("seeds"))],
    languages: Annotated[str, typer.Option(help="comma-separated language ids, or 'all'")] = "all",
    translator: Annotated[
        str, typer.Option(help=_h("translator") + " Also 'replay:DIR'.")
    ] = "reference",
    references: Annotated[Path | None, typer.Option(help=_h("references"))] = None,
    replay_from: Annotated[Path | None, typer.Option(help=_h("replay_from"))] = None,
    drafts: Annotated[Path | None, typer.Option(help=_h("drafts"))] = None,
    model: Annotated[str | None, typer.Option(help=_h("model"))] = None,
    base_url: Annotated[str | None, typer.Option(help=_h("base_url"))] = None,
    temperature: Annotated[float | None, typer.Option(help=_h("temperature"))] = None,
    max_tokens: Annotated[int | None, typer.Option(help=_h("max_tokens"))] = None,
    concurrency: Annotated[int | None, typer.Option(help=_h("concurrency"))] = None,
    llm_config: Annotated[Path | None, typer.Option(help=_h("llm_config"))] = None,
    max_repairs: Annotated[int, typer.Option(help=_h("max_repairs"))] = 3,
    agreement: Annotated[int, typer.Option(help=_h("agreement"))] = 10,
    backend: Annotated[str, typer.Option(help=_h("backend"))] = "batched",
    release_name: Annotated[str, typer.Option(help=_h("release_name"))] = "demo",
    version: Annotated[str, typer.Option(help=_h("version"))] = "1",
    out_root: Annotated[Path, typer.Option(help=_h("out_root"))] = Path("artifacts"),
    work_dir: Annotated[Path | None, typer.Option(help=_h("work_dir"))] = None,
    seeds_licence: Annotated[str | None, typer.Option(help=_h("seeds_licence"))] = None,
    refresh: Annotated[bool, typer.Option(help=_h("refresh"))] = False,
    workers: Annotated[
        int, typer.Option(help="languages worked on at once (0: all of them)")
    ] = 0,
    dask_address: Annotated[
        str | None, typer.Option(help="run tasks on this Dask scheduler (tcp://host:8786)")
    ] = None,
    dask_local: Annotated[bool, typer.Option(help="run tasks on a local Dask cluster")] = False,
) -> None:
    """Build a release with the ``build`` flow on Prefect's local engine (resumable)."""
    prefect_env()
    from cruxforge.release import (
        BuildError,
        BuildSpec,
        make_build_drafter,
        read_build_drafts,
        resolve_languages,
    )

    def text(p: Path | None) -> str | None:
        return str(p) if p is not None else None

    params: dict[str, Any] = dict(
        translator=translator, references=text(references), replay_from=text(replay_from),
        drafts=text(drafts), model=model, base_url=base_url, temperature=temperature,
        max_tokens=max_tokens, concurrency=concurrency, llm_config=text(llm_config),
        max_repairs=max_repairs, agreement=agreement, backend=backend,
        release_name=release_name, version=version, out_root=str(out_root),
        work_dir=text(work_dir), seeds_licence=seeds_licence, refresh=refresh,
    )  # fmt: skip
    try:
        langs = resolve_languages(languages)
        spec = BuildSpec(seeds=str(seeds), languages=langs, **params)
        make_build_drafter(spec)
        read_build_drafts(spec)
    except (BuildError, ValueError, KeyError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    if not seeds.exists():
        console.print(f"[red]error:[/red] seed file not found: {seeds}")
        raise typer.Exit(2)

    from flows.build import build

    flow: Any = build
    if dask_address or dask_local:
        from prefect_dask import DaskTaskRunner

        runner = (
            DaskTaskRunner(address=dask_address)
            if dask_address
            else DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": workers
                                                or len(langs), "processes": False})
        )  # fmt: skip
        flow = build.with_options(task_runner=runner)  # type: ignore[arg-type]
    elif workers:
        from prefect.task_runners import ThreadPoolTaskRunner

        flow = build.with_options(
            task_runner=ThreadPoolTaskRunner(max_workers=workers)  # type: ignore[arg-type]
        )
    from cruxforge.cli.progress_view import show_progress
    from cruxforge.progress import tracker

    console.print("starting the build flow (Prefect local engine)...")
    with show_progress(console, f"build {release_name} {version}"):
        out = flow(spec=spec)
    _print_summary(Path(out))
    snap = tracker().snapshot()
    reused = sum(p.reused for p in snap.langs.values())
    if reused:
        console.print(
            f"reused {reused} items from cache (the item store in {spec.work / 'store'}, "
            "made by this same code, seeds, translator and settings); --refresh recomputes them"
        )


def _print_summary(out: Path) -> None:
    import json

    from rich.table import Table

    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    table = Table(title=f"release {m['name']} {m['version']}")
    for col in ("lang", "validated", "failed", "skipped", "toolchain"):
        table.add_column(col)
    for lang, c in m["counts"].items():
        rt = m["runtimes"][lang]
        table.add_row(
            lang, str(c["validated"]), str(c["failed"]), str(c["skipped"]),
            rt["toolchain"] or f"unavailable: {(rt['reason'] or '')[:60]}",
        )  # fmt: skip
    console.print(table)
    console.print(f"release: {out}")
    console.print(f"report: {out / 'report.jsonl'}")
    console.print(f"manifest: {out / 'manifest.json'}")


@release_app.command("verify")
def verify_command(
    directory: Annotated[Path, typer.Argument(help="a release: artifacts/NAME/VERSION")],
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "local",
    no_rerun: Annotated[bool, typer.Option(help="check hashes only")] = False,
) -> None:
    """Re-run every item of a release and check its manifest; non-zero on any mismatch."""
    from cruxforge.cli.progress_view import show_progress
    from cruxforge.release import verify_release

    with show_progress(console, f"verify {directory}"):
        res = verify_release(directory, backend, rerun=not no_rerun)
    for p in res.problems:
        console.print(f"[red]mismatch:[/red] {p}", soft_wrap=True)
    console.print(
        f"{directory}: {res.items_passed}/{res.items_run} items passed on re-run; "
        f"{len(res.problems)} problem(s)"
    )
    if res.problems:
        raise typer.Exit(1)


# ---------------------------------------------------------------- serve


def load_deployments(path: Path) -> list[dict[str, Any]]:
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for d in doc.get("deployments") or []:
        module, _, fn = str(d["entrypoint"]).partition(":")
        if (ROOT / module).exists():  # evaluate/analyse appear once their flows exist
            out.append(d)
    return out


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=3) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_server(port: int, timeout_s: float = 240.0) -> tuple[subprocess.Popen[bytes], str]:
    """``prefect server start`` on 127.0.0.1:PORT; returns the process and the API URL."""
    api = f"http://127.0.0.1:{port}/api"
    log = open(ROOT / "artifacts" / ".prefect-server.log", "ab")  # noqa: SIM115 - kept open
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
        # the UI in the browser asks this API (by default 127.0.0.1:4200, whatever the port)
        env={**os.environ, "PREFECT_UI_API_URL": api},
    )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see {log.name}")
        if _healthy(api):
            return proc, api
        time.sleep(1)
    proc.terminate()
    raise RuntimeError(f"prefect server did not answer within {timeout_s:.0f} s; see {log.name}")


def serve_command(
    port: Annotated[int, typer.Option(help="port of the local Prefect server")] = 4200,
    prefect_yaml: Annotated[Path, typer.Option(help="deployments file")] = ROOT / "prefect.yaml",
    limit: Annotated[int, typer.Option(help="flow runs at once")] = 2,
) -> None:
    """Serve the deployments of prefect.yaml (starting a local Prefect server if
    PREFECT_API_URL is unset); open the printed UI URL, fill a form and run."""
    prefect_env()
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        (ROOT / "artifacts").mkdir(exist_ok=True)
        console.print(f"starting a local Prefect server on 127.0.0.1:{port} ...")
        server, api = start_server(port)
        os.environ["PREFECT_API_URL"] = api
    api = os.environ["PREFECT_API_URL"]
    ui = api.removesuffix("/api")
    os.chdir(ROOT)  # deployments' relative paths (seeds/..., artifacts/...) are the repo's

    import importlib

    from prefect import serve

    deployments = []
    for d in load_deployments(prefect_yaml):
        module, _, fn = str(d["entrypoint"]).partition(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), fn)
        deployments.append(
            flow.to_deployment(
                name=d["name"],
                description=d.get("description"),
                parameters=d.get("parameters") or {},
                tags=d.get("tags") or [],
            )
        )
        console.print(f"deployment {flow.name}/{d['name']}")
    console.print(f"Prefect UI: {ui}  (API {api})", soft_wrap=True)
    console.print(
        f"run one: PREFECT_API_URL={api} prefect deployment run cruxforge-build/demo-build --watch"
    )
    try:
        serve(*deployments, limit=limit, print_starting_message=False)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
