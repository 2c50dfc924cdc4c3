"""The execution-repair loop: draft, run under the rule-made tests, diagnose, repair.

One item = one (seed, language). Round 0 is the first draft; each later round sends the
model a structured diagnosis (response problem, compiler message with line numbers
mapped to its function, or each failing case's input / expected / actual) and asks for a
fix, up to ``max_repairs`` rounds. A translation is validated only when it passes every
test case (the seed's example plus agreement cases) and passes again on a second run
(flakiness check). Every attempt is recorded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from cruxforge.models import TypedSeed
from cruxforge.translate.prompts import (
    FEWSHOT_DIR,
    FEWSHOT_SEED,
    repair_message,
    translate_messages,
)
from cruxforge.translate.response import extract_function
from cruxforge.values import canonical
from runtimes.backend import Backend, RunResult, Verdict
from transition_rules.engine import (
    Case,
    Unsupported,
    check_seed,
    harness_program,
    render_literal,
    render_stub,
    rules_for,
)

FORMAT = 1
MAX_CASES_SHOWN = 4


class Answer(BaseModel):
    """One model answer as the loop sees it (from an LLM, a replay, or a reference)."""

    text: str
    finish_reason: str | None = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    request_key: str | None = None


class Drafter(Protocol):
    """Answers a conversation about one item; raises DraftUnavailable when it can't."""

    name: str

    def answer(self, seed: TypedSeed, lang: str, messages: list[dict[str, str]]) -> Answer: ...


class DraftUnavailable(Exception):
    """No answer can be had (endpoint down after retries, replay miss, no reference)."""


class Attempt(BaseModel):
    round: int
    messages_sent: int
    response: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    code: str | None
    outcome: str  # "validated", "response_problem", "compile_error", "failing_cases", "flaky"
    diagnosis: str
    verdicts: list[str]
    seconds: float


class ItemReport(BaseModel):
    format: int = FORMAT
    id: str
    lang: str
    status: Literal["validated", "failed", "skipped"]
    reason: str = ""
    rounds: int = 0  # repair rounds used; 0 = the first draft passed
    tokens: int = 0
    n_cases: int = 0
    code: str | None = None  # the validated (or last) function
    attempts: list[Attempt] = []


# ---------------------------------------------------------------- diagnosis

_LINE_PATTERNS = [
    re.compile(r"(?P<pre>:)(?P<n>\d+)(?P<post>[:,)])"),
    re.compile(r"(?P<pre>line )(?P<n>\d+)(?P<post>)"),
]


def map_lines(message: str, source: str, function: str) -> str:
    """Rewrite program line numbers as function line numbers where they fall inside it."""
    start = source.find(function)
    if start < 0 or not function:
        return message
    first = source[:start].count("\n") + 1
    last = first + function.count("\n")

    def sub(m: re.Match[str]) -> str:
        n = int(m.group("n"))
        if first <= n <= last:
            return f"{m.group('pre')}{n - first + 1}{m.group('post')}"
        return m.group(0)

    for pat in _LINE_PATTERNS:
        message = pat.sub(sub, message)
    return message


def describe_failures(result: RunResult, cases: Sequence[Case], seed: TypedSeed) -> str:
    """Each failing case: its input, the expected value and what the function gave."""
    names = [p.name for p in seed.signature.params]
    lines = []
    bad = [c for c in result.cases if c.verdict is not Verdict.passed]
    for cv in bad[:MAX_CASES_SHOWN]:
        case = cases[cv.case]
        args = ", ".join(f"{n}={canonical(v)}" for n, v in zip(names, case.args))
        got = {
            Verdict.wrong_answer: f"returned {cv.actual}",
            Verdict.runtime_error: f"failed with an error: {cv.message}",
            Verdict.timeout: "did not finish within the time limit",
            Verdict.memory_exceeded: "exceeded the memory limit",
            Verdict.output_exceeded: "printed too much output",
        }.get(cv.verdict, f"{cv.verdict.value}: {cv.message}")
        lines.append(f"- {seed.entry}({args}): expected {canonical(case.expected)}, but it {got}")
    if len(bad) > MAX_CASES_SHOWN:
        lines.append(f"- ... and {len(bad) - MAX_CASES_SHOWN} more failing inputs")
    return "\n".join(lines)


# ---------------------------------------------------------------- the loop


@cache
def fewshot_code(lang: str) -> dict[str, str]:
    """The few-shot pair: a demo seed's Python and its reference in ``lang`` (if any)."""
    out: dict[str, str] = {}
    ref = FEWSHOT_DIR / f"{lang}.jsonl"
    demo = FEWSHOT_DIR.parent / "demo.jsonl"
    if not ref.exists() or not demo.exists():
        return out
    for line in ref.read_text(encoding="utf-8").splitlines():
        if line.strip() and json.loads(line)["id"] == FEWSHOT_SEED:
            out[FEWSHOT_SEED] = json.loads(line)["code"]
    for line in demo.read_text(encoding="utf-8").splitlines():
        if line.strip() and json.loads(line)["id"] == FEWSHOT_SEED:
            out["__python__"] = json.loads(line)["code"]
    return out


