"""The ``build`` flow: seeds -> validation + types -> agreement cases -> translation and
repair per language -> release. Thin over :mod:`cruxforge.release`.

Tasks are coarse (one per language batch), so hundreds of seeds cost a handful of task
runs. Resume is the item store's job (every finished item is on disk, keyed by content),
and Prefect adds its own cache on top: a language batch whose items' content keys are
unchanged is answered from the persisted task result. Retries are for infrastructure
faults only (sandbox ``infra_error``, LLM endpoint down); a wrong translation is a result,
not a fault. Programs are gated by the host's sandbox slots (:mod:`runtimes.slots`): file
locks that the kernel drops when their holder dies, so a build killed with ``kill -9`` never
leaves a slot held (Prefect's global concurrency limits did, and the next build waited
forever).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import threading
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy
from prefect.context import TaskRunContext
from prefect.task_runners import ThreadPoolTaskRunner

from cruxforge.models import SeedCheck, TypedSeed
from cruxforge.progress import tracker
from cruxforge.release import (
    BuildSpec,
    check_seeds,
    compute_cases,
    runtime_status,
    sha256_file,
    translate_batch,
    translator_id,
    unavailable_reports,
    write_release,
)
from cruxforge.store import canonical_json, item_key
from cruxforge.translate.loop import ItemReport
from cruxforge.translate.run import is_infra_fault
from flows import keys
from flows.holder import label_slots
from transition_rules.engine import Case

INFRA_RETRIES = 2
# language batches at once: every language of a build, side by side (programs are bounded
# by the host's sandbox slots and LLM requests by the client's concurrency, not by this)
DEFAULT_WORKERS = 32


class InfraFault(RuntimeError):
    """Some items of a batch failed because the infrastructure did; carries the batch."""

    def __init__(self, lang: str, reports: list[ItemReport]) -> None:
        bad = [r for r in reports if is_infra_fault(r)]
        super().__init__(
            f"{lang}: {len(bad)} item(s) hit infrastructure faults, e.g. {bad[0].reason[:300]}"
            if bad
            else f"{lang}: infrastructure fault"
        )
        self.lang = lang
        self.reports = reports

    def __reduce__(self) -> Any:  # picklable across Dask workers
        return (InfraFault, (self.lang, self.reports))


def _infra_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: only infrastructure faults are retried."""
    try:
        state.result()
    except InfraFault:
        return True
    except Exception:  # noqa: BLE001 - anything else is a bug or bad input: no retry
        return False
    return False


def _seeds_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return "seeds-" + sha256_file_safe(parameters["seeds"])


def sha256_file_safe(path: str) -> str:
    try:
        return sha256_file(Path(path))
    except OSError:
        return "missing-" + hashlib.sha256(path.encode()).hexdigest()


def _batch_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Content key of a language batch: its item store (the work dir: Prefect's cache is
    global, and must not answer one release's build with another's results) and every
    item's store key (library code, seed, rules, runtime spec, backend, translator with
    its model, endpoint and sampling settings, repair budget, cases)."""
    spec: BuildSpec = parameters["spec"]
    lang: str = parameters["lang"]
    cases: dict[str, list[Case]] = parameters["cases"]
    tid = translator_id(spec, lang)
    keys = [
        item_key(s, lang, cases[s.id], tid, spec.max_repairs, spec.backend)
        for s in parameters["typed"]
    ]
    store = str(spec.work.resolve())
    return hashlib.sha256(canonical_json([store, keys]).encode()).hexdigest()


@task(name="check-runtimes", retries=INFRA_RETRIES, retry_delay_seconds=2)
def check_runtimes_task(backend: str, langs: list[str]) -> dict[str, dict[str, Any]]:
    return runtime_status(backend, langs)


@task(
    name="validate-and-type-seeds",
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=_seeds_key),
    persist_result=True,
)
def seeds_task(seeds: str) -> list[SeedCheck]:
    return check_seeds(seeds)


@task(name="agreement-cases", persist_result=True)
def cases_task(spec: BuildSpec, typed: list[TypedSeed]) -> dict[str, list[Case]]:
    # the item store caches cases per seed (they cost Python runs), so no Prefect cache
    return compute_cases(spec, typed)


@task(
    name="translate-language",
    task_run_name="translate-{lang}",
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=_batch_key),
    persist_result=True,
    retries=INFRA_RETRIES,
    retry_delay_seconds=5,
    retry_condition_fn=_infra_only,
)
def translate_task(
    spec: BuildSpec,
    typed: list[TypedSeed],
    lang: str,
    cases: dict[str, list[Case]],
    progress_id: str | None = None,
) -> list[ItemReport]:
    logger = get_run_logger()
    reports = translate_batch(spec, typed, lang, cases, on_item=_progress_updater(progress_id))
    counts = {s: sum(r.status == s for r in reports) for s in ("validated", "failed", "skipped")}
    logger.info("%s: %s (%d read back from the item store)", lang, counts,
                sum(r.reused for r in reports))  # fmt: skip
    if any(is_infra_fault(r) for r in reports):
        raise InfraFault(lang, reports)  # retried; finished items come from the store
    return reports


def _progress_updater(progress_id: str | None) -> Any:
    """An ``on_item`` that moves the build's progress artifact, at most every 2 s."""
    if progress_id is None:
        return None
    from uuid import UUID

    from prefect.artifacts import update_progress_artifact

    last = [0.0]
    lock = threading.Lock()

    def update(_report: ItemReport) -> None:
        snap = tracker().snapshot()
        now = time.monotonic()
        with lock:
            if now - last[0] < 2.0 and snap.done < snap.total:
                return
            last[0] = now
        # a progress bar is never worth failing a build
        with contextlib.suppress(Exception):
            update_progress_artifact(UUID(progress_id), 100.0 * snap.done / max(1, snap.total))

    return update


