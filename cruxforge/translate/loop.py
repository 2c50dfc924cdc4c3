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
    fence,
    repair_message,
    translate_messages,
)
from cruxforge.translate.response import extract_function
from cruxforge.values import canonical
from runtimes.backend import Backend, Program, RunResult, Verdict
from transition_rules.engine import (
    Case,
    Unsupported,
    check_seed,
    harness_program,
    render_literal,
    render_stub,
    rules_for,
)

FORMAT = 2  # 2: origin and draft_note
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
    # where round 0's answer came from: "draft" (given, --drafts), "draft+repair" (a
    # draft the drafter then repaired), or the drafter's name (llm, reference, replay)
    origin: str | None = None
    draft_note: str = ""  # why an item meant to start from a draft had none
    reused: bool = False  # read back from the item store in this run (not recomputed)
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


class ItemRun:
    """One item's way through the loop, one step at a time, so a round engine can drive
    many items at once (every answer of a round requested together, every program of a
    round in one ``execute`` call) and a single item runs the same steps alone
    (:func:`translate_item`). The item's conversation, attempts and verdict depend only on
    its own answers and runs, never on which other items share its rounds.

    ``draft``: round 0's answer given in advance (a function from an existing benchmark,
    ``--drafts``); the drafter answers only the repair rounds. ``draft_note`` says why an
    item that was to have a draft has none (the drafter then writes round 0).
    """

    def __init__(
        self,
        seed: TypedSeed,
        lang: str,
        cases: Sequence[Case],
        max_repairs: int = 3,
        *,
        draft: str | None = None,
        draft_note: str = "",
        origin: str | None = None,
    ) -> None:
        self.seed, self.lang, self.cases, self.max_repairs = seed, lang, list(cases), max_repairs
        self.rules = rules_for(lang)
        self.draft = draft
        self.report = ItemReport(
            id=seed.id, lang=lang, status="failed", n_cases=len(cases), draft_note=draft_note
        )
        self.report.origin = "draft" if draft is not None else origin
        self.done = False
        self.round = 0
        self.program: Program | None = None  # this round's program, when there is one
        self._attempt: Attempt | None = None
        self._next: dict[str, str] | None = None
        self._last_diag = ""
        self._t0 = 0.0
        try:
            check_seed(self.rules, seed, list(cases))
        except Unsupported as e:
            self.report.status, self.report.reason = "skipped", f"{e.code}: {e.message}"
            self.done = True
            return
        self.stub = render_stub(self.rules, seed)
        self.messages = translate_messages(seed, lang, self.stub, fewshot_code(lang))
        rt = seed.signature.result_type()
        self.forbidden = expected_literals(self.rules, self.cases[:1], rt, seed.code)

    # ------------------------------------------------------------ one round

    def needs_drafter(self) -> bool:
        """Whether this round's answer must come from the drafter (not a given draft)."""
        return not self.done and not (self.round == 0 and self.draft is not None)

    def answer(self, drafter: Drafter | None) -> Answer | DraftUnavailable:
        """This round's answer (the given draft in round 0), or why there is none."""
        if self.round == 0 and self.draft is not None:
            return Answer(text=f"```{fence(self.lang)}\n{self.draft}\n```")
        if drafter is None:
            return DraftUnavailable("no translator to repair with (--translator none)")
        try:
            return drafter.answer(self.seed, self.lang, self.messages)
        except DraftUnavailable as e:
            return e

    def take_answer(self, ans: Answer | DraftUnavailable) -> Program | None:
        """Read the round's answer; the program to run, or None (no usable code)."""
        self._t0 = time.monotonic()
        self.program = None
        rnd = self.round
        if isinstance(ans, DraftUnavailable):
            if self.round > 0 and self.draft is not None and self.report.origin == "draft":
                # the draft failed and nothing can repair it: say where it failed
                self.report.reason = f"draft failed, not repaired ({ans}): {self._last_diag[:600]}"
            else:
                self.report.reason = f"no_answer: {ans}"
            self.report.rounds = max(0, rnd - 1)
            self.done = True
            return None
        if rnd > 0 and self.report.origin == "draft":
            self.report.origin = "draft+repair"
        self.report.tokens += ans.prompt_tokens + ans.completion_tokens
        self.messages = [*self.messages, {"role": "assistant", "content": ans.text}]
        self._attempt = Attempt(
            round=rnd,
            messages_sent=len(self.messages) - 1,
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
            self.lang,
            ans.text,
            self.seed.entry,
            arity=len(self.seed.signature.params),
            forbidden=self.forbidden,
        )
        if ans.finish_reason == "length" and ex.code is None:
            ex = type(ex)(
                None,
                "the answer was cut off (maximum length reached); answer with the function only",
            )
        if ex.code is None:
            self._attempt.diagnosis = self._last_diag = ex.problem or "unusable answer"
            self._next = repair_message(
                "repair_response",
                self.lang,
                problem=self._last_diag,
                entry=self.seed.entry,
                stub=self.stub,
            )
            return None
        self._attempt.code = self.report.code = ex.code
        self.program = harness_program(self.rules, self.seed, ex.code, self.cases)
        return self.program

    def take_result(self, res: RunResult) -> bool:
        """Read the run of this round's program; True when it passed and must run again
        (the flakiness check)."""
        assert self._attempt is not None and self.program is not None
        att = self._attempt
        att.verdicts = [c.verdict.value for c in res.cases]
        if res.verdict is Verdict.infra_error:
            self.report.reason = f"infra_error: {res.cases[0].message if res.cases else ''}"
            self.report.attempts.append(att)
            self.done = True
            return False
        if res.passed:
            return True
        if res.verdict is Verdict.compile_error:
            att.outcome = "compile_error"
            diag = map_lines(
                res.cases[0].message or res.compile_output, self.program.source, att.code or ""
            )
            att.diagnosis = self._last_diag = diag
            stage = "run" if self.lang in interpreted_languages() else "compile"
            self._next = repair_message("repair_compile", self.lang, diagnostics=diag, stage=stage)
        else:
            att.outcome = "failing_cases"
            att.diagnosis = self._last_diag = describe_failures(res, self.cases, self.seed)
            self._next = repair_message("repair_cases", self.lang, cases=self._last_diag)
        return False

    def take_rerun(self, again: RunResult) -> None:
        """Read the second run of a program that passed once."""
        assert self._attempt is not None
        att = self._attempt
        if again.passed:
            att.outcome = "validated"
            att.seconds = round(time.monotonic() - self._t0, 3)
            self.report.attempts.append(att)
            self.report.status, self.report.rounds, self.report.reason = (
                "validated",
                self.round,
                "",
            )
            self.done = True
            return
        if again.verdict is Verdict.infra_error:
            self.take_result(again)
            return
        att.outcome = "flaky"
        failures = describe_failures(again, self.cases, self.seed)
        att.diagnosis = self._last_diag = "flaky: passed once, then on a second run: " + failures
        self._next = repair_message("repair_cases", self.lang, cases=failures)

    def end_round(self) -> None:
        """Close the round: record the attempt and queue the repair message (or give up)."""
        if self.done:
            return
        assert self._attempt is not None and self._next is not None
        self._attempt.seconds = round(time.monotonic() - self._t0, 3)
        self.report.attempts.append(self._attempt)
        self.report.rounds = self.round
        self._attempt = None
        self.program = None
        if self.round >= self.max_repairs:
            self.report.reason = (
                f"not validated after {self.max_repairs} repair rounds: {self._last_diag[:600]}"
            )
            if self.report.origin in ("draft", "draft+repair") and self.round == 0:
                self.report.reason = f"draft failed: {self._last_diag[:600]}"
            self.done = True
            return
        self.messages = [*self.messages, self._next]
        self._next = None
        self.round += 1


