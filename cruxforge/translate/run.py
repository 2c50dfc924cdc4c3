"""Translate many seeds into many languages: agreement cases once per seed, then rounds.

Usable without Prefect (``cruxforge translate``); the flows wrap these same functions.
With an :class:`~cruxforge.store.ItemStore`, finished items and agreement cases are read
back instead of recomputed, so a killed build resumes without repeating finished work.
A language's items go through the repair loop together (:mod:`cruxforge.translate.rounds`),
and languages run side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cruxforge.agreement import (
    DEFAULT_COUNT,
    agreement_cases,
    candidate_inputs,
    python_run_many,
)
from cruxforge.models import TypedSeed
from cruxforge.progress import tracker
from cruxforge.translate.loop import Drafter, ItemReport, ItemRun, write_reports
from cruxforge.translate.rounds import run_rounds
from runtimes.backend import Backend
from transition_rules.engine import Case, render_published, rules_for

if TYPE_CHECKING:
    from cruxforge.store import ItemStore
    from cruxforge.translate.drafts import Drafts

# Reasons that say the infrastructure failed, not the translation: never stored, so a
# rerun (or a task retry) tries these items again.
INFRA_PREFIXES = ("infra_error", "no_answer: LLM", "no_answer: ReplayMiss")
CASES_CHUNK = 50  # seeds whose agreement cases are computed (and stored) together


def is_infra_fault(report: ItemReport) -> bool:
    return report.status == "failed" and report.reason.startswith(INFRA_PREFIXES)


def seed_cases(
    seeds: Sequence[TypedSeed], n_agreement: int = DEFAULT_COUNT, store: ItemStore | None = None
) -> dict[str, list[Case]]:
    """The seed's example plus up to ``n_agreement`` inputs Python agrees on, per seed.

    The Python oracle runs in batches across seeds (a few child interpreters for
    :data:`CASES_CHUNK` seeds), one chunk while the next one's inputs are generated (the
    generator holds this process's interpreter, the oracle runs in children); with
    ``store``, each chunk is stored as it finishes.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from cruxforge.store import cases_key

    out: dict[str, list[Case]] = {}
    todo: list[TypedSeed] = []
    for s in seeds:
        got = store.get_cases(cases_key(s, n_agreement)) if store is not None else None
        if got is None:
            todo.append(s)
        else:
            out[s.id] = got
    def settle(chunk: list[TypedSeed], inputs: list[Any], running: Future[Any]) -> None:
        for s, ins, res in zip(chunk, inputs, running.result()):
            got = agreement_cases(s, lambda _s, _i, r=res: r, n_agreement, inputs=ins)  # type: ignore[misc]
            out[s.id] = got
            if store is not None:
                key = cases_key(s, n_agreement)
                store.put_cases(key, got)
                store.event("cases_computed", key, id=s.id)

    with ThreadPoolExecutor(max_workers=1) as oracle:
        pending: tuple[list[TypedSeed], list[Any], Future[Any]] | None = None
        for i in range(0, len(todo), CASES_CHUNK):
            chunk = todo[i : i + CASES_CHUNK]
            inputs = [candidate_inputs(s, n_agreement) for s in chunk]
            if pending is not None:
                settle(*pending)
            pending = (chunk, inputs, oracle.submit(python_run_many, list(zip(chunk, inputs))))
        if pending is not None:
            settle(*pending)
    return {s.id: out[s.id] for s in seeds}


