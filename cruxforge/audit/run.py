"""Re-validate someone else's multilingual benchmark (``cruxforge audit``).

For each item: cut its function (with what precedes it: imports, helpers) and run it
under cruxforge's own rule-made harness on the seed's example plus ``agreement``
generated cases (Python is the oracle, as in the build); run it ``repeat`` more times in
fresh processes (hash seeds and map order vary per process in Python, Perl, Go, Lua);
run the item's code as published, and again with a wrong expected value planted in its
test. Every item read gets a record; nothing is dropped.

Everything goes through whatever backend is given. The batched engine composes our
harness programs many per process, and whole published programs too where the language's
``[batch.published]`` rules say how to hold one; elsewhere they run one per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cruxforge.agreement import DEFAULT_COUNT
from cruxforge.audit.dialects import read_dialect
from cruxforge.audit.inputs import read_audit_input
from cruxforge.audit.mutants import plant_wrong_expected
from cruxforge.audit.records import AuditRecord, Divergence
from cruxforge.models import Reason, SeedCheck, TypedSeed
from cruxforge.progress import tracker
from cruxforge.translate.run import seed_cases
from cruxforge.translators.reference import BenchmarkItem
from cruxforge.values import canonical
from runtimes.backend import Backend, Program, RunResult, Verdict
from transition_rules.batch import published_parts
from transition_rules.engine import (
    Case,
    Unsupported,
    check_seed,
    harness_program,
    rules_for,
    seed_case,
)
from transition_rules.parsing import (
    FunctionNotFound,
    carried_imports,
    cut_function,
    function_names,
    text_after_function,
)
from transition_rules.schema import RuleFile

DEFAULT_REPEAT = 2
# verdicts that say nothing about the item: not compared between repeats
_NO_SIGNAL = {Verdict.infra_error}


class DialectError(ValueError):
    """The dialect the audit was told is not one of the audited languages'."""


@dataclass(frozen=True)
class AuditOptions:
    agreement: int = DEFAULT_COUNT  # generated cases besides the seed's example
    repeat: int = DEFAULT_REPEAT  # re-runs of our harness, for flakiness
    # languages audited at once (as the audit flow's task runner does): one language's
    # preparing and judging in Python, or its last batch, leaves the other's programs the
    # sandbox slots; the host's slots still bound how many programs run at once
    languages_at_once: int = 2
    # the dialect items are written in, where their language has it (an untyped language's
    # can't be told from a declaration); None: each item's is detected
    dialect: str | None = None


def audit(
    benchmark: Path,
    checks: Sequence[SeedCheck],
    backend: Backend,
    languages: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    options: AuditOptions | None = None,
    cases: Mapping[str, list[Case]] | None = None,
    timings: dict[str, float] | None = None,
) -> list[AuditRecord]:
    """Audit every item of ``benchmark``; ``cases``: agreement cases by seed id, when
    the caller computed them already (else computed here for the seeds items name);
    ``timings`` gets each language's wall seconds."""
    options = options or AuditOptions()
    read = read_audit_input(benchmark, languages)
    told = options.dialect
    if told is not None and read.items and not any(told in rules_for(lg).dialects
                                                   for lg in read.items):  # fmt: skip
        raise DialectError(f"no language of {sorted(read.items)} has a dialect {told!r}")
    typed, rejected = seed_maps(checks)
    if cases is None:
        named = {it.seed_id for items in read.items.values() for it in items}
        cases = audit_cases([typed[s] for s in sorted(named) if s in typed], options.agreement)
    records = list(read.problems)
    prog = tracker()
    for lang, items in sorted(read.items.items()):
        prog.start(lang, len(items))
    langs = sorted(read.items)
    got: dict[str, list[AuditRecord]] = {}

    def one(n_lang: int, lang: str) -> None:
        if progress:
            progress(lang, n_lang, len(langs))
        t0 = time.monotonic()
        got[lang] = audit_language(lang, read.items[lang], typed, rejected, cases,
                                   backend, options, read.files.get(lang, ""))  # fmt: skip
        if timings is not None:
            timings[lang] = time.monotonic() - t0

    with ThreadPoolExecutor(max(1, options.languages_at_once)) as pool:
        for f in [pool.submit(one, n, lang) for n, lang in enumerate(langs)]:
            f.result()
    for lang in langs:
        records += got[lang]
    return records


