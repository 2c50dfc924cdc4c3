"""Rules proven by execution: value round-trips and harness mutants.

``roundtrip``: render many literals of many types in a language, run a program that
reports each back in canonical text, and compare with Python. ``mutant``: a rendered
harness must *fail* when the expected value is replaced by a different value of the same
type (a test that cannot fail is a bug). Both run on any sandbox backend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cruxforge.models import TypedSeed
from cruxforge.typesys import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    UnionT,
    conforms,
    parse_type,
)
from cruxforge.values import CanonicalSyntaxError, parse_canonical, values_equal
from runtimes.backend import Backend, Program, RunResult, Verdict
from transition_rules.engine import (
    Case,
    Unsupported,
    check_type,
    harness_program,
    render_literal,
    roundtrip_program,
    rules_for,
    seed_case,
)

HARD_STRINGS = [
    "",
    "a",
    "quote \" and ' apostrophe",
    "back\\slash \\n not newline",
    "new\nline\ttab\rcr",
    "nul\x00bell\x07esc\x1bdel\x7f",
    "héllo wörld",
    "日本語",
    "\u3000ideographic space",
    "emoji 😀 and 𝄞",
    "$dollar ${x} @at #hash %s {braces} `tick`",
    "  leading and trailing  ",
    "line\u2028sep\u2029para\x85nel",  # Unicode line breaks inside one value
]


def value_corpus() -> list[tuple[Any, Type]]:
    """A fixed, varied corpus: every type shape, empties, negatives, hard strings."""
    li, ls = ListT(INT), ListT(STR)
    out: list[tuple[Any, Type]] = [
        (0, INT), (-7, INT), (2**40, INT), (-(2**31), INT),
        (2**63 - 1, INT), (-(2**63), INT), ([-(2**63), 2**63 - 1], li),
        (0.5, FLOAT), (-2.25, FLOAT), (1e-7, FLOAT), (3.0, FLOAT), (123456.789, FLOAT),
        (True, BOOL), (False, BOOL),
        (None, NONE),
        ([], li), ([1, -2, 3], li), ([], ls), (["a", "b\nc"], ls),
        ([[1], [], [2, 3]], ListT(li)), ([[]], ListT(ls)),
        ((1, "x"), TupleT((INT, STR))), ((True, -1.5, "y"), TupleT((BOOL, FLOAT, STR))),
        ((2,), TupleT((INT,))),
        ([(1, "a"), (2, "b")], ListT(TupleT((INT, STR)))),
        ({}, DictT(STR, INT)), ({"a": 1, "b": -2}, DictT(STR, INT)),
        ({1: "x", -3: "y"}, DictT(INT, STR)), ({"k": [1, 2], "e": []}, DictT(STR, li)),
        ({"o": {"i": True}}, DictT(STR, DictT(STR, BOOL))),
        (set(), SetT(INT)), ({3, 1, 2}, SetT(INT)), ({"x", "y"}, SetT(STR)),
        (None, OptionalT(INT)), (5, OptionalT(INT)), ("s", OptionalT(STR)),
        ([1, None, 3], ListT(OptionalT(INT))),
        ({"a": None, "b": 2}, DictT(STR, OptionalT(INT))),
        (7, UnionT((INT, STR))), ("seven", UnionT((INT, STR))), (-7, UnionT((INT, STR))),
        # Optional (pointer / null) keys and members
        ({None: 1, 2: 3}, DictT(OptionalT(INT), INT)), ({None, 4}, SetT(OptionalT(INT))),
        ({(1, None): "a", (2, 5): "b"}, DictT(TupleT((INT, OptionalT(INT))), STR)),
    ]  # fmt: skip
    out += [(s, STR) for s in HARD_STRINGS]
    out.append((HARD_STRINGS, ls))
    return out


# ---------------------------------------------------------------- mutation


def example_value(t: Type) -> Any:
    """Some non-empty value of type ``t`` (for mutating empty containers)."""
    if isinstance(t, Prim):
        return {"int": 3, "float": 2.5, "bool": True, "str": "m", "None": None}[t.name]
    if isinstance(t, ListT):
        return [example_value(t.elem)]
    if isinstance(t, SetT):
        return {example_value(t.elem)}
    if isinstance(t, TupleT):
        return tuple(example_value(e) for e in t.elems)
    if isinstance(t, DictT):
        return {example_value(t.key): example_value(t.value)}
    if isinstance(t, OptionalT):
        return example_value(t.inner)
    if isinstance(t, UnionT):
        return example_value(t.arms[0])
    raise ValueError(f"no example value for {t}")


def mutate(v: Any, t: Type) -> Any:
    """A different value of the same type, or raise ValueError when none exists (None)."""
    if isinstance(t, OptionalT):
        return example_value(t.inner) if v is None else None
    if isinstance(t, UnionT):
        arm = next(a for a in t.arms if conforms(v, a))
        return mutate(v, arm)
    if isinstance(t, Prim):
        if t.name == "None":
            raise ValueError("type None has a single value: no mutant exists")
        if t.name == "bool":
            return not v
        if t.name == "int":
            return v + 1 if v < 2**62 else v - 1
        if t.name == "float":
            return v + 1.5 if v == v else 0.0
        return v + "x"
    if isinstance(t, ListT):
        return [mutate(v[0], t.elem), *v[1:]] if v else [example_value(t.elem)]
    if isinstance(t, TupleT):
        if not t.elems:
            raise ValueError("the empty tuple has a single value: no mutant exists")
        for i, (x, e) in enumerate(zip(v, t.elems)):
            try:
                return tuple(mutate(x, e) if j == i else y for j, y in enumerate(v))
            except ValueError:
                continue
        raise ValueError(f"no mutant of {t}")
    if isinstance(t, SetT):
        if v:
            return set(list(v)[1:])
        return {example_value(t.elem)}
    if isinstance(t, DictT):
        if v:
            k = next(iter(v))
            try:
                return {**v, k: mutate(v[k], t.value)}
            except ValueError:
                return {x: y for x, y in v.items() if x != k}
        return {example_value(t.key): example_value(t.value)}
    raise ValueError(f"no mutant of {t}")


# ---------------------------------------------------------------- checks


@dataclass
class ProofResult:
    lang: str
    check: str
    ok: bool
    detail: str = ""
    failures: list[str] = field(default_factory=list)


def run_roundtrip(
    backend: Backend,
    lang: str,
    values: Sequence[tuple[Any, Type]] | None = None,
    dialect: str | None = None,
) -> ProofResult:
    rules = rules_for(lang, dialect)
    carried: list[tuple[Any, Type]] = []
    skipped: list[str] = []
    for v, t in values if values is not None else value_corpus():
        try:
            check_type(rules, t)
            render_literal(rules, v, t)
        except Unsupported as e:
            skipped.append(f"{t}: {e.code}")
            continue
        carried.append((v, t))
    prog = roundtrip_program(rules, carried, f"roundtrip:{lang}")
    (res,) = backend.execute([prog])
    failures = []
    for (v, t), cv in zip(carried, res.cases):
        if cv.verdict is not Verdict.wrong_answer or cv.actual is None:
            failures.append(f"{t} {v!r}: {cv.verdict.value} {cv.message or ''}".strip())
            continue
        try:
            back = parse_canonical(cv.actual, t)
        except CanonicalSyntaxError as e:
            failures.append(f"{t} {v!r}: unparsable {cv.actual!r}: {e}")
            continue
        if not values_equal(back, v):
            failures.append(f"{t} {v!r}: came back as {cv.actual!r}")
    if not res.cases and carried:
        failures.append(f"no verdicts: {_why(res)}")
    detail = f"{len(carried)} values, {len(skipped)} unsupported"
    return ProofResult(lang, "roundtrip", not failures, detail, failures)


def _why(res: RunResult) -> str:
    return (res.compile_output or res.stderr or res.stdout)[-800:]


def harness_and_mutant(
    lang: str,
    seed: TypedSeed,
    function: str,
    cases: list[Case] | None = None,
    dialect: str | None = None,
) -> tuple[Program, Program | None]:
    """The harness with the gold cases, and one whose expected values are all mutated
    (in ``dialect``'s conventions when given: ``seed.entry`` is the name there)."""
    rules = rules_for(lang, dialect)
    cases = cases or [seed_case(seed)]
    gold = harness_program(rules, seed, function, cases, program_id=f"{seed.id}:{lang}")
    rt = seed.signature.result_type()
    try:
        mutated = [Case(c.args, mutate(c.expected, rt)) for c in cases]
    except ValueError:
        return gold, None
    mut = harness_program(rules, seed, function, mutated, program_id=f"{seed.id}:{lang}:mutant")
    return gold, mut


def load_references(path: Path) -> dict[str, str]:
    """``{"id": ..., "code": <function>}`` lines of a demo reference file."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["id"]] = rec["code"]
    return out


__all__ = [
    "ProofResult",
    "example_value",
    "harness_and_mutant",
    "load_references",
    "mutate",
    "parse_type",
    "run_roundtrip",
    "value_corpus",
]
