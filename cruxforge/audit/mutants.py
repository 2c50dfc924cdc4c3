"""Published tests that cannot fail: the item's code with a wrong expected value planted.

The expected value's literal, as the language's rules write it, is looked for as a
whole token in the text after the function, from the end (the test comes last); each of
the last few places it stands gives one mutant program with a different value of the
same type there. A test that still passes on every mutant
checks nothing: the item is ``untestable`` (a swallowed assertion, a test compiled
out, a harness that only prints). Where the literal is not in the test (another
dialect's literal forms), no mutant is planted and the record says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cruxforge.models import TypedSeed
from runtimes.backend import Program
from transition_rules.batch import published_parts
from transition_rules.engine import Unsupported, natural_result_rules, render_literal
from transition_rules.parsing import FunctionNotFound, function_end, token_pattern
from transition_rules.proof import mutate
from transition_rules.schema import RuleFile

MAX_PLACES = 3  # mutants per item: places the expected literal may stand in the test


def _places(code: str, literal: str, start: int) -> list[int]:
    """Where ``literal`` stands as a whole token after ``start``: the last MAX_PLACES
    (the test comes last; helpers between the function and the test may hold the same
    text, e.g. Ruby's ``true``)."""
    found = [m.start() for m in re.finditer(token_pattern(literal), code[start:])]
    return [start + at for at in found[-MAX_PLACES:]]


@dataclass(frozen=True)
class Planted:
    programs: list[Program]
    why_none: str = ""  # when no mutant could be planted


def plant_wrong_expected(
    rules: RuleFile, seed: TypedSeed, code: str, program_id: str
) -> Planted:
    """The item's code with its expected value replaced, once per place it stands."""
    rt = seed.signature.result_type()
    try:
        wrong = mutate(seed.result_value(), rt)
        # the expected value as the language's own test writes it (its literals need no
        # helper of ours, so its wrong value suits either test), else as our harness does
        forms = [[render_literal(r, v, rt) for v in (seed.result_value(), wrong)]
                 for r in (natural_result_rules(rules), rules)]  # fmt: skip
        start = function_end(rules.lang, code, seed.entry)
    except ValueError as e:
        return Planted([], f"no wrong value of the result type to plant ({e})")
    except Unsupported as e:
        return Planted([], f"{e.code}: {e.message}")
    except FunctionNotFound as e:
        return Planted([], str(e))
    for helpers in (rules.published.prelude.strip(), rules.published.natural.prelude.strip()
                    if rules.published.natural else ""):  # fmt: skip
        if helpers and code.find(helpers, start) >= 0:  # our own published form: the
            start = code.find(helpers, start) + len(helpers)  # test is after its helpers
    hit = next(((e, w, at) for e, w in forms if (at := _places(code, e, start))), None)
    if hit is None:
        return Planted([], f"the expected value's literal {forms[0][0][:80]!r} is not in the test")
    expected, planted, places = hit
    sources = [code[:at] + planted + code[at + len(expected) :] for at in places]
    return Planted(
        [
            Program(
                id=f"{program_id}:mutant{i}",
                lang=rules.lang,
                source=source,
                n_cases=1,
                judge="exit_status",
                variant="published",
                parts=published_parts(rules, source),
            )
            for i, source in enumerate(sources)
        ]
    )
