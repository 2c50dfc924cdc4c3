"""Seed validation: every reason code is reachable, and real subprocesses enforce limits."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from cruxforge.models import Seed
from cruxforge.seeds import _runner
from cruxforge.seeds.static import static_check
from cruxforge.seeds.validate import RunOptions, RunOutcome, validate_seeds
from cruxforge.values import from_wire, to_wire

OPTS = RunOptions(timeout=20.0, memory_mb=256, jobs=2)


def _seed(sid: str, code: str, inp: str = "", out: str = "None", entry: str = "f") -> Seed:
    return Seed(id=sid, code=code, input=inp, output=out, entry=entry)


def _codes(outcomes: list[RunOutcome]) -> dict[str, str | None]:
    return {o.seed.id: (o.reason.code if o.reason else None) for o in outcomes}


STATIC = [
    ("syntax", "def f(x):\n    return x +\n", "1", "1", "syntax_error"),
    ("noentry", "def g(x):\n    return x\n", "1", "1", "no_entry_function"),
    ("imp", "import math\ndef f(x):\n    return math.floor(x)\n", "1.5", "1", "uses_import"),
    ("imp2", "def f(x):\n    from os import path\n    return x\n", "1", "1", "uses_import"),
    ("io", "def f(x):\n    print(x)\n    return x\n", "1", "1", "uses_io"),
    ("open", "def f(p):\n    return open(p).read()\n", "'x'", "''", "uses_io"),
    ("eval", "def f(s):\n    return eval(s)\n", "'1'", "1", "uses_reflection"),
    ("dunder", "def f(x):\n    return x.__class__\n", "1", "int", "uses_reflection"),
    ("rand", "def f(x):\n    return random.random() + x\n", "1", "1", "uses_nondeterminism"),
    ("hash", "def f(x):\n    return hash(x)\n", "'a'", "1", "uses_nondeterminism"),
    ("in_input", "def f(x):\n    return x\n", "__import__('os').getpid()", "1", "uses_reflection"),
    ("badin", "def f(x):\n    return x\n", "1,, 2", "1", "bad_input"),
    ("var", "def f(*xs):\n    return len(xs)\n", "1, 2", "2", "untypable"),
]


def test_static_reasons() -> None:
    for sid, code, inp, out, want in STATIC:
        r = static_check(_seed(sid, code, inp, out))
        assert r is not None and r.code == want, (sid, r)
        assert sid in r.message


def test_static_allows_bound_module_names() -> None:
    code = "def f(string, time):\n    return string.upper() + str(time)\n"
    assert static_check(_seed("ok", code, "'a', 1", "'A1'")) is None


def test_every_runtime_reason_and_isolation() -> None:
    seeds = [
        _seed("ok1", "def f(xs):\n    xs.append(len(xs))\n    return xs\n", "[5, 6]", "[5, 6, 2]"),
        _seed("loop", "def f(n):\n    while True:\n        n += 1\n", "0"),
        _seed("ok2", "def f(a, b=2):\n    return a * b\n", "a=3", "6"),
        _seed(
            "stubborn",  # eats the child's SIGALRM: the parent must kill the process group
            "def f(n):\n    while True:\n        try:\n            while True:\n"
            "                n += 1\n        except BaseException:\n            pass\n",
            "0",
        ),
        # grows without bound (calloc'd, so it hits the limit fast even on slow page faults)
        _seed("mem", "def f(n):\n    xs = []\n    while True:\n        xs.append(bytearray(n))\n",
              "10 ** 7"),
        _seed("mem2", "def f(n):\n    return len('x' * n)\n", "10 ** 10", "10 ** 10"),
        _seed("raise", "def f(xs):\n    return xs[10]\n", "[1]", "1"),
        _seed("modraise", "X = 1 // 0\ndef f(x):\n    return x\n", "1", "1"),
        _seed("badin", "def f(x):\n    return x\n", "undefined_name", "1"),
        _seed("arity", "def f(x):\n    return x\n", "1, 2", "1"),
        _seed("badout", "def f(x):\n    return x\n", "1", "nope + 1"),
        _seed("prints", "def f(x):\n    p = print\n    p('hello')\n    return x\n", "1", "1"),
        _seed("boolint", "def f(x):\n    return x > 0\n", "1", "1"),
        _seed("intfloat", "def f(x):\n    return x * 2\n", "1", "2.0"),
        _seed("tuplelist", "def f(x):\n    return (x, x)\n", "1", "[1, 1]"),
        _seed("setorder", "def f(s):\n    return list(set(s))\n", "'abcdefghijklmnop'",
              "list('abcdefghijklmnop')"),
        _seed("lambda", "def f(g, x):\n    return g(x)\n", "lambda v: v + 1, 1", "2"),
        _seed("bytes", "def f(s):\n    return s.encode()\n", "'a'", "b'a'"),
        _seed("object", "def f(x):\n    return range(x)\n", "2", "[0, 1]"),
        _seed("ok3", "S = {'b', 'a', 'c'}\ndef f(x):\n    return S | {x}\n", "'d'",
              "{'a', 'b', 'c', 'd'}"),
        _seed("globals_in", "K = [1, 2]\ndef f(xs):\n    return sum(xs)\n", "K + [3]", "6"),
        _seed("empty_in", "def f():\n    return ''.join(['A'] * 3)\n", "", "'AAA'"),
    ]
    # the hanging seeds get a short limit; the others a generous one (the test machine is
    # shared and may be loaded), in one batch so a killed child must be restarted mid-batch
    hang = {"loop", "stubborn"}
    quick = [s for s in seeds if s.id in hang or s.id in ("ok1", "ok2")]
    started = time.monotonic()
    outcomes = validate_seeds(quick, RunOptions(timeout=1.0, memory_mb=256, jobs=2))
    assert time.monotonic() - started < 60
    outcomes += validate_seeds([s for s in seeds if s.id not in hang], OPTS)
    got = _codes(outcomes)
    assert got == {
        "ok1": None,
        "loop": "timeout",
        "ok2": None,
        "stubborn": "timeout",
        "mem": "memory_limit",
        "mem2": "memory_limit",
        "raise": "raises",
        "modraise": "raises",
        "badin": "bad_input",
        "arity": "bad_input",
        "badout": "bad_output",
        "prints": "prints",
        "boolint": "output_mismatch",
        "intfloat": "output_mismatch",
        "tuplelist": "output_mismatch",
        "setorder": "nondeterministic",
        "lambda": "unsupported_value",
        "bytes": "unsupported_value",
        "object": "unsupported_value",
        "ok3": None,
        "globals_in": None,
        "empty_in": None,
    }
    by_id = {o.seed.id: o for o in outcomes}
    # args are the values as passed, before the function mutated them
    assert [from_wire(a) for a in by_id["ok1"].args] == [[5, 6]]
    assert from_wire(by_id["ok1"].result) == [5, 6, 2]
    assert by_id["ok2"].params == ["a", "b"] and [from_wire(a) for a in by_id["ok2"].args] == [3, 2]
    assert by_id["globals_in"].args == [to_wire([1, 2, 3])]
    assert by_id["empty_in"].args == [] and by_id["empty_in"].params == []
    for o in outcomes:
        if o.reason is not None:
            assert o.seed.id in o.reason.message
    assert "IndexError" in by_id["raise"].reason.message  # type: ignore[union-attr]
    assert "'g'" in by_id["lambda"].reason.message  # type: ignore[union-attr]
    assert "result" in by_id["object"].reason.message  # type: ignore[union-attr]


def test_child_is_isolated() -> None:
    # cwd is a fresh temp dir and the environment is minimal: nothing of ours leaks in
    seeds = [
        _seed("cwd", "def f(p):\n    return p\n", "'ok'", "'ok'"),
    ]
    (o,) = validate_seeds(seeds, OPTS)
    assert o.ok


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3)
    | st.tuples(inner, inner)
    | st.frozensets(st.integers() | st.text(max_size=3), max_size=3).map(set)
    | st.dictionaries(st.integers() | st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_runner_wire_matches_values_module(v: object) -> None:
    assert _runner.to_wire(v) == to_wire(v)
    assert _runner.strict_key(to_wire(from_wire(to_wire(v)))) == _runner.strict_key(to_wire(v))


def test_strict_key_is_type_strict_and_order_free() -> None:
    k = _runner.strict_key
    assert k(to_wire(True)) != k(to_wire(1))
    assert k(to_wire(1)) != k(to_wire(1.0))
    assert k(to_wire((1, 2))) != k(to_wire([1, 2]))
    assert k(to_wire({"a": 1, "b": 2})) == k(to_wire({"b": 2, "a": 1}))
    assert k(to_wire({3, 1, 2})) == k(to_wire({1, 2, 3}))
    assert k(to_wire([1, 2])) != k(to_wire([2, 1]))
