"""Evaluation verdicts unchanged by the natural tests (issue 15).

Demo items that a language publishes with its own test (the natural one, or the close
test of a float result; a float result first, then one item per result type) are also
rendered with our helper's test, the form every item had before. The same answers are
checked in both through ``evaluate``'s own path (slot, fitting, screen, sentinel,
execution through the batched engine): the right output, a wrong value of the result
type, the right arguments and arguments that give another result. The verdicts must
agree item by item.

Not among the answers: a value of another type that a language's == takes as equal
(Ruby's and Lua's ``2.0`` for ``2``, as Python's own test does); the natural test passes
it where our helper does not (docs/published-items.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cruxforge.evaluate.check import check_answers
from cruxforge.evaluate.items import EvalItem, Task, locate
from runtimes.backend import Backend, get_backend
from tests.conftest import DOCKER_ONLY
from tests.test_published_natural import NATURAL, _has_mutant, _with_helper, natural_items
from transition_rules.engine import Case, PublishedItem, render_published, rules_for, seed_case
from transition_rules.proof import mutate

PER_LANGUAGE = 5  # every program here runs alone: a compile each in compiled languages


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    b = get_backend("batched")
    yield b
    b.close()


def _eval_item(lang: str, it: PublishedItem) -> EvalItem:
    return EvalItem(id=str(it.id), lang=lang, code=it.code, input_reasoning=it.input_reasoning,
                    output_reasoning=it.output_reasoning, line=0)  # fmt: skip


def _slot_text(it: PublishedItem, task: Task) -> str:
    """What the mask hides in ``task``: the arguments, or the expected value."""
    masked = it.input_reasoning if task == "input" else it.output_reasoning
    return locate(it.code, masked).original(it.code)


@pytest.mark.slow
@pytest.mark.toolchains
def test_evaluation_verdicts_agree_with_our_helpers_item_by_item(backend: Backend) -> None:
    jobs: list[tuple[EvalItem, Task, str]] = []
    keys: list[str] = []
    right: list[bool] = []  # the item's own answer (passes in both)
    for lang in NATURAL:
        status = backend.doctor(lang)
        if not status.available:
            print(f"SKIP {lang}: {DOCKER_ONLY.get(lang, '')} {status.reason}")
            continue
        helper = _with_helper(rules_for(lang))
        # with our helper's test the text is the same either way: only these differ
        for seed, fn, it in natural_items(lang, PER_LANGUAGE):
            ours = render_published(helper, seed, fn)
            case = seed_case(seed)
            answers: list[tuple[Task, str]] = [
                ("output", _slot_text(it, "output")),
                ("input", _slot_text(it, "input")),
            ]
            n_right = len(answers)
            if _has_mutant(seed):
                wrong = render_published(
                    rules_for(lang), seed, fn,
                    Case(case.args, mutate(case.expected, seed.signature.result_type())),
                )  # fmt: skip
                answers.append(("output", _slot_text(wrong, "output")))
            if case.args:
                t0 = seed.signature.param_types()[0]
                other = render_published(
                    rules_for(lang), seed, fn, Case((mutate(case.args[0], t0), *case.args[1:]),
                                                    case.expected),
                )  # fmt: skip
                answers.append(("input", _slot_text(other, "input")))
            for j, (task, answer) in enumerate(answers):
                for form, item in (("natural", it), ("helper", ours)):
                    jobs.append((_eval_item(lang, item), task, answer))
                    keys.append(f"{lang} {seed.id} {task} {answer[:60]!r} [{form}]")
                    right.append(j < n_right)
    outcomes = check_answers(backend, jobs)
    assert len(outcomes) == len(jobs) and len(jobs) > 400, len(jobs)
    bad = []
    for i in range(0, len(outcomes), 2):
        nat, ours = outcomes[i], outcomes[i + 1]
        if (nat.passed, nat.verdict) != (ours.passed, ours.verdict):
            bad.append(f"{keys[i]}: {nat.verdict} {nat.detail[:150]!r} / helper {ours.verdict}")
    assert not bad, "\n".join(bad[:40])
    failed = [f"{k}: {o.verdict} {o.detail[:150]!r}"
              for k, o, r in zip(keys, outcomes, right) if r and not o.passed]  # fmt: skip
    assert not failed, "\n".join(failed[:40])
    assert sum(not o.passed for o in outcomes) > len(outcomes) // 8  # wrong answers fail