@task(name="write-release")
def release_task(
    spec: BuildSpec,
    checks: list[SeedCheck],
    cases: dict[str, list[Case]],
    status: dict[str, dict[str, Any]],
    reports: dict[str, list[ItemReport]],
    problems: list[dict[str, Any]],
) -> str:
    return str(write_release(spec, checks, cases, status, reports, problems))


def _summary(reports: dict[str, list[ItemReport]]) -> list[dict[str, Any]]:
    rows = []
    for lang, rs in reports.items():
        done = [r for r in rs if r.status == "validated"]
        rows.append(
            {
                "language": lang,
                "validated": len(done),
                "failed": sum(r.status == "failed" for r in rs),
                "skipped": sum(r.status == "skipped" for r in rs),
                "repair rounds": sum(r.rounds for r in done),
                "validated after repair": sum(r.rounds > 0 for r in done),
                "from draft unchanged": sum(r.origin == "draft" for r in done),
                "reused from store": sum(r.reused for r in rs),
                "tokens": sum(r.tokens for r in rs),
            }
        )
    return rows


def artifact_key(spec: BuildSpec) -> str:
    """``build-<release>-<version>-<model or translator>``, as Prefect keys must be written."""
    who = spec.model or spec.translator
    return keys.artifact_key("build", spec.release_name, spec.version, who)


@flow(
    name="cruxforge-build",
    flow_run_name="build-{spec.release_name}-{spec.version}",
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_WORKERS),  # type: ignore[arg-type]
    persist_result=True,
    log_prints=True,
)
def build(spec: BuildSpec = BuildSpec()) -> str:  # noqa: B008 - a frozen default is the form
    """Build a release (seeds -> validation + types -> agreement cases -> translation and
    repair in rounds, every language at once -> artifacts/NAME/VERSION); returns its
    directory. Resumable: a rerun with the same parameters reuses every finished item."""
    from cruxforge.llm.client import close_shared
    from cruxforge.release import drafts_problems, make_build_drafter

    logger = get_run_logger()
    langs = spec.languages
    seeds, backend = spec.seeds, spec.backend
    release_name, version = spec.release_name, spec.version
    make_build_drafter(spec)  # a bad translator or model config fails here, before any work
    label_slots(f"build {release_name} {version}")
    status_f = check_runtimes_task.submit(backend, langs)
    checks = seeds_task(seeds)
    typed = [c.typed for c in checks if c.typed is not None]
    logger.info("seeds: %d ok, %d rejected", len(typed), len(checks) - len(typed))
    problems = drafts_problems(spec, typed)
    for p in problems[:20]:
        logger.warning("drafts: %s %s %s: %s", p["where"], p["lang"] or "", p["id"] or "",
                       p["reason"])  # fmt: skip
    if len(problems) > 20:
        logger.warning("drafts: %d more problems (drafts_problems.jsonl)", len(problems) - 20)
    cases = cases_task(spec, typed)
    status = status_f.result()
    progress_id = str(
        create_progress_artifact(
            0.0,
            key=artifact_key(spec) + "-progress",
            description=f"Items finished in build {release_name} {version}",
        )
    )
    task = translate_task.with_options(refresh_cache=True) if spec.refresh else translate_task
    futures = {
        lang: task.submit(spec, typed, lang, cases, progress_id)
        for lang in langs
        if status[lang]["available"]
    }
    reports: dict[str, list[ItemReport]] = {}
    for lang in langs:
        if lang not in futures:
            logger.warning("%s: no runtime on %s: %s", lang, backend, status[lang]["reason"])
            reports[lang] = unavailable_reports(typed, lang, status[lang]["reason"] or "")
            continue
        futures[lang].wait()
        state = futures[lang].state
        if state.is_completed():
            reports[lang] = futures[lang].result()
            if state.name == "Cached":  # Prefect's cache answered the whole language
                reports[lang] = [r.model_copy(update={"reused": True}) for r in reports[lang]]
                for r in reports[lang]:
                    tracker().item(lang, r.status, reused=True)
        else:
            err = state.result(raise_on_failure=False)
            if not isinstance(err, InfraFault):
                raise err if isinstance(err, BaseException) else RuntimeError(str(err))
            logger.error("%s: infrastructure faults after retries: %s", lang, err)
            reports[lang] = err.reports
    close_shared()
    out = release_task(spec, checks, cases, status, reports, problems)
    rows = _summary(reports)
    create_table_artifact(
        table=rows,
        key=artifact_key(spec),
        description=f"Per-language results of release {release_name} {version}",
    )
    md = [
        f"# Release `{release_name}` {version}",
        "",
        f"Written to `{out}` (report: `{out}/report.jsonl`, manifest: `{out}/manifest.json`).",
        "",
        "| language | validated | failed | skipped | repair rounds |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {r['language']} | {r['validated']} | {r['failed']} | {r['skipped']} "
            f"| {r['repair rounds']} |"
            for r in rows
        ),
        "",
        f"Verify: `cruxforge release verify {out}`",
    ]
    create_markdown_artifact(
        "\n".join(md),
        key=artifact_key(spec) + "-card",
        description=f"Release {release_name} {version}: where it is and how to verify it",
    )
    return out


PARAMETERS = list(inspect.signature(build.fn).parameters)
