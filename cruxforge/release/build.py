"""The build's steps as plain functions (the ``build`` flow runs them as tasks) and
:func:`build_release`, which runs them in order without an orchestrator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cruxforge.models import SeedCheck, TypedSeed
from cruxforge.release.spec import (
    BuildError,
    BuildSpec,
    make_build_drafter,
    resolve_languages,
    translator_id,
)
from cruxforge.release.write import write_release
from cruxforge.translate.loop import ItemReport
from transition_rules.engine import Case


def runtime_status(backend_name: str, langs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per language: the backend's doctor record, spec hash and (docker) image id."""
    from runtimes.backend import get_backend
    from runtimes.spec import get_spec

    out: dict[str, dict[str, Any]] = {}
    with get_backend(backend_name) as b:
        for lang in langs:
            st = b.doctor(lang)
            rec: dict[str, Any] = {
                "spec_hash": get_spec(lang).spec_hash(),
                "backend": backend_name,
                "available": st.available,
                "toolchain": st.version,
                "reason": st.reason,
            }
            if backend_name == "docker":
                rec.update(_image(lang))
            out[lang] = rec
    return out


def _image(lang: str) -> dict[str, Any]:
    from runtimes.images import docker_client, image_tag
    from runtimes.spec import get_spec

    tag = image_tag(get_spec(lang))
    try:
        return {"image": tag, "image_id": docker_client(timeout=30).images.get(tag).id}
    except Exception as e:  # noqa: BLE001 - recorded, not fatal: doctor already judged it
        return {"image": tag, "image_id": None, "image_error": str(e)[:200]}


def check_seeds(seeds: str | Path) -> list[SeedCheck]:
    from cruxforge.seeds.check import check_file

    return check_file(seeds)


def compute_cases(spec: BuildSpec, typed: Sequence[TypedSeed]) -> dict[str, list[Case]]:
    from cruxforge.translate.run import seed_cases

    return seed_cases(typed, spec.agreement, spec.store())


def read_build_drafts(spec: BuildSpec) -> Any:
    """The build's drafts folder, read (None without ``--drafts``)."""
    if not spec.drafts:
        return None
    from cruxforge.translate.drafts import DraftsError, read_drafts

    try:
        return read_drafts(spec.drafts)
    except DraftsError as e:
        raise BuildError(str(e)) from None


def drafts_problems(spec: BuildSpec, typed: Sequence[TypedSeed]) -> list[dict[str, Any]]:
    """What in the drafts folder can't become an item (unknown ids, bad lines, ...)."""
    drafts = read_build_drafts(spec)
    if drafts is None:
        return []
    wanted = set(spec.languages)
    drafts.check_ids({s.id for s in typed})
    return [
        {"where": p.where, "lang": p.lang, "id": p.id, "reason": p.reason}
        for p in drafts.problems
        if p.lang is None or p.lang in wanted
    ]


def translate_batch(
    spec: BuildSpec,
    typed: Sequence[TypedSeed],
    lang: str,
    cases: Mapping[str, list[Case]],
    on_item: Callable[[ItemReport], None] | None = None,
) -> list[ItemReport]:
    """One language's items, through the store: finished ones are read back; the rest go
    through the repair loop in rounds (every answer of a round asked at once, every
    program of a round in one ``execute`` call)."""
    from cruxforge.translate.run import translate_language
    from runtimes.backend import get_backend

    drafter = make_build_drafter(spec)
    with get_backend(spec.backend) as b:
        reports, _ = translate_language(
            typed,
            lang,
            dict(cases),
            drafter,
            b,
            spec.max_repairs,
            on_item,
            store=spec.store(),
            translator_id=translator_id(spec, lang),
            drafts=read_build_drafts(spec),
            refresh=spec.refresh,
        )
    return reports


def unavailable_reports(typed: Sequence[TypedSeed], lang: str, reason: str) -> list[ItemReport]:
    return [
        ItemReport(id=s.id, lang=lang, status="skipped", reason=f"runtime_unavailable: {reason}")
        for s in typed
    ]


def build_release(
    spec: BuildSpec,
    on_item: Callable[[ItemReport], None] | None = None,
    workers: int | None = None,
) -> Path:
    """The whole build without an orchestrator (the ``build`` flow runs these as tasks):
    languages side by side, ``workers`` at once (default: all)."""
    from concurrent.futures import ThreadPoolExecutor

    from cruxforge.llm.client import close_shared

    langs = resolve_languages(spec.languages)
    make_build_drafter(spec)  # fail early on a bad translator
    status = runtime_status(spec.backend, langs)
    checks = check_seeds(spec.seeds)
    typed = [c.typed for c in checks if c.typed is not None]
    cases = compute_cases(spec, typed)
    reports: dict[str, list[ItemReport]] = {}
    ready = [x for x in langs if status[x]["available"]]
    with ThreadPoolExecutor(max_workers=max(1, workers or len(ready) or 1)) as pool:
        done = dict(zip(ready, pool.map(lambda x: translate_batch(spec, typed, x, cases, on_item),
                                        ready)))  # fmt: skip
    close_shared()
    for lang in langs:
        if lang in done:
            reports[lang] = done[lang]
        else:
            reports[lang] = unavailable_reports(typed, lang, status[lang]["reason"] or "")
    return write_release(spec, checks, cases, status, reports, drafts_problems(spec, typed))
