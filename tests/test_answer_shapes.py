"""Input-prediction answers in the shapes models write them: bare arguments, a call of
``f``, or the harness's own call, fitted to the slot (a whole call in our harness, the
arguments in CRUXEval-X's) and then checked by execution in every host language."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cruxforge.evaluate.check import check_answers
from cruxforge.evaluate.items import locate, read_release
from cruxforge.evaluate.shapes import (
    arguments_of,
    call_head,
    call_heads,
    fit_input_answer,
    slot_shape,
)
from tests.release_helpers import export_demo


def _fit(code: str, slot: str, answer: str, names: tuple[str, ...] = ("f",)) -> str:
    i = code.index(slot)
    return fit_input_answer(code, i, i + len(slot), answer, names)


@pytest.mark.parametrize(
    ("code", "slot", "answer", "want"),
    [
        # our harness masks the whole call
        ("assert candidate(-4096) == 19", "candidate(-4096)", "-4096", "candidate(-4096)"),
        ("assert candidate(-4096) == 19", "candidate(-4096)", "f(-4096)", "candidate(-4096)"),
        ("assert candidate(-4096) == 19", "candidate(-4096)", "candidate(1, 2)", "candidate(1, 2)"),
        ("assert candidate(1) == 19", "candidate(1)", "f(1) + f(2)", "candidate(f(1) + f(2))"),
        ("assert candidate(-4096) == 19", "candidate(-4096)", 'f(")(")', 'candidate(")(")'),
        ("assert candidate(-4096) == 19", "candidate(-4096)", "(1, 2)", "candidate((1, 2))"),
        ("assert(crux_eq(candidate.call(1), 2))", "candidate.call(1)", "f(3)", "candidate.call(3)"),
        ("crux_eq($candidate->(1), 2)", "$candidate->(1)", "f(3, [4])", "$candidate->(3, [4])"),
        ("(crux-equal? (candidate 1) 2)", "(candidate 1)", "(f 3 '(4))", "(candidate 3 '(4))"),
        ("(crux-equal? (candidate 1) 2)", "(candidate 1)", "3 \"x\"", "(candidate 3 \"x\")"),
        ('crux_is str "$(candidate 1)" x', "$(candidate 1)", "$(f 7 8)", "$(candidate 7 8)"),
        ('crux_is str "$(candidate 1)" x', "$(candidate 1)", "7 8", "$(candidate 7 8)"),
        # a harness that calls the function by its own name (Java, Go, C++, C#, Scala)
        ("if (!crux_eq(f(-4096L), 19L))", "f(-4096L)", "-4096L", "f(-4096L)"),
        ("if (!crux_eq(f(-4096L), 19L))", "f(-4096L)", "candidate(5L)", "f(5L)"),
        ("if (!crux_eq(F(1), 2))", "F(1)", "F(3)", "F(3)"),
        # CRUXEval-X masks the arguments: a whole call must not land inside the call
        ("assert candidate(-4096) == 19", "-4096", "candidate(0)", "0"),
        ("assert candidate(-4096) == 19", "-4096", "f(0, 1)", "0, 1"),
        ("assert candidate(-4096) == 19", "-4096", "0", "0"),
        ("(check-equal? (candidate 1) 2)", "1", "(candidate 5)", "5"),
        ('[[ $(candidate 1) = 2 ]]', "1", "$(candidate 5 6)", "5 6"),
    ],
)  # fmt: skip
def test_answers_are_fitted_to_the_slot(code: str, slot: str, answer: str, want: str) -> None:
    names = ("f", "F") if "F(" in code else ("f",)
    assert _fit(code, slot, answer, names) == want


def test_heads_and_arguments() -> None:
    assert call_head("candidate.call(1)") == "candidate.call("
    assert call_head("$candidate->(1)") == "$candidate->("
    assert call_head("f(1)", ["f"]) == "f(" and call_head("f(1)") == ""
    assert call_head("g(1)", ["f"]) == ""
    assert set(call_heads("(candidate ", ["f"])) >= {"(candidate ", "(f ", "f(", "candidate("}
    # a call that closes early is not one call: taken as bare arguments
    assert arguments_of("f(1) + f(2)", ["f("]) == "f(1) + f(2)"
    assert arguments_of("f([1, (2)])", ["f("]) == "[1, (2)]"


LANGS = ["py", "js", "ts", "rb", "pl", "php", "lua", "r", "rkt", "sh", "java", "go", "cpp",
         "cs", "d", "rs", "scala"]  # fmt: skip


def _calls(lang: str, args: str, head: str) -> list[str]:
    """A right answer in each shape: bare arguments, a call of f, the harness's call."""
    f_call = {"rkt": f"(f {args})", "sh": f"$(f {args})"}.get(lang, f"f({args})")
    return [args, f_call, f"{head}{args})"]