def translate_language(
    seeds: Sequence[TypedSeed],
    lang: str,
    cases: dict[str, list[Case]],
    drafter: Drafter | None,
    backend: Backend,
    max_repairs: int,
    on_item: Callable[[ItemReport], None] | None = None,
    store: ItemStore | None = None,
    translator_id: Mapping[str, Any] | None = None,
    *,
    drafts: Drafts | None = None,
    concurrency: int | None = None,
    refresh: bool = False,
) -> tuple[list[ItemReport], list[dict[str, Any]]]:
    """One language's items: reports for every seed, and the validated published items.

    With ``store``, an item whose key (see :func:`cruxforge.store.item_key`; the
    translator is identified by ``translator_id``, default its name) is already there
    is read back, not executed (unless ``refresh``); every other item is stored as soon
    as it finishes, unless it failed on an infrastructure fault (:func:`is_infra_fault`).
    With ``drafts``, round 0's answer is the item's draft; ``drafter`` (None: no
    translator) repairs the drafts that fail.
    """
    from cruxforge.store import item_key

    rules = rules_for(lang)
    prog = tracker()
    prog.start(lang, len(seeds))
    name = getattr(drafter, "name", None) or "none"
    tid = dict(translator_id) if translator_id is not None else {"name": name}
    reports: dict[str, ItemReport] = {}
    keys: dict[str, str] = {}
    runs: list[ItemRun] = []
    for seed in seeds:
        if store is not None:
            keys[seed.id] = key = item_key(seed, lang, cases[seed.id], tid, max_repairs,
                                           backend.name)  # fmt: skip
            rep = None if refresh else store.get_item(key)
            if rep is not None:
                store.event("reused", key, id=seed.id, lang=lang)
                reports[seed.id] = rep.model_copy(update={"reused": True})
                prog.item(lang, rep.status, reused=True)
                if on_item:
                    on_item(reports[seed.id])
                continue
        draft, note = drafts.for_item(seed, lang) if drafts is not None else (None, "")
        if drafts is not None and draft is None and drafter is None:
            rep = ItemReport(
                id=seed.id, lang=lang, status="skipped", reason=note, origin="draft",
                n_cases=len(cases[seed.id]), draft_note=note,
            )  # fmt: skip
            done(rep, store, keys.get(seed.id), lang, reports, on_item)
            continue
        runs.append(ItemRun(seed, lang, cases[seed.id], max_repairs, draft=draft,
                            draft_note=note, origin=name))  # fmt: skip

    def finished(run: ItemRun) -> None:
        done(run.report, store, keys.get(run.seed.id), lang, reports, on_item)

    run_rounds(runs, drafter, backend, concurrency=concurrency, on_done=finished)
    by_id = {s.id: s for s in seeds}
    ordered = [reports[s.id] for s in seeds]
    items = [
        render_published(rules, by_id[r.id], r.code).as_json()
        for r in ordered
        if r.status == "validated" and r.code is not None
    ]
    return ordered, items


def done(
    rep: ItemReport,
    store: ItemStore | None,
    key: str | None,
    lang: str,
    reports: dict[str, ItemReport],
    on_item: Callable[[ItemReport], None] | None,
) -> None:
    """An item finished: stored at once (a kill after this loses nothing), counted."""
    if store is not None and key is not None and not is_infra_fault(rep):
        store.put_item(key, rep)
        store.event("computed", key, id=rep.id, lang=lang)
    reports[rep.id] = rep
    tracker().item(lang, rep.status)
    if on_item:
        on_item(rep)


def translate_all(
    seeds: Sequence[TypedSeed],
    languages: Sequence[str],
    drafter: Drafter | None,
    backend: Backend,
    out: Path,
    max_repairs: int = 3,
    n_agreement: int = DEFAULT_COUNT,
    on_item: Callable[[ItemReport], None] | None = None,
    store: ItemStore | None = None,
    *,
    drafts: Drafts | None = None,
    workers: int | None = None,
) -> list[ItemReport]:
    """Every language, side by side (``workers`` at once, default all): one language's
    answers are asked for while another's programs run. ``backend`` is shared."""
    cases = seed_cases(seeds, n_agreement, store)
    langs = list(languages)

    def one(lang: str) -> tuple[list[ItemReport], list[dict[str, Any]]]:
        return translate_language(seeds, lang, cases, drafter, backend, max_repairs, on_item,
                                  store, drafts=drafts)  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, workers or len(langs) or 1)) as pool:
        got = list(pool.map(one, langs))
    reports = [r for reps, _ in got for r in reps]
    write_reports(out, reports, {lang: items for lang, (_, items) in zip(langs, got)})
    return reports