def translate_item(
    seed: TypedSeed,
    lang: str,
    cases: Sequence[Case],
    drafter: Drafter,
    backend: Backend,
    max_repairs: int = 3,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> ItemReport:
    rules = rules_for(lang)
    report = ItemReport(id=seed.id, lang=lang, status="failed", n_cases=len(cases))
    try:
        check_seed(rules, seed, list(cases))
    except Unsupported as e:
        report.status, report.reason = "skipped", f"{e.code}: {e.message}"
        return report
    stub = render_stub(rules, seed)
    messages = translate_messages(seed, lang, stub, fewshot_code(lang))
    rt = seed.signature.result_type()
    forbidden = expected_literals(rules, cases[:1], rt, seed.code)
    last_diag = ""
    for rnd in range(max_repairs + 1):
        t0 = time.monotonic()
        try:
            ans = drafter.answer(seed, lang, messages)
        except DraftUnavailable as e:
            report.reason = f"no_answer: {e}"
            report.rounds = max(0, rnd - 1)
            return report
        report.tokens += ans.prompt_tokens + ans.completion_tokens
        messages = [*messages, {"role": "assistant", "content": ans.text}]
        attempt = Attempt(
            round=rnd,
            messages_sent=len(messages) - 1,
            response=ans.text,
            finish_reason=ans.finish_reason,
            prompt_tokens=ans.prompt_tokens,
            completion_tokens=ans.completion_tokens,
            cached=ans.cached,
            code=None,
            outcome="response_problem",
            diagnosis="",
            verdicts=[],
            seconds=0.0,
        )
        ex = extract_function(
            lang, ans.text, seed.entry, arity=len(seed.signature.params), forbidden=forbidden
        )
        if ans.finish_reason == "length" and ex.code is None:
            ex = type(ex)(
                None,
                "the answer was cut off (maximum length reached); answer with the function only",
            )
        if ex.code is None:
            attempt.diagnosis = last_diag = ex.problem or "unusable answer"
            next_msg = repair_message(
                "repair_response", lang, problem=last_diag, entry=seed.entry, stub=stub
            )
        else:
            attempt.code = report.code = ex.code
            prog = harness_program(rules, seed, ex.code, list(cases))
            (res,) = backend.execute([prog])
            attempt.verdicts = [c.verdict.value for c in res.cases]
            if res.verdict is Verdict.infra_error:
                report.reason = f"infra_error: {res.cases[0].message if res.cases else ''}"
                report.attempts.append(attempt)
                return report
            if res.passed:
                (again,) = backend.execute([prog])
                if again.passed:
                    attempt.outcome = "validated"
                    attempt.seconds = round(time.monotonic() - t0, 3)
                    report.attempts.append(attempt)
                    if on_attempt:
                        on_attempt(attempt)
                    report.status, report.rounds, report.reason = "validated", rnd, ""
                    return report
                attempt.outcome = "flaky"
                attempt.diagnosis = last_diag = (
                    "flaky: passed once, then on a second run: "
                    + describe_failures(again, cases, seed)
                )
                next_msg = repair_message(
                    "repair_cases", lang, cases=describe_failures(again, cases, seed)
                )
            elif res.verdict is Verdict.compile_error:
                attempt.outcome = "compile_error"
                diag = map_lines(res.cases[0].message or res.compile_output, prog.source, ex.code)
                attempt.diagnosis = last_diag = diag
                stage = "compile" if rules_for(lang).lang not in _INTERPRETED else "run"
                next_msg = repair_message("repair_compile", lang, diagnostics=diag, stage=stage)
            else:
                attempt.outcome = "failing_cases"
                attempt.diagnosis = last_diag = describe_failures(res, cases, seed)
                next_msg = repair_message("repair_cases", lang, cases=last_diag)
        attempt.seconds = round(time.monotonic() - t0, 3)
        report.attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)
        report.rounds = rnd
        messages = [*messages, next_msg]
    report.reason = f"not validated after {max_repairs} repair rounds: {last_diag[:600]}"
    return report


def expected_literals(rules: Any, cases: Sequence[Case], rt: Any, python: str) -> list[str]:
    """Expected-value literals a translation must not embed: only distinctive ones.

    Short literals and empty containers (`0`, `true`, `new Map()`, `[]`) occur in honest
    code all the time, and so does a constant the Python function itself contains
    (`return "not found"`); a long literal of any other value does not.
    """
    out = []
    for c in cases:
        v = c.expected
        if isinstance(v, (list, tuple, set, dict, str)) and not v:
            continue
        if (isinstance(v, str) and v in python) or repr(v) in python:
            continue
        lit = render_literal(rules, v, rt)
        if len(lit) >= 8:
            out.append(lit)
    return out


_INTERPRETED = {"js", "lua", "php", "pl", "py", "r", "rb", "rkt", "sh", "jl"}


def success_rates(reports: Sequence[ItemReport], max_repairs: int) -> dict[str, list[float]]:
    """Per language, the share validated after round 0..N (Debugging Success Rate@K)."""
    out: dict[str, list[float]] = {}
    for lang in sorted({r.lang for r in reports}):
        rs = [r for r in reports if r.lang == lang and r.status != "skipped"]
        if not rs:
            continue
        out[lang] = [
            round(sum(r.status == "validated" and r.rounds <= k for r in rs) / len(rs), 4)
            for k in range(max_repairs + 1)
        ]
    return out


def write_reports(
    out: Path, reports: Sequence[ItemReport], published: dict[str, list[dict[str, Any]]]
) -> None:
    """``<lang>.jsonl`` (validated items, CRUXEval-X format), report.jsonl, attempts.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    for lang, items in published.items():
        with (out / f"{lang}.jsonl").open("w", encoding="utf-8") as f:
            for it in items:
                f.write(json.dumps(it, ensure_ascii=False) + "\n")
    with (out / "report.jsonl").open("w", encoding="utf-8") as f:
        for r in reports:
            f.write(
                json.dumps(
                    {
                        "id": r.id,
                        "lang": r.lang,
                        "status": r.status,
                        "reason": r.reason,
                        "rounds": r.rounds,
                        "tokens": r.tokens,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    with (out / "attempts.jsonl").open("w", encoding="utf-8") as f:
        for r in reports:
            f.write(r.model_dump_json() + "\n")
