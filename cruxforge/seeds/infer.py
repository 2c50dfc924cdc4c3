"""Type inference for a validated seed: example values + a static look at the code.

Why not just ``type_of_value``: an empty container (``[]``, ``{}``) has no element type,
and CRUXEval-X needed hand fixes for exactly that (plus Optional/Union). So:

1. every parameter and the result start from ``type_of_value`` of the observed values
   (annotations, when present, fill what the values leave open);
2. a small flow analysis over the function's AST refines what is still Unknown, in
   both directions, until nothing changes: ``return xs`` (result and ``xs`` are one
   object), ``ys = xs[:]`` / ``xs.copy()``, ``xs.append(p)``, ``d[k] = v``,
   ``for x in xs`` plus what is done with ``x`` (``x.upper()`` -> str, ``x * 2`` -> int),
   ``''.join(xs)`` -> ``list[str]``, ``sum(xs)`` -> numbers, ``a in xs``, comparisons;
3. whatever is still open is filled with the most plausible primitive (the commonest
   one among the signature's known parts, else ``int``), one slot at a time with the
   flow analysis re-run in between so the rest stays consistent;
4. return paths are inspected: a ``return None``/bare ``return``/falling off the end
   next to value returns makes the result ``Optional``; a literal of another type
   (``return -1`` next to a str) makes it a ``Union``; ``p is None`` makes ``p`` Optional.

Every step that is not read straight off the values adds a line to ``Signature.notes``;
the result never contains ``Unknown`` and there is no ``Any`` in the type language.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cruxforge.models import Param, Reason, Signature
from cruxforge.seeds.reasons import make_reason
from cruxforge.typesys import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    UNKNOWN,
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    TypeTooWide,
    UnionT,
    Unknown,
    conforms,
    has_unknown,
    join,
    make_union,
    refine,
    type_of_value,
    walk,
)

RESULT = "<result>"
MAX_PASSES = 10

STR_TO_STR = frozenset(
    {
        "upper", "lower", "strip", "lstrip", "rstrip", "replace", "capitalize", "title",
        "swapcase", "casefold", "center", "ljust", "rjust", "zfill", "format", "expandtabs",
        "removeprefix", "removesuffix", "translate", "format_map",
    }
)
STR_TO_BOOL = frozenset(
    {
        "isalpha", "isdigit", "isdecimal", "isnumeric", "isalnum", "isspace", "isupper",
        "islower", "istitle", "isidentifier", "isprintable", "isascii", "startswith", "endswith",
    }
)
STR_ONLY = STR_TO_STR | STR_TO_BOOL | {"split", "rsplit", "splitlines", "partition",
                                       "rpartition", "find", "rfind", "rindex", "join",
                                       "encode"}
LIST_ONLY = frozenset({"append", "sort", "reverse", "insert", "extend"})
DICT_ONLY = frozenset({"items", "keys", "values", "get", "setdefault", "popitem"})
SET_ONLY = frozenset({"add", "discard", "union", "intersection", "difference",
                      "symmetric_difference", "issubset", "issuperset"})
ARITH = (ast.Sub, ast.Mult, ast.Pow, ast.FloorDiv, ast.Mod, ast.Add, ast.BitAnd, ast.BitOr,
         ast.BitXor, ast.LShift, ast.RShift)


class Untypable(Exception):
    """The values can't be carried by the type language; ``sub`` is the sub-reason."""

    def __init__(self, sub: str, detail: str) -> None:
        self.sub = sub
        super().__init__(f"{sub}: {detail}")


def infer_signature(
    code: str, entry: str, params: list[str], args: list[Any], result: Any, seed_id: str = "?"
) -> Signature | Reason:
    """Signature of ``entry`` from its example ``args``/``result`` (Python values)."""
    try:
        return _infer(code, entry, params, args, result)
    except Untypable as e:
        return make_reason("untypable", seed_id, "signature", str(e))


def _safe_type(v: Any, what: str) -> Type:
    try:
        return type_of_value(v)
    except TypeTooWide as e:
        raise Untypable("too_many_union_arms", f"{what} mixes {e}") from None
    except ValueError as e:
        raise Untypable("unsupported_value", f"{what}: {e}") from None


def _find_def(code: str, entry: str) -> ast.FunctionDef | None:
    found = None
    for n in ast.parse(code).body:
        if isinstance(n, ast.FunctionDef) and n.name == entry:
            found = n
    return found


