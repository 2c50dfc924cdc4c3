"""Re-validate someone else's multilingual benchmark (``cruxforge audit``).

For each benchmark item: cut its function, run it under cruxforge's own rule-made
harness for the seed, and also run the item's ``code`` exactly as published. Every item
gets a record, ids the seed file lacks included (reported, not dropped).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from cruxforge.models import Reason, SeedCheck, TypedSeed
from cruxforge.progress import tracker
from cruxforge.translators.reference import BenchmarkItem, read_benchmark
from runtimes.backend import Backend, Program, RunResult
from transition_rules.engine import Unsupported, check_seed, harness_program, rules_for
from transition_rules.parsing import FunctionNotFound, cut_function, text_after_function

FORMAT = 1


class AuditRecord(BaseModel):
    format: int = FORMAT
    id: object
    lang: str
    own_harness: str  # a verdict, or "skipped"
    published_code: str  # a verdict, or "not_run"
    reason: str = ""
    own_detail: str = ""
    published_detail: str = ""


def _detail(r: RunResult) -> str:
    if r.passed:
        return ""
    c = next((c for c in r.cases if c.verdict.value != "passed"), None)
    bits = [r.verdict.value]
    if c is not None and c.expected is not None:
        bits.append(f"expected {c.expected}")
    if c is not None and c.actual is not None:
        bits.append(f"actual {c.actual}")
    if c is not None and c.message:
        bits.append(c.message[:400])
    return "; ".join(bits)


def audit(
    benchmark: Path,
    checks: Sequence[SeedCheck],
    backend: Backend,
    languages: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[AuditRecord]:
    typed: dict[str, TypedSeed] = {c.id: c.typed for c in checks if c.typed is not None}
    rejected = {c.id: c.reason for c in checks if c.status == "rejected"}
    records: list[AuditRecord] = []
    bench = read_benchmark(benchmark, languages)
    prog = tracker()
    for lang, items in sorted(bench.items()):
        prog.start(lang, len(items))
    for n_lang, (lang, items) in enumerate(sorted(bench.items())):
        if progress:
            progress(lang, n_lang, len(bench))
        prog.phase(lang, "running", 0, len(items))
        recs = _audit_language(lang, items, typed, rejected, backend)
        for r in recs:
            ok = r.own_harness == "passed" and r.published_code in ("passed", "not_run")
            prog.item(lang, "skipped" if r.own_harness == "skipped" else
                      "validated" if ok else "failed")  # fmt: skip
        prog.phase(lang, "done", 0, 0)
        records.extend(recs)
    return records


def _audit_language(
    lang: str,
    items: list[BenchmarkItem],
    typed: dict[str, TypedSeed],
    rejected: dict[str, Reason | None],
    backend: Backend,
) -> list[AuditRecord]:
    rules = rules_for(lang)
    recs: list[AuditRecord] = []
    programs: list[Program] = []
    slots: list[tuple[int, str]] = []  # (record index, "own" | "published")
    for it in items:
        rec = AuditRecord(id=it.id, lang=lang, own_harness="skipped", published_code="not_run")
        seed = typed.get(it.seed_id)
        function: str | None = None
        if seed is None:
            why = rejected.get(it.seed_id)
            rec.reason = (
                f"seed {it.seed_id} was rejected: {why.message}"
                if why is not None
                else f"id {it.id!r} is not in the seed file (looked for seed {it.seed_id})"
            )
        else:
            try:
                function = cut_function(lang, it.code, seed.entry)
                check_seed(rules, seed)
            except FunctionNotFound as e:
                rec.reason = f"function not found: {e}"
                function = None
            except Unsupported as e:
                rec.reason = f"{e.code}: {e.message}"
                function = None
        idx = len(recs)
        recs.append(rec)
        if function is not None and seed is not None:
            programs.append(
                harness_program(rules, seed, function, program_id=f"{it.seed_id}:{lang}:own")
            )
            slots.append((idx, "own"))
        if function is not None and not text_after_function(lang, it.code, seed.entry):  # type: ignore[union-attr]
            rec.published_detail = (
                "the item's code is the function alone: no published harness to run"
            )
            continue
        programs.append(
            Program(
                id=f"{it.seed_id}:{lang}:published",
                lang=lang,
                source=it.code,
                n_cases=1,
                judge="exit_status",
                variant="published",
            )
        )
        slots.append((idx, "published"))
    for (idx, kind), res in zip(slots, backend.execute(programs)):
        if kind == "own":
            recs[idx].own_harness = res.verdict.value
            recs[idx].own_detail = _detail(res)
        else:
            recs[idx].published_code = res.verdict.value
            recs[idx].published_detail = _detail(res)
    return recs


def write_audit(records: list[AuditRecord], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "audit.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n")
    return path


def summarize(records: list[AuditRecord]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {}
    for r in records:
        c = table.setdefault(r.lang, Counter())
        c["items"] += 1
        c[f"own_{r.own_harness}"] += 1
        c[f"published_{r.published_code}"] += 1
    return table
