"""Agreement test cases: more inputs than the seed's one example.

A translation is validated only when it agrees with Python on all of them (CRUXEval-X
validated on the single example, so translations right on one input and wrong on
others shipped). Candidates come from type-aware mutation of the seed's own arguments
and from hypothesis strategies built from the parameter types (derandomized, so a build
is reproducible); the Python seed is then run on each in the sandboxed seed runner, and
only inputs on which it returns a value of the signature's result type, without error,
within limits, identically under two hash seeds, are kept.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cruxforge.models import Seed, TypedSeed
from cruxforge.typesys import (
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    UnionT,
    conforms,
)
from cruxforge.values import canonical
from transition_rules.engine import Case
from transition_rules.proof import example_value

DEFAULT_COUNT = 10


# ---------------------------------------------------------------- mutation


def _mutations(v: Any, t: Type, rng: random.Random) -> list[Any]:
    """Nearby values of the same type (small edits keep seeds' preconditions mostly true)."""
    if isinstance(t, OptionalT):
        if v is None:
            return [example_value(t.inner)]
        return [None, *_mutations(v, t.inner, rng)]
    if isinstance(t, UnionT):
        arm = next((a for a in t.arms if conforms(v, a)), t.arms[0])
        return _mutations(v, arm, rng) + [example_value(a) for a in t.arms if a != arm]
    if isinstance(t, Prim):
        if t.name == "int":
            return [v + 1, v - 1, -v, v * 2, 0, v + rng.randint(2, 9)]
        if t.name == "float":
            return [v + 0.5, -v, v * 2, 0.0]
        if t.name == "bool":
            return [not v]
        if t.name == "str":
            out = [v[::-1], v + v[:1], v.upper(), v.lower(), v.swapcase(), "", "a" + v]
            if len(v) > 1:
                i = rng.randrange(len(v))
                out += [v[:i] + v[i + 1 :], v[1:], v[:-1]]
            return out
        return []
    if isinstance(t, ListT):
        out = [list(reversed(v)), v + v[:1], [], v + [example_value(t.elem)]]
        if v:
            i = rng.randrange(len(v))
            out += [v[:i] + v[i + 1 :]]
            out += [v[:i] + [m] + v[i + 1 :] for m in _mutations(v[i], t.elem, rng)[:2]]
        return out
    if isinstance(t, SetT):
        sets: list[Any] = [set(), v | {example_value(t.elem)}]
        if v:
            sets.append(set(list(v)[1:]))
        return sets
    if isinstance(t, DictT):
        out = [{}, {**v, example_value(t.key): example_value(t.value)}]
        if v:
            k = rng.choice(list(v))
            out.append({x: y for x, y in v.items() if x != k})
            out += [{**v, k: m} for m in _mutations(v[k], t.value, rng)[:2]]
        return out
    if isinstance(t, TupleT):
        out = []
        for i, (x, e) in enumerate(zip(v, t.elems)):
            out += [
                tuple(m if j == i else y for j, y in enumerate(v))
                for m in _mutations(x, e, rng)[:2]
            ]
        return out
    return []


# ---------------------------------------------------------------- hypothesis


def strategy_for(t: Type) -> st.SearchStrategy[Any]:
    """Small values of type ``t`` (small, so seeds' loops stay fast)."""
    if isinstance(t, Prim):
        return {
            "int": st.integers(-20, 20),
            "float": st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 3)),
            "bool": st.booleans(),
            "str": st.text(alphabet="abcxyzABC 012_-.,!é", max_size=8),
            "None": st.none(),
        }[t.name]
    if isinstance(t, ListT):
        return st.lists(strategy_for(t.elem), max_size=6)
    if isinstance(t, SetT):
        return st.sets(strategy_for(t.elem), max_size=5)
    if isinstance(t, DictT):
        return st.dictionaries(strategy_for(t.key), strategy_for(t.value), max_size=4)
    if isinstance(t, TupleT):
        return st.tuples(*(strategy_for(e) for e in t.elems))
    if isinstance(t, OptionalT):
        return st.one_of(st.none(), strategy_for(t.inner))
    if isinstance(t, UnionT):
        return st.one_of(*(strategy_for(a) for a in t.arms))
    raise ValueError(f"no strategy for {t}")


def _generated(types: list[Type], count: int) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(*(strategy_for(t) for t in types)))
    def collect(args: tuple[Any, ...]) -> None:
        out.append(args)

    collect()
    return out


# ---------------------------------------------------------------- selection


def candidate_inputs(
    seed: TypedSeed, want: int = DEFAULT_COUNT, rng_seed: int = 0
) -> list[tuple[Any, ...]]:
    """Distinct argument tuples of the seed's parameter types, mutations first."""
    types = seed.signature.param_types()
    base = tuple(seed.arg_values())
    rng = random.Random(f"{seed.id}:{rng_seed}")
    seen = {canonical(base)}
    out: list[tuple[Any, ...]] = []

    def add(args: tuple[Any, ...]) -> None:
        if len(args) != len(types) or not all(conforms(a, t) for a, t in zip(args, types)):
            return
        key = canonical(args)
        if key not in seen:
            seen.add(key)
            out.append(args)

    for i, t in enumerate(types):
        for m in _mutations(base[i], t, rng):
            add(tuple(m if j == i else a for j, a in enumerate(base)))
    rng.shuffle(out)
    mutated = out[: want * 2]
    out = list(mutated)
    if types:
        for args in _generated(types, want * 3):
            add(args)
    return out[: want * 4]