def _infer(code: str, entry: str, params: list[str], args: list[Any], result: Any) -> Signature:
    fn = _find_def(code, entry)
    observed = [_safe_type(a, f"param {p!r}") for p, a in zip(params, args, strict=False)]
    observed_result = _safe_type(result, "the result")
    if fn is None:  # validated seeds always have one; keep values-only types otherwise
        return _finish(entry, params, observed, observed_result, [], args, result)
    flow = Flow(fn)
    notes: list[str] = []
    annotations = {a.arg: a.annotation for a in fn.args.args + fn.args.kwonlyargs}
    for p, t in zip(params, observed, strict=False):
        start = t
        ann = _annotation_type(annotations.get(p))
        if ann is not None and has_unknown(t):
            start = refine(t, ann)
            if start != t:
                notes.append(f"param {p!r}: element types of {t} taken from the annotation {ann}")
        if t == NONE:
            flow.none_params.add(p)
            start = UNKNOWN  # let the code tell what else it can be
        flow.env[p] = start
    rt = observed_result
    ann = _annotation_type(fn.returns)
    if ann is not None and has_unknown(rt):
        rt = refine(rt, ann)
        notes.append(f"result: element types of {observed_result} taken from the annotation")
    flow.env[RESULT] = rt
    flow.run()

    slots = params + [RESULT]
    # fill what is still open, one slot at a time, re-running the flow in between
    for slot in slots:
        t = flow.env.get(slot, UNKNOWN)
        if slot in flow.none_params and isinstance(t, Unknown):
            flow.env[slot] = NONE
            continue
        if not has_unknown(t):
            continue
        guess = _plausible_prim(flow, slots)
        key_guess = guess if _prim_counts(flow, slots) else STR
        flow.env[slot] = _fill(t, guess, key_guess)
        flow.why.setdefault(slot, []).append(
            f"nothing in the values or code fixes the parts marked ? in {t}; "
            f"assumed {guess} ({_guess_basis(flow, slots, guess)})"
            + (f", dict keys {key_guess}" if key_guess != guess and _has_dict(t) else "")
        )
        flow.run()

    final_params: list[Type] = []
    for p, t in zip(params, observed, strict=False):
        ft = flow.env[p]
        if p in flow.none_params and ft != NONE:
            ft = OptionalT(ft)
            notes.append(f"param {p!r}: observed None, code uses it as {ft.inner}; Optional")
        elif p in flow.optional_names and t != NONE and not isinstance(ft, OptionalT):
            ft = OptionalT(ft)
            notes.append(f"param {p!r}: Optional because the code compares it with None")
        if ft != t and p not in flow.none_params:
            notes.extend(_why(flow, p, f"param {p!r}", t))
        final_params.append(ft)
    rt_final = flow.env[RESULT]
    if rt_final != observed_result:
        notes.extend(_why(flow, RESULT, "result", observed_result))
    rt_final, ret_notes = _return_paths(flow, rt_final, observed_result)
    notes.extend(ret_notes)
    return _finish(fn.name, params, final_params, rt_final, notes, args, result, observed,
                   observed_result)


def _why(flow: Flow, slot: str, label: str, before: Type) -> list[str]:
    reasons = flow.why.get(slot, [])
    after = flow.env[slot]
    if not reasons:
        return [f"{label}: {before} from the values refined to {after} by the code"]
    return [f"{label}: values give {before}; {after} from {'; '.join(dict.fromkeys(reasons))}"]


def _finish(
    name: str,
    params: list[str],
    ptypes: list[Type],
    rtype: Type,
    notes: list[str],
    args: list[Any],
    result: Any,
    observed: list[Type] | None = None,
    observed_result: Type | None = None,
) -> Signature:
    """Last safety net: filled, and every example value must be a member of its type."""
    fixed: list[Type] = []
    for i, (p, t) in enumerate(zip(params, ptypes, strict=False)):
        t = _fill(t, INT) if has_unknown(t) else t
        if not conforms(args[i], t):
            base = observed[i] if observed else _safe_type(args[i], p)
            t = _fill(base, INT)
            notes.append(f"param {p!r}: code-derived type did not fit the value; kept {t}")
        fixed.append(t)
    rtype = _fill(rtype, INT) if has_unknown(rtype) else rtype
    if not conforms(result, rtype):
        base = observed_result if observed_result is not None else _safe_type(result, "result")
        rtype = _fill(base, INT)
        notes.append(f"result: code-derived type did not fit the value; kept {rtype}")
    return Signature(
        name=name,
        params=[Param(name=p, type=str(t)) for p, t in zip(params, fixed, strict=False)],
        result=str(rtype),
        notes=notes,
    )


def _fill(t: Type, default: Type, key: Type | None = None) -> Type:
    """Replace Unknown parts by ``default`` (dict keys by ``key``, default the same)."""
    k = default if key is None else key
    if isinstance(t, Unknown):
        return default
    if isinstance(t, ListT):
        return ListT(_fill(t.elem, default, k))
    if isinstance(t, SetT):
        return SetT(_fill(t.elem, default, k))
    if isinstance(t, TupleT):
        return TupleT(tuple(_fill(e, default, k) for e in t.elems))
    if isinstance(t, DictT):
        return DictT(_fill(t.key, k, k), _fill(t.value, default, k))
    if isinstance(t, OptionalT):
        return OptionalT(_fill(t.inner, default, k))
    if isinstance(t, UnionT):
        return _union([_fill(a, default, k) for a in t.arms])
    return t


