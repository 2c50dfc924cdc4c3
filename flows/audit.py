"""The ``audit`` flow: re-validate a CRUXEval-X-format benchmark (wraps cruxforge.audit).

One coarse task per language (each item's function under cruxforge's harness, and its
code as published), a per-language table artifact, and ``<out>/audit.jsonl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from cruxforge.audit import AuditRecord, audit, write_audit
from cruxforge.models import SeedCheck
from cruxforge.release import check_seeds
from cruxforge.translators.reference import read_benchmark
from flows.holder import label_slots
from flows.keys import artifact_key, release_label
from runtimes.backend import get_backend
from runtimes.spec import parse_languages


@task(name="validate-and-type-seeds", retries=1, retry_delay_seconds=2)
def audit_seeds_task(seeds: str) -> list[SeedCheck]:
    return check_seeds(seeds)


@task(name="audit-language", task_run_name="audit-{lang}", retries=1, retry_delay_seconds=5)
def audit_language_task(
    benchmark: str, checks: list[SeedCheck], lang: str, backend: str
) -> list[AuditRecord]:
    with get_backend(backend) as b:
        return audit(Path(benchmark), checks, b, [lang])


@flow(name="cruxforge-audit", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=True)  # type: ignore[arg-type]
def audit_flow(
    benchmark: str = "artifacts/demo/1",
    seeds: str = "seeds/demo.jsonl",
    out: str = "artifacts/demo/audit",
    languages: str = "all",
    backend: str = "local",
) -> str:
    """Audit ``benchmark`` (a folder of ``<lang>.jsonl``); returns the audit.jsonl path."""
    logger = get_run_logger()
    label_slots(f"audit {benchmark}")
    wanted = None if languages.strip() == "all" else parse_languages(languages)
    langs = sorted(read_benchmark(Path(benchmark), wanted))
    checks = audit_seeds_task(seeds)
    futures = {lang: audit_language_task.submit(benchmark, checks, lang, backend) for lang in langs}
    records: list[AuditRecord] = []
    rows: list[dict[str, Any]] = []
    for lang in langs:
        recs = futures[lang].result()
        records += recs
        rows.append(
            {
                "language": lang,
                "items": len(recs),
                "own harness passed": sum(r.own_harness == "passed" for r in recs),
                "own harness failed": sum(r.own_harness not in ("passed", "skipped") for r in recs),
                "published passed": sum(r.published_code == "passed" for r in recs),
                "published failed": sum(
                    r.published_code not in ("passed", "not_run") for r in recs
                ),
            }
        )
    path = write_audit(records, Path(out))
    create_table_artifact(
        table=rows, key=artifact_key("audit", release_label(benchmark)),
        description=f"Audit of {benchmark}",
    )
    logger.info("audit written to %s", path)
    return str(path)