RunCalls = Callable[[TypedSeed, Sequence[tuple[Any, ...]]], list[Any]]


def agreement_cases(
    seed: TypedSeed,
    run_calls: RunCalls,
    want: int = DEFAULT_COUNT,
    rng_seed: int = 0,
    inputs: Sequence[tuple[Any, ...]] | None = None,
) -> list[Case]:
    """The seed's own case first, then up to ``want`` generated ones Python agrees on.

    ``run_calls(seed, inputs)`` returns, per input, the Python result or an Exception
    (raised, timed out, nondeterministic ...); those inputs are dropped. ``inputs``: the
    seed's :func:`candidate_inputs`, when the caller already made them.
    """
    rt = seed.signature.result_type()
    cases = [Case(tuple(seed.arg_values()), seed.result_value())]
    if inputs is None:
        inputs = candidate_inputs(seed, want, rng_seed)
    for args, res in zip(inputs, run_calls(seed, inputs)):
        if isinstance(res, Exception) or not conforms(res, rt):
            continue
        cases.append(Case(args, res))
        if len(cases) > want:
            break
    return cases


def probe_seed(seed: TypedSeed, args: tuple[Any, ...], index: int) -> Seed:
    """A pseudo-seed calling the seed's function on generated arguments."""
    text = ", ".join(_py_literal(a) for a in args)
    return Seed(
        id=f"{seed.id}#agree{index}",
        code=seed.code,
        input=text,
        output="None",
        entry=seed.entry,
        source=f"agreement input {index} of {seed.id}",
    )


def _py_literal(v: Any) -> str:
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return f"float({repr(v)!r})"
    if isinstance(v, (set, frozenset)) and not v:
        return "set()"
    if isinstance(v, list):
        return "[" + ", ".join(_py_literal(x) for x in v) + "]"
    if isinstance(v, tuple):
        inner = ", ".join(_py_literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, (set, frozenset)):
        return "{" + ", ".join(_py_literal(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_py_literal(k)}: {_py_literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def python_run_calls(
    seed: TypedSeed, inputs: Sequence[tuple[Any, ...]], options: Any = None
) -> list[Any]:
    """Run the Python seed on each input in the sandboxed seed runner, twice.

    An input is answered with its result only when both runs (two PYTHONHASHSEEDs)
    returned the same value without raising, printing, or exceeding limits.
    """
    return python_run_many([(seed, inputs)], options)[0]


def python_run_many(
    jobs: Sequence[tuple[TypedSeed, Sequence[tuple[Any, ...]]]], options: Any = None
) -> list[list[Any]]:
    """:func:`python_run_calls` for many seeds at once: their probes share the runner's
    child interpreters (batches of ``RunOptions.batch_size`` calls, ``jobs`` at a time)
    instead of two children per seed."""
    from concurrent.futures import ThreadPoolExecutor

    from cruxforge.seeds.validate import HASH_SEEDS, RunOptions, run_batch

    opts = options or RunOptions(timeout=2.0)
    probes = [[probe_seed(seed, a, i) for i, a in enumerate(ins)] for seed, ins in jobs]
    flat = [p for ps in probes for p in ps]
    if not flat:
        return [[] for _ in jobs]
    size = max(1, min(opts.batch_size, -(-len(flat) // max(1, opts.jobs))))
    chunks = [flat[i : i + size] for i in range(0, len(flat), size)]
    runs: dict[int, dict[str, dict[str, Any]]] = {h: {} for h in HASH_SEEDS}
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        work = [(h, pool.submit(run_batch, c, h, opts)) for c in chunks for h in HASH_SEEDS]
        for h, fut in work:
            runs[h].update(fut.result())
    return [_agreed(ps, [runs[h] for h in HASH_SEEDS]) for ps in probes]


def _agreed(probes: Sequence[Seed], runs: Sequence[dict[str, dict[str, Any]]]) -> list[Any]:
    """Per probe, its result when both runs agree on it, else why not (an Exception)."""
    from cruxforge.seeds._runner import strict_key
    from cruxforge.values import from_wire

    out: list[Any] = []
    for p in probes:
        recs = [r.get(p.id) for r in runs]
        usable = all(
            r is not None
            and "result" in r
            and (r["ok"] or r["code"] == "output_mismatch")
            and not r.get("printed")
            for r in recs
        )
        if not usable:
            why = next(
                (
                    f"{r['code']}: {r['message']}"
                    for r in recs
                    if r and not r["ok"] and r["code"] != "output_mismatch"
                ),
                "no usable result",
            )
            out.append(RuntimeError(why))
        elif strict_key(recs[0]["result"]) != strict_key(recs[1]["result"]):  # type: ignore[index]
            out.append(RuntimeError("nondeterministic on this input"))
        else:
            out.append(from_wire(recs[0]["result"]))  # type: ignore[index]
    return out
