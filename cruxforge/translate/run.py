"""Translate many seeds into many languages: agreement cases once per seed, then the loop.

Usable without Prefect (``cruxforge translate``); the flows wrap these same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cruxforge.agreement import DEFAULT_COUNT, agreement_cases, python_run_calls
from cruxforge.models import TypedSeed
from cruxforge.translate.loop import Drafter, ItemReport, translate_item, write_reports
from runtimes.backend import Backend
from transition_rules.engine import Case, render_published, rules_for


def seed_cases(
    seeds: Sequence[TypedSeed], n_agreement: int = DEFAULT_COUNT
) -> dict[str, list[Case]]:
    """The seed's example plus up to ``n_agreement`` inputs Python agrees on, per seed."""
    return {s.id: agreement_cases(s, python_run_calls, n_agreement) for s in seeds}


def translate_language(
    seeds: Sequence[TypedSeed],
    lang: str,
    cases: dict[str, list[Case]],
    drafter: Drafter,
    backend: Backend,
    max_repairs: int,
    on_item: Callable[[ItemReport], None] | None = None,
) -> tuple[list[ItemReport], list[dict[str, Any]]]:
    """One language's batch: reports for every seed, and the validated published items."""
    rules = rules_for(lang)
    reports, items = [], []
    by_id = {s.id: s for s in seeds}
    for seed in seeds:
        rep = translate_item(seed, lang, cases[seed.id], drafter, backend, max_repairs)
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
) -> list[ItemReport]:
    cases = seed_cases(seeds, n_agreement)
    reports: list[ItemReport] = []
    published: dict[str, list[dict[str, Any]]] = {}
    for lang in languages:
        reps, items = translate_language(seeds, lang, cases, drafter, backend, max_repairs, on_item)
        reports += reps
        published[lang] = items
    write_reports(out, reports, published)
    return reports
