"""The type language shared by every stage: a handful of immutable type nodes.

Types are small frozen dataclasses so they hash, compare and print cheaply; their
text form (``str(t)``) is the one written to reports, e.g. ``list[tuple[int, str]]``,
and :func:`parse_type` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRIMITIVES = ("int", "float", "bool", "str", "None")
MAX_UNION_ARMS = 4


@dataclass(frozen=True)
class Prim:
    name: str  # one of PRIMITIVES

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Unknown:
    """Element type of an empty container that nothing has resolved yet."""

    def __str__(self) -> str:
        return "?"


@dataclass(frozen=True)
class ListT:
    elem: Type

    def __str__(self) -> str:
        return f"list[{self.elem}]"


@dataclass(frozen=True)
class SetT:
    elem: Type

    def __str__(self) -> str:
        return f"set[{self.elem}]"


@dataclass(frozen=True)
class TupleT:
    elems: tuple[Type, ...]

    def __str__(self) -> str:
        if not self.elems:
            return "tuple[()]"
        return "tuple[" + ", ".join(map(str, self.elems)) + "]"


@dataclass(frozen=True)
class DictT:
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"dict[{self.key}, {self.value}]"


@dataclass(frozen=True)
class OptionalT:
    inner: Type

    def __str__(self) -> str:
        return f"Optional[{self.inner}]"


@dataclass(frozen=True)
class UnionT:
    arms: tuple[Type, ...]  # flattened, no None, no duplicates, sorted by text

    def __str__(self) -> str:
        return "Union[" + ", ".join(map(str, self.arms)) + "]"


Type = Prim | Unknown | ListT | SetT | TupleT | DictT | OptionalT | UnionT

INT, FLOAT, BOOL, STR, NONE = (Prim(n) for n in PRIMITIVES)
UNKNOWN = Unknown()


class TypeTooWide(Exception):
    """Raised when a join would need more union arms than the language allows."""


def has_unknown(t: Type) -> bool:
    return any(isinstance(n, Unknown) for n in walk(t))


def walk(t: Type):  # type: ignore[no-untyped-def]
    """Yield every node of ``t`` (pre-order)."""
    yield t
    for c in children(t):
        yield from walk(c)


def children(t: Type) -> tuple[Type, ...]:
    if isinstance(t, (ListT, SetT)):
        return (t.elem,)
    if isinstance(t, TupleT):
        return t.elems
    if isinstance(t, DictT):
        return (t.key, t.value)
    if isinstance(t, OptionalT):
        return (t.inner,)
    if isinstance(t, UnionT):
        return t.arms
    return ()


def _arms(t: Type) -> list[Type]:
    if isinstance(t, UnionT):
        return list(t.arms)
    return [t]


def make_union(arms: list[Type]) -> Type:
    """Build the narrowest type covering ``arms``: merges same-shaped arms, lifts None."""
    optional = any(a == NONE for a in arms)
    flat: list[Type] = []
    for a in arms:
        if isinstance(a, OptionalT):
            optional = True
            a = a.inner
        for x in _arms(a):
            if x == NONE or isinstance(x, Unknown):
                continue
            for i, y in enumerate(flat):
                merged = _merge_same_shape(x, y)
                if merged is not None:
                    flat[i] = merged
                    break
            else:
                flat.append(x)
    if not flat:
        if optional:
            return NONE
        return UNKNOWN
    if len(flat) == 1:
        core = flat[0]
    else:
        if len(flat) > MAX_UNION_ARMS:
            raise TypeTooWide(", ".join(sorted(map(str, flat))))
        core = UnionT(tuple(sorted(flat, key=str)))
    return OptionalT(core) if optional else core


def _merge_same_shape(a: Type, b: Type) -> Type | None:
    if a == b:
        return a
    if isinstance(a, Unknown):
        return b
    if isinstance(b, Unknown):
        return a
    if isinstance(a, ListT) and isinstance(b, ListT):
        return ListT(join(a.elem, b.elem))
    if isinstance(a, SetT) and isinstance(b, SetT):
        return SetT(join(a.elem, b.elem))
    if isinstance(a, DictT) and isinstance(b, DictT):
        return DictT(join(a.key, b.key), join(a.value, b.value))
    if isinstance(a, TupleT) and isinstance(b, TupleT) and len(a.elems) == len(b.elems):
        return TupleT(tuple(join(x, y) for x, y in zip(a.elems, b.elems)))
    return None


def join(a: Type, b: Type) -> Type:
    """Least upper bound of two types in the type language."""
    if a == b:
        return a
    if isinstance(a, Unknown):
        return b
    if isinstance(b, Unknown):
        return a
    merged = _merge_same_shape(a, b)
    if merged is not None:
        return merged
    return make_union([a, b])


def join_all(types: list[Type]) -> Type:
    out: Type = UNKNOWN
    for t in types:
        out = join(out, t)
    return out


def fill_unknown(t: Type, default: Type) -> Type:
    """Replace every Unknown inside ``t`` by ``default``."""
    if isinstance(t, Unknown):
        return default
    if isinstance(t, ListT):
        return ListT(fill_unknown(t.elem, default))
    if isinstance(t, SetT):
        return SetT(fill_unknown(t.elem, default))
    if isinstance(t, TupleT):
        return TupleT(tuple(fill_unknown(e, default) for e in t.elems))
    if isinstance(t, DictT):
        return DictT(fill_unknown(t.key, default), fill_unknown(t.value, default))
    if isinstance(t, OptionalT):
        return OptionalT(fill_unknown(t.inner, default))
    if isinstance(t, UnionT):
        return make_union([fill_unknown(x, default) for x in t.arms])
    return t


def refine(t: Type, hint: Type) -> Type:
    """Fill the Unknown parts of ``t`` from ``hint`` where their shapes line up."""
    if isinstance(t, Unknown):
        return hint
    if isinstance(t, ListT) and isinstance(hint, ListT):
        return ListT(refine(t.elem, hint.elem))
    if isinstance(t, SetT) and isinstance(hint, SetT):
        return SetT(refine(t.elem, hint.elem))
    if isinstance(t, DictT) and isinstance(hint, DictT):
        return DictT(refine(t.key, hint.key), refine(t.value, hint.value))
    if isinstance(t, TupleT) and isinstance(hint, TupleT) and len(t.elems) == len(hint.elems):
        return TupleT(tuple(refine(a, b) for a, b in zip(t.elems, hint.elems)))
    if isinstance(t, OptionalT):
        inner_hint = hint.inner if isinstance(hint, OptionalT) else hint
        return OptionalT(refine(t.inner, inner_hint))
    return t


def type_of_value(v: object) -> Type:
    """Infer the type of one Python value (empty containers give Unknown elements).

    Raises ``ValueError`` for values outside the type language.
    """
    if v is None:
        return NONE
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return FLOAT
    if isinstance(v, str):
        return STR
    if isinstance(v, list):
        return ListT(join_all([type_of_value(x) for x in v]))
    if isinstance(v, tuple):
        return TupleT(tuple(type_of_value(x) for x in v))
    if isinstance(v, (set, frozenset)):
        return SetT(join_all([type_of_value(x) for x in v]))
    if isinstance(v, dict):
        return DictT(
            join_all([type_of_value(k) for k in v]),
            join_all([type_of_value(x) for x in v.values()]),
        )
    raise ValueError(f"values of Python type {type(v).__name__!r} are outside the type language")


def conforms(v: object, t: Type) -> bool:
    """Whether value ``v`` is a member of type ``t`` (Unknown admits nothing but empties)."""
    if isinstance(t, OptionalT):
        return v is None or conforms(v, t.inner)
    if isinstance(t, UnionT):
        return any(conforms(v, a) for a in t.arms)
    if isinstance(t, Prim):
        if t.name == "None":
            return v is None
        if t.name == "bool":
            return isinstance(v, bool)
        if t.name == "int":
            return isinstance(v, int) and not isinstance(v, bool)
        if t.name == "float":
            return isinstance(v, float)
        return isinstance(v, str)
    if isinstance(t, Unknown):
        return False
    if isinstance(t, ListT):
        return isinstance(v, list) and all(conforms(x, t.elem) for x in v)
    if isinstance(t, SetT):
        return isinstance(v, (set, frozenset)) and all(conforms(x, t.elem) for x in v)
    if isinstance(t, TupleT):
        return (
            isinstance(v, tuple)
            and len(v) == len(t.elems)
            and all(conforms(x, e) for x, e in zip(v, t.elems))
        )
    if isinstance(t, DictT):
        return isinstance(v, dict) and all(
            conforms(k, t.key) and conforms(x, t.value) for k, x in v.items()
        )
    return False


# ---------------------------------------------------------------- parsing text form

_TOKEN = re.compile(r"\s*(\[|\]|,|\(\)|\?|[A-Za-z_][A-Za-z_0-9]*)")


class TypeSyntaxError(ValueError):
    pass


def parse_type(text: str) -> Type:
    """Parse the text form written by ``str(t)``."""
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TypeSyntaxError(f"bad type text {text!r} at offset {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    t, i = _parse(tokens, 0, text)
    if i != len(tokens):
        raise TypeSyntaxError(f"trailing text in type {text!r}")
    return t


def _parse(tok: list[str], i: int, text: str) -> tuple[Type, int]:
    if i >= len(tok):
        raise TypeSyntaxError(f"unexpected end of type {text!r}")
    name = tok[i]
    i += 1
    if name == "?":
        return UNKNOWN, i
    if name in PRIMITIVES or name == "NoneType":
        return Prim("None" if name == "NoneType" else name), i
    if name not in ("list", "set", "tuple", "dict", "Optional", "Union"):
        raise TypeSyntaxError(f"unknown type name {name!r} in {text!r}")
    if i >= len(tok) or tok[i] != "[":
        raise TypeSyntaxError(f"{name} needs [...] in {text!r}")
    i += 1
    args: list[Type] = []
    if tok[i] == "()":
        i += 1
    else:
        while True:
            a, i = _parse(tok, i, text)
            args.append(a)
            if tok[i] == ",":
                i += 1
                continue
            break
    if tok[i] != "]":
        raise TypeSyntaxError(f"expected ] in {text!r}")
    i += 1
    arity = {"list": 1, "set": 1, "Optional": 1, "dict": 2}
    if name in arity and len(args) != arity[name]:
        raise TypeSyntaxError(f"{name} takes {arity[name]} argument(s) in {text!r}")
    if name == "list":
        return ListT(args[0]), i
    if name == "set":
        return SetT(args[0]), i
    if name == "dict":
        return DictT(args[0], args[1]), i
    if name == "tuple":
        return TupleT(tuple(args)), i
    if name == "Optional":
        return OptionalT(args[0]), i
    if len(args) < 2:
        raise TypeSyntaxError(f"Union needs at least two arms in {text!r}")
    return UnionT(tuple(args)), i