@pytest.mark.slow
@pytest.mark.toolchains
def test_every_shape_passes_by_execution_and_wrong_ones_fail(tmp_path: Path, local_backend) -> None:  # type: ignore[no-untyped-def]
    from runtimes.spec import LANGUAGES

    backend = local_backend
    langs = [x for x in LANGS if x in LANGUAGES and backend.doctor(x).available]
    rel = export_demo(tmp_path / "rel", ",".join(langs))
    items = read_release(rel)
    jobs = []
    expect = []
    for lang in langs:
        it = items[lang][0]
        slot = locate(it.code, it.input_reasoning)
        head, whole = slot_shape(it.code, slot.start, slot.end, {"f"})
        assert head and not whole, (lang, it.input_reasoning)  # CRUXEval-X's mask: arguments
        args = slot.original(it.code)
        for answer in _calls(lang, args, head):
            jobs.append((it, "input", answer))
            expect.append((lang, answer, True))
        # a wrong input still fails: demo_1's arguments give another result (or none)
        other = items[lang][1]
        o = locate(other.code, other.input_reasoning).original(other.code)
        jobs.append((it, "input", o))
        expect.append((lang, o, False))
        # a release with the whole call masked (cruxforge's earlier releases): fitted too
        old = dataclasses.replace(
            it, input_reasoning=it.input_reasoning.replace(head + "????)", "????", 1)
        )
        assert locate(old.code, old.input_reasoning).original(old.code) == f"{head}{args})"
        for answer in _calls(lang, args, head):
            jobs.append((old, "input", answer))
            expect.append((lang, f"whole-call mask: {answer}", True))
    outcomes = check_answers(backend, jobs)  # type: ignore[arg-type]
    bad = [
        f"{lang} {answer!r}: {o.verdict} {o.detail[:200]} (ran {o.answer!r})"
        for (lang, answer, want), o in zip(expect, outcomes)
        if o.passed is not want
    ]
    assert not bad, "\n".join(bad)
    fitted = [o for o in outcomes if o.submitted is not None]
    assert fitted and all(o.answer != o.submitted for o in fitted)


@pytest.mark.slow
@pytest.mark.toolchains
def test_the_masked_span_itself_passes_for_every_item(tmp_path: Path, local_backend) -> None:  # type: ignore[no-untyped-def]
    """The right answer always passes, in both tasks, whatever the types: in Lua and R
    some literals are written with our helpers (``crux_set({1, 2})``, ``crux_dict()``),
    which an answer may use."""
    langs = [x for x in ("lua", "r", "rb", "py") if local_backend.doctor(x).available]
    rel = export_demo(tmp_path / "rel", ",".join(langs))
    jobs = [
        (it, task, locate(it.code, it.masked(task)).original(it.code))
        for lang in langs
        for it in read_release(rel)[lang]
        for task in ("input", "output")
    ]
    outcomes = check_answers(local_backend, jobs)  # type: ignore[arg-type]
    bad = [f"{o.lang} {o.task} {o.id} {o.answer!r}: {o.verdict} {o.detail[:200]}"
           for o in outcomes if not o.passed]  # fmt: skip
    assert not bad, "\n".join(bad)
    assert len(outcomes) >= 2 * 20 * len(langs)