def _has_dict(t: Type) -> bool:
    return any(isinstance(n, DictT) for n in walk(t))


def _union(arms: list[Type]) -> Type:
    try:
        return make_union(arms)
    except TypeTooWide as e:
        raise Untypable("too_many_union_arms", str(e)) from None


def _plausible_prim(flow: Flow, slots: list[str]) -> Type:
    counts = _prim_counts(flow, slots)
    if not counts:
        return INT
    best = max(counts.values())
    for name in ("int", "str", "float", "bool"):  # tie-break: int first
        if counts.get(name) == best:
            return Prim(name)
    return INT


def _prim_counts(flow: Flow, slots: list[str]) -> Counter[str]:
    c: Counter[str] = Counter()
    for s in slots:
        for n in walk(flow.env.get(s, UNKNOWN)):
            if isinstance(n, Prim) and n.name in ("int", "str", "float", "bool"):
                c[n.name] += 1
    return c


def _guess_basis(flow: Flow, slots: list[str], guess: Type) -> str:
    counts = _prim_counts(flow, slots)
    if not counts:
        return "no primitive anywhere in the signature; int by convention"
    return f"the commonest primitive among the signature's known parts: {dict(counts)}"


# ---------------------------------------------------------------- annotations


def _annotation_type(node: ast.expr | None) -> Type | None:
    if node is None:
        return None
    try:
        return _ann(node)
    except (ValueError, TypeTooWide):
        return None


def _ann(n: ast.expr) -> Type:
    if isinstance(n, ast.Constant) and n.value is None:
        return NONE
    if isinstance(n, ast.Constant) and isinstance(n.value, str):
        return _ann(ast.parse(n.value, mode="eval").body)
    if isinstance(n, ast.Name):
        simple: dict[str, Type] = {
            "int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "None": NONE,
            "list": ListT(UNKNOWN), "List": ListT(UNKNOWN), "set": SetT(UNKNOWN),
            "Set": SetT(UNKNOWN), "dict": DictT(UNKNOWN, UNKNOWN), "Dict": DictT(UNKNOWN, UNKNOWN),
        }
        if n.id in simple:
            return simple[n.id]
    if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
        return make_union([_ann(n.left), _ann(n.right)])
    if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
        args = list(n.slice.elts) if isinstance(n.slice, ast.Tuple) else [n.slice]
        head = n.value.id.lower()
        if head in ("list", "sequence") and len(args) == 1:
            return ListT(_ann(args[0]))
        if head in ("set", "frozenset") and len(args) == 1:
            return SetT(_ann(args[0]))
        if head in ("dict", "mapping") and len(args) == 2:
            return DictT(_ann(args[0]), _ann(args[1]))
        if head == "tuple":
            return TupleT(tuple(_ann(a) for a in args))
        if head == "optional" and len(args) == 1:
            return make_union([_ann(args[0]), NONE])
        if head == "union":
            return make_union([_ann(a) for a in args])
    raise ValueError(f"annotation {ast.unparse(n)} is outside the type language")


# ---------------------------------------------------------------- the flow analysis


def _own_nodes(fn: ast.FunctionDef) -> Iterator[ast.AST]:
    """Nodes of ``fn``'s body, not descending into nested defs, lambdas or classes."""
    stack: list[ast.AST] = list(reversed(fn.body))
    while stack:
        n = stack.pop()
        yield n
        for c in reversed(list(ast.iter_child_nodes(n))):
            if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(c)


def iter_elem(t: Type) -> Type:
    if isinstance(t, (ListT, SetT)):
        return t.elem
    if isinstance(t, DictT):
        return t.key
    if t == STR:
        return STR
    if isinstance(t, TupleT) and t.elems:
        return _join_safe(list(t.elems))
    return UNKNOWN


def _join_safe(ts: list[Type]) -> Type:
    out: Type = UNKNOWN
    try:
        for t in ts:
            out = join(out, t)
    except TypeTooWide:
        return UNKNOWN
    return out


def _const_type(v: object) -> Type:
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
    return UNKNOWN


def _container_like(t: Type, elem: Type) -> Type:
    """A container of ``elem`` shaped like ``t`` (list when ``t`` says nothing)."""
    if isinstance(t, SetT):
        return SetT(elem)
    if isinstance(t, DictT):
        return DictT(elem, UNKNOWN)
    return ListT(elem)