def seed_maps(
    checks: Sequence[SeedCheck],
) -> tuple[dict[str, TypedSeed], dict[str, Reason | None]]:
    """The typed seeds by id, and the rejected ones' reasons by id."""
    typed = {c.id: c.typed for c in checks if c.typed is not None}
    return typed, {c.id: c.reason for c in checks if c.status == "rejected"}


def audit_cases(seeds: Sequence[TypedSeed], agreement: int) -> dict[str, list[Case]]:
    """Each seed's example, then up to ``agreement`` generated cases Python agrees on."""
    if agreement <= 0:
        return {s.id: [seed_case(s)] for s in seeds}
    return seed_cases(seeds, agreement)


@dataclass
class _Job:
    """One item's programs; None where a part does not run."""

    rec: AuditRecord
    seed: TypedSeed | None = None
    cases: list[Case] = field(default_factory=list)
    own: Program | None = None
    published: Program | None = None
    mutants: list[Program] = field(default_factory=list)
    functionless: bool = False  # tree-sitter finds no function at all in the code (prose)


def audit_language(
    lang: str,
    items: Sequence[BenchmarkItem],
    typed: Mapping[str, TypedSeed],
    rejected: Mapping[str, Reason | None],
    cases: Mapping[str, list[Case]],
    backend: Backend,
    options: AuditOptions,
    file: str = "",
) -> list[AuditRecord]:
    prog = tracker()
    prog.start(lang, len(items))
    recs = [AuditRecord(id=it.id, lang=lang, file=file, line=it.line) for it in items]
    status = backend.doctor(lang)
    if not status.available:
        for rec in recs:
            rec.reason_code, rec.reason = "no_runtime", f"{lang}: {status.reason}"
            rec.settle()
            prog.item(lang, "skipped")
        prog.phase(lang, "done", 0, 0)
        return recs
    rules = rules_for(lang)
    jobs = [_prepare(rules, it, rec, typed, rejected, cases, options.dialect)
            for it, rec in zip(items, recs)]  # fmt: skip
    prog.phase(lang, "running", 0, len(items))
    owns = [j for j in jobs if j.own is not None]
    pubs = [j for j in jobs if j.published is not None]
    muts = [(j, m) for j in jobs for m in j.mutants]
    # our harness programs go first, on their own: the repeats send the same programs,
    # so a batched engine composes the same batches and a compile cache has them
    own_res = dict(zip(map(id, owns), backend.execute([j.own for j in owns if j.own])))
    programs = [j.published for j in pubs] + [m for _, m in muts]
    results = backend.execute([p for p in programs if p is not None])
    pub_res = dict(zip(map(id, pubs), results[: len(pubs)]))
    mut_res: dict[int, list[RunResult]] = {}
    for (j, _), res in zip(muts, results[len(pubs) :]):
        mut_res.setdefault(id(j), []).append(res)
    for j in owns:
        _judge_own(j, own_res[id(j)])
    _repeat(owns, own_res, backend, options.repeat)
    for j in pubs:
        r = pub_res[id(j)]
        j.rec.published_code, j.rec.published_detail = r.verdict.value, _detail(r)
    for j in jobs:
        _judge_mutants(j, mut_res.get(id(j), []))
        j.rec.settle()
        prog.item(lang, {"ok": "validated", "skipped": "skipped"}.get(j.rec.status, "failed"))
    prog.phase(lang, "done", 0, 0)
    return recs


def _prepare(
    rules: RuleFile,
    it: BenchmarkItem,
    rec: AuditRecord,
    typed: Mapping[str, TypedSeed],
    rejected: Mapping[str, Reason | None],
    cases: Mapping[str, list[Case]],
    dialect: str | None = None,
) -> _Job:
    """The item's programs: ours (every case the language can carry), the published
    code, and its mutants."""
    lang = rules.lang
    job = _Job(rec)
    base = f"{it.seed_id}:{lang}:{it.line}"
    published = Program(
        id=f"{base}:published", lang=lang, source=it.code, n_cases=1,
        judge="exit_status", variant="published", parts=published_parts(rules, it.code),
    )  # fmt: skip
    seed = typed.get(it.seed_id)
    if seed is None:
        why = rejected.get(it.seed_id)
        rec.reason_code, rec.reason = (
            ("seed_rejected", f"seed {it.seed_id} was rejected: {why.message}")
            if it.seed_id in rejected and why is not None
            else ("no_seed", f"id {it.id!r} is not in the seed file (looked for seed {it.seed_id})")
        )
        job.published = published
        return job
    try:
        reading = read_dialect(lang, it.code, seed, dialect)
        rules, seed = reading.rules, reading.seed
        rec.dialect = reading.dialect
        check_seed(rules, seed)
        function = cut_function(lang, it.code, seed.entry)
        if imports := carried_imports(lang, it.code):  # what the class around it imported
            function = f"{imports}\n{function}"
    except Unsupported as e:
        rec.reason_code, rec.reason = "unsupported", f"{e.code}: {e.message}"
        return job
    except FunctionNotFound as e:
        rec.reason_code, rec.reason = "function_not_found", str(e)
        job.published = published  # prose that passes as published is untestable
        job.functionless = not function_names(lang, it.code)
        return job
    job.seed = seed
    job.cases = [c for i, c in enumerate(cases.get(seed.id) or [seed_case(seed)])
                 if i == 0 or _carried(rules, seed, c)]  # fmt: skip
    rec.cases = len(job.cases)
    job.own = harness_program(rules, seed, function, job.cases, program_id=f"{base}:own")
    if not text_after_function(lang, it.code, seed.entry):
        rec.published_detail = "the item's code is the function alone: no published test to run"
        return job
    job.published = published
    planted = plant_wrong_expected(rules, seed, it.code, base)
    job.mutants = planted.programs
    rec.mutant_detail = planted.why_none
    return job


