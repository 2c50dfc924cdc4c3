"""The ``audit`` flow: audit a CRUXEval-X-format benchmark (wraps cruxforge.audit).

Agreement cases are computed once (Python is the oracle), then one coarse task per
language; ``<out>`` gets audit.jsonl, summary.json and report.md, and the report is a
markdown artifact of the run (with the per-language table as a table artifact).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from cruxforge.audit import (
    AuditOptions,
    AuditRecord,
    audit_cases,
    audit_language,
    write_audit,
    write_report,
    write_summary,
)
from cruxforge.audit.inputs import read_audit_input
from cruxforge.audit.report import COLUMNS, language_counts, render_report
from cruxforge.audit.run import seed_maps
from cruxforge.models import SeedCheck
from cruxforge.release import check_seeds
from flows.holder import label_slots
from flows.keys import artifact_key, release_label
from runtimes.backend import get_backend
from runtimes.spec import parse_languages
from transition_rules.engine import Case


@task(name="validate-and-type-seeds", retries=1, retry_delay_seconds=2)
def audit_seeds_task(seeds: str) -> list[SeedCheck]:
    return check_seeds(seeds)


@task(name="agreement-cases")
def audit_cases_task(checks: list[SeedCheck], agreement: int) -> dict[str, list[Case]]:
    return audit_cases([c.typed for c in checks if c.typed is not None], agreement)


@task(name="audit-language", task_run_name="audit-{lang}", retries=1, retry_delay_seconds=5)
def audit_language_task(
    benchmark: str,
    checks: list[SeedCheck],
    cases: dict[str, list[Case]],
    lang: str,
    backend: str,
    repeat: int,
    dialect: str | None = None,
) -> list[AuditRecord]:
    read = read_audit_input(Path(benchmark), [lang])
    typed, rejected = seed_maps(checks)
    with get_backend(backend) as b:
        options = AuditOptions(repeat=repeat, dialect=dialect)
        return audit_language(lang, read.items.get(lang, []), typed, rejected, cases, b,
                              options, read.files.get(lang, ""))  # fmt: skip


@flow(name="cruxforge-audit", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=True)  # type: ignore[arg-type]
def audit_flow(
    benchmark: str = "artifacts/demo/1",
    seeds: str = "seeds/demo.jsonl",
    out: str = "artifacts/demo/audit",
    languages: str = "all",
    backend: str = "batched",
    agreement: int = 10,
    repeat: int = 2,
    dialect: str | None = None,
) -> str:
    """Audit ``benchmark`` (a folder of ``<lang>.jsonl``); returns the report.md path.
    ``dialect``: the rule-file dialect the items are written in (``cruxeval-x``), where
    their language has it; by default each item's is detected."""
    logger = get_run_logger()
    label_slots(f"audit {benchmark}")
    wanted = None if languages.strip() == "all" else parse_languages(languages)
    read = read_audit_input(Path(benchmark), wanted)
    checks = audit_seeds_task(seeds)
    cases = audit_cases_task(checks, agreement)
    futures = {
        lang: audit_language_task.submit(benchmark, checks, cases, lang, backend, repeat,
                                          dialect)
        for lang in sorted(read.items)
    }
    records: list[AuditRecord] = list(read.problems)
    for lang in sorted(read.items):
        records += futures[lang].result()
    folder = Path(out)
    write_audit(records, folder)
    write_summary(records, folder)
    path = write_report(records, folder, benchmark)
    label = release_label(benchmark)
    create_table_artifact(
        table=[{"language": lang, **{k: c[k] for k in COLUMNS}}
               for lang, c in language_counts(records).items()],  # fmt: skip
        key=artifact_key("audit", label),
        description=f"Audit of {benchmark}",
    )
    create_markdown_artifact(
        markdown=render_report(records, benchmark),
        key=artifact_key("audit-report", label),
        description=f"Audit report of {benchmark}",
    )
    logger.info("audit written to %s", folder)
    return str(path)