@dataclass
class Flow:
    """Flat (function-wide) environment of names to types, refined to a fixed point."""

    fn: ast.FunctionDef
    env: dict[str, Type] = field(default_factory=dict)
    why: dict[str, list[str]] = field(default_factory=dict)
    none_params: set[str] = field(default_factory=set)
    optional_names: set[str] = field(default_factory=set)
    changed: bool = False
    _node: ast.AST | None = None

    # --- expression types

    def etype(self, e: ast.expr) -> Type:  # a flat dispatch reads best
        if isinstance(e, ast.Constant):
            return _const_type(e.value)
        if isinstance(e, ast.Name):
            return self.env.get(e.id, UNKNOWN)
        if isinstance(e, (ast.List, ast.Set)):
            if any(isinstance(x, ast.Starred) for x in e.elts):
                return UNKNOWN
            el = _join_safe([self.etype(x) for x in e.elts])
            return ListT(el) if isinstance(e, ast.List) else SetT(el)
        if isinstance(e, ast.Tuple):
            if any(isinstance(x, ast.Starred) for x in e.elts):
                return UNKNOWN
            return TupleT(tuple(self.etype(x) for x in e.elts))
        if isinstance(e, ast.Dict):
            if any(k is None for k in e.keys):
                return UNKNOWN
            return DictT(_join_safe([self.etype(k) for k in e.keys if k is not None]),
                         _join_safe([self.etype(v) for v in e.values]))
        if isinstance(e, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            self._bind_comprehension(e.generators)
            el = self.etype(e.elt)
            return SetT(el) if isinstance(e, ast.SetComp) else ListT(el)
        if isinstance(e, ast.DictComp):
            self._bind_comprehension(e.generators)
            return DictT(self.etype(e.key), self.etype(e.value))
        if isinstance(e, ast.Subscript):
            bt = self.etype(e.value)
            if isinstance(e.slice, ast.Slice):
                return bt if isinstance(bt, (ListT, Prim)) else UNKNOWN
            if isinstance(bt, ListT):
                return bt.elem
            if isinstance(bt, DictT):
                return bt.value
            if bt == STR:
                return STR
            if isinstance(bt, TupleT):
                idx = _const_int(e.slice)
                if idx is not None and -len(bt.elems) <= idx < len(bt.elems):
                    return bt.elems[idx]
                return _join_safe(list(bt.elems)) if bt.elems else UNKNOWN
            return UNKNOWN
        if isinstance(e, ast.BinOp):
            return self._binop_type(e)
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.Not):
                return BOOL
            if isinstance(e.op, ast.Invert):
                return INT
            t = self.etype(e.operand)
            return INT if t == BOOL else t
        if isinstance(e, ast.BoolOp):
            return _join_safe([self.etype(v) for v in e.values])
        if isinstance(e, ast.Compare):
            return BOOL
        if isinstance(e, ast.IfExp):
            return _join_safe([self.etype(e.body), self.etype(e.orelse)])
        if isinstance(e, ast.JoinedStr):
            return STR
        if isinstance(e, ast.Call):
            return self._call_type(e)
        return UNKNOWN

    def _binop_type(self, e: ast.BinOp) -> Type:
        lt, rt = self.etype(e.left), self.etype(e.right)
        op = e.op
        if isinstance(op, ast.Div):
            return FLOAT
        if isinstance(op, ast.Mod) and lt == STR:
            return STR
        if isinstance(op, ast.Mult):
            if lt == STR or rt == STR:
                return STR
            if isinstance(lt, ListT) and rt in (INT, BOOL):
                return lt
            if isinstance(rt, ListT) and lt in (INT, BOOL):
                return rt
        if isinstance(op, ast.Add):
            if lt == STR or rt == STR:
                return STR
            if isinstance(lt, ListT) or isinstance(rt, ListT):
                return _join_safe([lt, rt])
            if isinstance(lt, TupleT) and isinstance(rt, TupleT):
                return TupleT(lt.elems + rt.elems)
        if isinstance(op, (ast.BitAnd, ast.BitOr, ast.Sub, ast.BitXor)) and (
            isinstance(lt, SetT) or isinstance(rt, SetT)
        ):
            return _join_safe([lt, rt])
        if isinstance(op, ast.BitOr) and (isinstance(lt, DictT) or isinstance(rt, DictT)):
            return _join_safe([lt, rt])
        nums = {lt, rt}
        if FLOAT in nums:
            return FLOAT
        if nums <= {INT, BOOL, UNKNOWN} and nums & {INT, BOOL}:
            return INT
        return UNKNOWN

    def _call_type(self, e: ast.Call) -> Type:
        f = e.func
        a0 = self.etype(e.args[0]) if e.args else UNKNOWN
        if isinstance(f, ast.Name):
            name = f.id
            if name in ("len", "ord", "int", "round"):
                return INT
            if name in ("str", "chr", "repr", "format", "ascii", "hex", "bin", "oct"):
                return STR
            if name == "float":
                return FLOAT
            if name in ("bool", "any", "all", "isinstance", "callable"):
                return BOOL
            if name in ("list", "sorted", "reversed"):
                return ListT(iter_elem(a0)) if e.args else ListT(UNKNOWN)
            if name == "set":
                return SetT(iter_elem(a0)) if e.args else SetT(UNKNOWN)
            if name == "dict":
                if not e.args:
                    return DictT(UNKNOWN, UNKNOWN)
                if isinstance(a0, DictT):
                    return a0
                pair = iter_elem(a0)
                if isinstance(pair, TupleT) and len(pair.elems) == 2:
                    return DictT(*pair.elems)
                return DictT(UNKNOWN, UNKNOWN)
            if name == "tuple":
                return UNKNOWN
            if name == "sum":
                el = iter_elem(a0)
                return el if el in (INT, FLOAT) else INT
            if name in ("min", "max"):
                if len(e.args) == 1:
                    return iter_elem(a0)
                return _join_safe([self.etype(x) for x in e.args])
            if name == "abs":
                return a0
            if name == "range":
                return ListT(INT)
            if name == "enumerate":
                return ListT(TupleT((INT, iter_elem(a0))))
            if name == "zip":
                return ListT(TupleT(tuple(iter_elem(self.etype(x)) for x in e.args)))
            if name == "filter" and len(e.args) == 2:
                return ListT(iter_elem(self.etype(e.args[1])))
            return UNKNOWN
        if not isinstance(f, ast.Attribute):
            return UNKNOWN
        m = f.attr
        bt = self.etype(f.value)
        if m in STR_TO_STR or (m == "join" and bt in (STR, UNKNOWN)):
            return STR
        if m in STR_TO_BOOL:
            return BOOL
        if m in ("find", "rfind", "index", "rindex", "count"):
            return INT
        if m in ("split", "rsplit", "splitlines"):
            return ListT(STR)
        if m in ("partition", "rpartition"):
            return TupleT((STR, STR, STR))
        if m == "copy":
            return bt
        if isinstance(bt, DictT):
            if m == "keys":
                return ListT(bt.key)
            if m == "values":
                return ListT(bt.value)
            if m == "items":
                return ListT(TupleT((bt.key, bt.value)))
            if m in ("get", "setdefault", "pop"):
                parts = [bt.value] + ([self.etype(e.args[1])] if len(e.args) > 1 else [])
                return _join_safe(parts)
            if m == "popitem":
                return TupleT((bt.key, bt.value))
        if isinstance(bt, (ListT, SetT)) and m == "pop":
            return bt.elem
        if isinstance(bt, SetT) and m in ("union", "intersection", "difference",
                                          "symmetric_difference"):
            return bt
        return UNKNOWN

    def _bind_comprehension(self, gens: list[ast.comprehension]) -> None:
        for g in gens:
            self.refine_expr(g.target, iter_elem(self.etype(g.iter)))

    # --- refinement

    def refine_name(self, name: str, hint: Type) -> None:
        if isinstance(hint, Unknown) or hint == NONE:  # None says nothing about other paths
            return
        old = self.env.get(name, UNKNOWN)
        if not has_unknown(old) and not isinstance(old, Unknown):
            return
        new = refine(old, hint)
        if new != old:
            self.env[name] = new
            self.changed = True
            where = self._where_text()
            if where:
                self.why.setdefault(name, []).append(where)

    def refine_expr(self, e: ast.expr, hint: Type) -> None:
        if isinstance(hint, Unknown):
            return
        if isinstance(e, ast.Name):
            self.refine_name(e.id, hint)
        elif isinstance(e, ast.Subscript):
            bt = self.etype(e.value)
            if isinstance(e.slice, ast.Slice):
                if isinstance(hint, ListT):
                    self.refine_expr(e.value, hint)
            elif isinstance(bt, DictT):
                self.refine_expr(e.value, DictT(self.etype(e.slice), hint))
            elif isinstance(bt, ListT) or (
                isinstance(bt, Unknown) and self.etype(e.slice) in (INT, BOOL)
            ):
                self.refine_expr(e.value, ListT(hint))
        elif isinstance(e, (ast.Tuple, ast.List)) and isinstance(hint, TupleT):
            if len(e.elts) == len(hint.elems):
                for x, h in zip(e.elts, hint.elems, strict=False):
                    self.refine_expr(x, h)
        elif isinstance(e, (ast.Tuple, ast.List)) and isinstance(hint, ListT):
            for x in e.elts:
                self.refine_expr(x, hint.elem if isinstance(e, ast.List) else hint.elem)
        elif isinstance(e, ast.IfExp):
            self.refine_expr(e.body, hint)
            self.refine_expr(e.orelse, hint)
        elif isinstance(e, ast.BoolOp):
            for v in e.values:
                self.refine_expr(v, hint)
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add) and isinstance(hint, ListT):
            self.refine_expr(e.left, hint)
            self.refine_expr(e.right, hint)
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult) and isinstance(hint, ListT):
            for side in (e.left, e.right):
                if isinstance(self.etype(side), ListT) or isinstance(side, ast.List):
                    self.refine_expr(side, hint)
        elif isinstance(e, ast.Call):
            self._refine_call(e, hint)

    def _refine_call(self, e: ast.Call, hint: Type) -> None:
        f = e.func
        if isinstance(f, ast.Attribute):
            bt = self.etype(f.value)
            if f.attr == "copy":
                self.refine_expr(f.value, hint)
            elif f.attr == "pop" and isinstance(bt, ListT):
                self.refine_expr(f.value, ListT(hint))
            elif f.attr in ("pop", "get") and isinstance(bt, DictT) and e.args:
                self.refine_expr(f.value, DictT(self.etype(e.args[0]), hint))
            elif f.attr == "popitem" and isinstance(hint, TupleT) and len(hint.elems) == 2:
                self.refine_expr(f.value, DictT(*hint.elems))
        elif isinstance(f, ast.Name) and e.args:
            src = e.args[0]
            st = self.etype(src)
            if f.id in ("list", "sorted", "reversed") and isinstance(hint, ListT):
                self.refine_expr(src, _container_like(st, hint.elem) if not isinstance(
                    st, DictT) else DictT(hint.elem, UNKNOWN))
            elif f.id == "set" and isinstance(hint, SetT):
                self.refine_expr(src, _container_like(st, hint.elem))
            elif f.id == "dict" and isinstance(hint, DictT) and isinstance(st, DictT):
                self.refine_expr(src, hint)

    def refine_elem(self, e: ast.expr, elem: Type) -> None:
        """``e`` is a container whose elements have type ``elem``."""
        if isinstance(elem, Unknown):
            return
        t = self.etype(e)
        if isinstance(t, TupleT) or t == STR:
            return
        self.refine_expr(e, _container_like(t, elem))

    # --- the rules

    def run(self) -> None:
        for _ in range(MAX_PASSES):
            self.changed = False
            self._pass()
            if not self.changed:
                break
        self._node = None

    def _at(self, n: ast.AST) -> None:
        if isinstance(n, ast.stmt):  # expressions are reported by their statement
            self._node = n

    def _where_text(self) -> str:
        n = self._node
        if n is None:
            return ""
        lines = ast.unparse(n).splitlines()
        text = lines[0] if lines else type(n).__name__
        if len(text) > 50:
            text = text[:47] + "..."
        return f"`{text}` (line {getattr(n, 'lineno', '?')})"

    def _pass(self) -> None:
        nodes = list(_own_nodes(self.fn))
        # returns first: what the values say about the result outranks code guesses
        for n in nodes:
            if isinstance(n, ast.Return) and n.value is not None:
                self._at(n)
                self.refine_expr(n.value, self.env.get(RESULT, UNKNOWN))
                self.refine_name(RESULT, self.etype(n.value))
        for n in nodes:
            self._at(n)
            self._rule(n)

    def _rule(self, n: ast.AST) -> None:
        if isinstance(n, ast.Assign):
            vt = self.etype(n.value)
            for t in n.targets:
                self.refine_expr(t, vt)
                self.refine_expr(n.value, self.etype(t))
        elif isinstance(n, ast.AnnAssign) and n.value is not None:
            ann = _annotation_type(n.annotation)
            if ann is not None:
                self.refine_expr(n.target, ann)
            self.refine_expr(n.target, self.etype(n.value))
        elif isinstance(n, ast.AugAssign):
            tt, vt = self.etype(n.target), self.etype(n.value)
            if isinstance(n.op, ast.Add) and (isinstance(tt, ListT) or isinstance(vt, ListT)):
                self.refine_expr(n.target, vt)
                self.refine_expr(n.value, tt)
            elif isinstance(n.op, ARITH):
                if tt in (INT, FLOAT, STR):
                    self.refine_expr(n.value, tt if not (tt == STR and isinstance(
                        n.op, ast.Mult)) else INT)
                if vt in (INT, FLOAT, STR) and not isinstance(n.op, ast.Mult):
                    self.refine_expr(n.target, vt)
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store):
            # item assignment: the base is mutable, a list when indexed by an int
            if isinstance(self.etype(n.value), Unknown) and not isinstance(n.slice, ast.Slice):
                kt = self.etype(n.slice)
                if kt in (INT, BOOL):
                    self.refine_expr(n.value, ListT(UNKNOWN))
                elif not isinstance(kt, Unknown):
                    self.refine_expr(n.value, DictT(kt, UNKNOWN))
        elif isinstance(n, (ast.For, ast.comprehension)):
            self._for(n.target, n.iter)
        elif isinstance(n, ast.Call):
            self._call_rule(n)
        elif isinstance(n, ast.Compare):
            self._compare_rule(n)
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ARITH):
            lt, rt = self.etype(n.left), self.etype(n.right)
            num = {INT, FLOAT}
            if isinstance(n.op, ast.Add):
                if lt in num | {STR}:
                    self.refine_expr(n.right, lt)
                if rt in num | {STR}:
                    self.refine_expr(n.left, rt)
            elif isinstance(n.op, ast.Mult):
                for a, b in ((lt, n.right), (rt, n.left)):
                    if a == STR or isinstance(a, ListT):
                        self.refine_expr(b, INT)
            elif isinstance(n.op, ast.Mod) and lt == STR:
                pass
            else:
                if lt in num:
                    self.refine_expr(n.right, lt)
                if rt in num:
                    self.refine_expr(n.left, rt)
        elif isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self._bind_comprehension(n.generators)

    def _for(self, target: ast.expr, it: ast.expr) -> None:
        itype = self.etype(it)
        self.refine_expr(target, iter_elem(itype))
        tt = self.etype(target)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute):
            recv, m = it.func.value, it.func.attr
            if m == "items" and isinstance(tt, TupleT) and len(tt.elems) == 2:
                self.refine_expr(recv, DictT(*tt.elems))
                return
            if m == "keys":
                self.refine_expr(recv, DictT(tt, UNKNOWN))
                return
            if m == "values":
                self.refine_expr(recv, DictT(UNKNOWN, tt))
                return
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.args:
            if it.func.id == "enumerate" and isinstance(tt, TupleT) and len(tt.elems) == 2:
                self.refine_elem(it.args[0], tt.elems[1])
                return
            if it.func.id in ("sorted", "reversed", "list", "set"):
                self.refine_elem(it.args[0], tt)
                return
            if it.func.id == "zip" and isinstance(tt, TupleT) and len(tt.elems) == len(it.args):
                for a, t in zip(it.args, tt.elems, strict=False):
                    self.refine_elem(a, t)
                return
            return
        if isinstance(it, (ast.Name, ast.Subscript)):
            self.refine_elem(it, tt)

    def _call_rule(self, n: ast.Call) -> None:
        f = n.func
        if isinstance(f, ast.Name):
            if f.id == "sum" and n.args:
                self.refine_elem(n.args[0], INT)
            return
        if not isinstance(f, ast.Attribute):
            return
        recv, m = f.value, f.attr
        rt = self.etype(recv)
        args = n.args
        if m == "join" and args and rt == STR:
            self.refine_elem(args[0], STR)
        if isinstance(rt, Unknown):  # the method tells what the receiver is
            if m in STR_ONLY:
                self.refine_expr(recv, STR)
            elif m in LIST_ONLY:
                self.refine_expr(recv, ListT(UNKNOWN))
            elif m in DICT_ONLY:
                self.refine_expr(recv, DictT(UNKNOWN, UNKNOWN))
            elif m in SET_ONLY:
                self.refine_expr(recv, SetT(UNKNOWN))
            rt = self.etype(recv)
        if rt == STR:
            return
        if m in ("append", "remove", "count", "index", "add", "discard") and args:
            item = args[0]
            self.refine_elem(recv, self.etype(item))
            self.refine_expr(item, iter_elem(self.etype(recv)))
        elif m == "insert" and len(args) == 2:
            self.refine_elem(recv, self.etype(args[1]))
            self.refine_expr(args[1], iter_elem(self.etype(recv)))
        elif m in ("extend", "update") and args:
            at = self.etype(args[0])
            if m == "update" and isinstance(rt, DictT):
                self.refine_expr(recv, at)
                self.refine_expr(args[0], rt)
            elif isinstance(rt, (ListT, SetT, Unknown)):
                self.refine_elem(recv, iter_elem(at))
                self.refine_elem(args[0], iter_elem(self.etype(recv)))
        elif m == "setdefault" and args:
            v = self.etype(args[1]) if len(args) > 1 else UNKNOWN
            self.refine_expr(recv, DictT(self.etype(args[0]), v))
        elif m in ("get", "pop") and args and isinstance(rt, DictT):
            self.refine_expr(recv, DictT(self.etype(args[0]), UNKNOWN))
            self.refine_expr(args[0], rt.key)

    def _compare_rule(self, n: ast.Compare) -> None:
        left = n.left
        for op, right in zip(n.ops, n.comparators, strict=False):
            if isinstance(op, (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)) and (
                _is_none(left) or _is_none(right)
            ):
                other = right if _is_none(left) else left
                if isinstance(other, ast.Name):
                    self.optional_names.add(other.id)
            elif isinstance(op, (ast.In, ast.NotIn)):
                ct = self.etype(right)
                if ct != STR:
                    self.refine_elem(right, self.etype(left))
                    self.refine_expr(left, iter_elem(self.etype(right)))
                elif ct == STR:
                    self.refine_expr(left, STR)
            elif isinstance(op, (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                lt, rt = self.etype(left), self.etype(right)
                if not _is_empty_display(right):
                    self.refine_expr(left, rt)
                if not _is_empty_display(left):
                    self.refine_expr(right, lt)
            left = right


def _is_none(e: ast.expr) -> bool:
    return isinstance(e, ast.Constant) and e.value is None


def _is_empty_display(e: ast.expr) -> bool:
    return isinstance(e, (ast.List, ast.Dict, ast.Set, ast.Tuple)) and not (
        e.elts if not isinstance(e, ast.Dict) else e.keys
    )


def _const_int(e: ast.expr) -> int | None:
    if isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    if (
        isinstance(e, ast.UnaryOp)
        and isinstance(e.op, ast.USub)
        and isinstance(e.operand, ast.Constant)
        and isinstance(e.operand.value, int)
    ):
        return -e.operand.value
    return None


# ---------------------------------------------------------------- return paths


def _falls_through(body: list[ast.stmt]) -> bool:
    """Whether control can reach the end of ``body`` (conservative: True when unsure)."""
    if not body:
        return True
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return False
    if isinstance(last, ast.If):
        return _falls_through(last.body) or _falls_through(last.orelse)
    if isinstance(last, ast.While) and isinstance(last.test, ast.Constant) and last.test.value:
        return any(isinstance(n, ast.Break) for n in ast.walk(last))
    if isinstance(last, (ast.For, ast.While)) and last.orelse:
        breaks = any(isinstance(n, ast.Break) for n in ast.walk(last))
        return breaks or _falls_through(last.orelse)
    if isinstance(last, ast.Try):
        if last.finalbody and not _falls_through(last.finalbody):
            return False
        return _falls_through(last.body + last.orelse) or any(
            _falls_through(h.body) for h in last.handlers
        )
    if isinstance(last, ast.With):
        return _falls_through(last.body)
    return True


def _literal_type(e: ast.expr) -> Type | None:
    if isinstance(e, ast.Constant):
        t = _const_type(e.value)
        return None if isinstance(t, Unknown) else t
    if _const_int(e) is not None:
        return INT
    return None


def _return_paths(flow: Flow, rt: Type, observed: Type) -> tuple[Type, list[str]]:
    """Widen the result by what other return paths visibly return (None, literals)."""
    notes: list[str] = []
    fn = flow.fn
    none_paths: list[str] = []
    value_types: list[tuple[Type, str]] = []
    literals: list[tuple[Type, str]] = []
    for n in _own_nodes(fn):
        if not isinstance(n, ast.Return):
            continue
        if n.value is None or _is_none(n.value):
            none_paths.append(f"`return` at line {n.lineno}")
            continue
        lit = _literal_type(n.value)
        where = f"`{ast.unparse(n)[:40]}` at line {n.lineno}"
        value_types.append((lit if lit is not None else flow.etype(n.value), where))
        if lit is not None:
            literals.append((lit, where))
    if _falls_through(fn.body) and value_types:
        none_paths.append("falling off the end of the function")
    if rt == NONE:
        others = [t for t, _ in value_types if t != NONE]
        if not others:
            return rt, notes
        inner = _join_safe(others)
        if has_unknown(inner):
            guess = _plausible_prim(flow, list(flow.env))
            notes.append(f"result: the example returned None; other return paths "
                         f"({', '.join(w for _, w in value_types)}) give {inner}, open parts "
                         f"assumed {guess}")
            inner = _fill(inner, guess)
        else:
            notes.append(f"result: the example returned None; Optional[{inner}] from "
                         f"{', '.join(w for _, w in value_types)}")
        return _union([inner, NONE]), notes
    arms: list[Type] = [rt]
    for t, where in literals:
        if conforms_type(t, rt):
            continue
        if t == INT and FLOAT in _union_arms(rt):
            notes.append(f"result: int literal in {where} taken as float")
            continue
        try:
            if len(_union_arms(join(rt, t))) > len(_union_arms(rt)):
                arms.append(t)
                notes.append(f"result: Union arm {t} from {where}")
        except TypeTooWide:
            raise Untypable("too_many_union_arms", f"result paths {rt} and {t}") from None
    out = _union(arms) if len(arms) > 1 else rt
    if none_paths and not isinstance(out, OptionalT) and out != NONE:
        notes.append(f"result: Optional because None is returned by {', '.join(none_paths)}")
        out = _union([out, NONE])
    return out, notes


def _union_arms(t: Type) -> tuple[Type, ...]:
    if isinstance(t, OptionalT):
        t = t.inner
    return t.arms if isinstance(t, UnionT) else (t,)


def conforms_type(t: Type, target: Type) -> bool:
    """Whether ``t`` is already covered by ``target`` (same, or an arm of it)."""
    return t == target or t in _union_arms(target)
