"""Translate many seeds into many languages: agreement cases once per seed, then the loop.

Usable without Prefect (``cruxforge translate``); the flows wrap these same functions.
With an :class:`~cruxforge.store.ItemStore`, finished items and agreement cases are read
back instead of recomputed, so a killed build resumes without repeating finished work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cruxforge.agreement import DEFAULT_COUNT, agreement_cases, python_run_calls
from cruxforge.models import TypedSeed
from cruxforge.translate.loop import Drafter, ItemReport, translate_item, write_reports
from runtimes.backend import Backend
from transition_rules.engine import Case, render_published, rules_for

if TYPE_CHECKING:
    from cruxforge.store import ItemStore

# Reasons that say the infrastructure failed, not the translation: never stored, so a
# rerun (or a task retry) tries these items again.
INFRA_PREFIXES = ("infra_error", "no_answer: LLM", "no_answer: ReplayMiss")


def is_infra_fault(report: ItemReport) -> bool:
    return report.status == "failed" and report.reason.startswith(INFRA_PREFIXES)


def seed_cases(
    seeds: Sequence[TypedSeed], n_agreement: int = DEFAULT_COUNT, store: ItemStore | None = None
) -> dict[str, list[Case]]:
    """The seed's example plus up to ``n_agreement`` inputs Python agrees on, per seed."""
    if store is None:
        return {s.id: agreement_cases(s, python_run_calls, n_agreement) for s in seeds}
    from cruxforge.store import cases_key

    out: dict[str, list[Case]] = {}
    for s in seeds:
        key = cases_key(s, n_agreement)
        got = store.get_cases(key)
        if got is None:
            got = agreement_cases(s, python_run_calls, n_agreement)
            store.put_cases(key, got)
            store.event("cases_computed", key, id=s.id)
        out[s.id] = got
    return out


def translate_language(
    seeds: Sequence[TypedSeed],
    lang: str,
    cases: dict[str, list[Case]],
    drafter: Drafter,
    backend: Backend,
    max_repairs: int,
    on_item: Callable[[ItemReport], None] | None = None,
    store: ItemStore | None = None,
    translator_id: Mapping[str, Any] | None = None,
) -> tuple[list[ItemReport], list[dict[str, Any]]]:
    """One language's batch: reports for every seed, and the validated published items.

    With ``store``, an item whose key (see :func:`cruxforge.store.item_key`; the
    translator is identified by ``translator_id``, default its name) is already there
    is read back, not executed; every other item is stored as soon as it finishes,
    unless it failed on an infrastructure fault (:func:`is_infra_fault`).
    """
    rules = rules_for(lang)
    reports, items = [], []
    by_id = {s.id: s for s in seeds}
    tid = dict(translator_id) if translator_id is not None else {"name": drafter.name}
    for seed in seeds:
        rep = None
        key = ""
        if store is not None:
            from cruxforge.store import item_key

            key = item_key(seed, lang, cases[seed.id], tid, max_repairs, backend.name)
            rep = store.get_item(key)
            if rep is not None:
                store.event("reused", key, id=seed.id, lang=lang)
        if rep is None:
            rep = translate_item(seed, lang, cases[seed.id], drafter, backend, max_repairs)
            if store is not None and not is_infra_fault(rep):
                store.put_item(key, rep)
                store.event("computed", key, id=seed.id, lang=lang)
        reports.append(rep)
        if rep.status == "validated" and rep.code is not None:
            items.append(render_published(rules, by_id[seed.id], rep.code).as_json())
        if on_item:
            on_item(rep)
    return reports, items


def translate_all(
    seeds: Sequence[TypedSeed],
    languages: Sequence[str],
    drafter: Drafter,
    backend: Backend,
    out: Path,
    max_repairs: int = 3,
    n_agreement: int = DEFAULT_COUNT,
    on_item: Callable[[ItemReport], None] | None = None,
    store: ItemStore | None = None,
) -> list[ItemReport]:
    cases = seed_cases(seeds, n_agreement, store)
    reports: list[ItemReport] = []
    published: dict[str, list[dict[str, Any]]] = {}
    for lang in languages:
        reps, items = translate_language(
            seeds, lang, cases, drafter, backend, max_repairs, on_item, store
        )
        reports += reps
        published[lang] = items
    write_reports(out, reports, published)
    return reports