def _carried(rules: RuleFile, seed: TypedSeed, case: Case) -> bool:
    try:
        check_seed(rules, seed, [case])
    except Unsupported:
        return False
    return True


def _judge_own(job: _Job, r: RunResult) -> None:
    """Our harness's verdict on the example, and the first agreement case that fails."""
    rec = job.rec
    first = r.cases[0] if r.cases else None
    if first is None or first.verdict is not Verdict.passed:
        rec.own_harness, rec.own_detail = r.verdict.value, _detail(r)
        return
    rec.own_harness = "passed"
    bad = next((c for c in r.cases[1:] if c.verdict is not Verdict.passed), None)
    if bad is None:
        rec.agreement = "agrees"
        return
    rec.agreement = "diverges"
    case = job.cases[bad.case] if 0 <= bad.case < len(job.cases) else None
    rec.divergence = Divergence(
        case=bad.case,
        input=", ".join(repr(a) for a in case.args) if case else "?",
        expected=canonical(case.expected) if case else (bad.expected or "?"),
        actual=bad.actual,
        verdict=bad.verdict.value,
        message=(bad.message or "")[:400],
    )


def _signature(r: RunResult) -> tuple[tuple[str, str | None], ...]:
    return tuple((c.verdict.value, c.actual) for c in r.cases)


def _repeat(
    jobs: list[_Job], first: Mapping[int, RunResult], backend: Backend, times: int
) -> None:
    """Run our harness again ``times`` times for items whose first run ran; an item
    whose verdicts or results change between runs is flaky."""
    again = [j for j in jobs
             if first[id(j)].verdict not in (Verdict.compile_error, *_NO_SIGNAL)]  # fmt: skip
    for n in range(1, times + 1):
        if not again:
            return
        results = backend.execute([j.own for j in again if j.own is not None])
        for j, r in zip(again, results):
            j.rec.repeats += 1
            if r.verdict in _NO_SIGNAL or j.rec.flaky:
                continue
            a, b = _signature(first[id(j)]), _signature(r)
            if a != b:
                j.rec.flaky = True
                j.rec.flaky_detail = _difference(a, b, n)


def _difference(
    a: tuple[tuple[str, str | None], ...], b: tuple[tuple[str, str | None], ...], n: int
) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            def say(v: tuple[str, str | None]) -> str:
                return v[0] + (f" (actual {v[1]})" if v[1] is not None else "")

            return f"case {i}: first run {say(x)}; repeat {n} {say(y)}"
    return f"first run reported {len(a)} cases, repeat {n} {len(b)}"


def _judge_mutants(job: _Job, results: list[RunResult]) -> None:
    rec = job.rec
    if job.functionless and rec.published_code == "passed":
        rec.untestable = True
        rec.mutant_detail = (
            "the published code passes without any function in it: "
            "its test can't be testing one"
        )
        return
    usable = [r for r in results if r.verdict not in _NO_SIGNAL]
    if not usable:
        if results:
            rec.mutant_detail = "the mutant could not run: " + _detail(results[0])
        return
    if any(not r.passed for r in usable):
        rec.published_mutant = "caught"
        return
    rec.published_mutant = "passes"
    rec.untestable = rec.published_code == "passed"
    rec.mutant_detail = (
        f"the published test still passes with a wrong expected value planted "
        f"({len(usable)} place(s) tried)"
    )


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