def translate_item(
    seed: TypedSeed,
    lang: str,
    cases: Sequence[Case],
    drafter: Drafter | None,
    backend: Backend,
    max_repairs: int = 3,
    on_attempt: Callable[[Attempt], None] | None = None,
    *,
    draft: str | None = None,
) -> ItemReport:
    """One item alone: each round's program runs as its own ``execute`` call (the serial
    loop; builds drive many items at once with :mod:`cruxforge.translate.rounds`)."""
    run = ItemRun(
        seed, lang, cases, max_repairs, draft=draft, origin=getattr(drafter, "name", None)
    )
    while not run.done:
        n = len(run.report.attempts)
        prog = run.take_answer(run.answer(drafter))
        if prog is not None:
            (res,) = backend.execute([prog])
            if run.take_result(res):
                (again,) = backend.execute([prog])
                run.take_rerun(again)
        run.end_round()
        if on_attempt:
            for a in run.report.attempts[n:]:
                on_attempt(a)
    return run.report


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


@cache
def interpreted_languages() -> frozenset[str]:
    """Languages without a compile step (their runtime spec has no ``compile``): a
    failed start is a run-time error there, told to the model as such."""
    from runtimes.spec import LANGUAGES, get_spec

    return frozenset(x for x in LANGUAGES if not get_spec(x).compile)


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
