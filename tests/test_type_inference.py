"""Type inference: values first, the code for what values leave open, notes for guesses."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cruxforge.models import Reason, Signature
from cruxforge.seeds.infer import infer_signature
from cruxforge.typesys import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    DictT,
    ListT,
    OptionalT,
    SetT,
    TupleT,
    Type,
    UnionT,
    conforms,
    has_unknown,
    join,
    make_union,
    parse_type,
    type_of_value,
)


def sig(code: str, params: list[str], args: list[Any], result: Any) -> Signature:
    out = infer_signature(code, "f", params, args, result, "t")
    assert isinstance(out, Signature), out
    return out


def types(s: Signature) -> tuple[list[str], str]:
    return [p.type for p in s.params], s.result


def test_plain_values_need_no_notes() -> None:
    s = sig("def f(a, b):\n    return {a: [b]}\n", ["a", "b"], [1, "x"], {1: ["x"]})
    assert types(s) == (["int", "str"], "dict[int, list[str]]")
    assert s.notes == []


def test_returned_param_shares_the_result_type() -> None:
    code = "def f(nums):\n    nums.clear()\n    return nums\n"
    s = sig(code, ["nums"], [[4, 3]], [])
    assert types(s) == (["list[int]"], "list[int]")
    assert any("result" in n and "return nums" in n for n in s.notes)


def test_append_and_loop_variable_usage() -> None:
    code = (
        "def f(pattern, items):\n    result = []\n    for text in items:\n"
        "        pos = text.rfind(pattern)\n        if pos >= 0:\n"
        "            result.append(pos)\n    return result\n"
    )
    s = sig(code, ["pattern", "items"], ["B", [" bB"]], [])
    assert types(s) == (["str", "list[str]"], "list[int]")


def test_join_sum_and_item_assignment() -> None:
    assert types(sig("def f(xs):\n    return ''.join(xs)\n", ["xs"], [[]], "")) == (
        ["list[str]"], "str")
    assert types(sig("def f(xs):\n    return sum(xs)\n", ["xs"], [[]], 0)) == (
        ["list[int]"], "int")
    code = "def f(d, k, v):\n    d[k] = v\n    return len(d)\n"
    assert types(sig(code, ["d", "k", "v"], [{}, "a", 1.5], 1)) == (
        ["dict[str, float]", "str", "float"], "int")


def test_string_methods_on_elements() -> None:
    code = (
        "def f(ws):\n    out = []\n    for w in ws:\n        out.append(w.upper())\n"
        "    return out\n"
    )
    assert types(sig(code, ["ws"], [[]], [])) == (["list[str]"], "list[str]")


def test_arithmetic_on_elements() -> None:
    code = "def f(d):\n    for k in d:\n        d[k] = d[k] ** 2\n    return d\n"
    s = sig(code, ["d"], [{}], {})
    assert types(s)[1] == types(s)[0][0]
    d = parse_type(types(s)[0][0])
    assert isinstance(d, DictT) and d.value == INT
    assert any("assumed" in n for n in s.notes)  # the key type is a recorded guess


def test_unresolvable_is_filled_with_a_note() -> None:
    s = sig("def f(xs):\n    return len(xs)\n", ["xs"], [[]], 0)
    assert types(s) == (["list[int]"], "int")
    assert len(s.notes) == 1 and "assumed int" in s.notes[0]


def test_optional_from_return_paths() -> None:
    code = "def f(xs, p):\n    for w in xs:\n        if w.startswith(p):\n            return w\n"
    s = sig(code, ["xs", "p"], [["ab"], "a"], "ab")
    assert types(s) == (["list[str]", "str"], "Optional[str]")
    s = sig(code, ["xs", "p"], [["ab"], "z"], None)
    assert types(s) == (["list[str]", "str"], "Optional[str]")
    assert all(n.startswith("result:") for n in s.notes)


def test_union_from_literal_return() -> None:
    code = "def f(s):\n    if not s:\n        return -1\n    return s.upper()\n"
    s = sig(code, ["s"], ["a"], "A")
    assert types(s) == (["str"], "Union[int, str]")
    code = "def f(x):\n    if x > 1:\n        return 0\n    return x / 2\n"
    assert types(sig(code, ["x"], [1], 0.5)) == (["int"], "float")


def test_optional_param_compared_with_none() -> None:
    code = "def f(x):\n    if x is None:\n        return 0\n    return len(x)\n"
    assert types(sig(code, ["x"], ["ab"], 2)) == (["Optional[str]"], "int")
    s = sig(code, ["x"], [None], 0)
    assert types(s) == (["Optional[str]"], "int") or types(s) == (["None"], "int")


def test_annotations_fill_empties() -> None:
    code = "def f(xs: list[float]) -> dict[str, int]:\n    return {}\n"
    assert types(sig(code, ["xs"], [[]], {})) == (["list[float]"], "dict[str, int]")


def test_too_many_union_arms_is_untypable() -> None:
    out = infer_signature("def f(x):\n    return 0\n", "f", ["x"],
                          [[1, "a", 1.5, True, (1,)]], 0, "wide")
    assert isinstance(out, Reason) and out.code == "untypable"
    assert "too_many_union_arms" in out.message and "wide" in out.message


# ---------------------------------------------------------------- properties

prims = st.sampled_from([INT, FLOAT, BOOL, STR, NONE])


def _types() -> st.SearchStrategy[Type]:
    def extend(inner: st.SearchStrategy[Type]) -> st.SearchStrategy[Type]:
        hashable = st.sampled_from([INT, STR, BOOL]) | st.builds(
            lambda a, b: TupleT((a, b)), st.sampled_from([INT, STR]), st.sampled_from([INT, STR])
        )
        return st.one_of(
            st.builds(ListT, inner),
            st.builds(SetT, hashable),
            st.builds(DictT, hashable, inner),
            st.lists(inner, min_size=1, max_size=3).map(lambda es: TupleT(tuple(es))),
            st.builds(
                OptionalT, inner.filter(lambda t: t != NONE and not isinstance(t, OptionalT))
            ),
            st.lists(st.sampled_from([INT, STR, FLOAT]), min_size=2, max_size=3, unique=True).map(
                lambda arms: make_union(list(arms))
            ),
        )

    return st.recursive(prims, extend, max_leaves=6)


def _value(t: Type) -> st.SearchStrategy[Any]:
    if t == INT:
        return st.integers()
    if t == FLOAT:
        return st.floats(allow_nan=False)
    if t == BOOL:
        return st.booleans()
    if t == STR:
        return st.text(max_size=4)
    if t == NONE:
        return st.none()
    if isinstance(t, ListT):
        return st.lists(_value(t.elem), max_size=3)
    if isinstance(t, SetT):
        return st.sets(_value(t.elem), max_size=3)
    if isinstance(t, DictT):
        return st.dictionaries(_value(t.key), _value(t.value), max_size=3)
    if isinstance(t, TupleT):
        return st.tuples(*(_value(e) for e in t.elems))
    if isinstance(t, OptionalT):
        return st.none() | _value(t.inner)
    assert isinstance(t, UnionT)
    return st.one_of(*(_value(a) for a in t.arms))


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[Type, Any]:
    t = draw(_types())
    return t, draw(_value(t))


@settings(max_examples=100, deadline=None)
@given(typed_values())
def test_inference_is_exact_or_precisely_more_general(tv: tuple[Type, Any]) -> None:
    t, v = tv
    s = sig("def f(x):\n    return x\n", ["x"], [v], v)
    inferred = parse_type(s.params[0].type)
    assert parse_type(s.result) == inferred  # returned object: one type for both
    assert not has_unknown(inferred)
    assert "Any" not in s.params[0].type
    assert conforms(v, inferred)
    observed = type_of_value(v)
    # covers what the value shows ...
    assert join(observed, inferred) == inferred
    # ... and where the value shows everything, is no wider than the type it came from
    if not has_unknown(observed):
        assert join(inferred, t) == t
        assert s.notes == []
    else:
        assert s.notes  # every guess is explained
