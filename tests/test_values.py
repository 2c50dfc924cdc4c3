"""Wire encoding, canonical text and tolerant equality (cruxforge/values.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cruxforge.typesys import (
    FLOAT,
    INT,
    STR,
    DictT,
    ListT,
    OptionalT,
    SetT,
    TupleT,
    UnionT,
    parse_type,
    type_of_value,
)
from cruxforge.values import (
    CanonicalSyntaxError,
    canonical,
    from_wire,
    parse_canonical,
    to_wire,
    values_equal,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.integers(), st.text(max_size=5)), inner, max_size=3),
        st.frozensets(st.integers(), max_size=4).map(set),
    ),
    max_leaves=12,
)


@given(values)
def test_wire_round_trip_is_lossless(v: object) -> None:
    back = from_wire(json.loads(json.dumps(to_wire(v))))
    assert values_equal(back, v) and type(back) is type(v)


@given(values)
def test_canonical_round_trip_by_type(v: object) -> None:
    try:
        t = type_of_value(v)
    except Exception:
        return
    from cruxforge.typesys import has_unknown

    if has_unknown(t) or _dict_set_union(t):
        return  # an empty {} of Union[dict, set] is ambiguous in canonical text (documented)
    assert values_equal(parse_canonical(canonical(v), t), v)


def _dict_set_union(t: object) -> bool:
    from cruxforge.typesys import walk

    return any(
        isinstance(n, UnionT) and {type(a) for a in n.arms} >= {DictT, SetT}
        for n in walk(t)  # type: ignore[arg-type]
    )


def test_canonical_is_one_line_and_escapes_controls() -> None:
    text = canonical(["a\nb", 'q"', "\x00", "😀"])
    assert "\n" not in text
    assert text == '["a\\nb", "q\\"", "\\u0000", "😀"]'


def test_type_directed_parsing_accepts_language_spellings() -> None:
    assert parse_canonical("1", FLOAT) == 1.0
    assert parse_canonical("(7)", TupleT((INT,))) == (7,)
    assert parse_canonical("(7,)", TupleT((INT,))) == (7,)
    assert parse_canonical("{}", SetT(INT)) == set()
    assert parse_canonical("null", OptionalT(INT)) is None
    assert parse_canonical('{"a": [1,2], "b": []}', DictT(STR, ListT(INT))) == {
        "a": [1, 2],
        "b": [],
    }
    assert parse_canonical('"\\ud83d\\ude00"', STR) == "😀"
    assert parse_canonical('"x"', UnionT((INT, STR))) == "x"


def test_parse_errors_are_specific() -> None:
    with pytest.raises(CanonicalSyntaxError, match="expected an int"):
        parse_canonical("abc", INT)
    with pytest.raises(CanonicalSyntaxError, match="trailing text"):
        parse_canonical("[1] 2", ListT(INT))
    with pytest.raises(CanonicalSyntaxError, match="tuple elements"):
        parse_canonical("(1, 2)", TupleT((INT,)))


def test_equality_tolerates_float_noise_but_not_type_changes() -> None:
    assert values_equal(0.1 + 0.2, 0.3)
    assert not values_equal(0.3, 0.31)
    assert not values_equal(True, 1)
    assert not values_equal(1, 1.0)
    assert not values_equal([1], (1,))
    assert values_equal({1, 2}, {2, 1})
    assert values_equal({"a": 1.0000000001}, {"a": 1.0})
    assert not values_equal({"a": 1}, {"a": 1, "b": 2})


def test_type_text_round_trips() -> None:
    for text in [
        "int",
        "list[tuple[int, str]]",
        "dict[str, Optional[list[float]]]",
        "set[int]",
        "tuple[()]",
        "Union[int, str]",
        "Optional[Union[int, str]]",
    ]:
        assert str(parse_type(text)) == text
