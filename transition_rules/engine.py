"""The small engine that turns rule files into signatures, literals and harnesses.

Everything language-specific is in ``rules/<lang>.toml``; this module only walks the
type language and fills templates. Named hooks (``hooks.py``) cover what data can't say.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cruxforge.models import TypedSeed
from cruxforge.typesys import (
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    UnionT,
    Unknown,
    conforms,
    walk,
)
from cruxforge.values import canonical
from runtimes.backend import ENTRY_TOKEN, Program, ProgramParts
from transition_rules import hooks
from transition_rules.schema import RuleFile

RULES_DIR = Path(__file__).resolve().parent / "rules"
MASK = "????"


class RuleError(ValueError):
    """A rule file is missing or invalid (raised at load, naming the file)."""


class Unsupported(Exception):
    """A type or value this language's rules cannot carry; ``reason`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in child.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_toml(name: str, directory: Path) -> dict[str, Any]:
    path = directory / f"{name}.toml"
    if not path.is_file():
        raise RuleError(f"rule file missing: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise RuleError(f"{path}: not valid TOML: {e}") from None
    parent = data.get("extends")
    if parent:
        data = _merge(_read_toml(parent, directory), data)
    return data


def load_rules(lang: str, directory: Path = RULES_DIR, dialect: str | None = None) -> RuleFile:
    """A language's rules; with ``dialect``, that dialect's sections merged over them
    (every dialect is validated whenever the file is loaded, so errors name it)."""
    data = _read_toml(lang, directory)
    try:
        rules = RuleFile.model_validate(data)
    except ValidationError as e:
        raise RuleError(f"{directory / (lang + '.toml')}: invalid rule file:\n{e}") from None
    for name in rules.dialects if dialect is None else ():
        load_rules(lang, directory, name)
    if dialect is not None:
        if dialect not in rules.dialects:
            raise RuleError(f"{lang}: no dialect {dialect!r}; known: {sorted(rules.dialects)}")
        d = rules.dialects[dialect]
        over = d.model_dump(exclude={"entry", "prelude_append", "detect"})
        merged = _merge({k: v for k, v in data.items() if k != "dialects"}, over)
        if d.prelude_append:
            merged["prelude"] = merged.get("prelude", "") + "\n" + d.prelude_append
        try:
            rules = RuleFile.model_validate(merged)
        except ValidationError as e:
            raise RuleError(
                f"{directory / (lang + '.toml')}: invalid dialect {dialect!r}:\n{e}"
            ) from None
    if rules.lang != lang:
        raise RuleError(
            f"{directory / (lang + '.toml')}: lang is {rules.lang!r}, expected {lang!r}"
        )
    for h in rules.hooks:
        if h not in hooks.HOOKS:
            raise RuleError(f"{lang}: unknown hook {h!r}; known: {sorted(hooks.HOOKS)}")
    item_hook = rules.batch.item_hook if rules.batch is not None else None
    if item_hook is not None and item_hook not in hooks.ITEM_HOOKS:
        known = sorted(hooks.ITEM_HOOKS)
        raise RuleError(f"{lang}: unknown batch.item_hook {item_hook!r}; known: {known}")
    whole = rules.batch.published if rules.batch is not None else None
    named = {
        "item_hook": (whole.item_hook if whole else None, sorted(hooks.ITEM_HOOKS)),
        "program_hook": (whole.program_hook if whole else None, sorted(hooks.PROGRAM_HOOKS)),
    }
    for field, (hook, known) in named.items():
        if hook is not None and hook not in known:
            raise RuleError(f"{lang}: unknown batch.published.{field} {hook!r}; known: {known}")
    return rules


@cache
def rules_for(lang: str, dialect: str | None = None) -> RuleFile:
    return load_rules(lang, dialect=dialect)


def dialect_entry(lang: str, dialect: str | None, entry: str) -> str:
    """The function's name for seed entry ``entry`` in ``dialect`` (ours: unchanged)."""
    if dialect is None:
        return entry
    form = rules_for(lang).dialects[dialect].entry
    return form.format(entry=entry, Entry=entry[:1].upper() + entry[1:])


def rules_hash(lang: str, directory: Path = RULES_DIR) -> str:
    """Hash of a language's rule file and everything it extends (for manifests/caches)."""
    h = hashlib.sha256()
    name: str | None = lang
    while name:
        path = directory / f"{name}.toml"
        raw = path.read_bytes()
        h.update(raw)
        name = tomllib.loads(raw.decode()).get("extends")
    return h.hexdigest()[:16]


def available_languages(directory: Path = RULES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml") if not p.stem.startswith("_"))


# ---------------------------------------------------------------- types


def _kind(t: Type) -> str:
    if isinstance(t, Prim):
        return "none" if t.name == "None" else t.name
    return {
        ListT: "list",
        TupleT: "tuple",
        DictT: "dict",
        SetT: "set",
        OptionalT: "optional",
        UnionT: "union",
        Unknown: "unknown",
    }[type(t)]


def check_type(rules: RuleFile, t: Type, *, is_result: bool = False) -> None:
    """Raise Unsupported if ``t`` (or any part) can't be carried by this language."""
    if is_result and t == Prim("None") and "none_result" in rules.unsupported:
        raise Unsupported("none_result", rules.unsupported["none_result"])
    for node in walk(t):
        kind = _kind(node)
        if kind == "unknown":
            raise Unsupported("unresolved_type", f"type {t} still holds an unresolved '?'")
        if kind in rules.unsupported:
            raise Unsupported(
                f"unsupported_{kind}", f"{rules.name}: {rules.unsupported[kind]} (in {t})"
            )
        if kind == "union" and rules.types.union is None:
            raise Unsupported(
                "unsupported_union", f"{rules.name} rules have no union type (in {t})"
            )
        if isinstance(node, TupleT) and not node.elems and "empty_tuple" in rules.unsupported:
            raise Unsupported("unsupported_empty_tuple", rules.unsupported["empty_tuple"])
        if isinstance(node, OptionalT) and isinstance(node.inner, OptionalT):
            raise Unsupported("nested_optional", f"Optional of Optional can't be told apart ({t})")
        for code, hits in _NODE_LIMITS.items():
            if code in rules.unsupported and hits(node):
                raise Unsupported(
                    f"unsupported_{code}", f"{rules.name}: {rules.unsupported[code]} ({t})"
                )


def _keyed(t: Type) -> Type | None:
    """A dict's key type or a set's member type (what a hash or comparison must handle)."""
    return t.key if isinstance(t, DictT) else t.elem if isinstance(t, SetT) else None


# the limits of one type node that a rule file's [unsupported] may name (schema.py lists
# them): code -> does this node hit it
_NODE_LIMITS: dict[str, Callable[[Type], bool]] = {
    "one_tuple": lambda n: isinstance(n, TupleT) and len(n.elems) == 1,
    "float_key": lambda n: _keyed(n) == Prim("float"),
    "optional_key": lambda n: (
        (k := _keyed(n)) is not None and any(isinstance(x, OptionalT) for x in walk(k))
    ),
    "optional_bool": lambda n: isinstance(n, OptionalT) and n.inner == Prim("bool"),
    "contained_none": lambda n: any(
        isinstance(m, OptionalT) or m == Prim("None") for m in _members(n)
    ),
    "object_key": lambda n: isinstance(n, DictT) and n.key not in (Prim("str"), Prim("int")),
    "container_key": lambda n: isinstance(_keyed(n), (ListT, TupleT, DictT, SetT)),
}


def _members(t: Type) -> list[Type]:
    """A container type's member types (none for a scalar, an Optional or a union)."""
    if isinstance(t, (ListT, SetT)):
        return [t.elem]
    if isinstance(t, TupleT):
        return list(t.elems)
    if isinstance(t, DictT):
        return [t.key, t.value]
    return []


def tuple_name(rules: RuleFile, t: TupleT) -> str:
    names = rules.types.tuple_names
    if not names:
        return ""
    if not 1 <= len(t.elems) <= len(names):
        raise Unsupported(
            "unsupported_tuple_arity",
            f"{rules.name} tuples have names for 1..{len(names)} members, not {len(t.elems)}",
        )
    return names[len(t.elems) - 1]


_SCALARS = (Prim("int"), Prim("float"), Prim("bool"), Prim("str"))


def _key_literal(rules: RuleFile, k: Any, t: Type) -> str:
    """A dict key's literal; a negative number as ``negative_key`` says (a JavaScript
    object literal's key can't be ``-1``, only ``[-1]``)."""
    text = render_literal(rules, k, t)
    negative = isinstance(k, (int, float)) and not isinstance(k, bool) and k < 0
    return rules.literals.negative_key.format(v=text) if negative else text


def render_type(rules: RuleFile, t: Type) -> str:
    tr = rules.types
    if isinstance(t, Prim):
        return {"int": tr.int, "float": tr.float, "bool": tr.bool, "str": tr.str, "None": tr.none}[
            t.name
        ]
    if isinstance(t, ListT):
        return tr.list.format(elem=render_type(rules, t.elem))
    if isinstance(t, SetT):
        return tr.set.format(elem=render_type(rules, t.elem))
    if isinstance(t, DictT):
        return tr.dict.format(key=render_type(rules, t.key), value=render_type(rules, t.value))
    if isinstance(t, TupleT):
        elems = tr.tuple_sep.join(
            tr.tuple_member.format(elem=render_type(rules, e), i=i) for i, e in enumerate(t.elems)
        )
        tmpl = tr.tuple_one if (len(t.elems) == 1 and tr.tuple_one) else tr.tuple
        return tmpl.format(elems=elems, n=len(t.elems), name=tuple_name(rules, t))
    if isinstance(t, OptionalT):
        return tr.optional.format(inner=render_type(rules, t.inner))
    if isinstance(t, UnionT):
        if tr.union is None:
            raise Unsupported("unsupported_union", f"{rules.name} rules have no union type")
        return tr.union.format(arms=tr.tuple_sep.join(render_type(rules, a) for a in t.arms))
    raise Unsupported("unresolved_type", f"cannot render type {t}")


# ---------------------------------------------------------------- literals


def escape_string(rules: RuleFile, s: str) -> str:
    sr = rules.strings
    bad = [ch for ch in sr.unrepresentable if ch in s]
    if bad:
        raise Unsupported(
            "unsupported_char",
            f"{rules.name} strings can't hold U+{ord(bad[0]):04X} (in {s[:40]!r})",
        )
    out: list[str] = []
    for ch in s:
        c = ord(ch)
        if ch in sr.escapes:
            out.append(sr.escapes[ch])
        elif c < 0x20 or c == 0x7F:
            out.append(sr.control.format(c=c))
        elif c < 0x80 or sr.non_ascii == "raw":
            out.append(ch)
        elif c > 0xFFFF and sr.non_bmp == "utf16":
            v = c - 0x10000
            out.append(sr.non_ascii.format(c=0xD800 + (v >> 10)))
            out.append(sr.non_ascii.format(c=0xDC00 + (v & 0x3FF)))
        elif c > 0xFFFF and sr.non_bmp not in ("same", "utf16"):
            out.append(sr.non_bmp.format(c=c))
        else:
            out.append(sr.non_ascii.format(c=c))
    return "".join(out)


def _float_text(x: float) -> str:
    text = repr(x)
    if "e" in text or "E" in text:
        mant, exp = text.split("e")
        if "." not in mant:
            mant += ".0"
        return f"{mant}e{exp}"
    return text


def render_literal(rules: RuleFile, v: Any, t: Type) -> str:
    """Render value ``v`` of type ``t`` as source text; Unsupported if it can't be."""
    lr = rules.literals
    if isinstance(t, OptionalT):
        if v is None:
            if lr.optional_none is None:
                return lr.none
            return lr.optional_none.format(inner_type=render_type(rules, t.inner))
        inner = render_literal(rules, v, t.inner)
        return lr.optional_some.format(v=inner, inner_type=render_type(rules, t.inner))
    if isinstance(t, UnionT):
        for i, arm in enumerate(t.arms):
            if conforms(v, arm):
                return lr.union_arm.format(
                    v=render_literal(rules, v, arm),
                    arm_type=render_type(rules, arm),
                    arm_index=i,
                    type=render_type(rules, t),
                )
        raise Unsupported("value_type_mismatch", f"{v!r} matches no arm of {t}")
    if isinstance(t, Prim):
        if t.name == "None":
            return lr.none
        if t.name == "bool":
            return lr.true if v else lr.false
        if t.name == "int":
            lim = 1 << (lr.int_bits - 1)
            if not -lim <= v < lim:
                raise Unsupported(
                    "int_out_of_range", f"{rules.name}: integer {v} exceeds {lr.int_bits}-bit range"
                )
            if v == -lim and lr.int_min is not None:
                return lr.int_min
            text = lr.int.format(v=v)
            return lr.negative_wrap.format(v=text) if v < 0 else text
        if t.name == "float":
            if math.isnan(v):
                return lr.float_nan
            if math.isinf(v):
                return lr.float_inf if v > 0 else lr.float_neg_inf
            text = lr.float.format(v=_float_text(float(v)))
            return lr.negative_wrap.format(v=text) if v < 0 else text
        return lr.str.format(v=escape_string(rules, v))
    sep = lr.sep
    if isinstance(t, ListT):
        items = [render_literal(rules, x, t.elem) for x in v]
        tmpl = lr.list_empty if (not items and lr.list_empty) else lr.list
        if lr.list_of_scalars is not None and t.elem in _SCALARS:
            tmpl = lr.list_of_scalars
        return tmpl.format(
            items=sep.join(items),
            n=len(items),
            type=render_type(rules, t),
            elem_type=render_type(rules, t.elem),
        )
    if isinstance(t, SetT):
        items = [render_literal(rules, x, t.elem) for x in _stable(v)]
        tmpl = lr.set_empty if (not items and lr.set_empty) else lr.set
        return tmpl.format(
            items=sep.join(items),
            n=len(items),
            type=render_type(rules, t),
            elem_type=render_type(rules, t.elem),
        )
    if isinstance(t, DictT):
        items = [
            lr.dict_item.format(
                key=_key_literal(rules, k, t.key), value=render_literal(rules, x, t.value)
            )  # fmt: skip
            for k, x in v.items()
        ]
        tmpl = lr.dict_empty if (not items and lr.dict_empty) else lr.dict
        return tmpl.format(
            items=sep.join(items),
            n=len(items),
            type=render_type(rules, t),
            key_type=render_type(rules, t.key),
            value_type=render_type(rules, t.value),
        )
    if isinstance(t, TupleT):
        items = [render_literal(rules, x, e) for x, e in zip(v, t.elems)]
        if not items and lr.tuple_empty:
            tmpl = lr.tuple_empty
        elif len(items) == 1 and lr.tuple_one:
            tmpl = lr.tuple_one
        else:
            tmpl = lr.tuple
        return tmpl.format(
            items=sep.join(items),
            n=len(items),
            type=render_type(rules, t),
            elem_types=rules.types.tuple_sep.join(render_type(rules, e) for e in t.elems),
            name=tuple_name(rules, t),
        )
    raise Unsupported("unresolved_type", f"cannot render a value of type {t}")


def _stable(s: Any) -> list[Any]:
    """Members of a set in a reproducible order (rendered items must hash the same)."""
    return sorted(s, key=lambda x: (type(x).__name__, canonical(x)))


# ---------------------------------------------------------------- rendering items


@dataclass(frozen=True)
class Case:
    """One test case: argument values and the expected result (Python values)."""

    args: tuple[Any, ...]
    expected: Any


def rename(rules: RuleFile, name: str) -> str:
    ids = rules.identifiers
    if name in ids.reserved or (ids.rename_matching and re.search(ids.rename_matching, name)):
        return ids.rename.format(name=name)
    return name


def check_seed(rules: RuleFile, seed: TypedSeed, cases: list[Case] | None = None) -> None:
    """Raise Unsupported when the seed's types or values can't be carried."""
    sig = seed.signature
    for t in sig.param_types():
        check_type(rules, t)
    check_type(rules, sig.result_type(), is_result=True)
    for case in cases or [seed_case(seed)]:
        _render_call(rules, seed, case)
        render_literal(rules, case.expected, sig.result_type())


def seed_case(seed: TypedSeed) -> Case:
    return Case(tuple(seed.arg_values()), seed.result_value())


def render_stub(rules: RuleFile, seed: TypedSeed) -> str:
    sig = seed.signature
    params = rules.stub.param_sep.join(
        rules.stub.param.format(name=rename(rules, p.name), type=render_type(rules, t))
        for p, t in zip(sig.params, sig.param_types())
    )
    return rules.stub.template.format(
        entry=seed.entry, params=params, result=render_type(rules, sig.result_type())
    )


def _render_args(rules: RuleFile, seed: TypedSeed, case: Case, *, labels: bool = True) -> str:
    """The call's arguments; in our harness each as ``harness.arg`` writes it (Swift's
    argument labels in CRUXEval-X's dialect), in a published call bare."""
    sig = seed.signature
    arg = rules.harness.arg if labels else "{v}"
    return rules.harness.args_sep.join(
        arg.format(v=render_literal(rules, v, t), name=rename(rules, p.name))
        for v, t, p in zip(case.args, sig.param_types(), sig.params)
    )


def _render_call(rules: RuleFile, seed: TypedSeed, case: Case, entry: str | None = None) -> str:
    return rules.harness.call.format(
        entry=entry or seed.entry, args=_render_args(rules, seed, case)
    )


def _indent(rules: RuleFile, text: str) -> str:
    ind = rules.harness.indent
    # split on "\n" only: str.splitlines() would also cut at U+2028 inside a literal
    return "\n".join(ind + line if line else line for line in text.split("\n"))


def hoist_lines(pattern: str | None, text: str, hoisted: list[str]) -> str:
    """``text`` without the lines ``pattern`` matches, each new one added to ``hoisted``
    (imports moved to a program's top, in a harness or a batch)."""
    if not pattern:
        return text
    for m in re.finditer(pattern, text, re.M):
        if (line := m.group(0).strip("\n")) not in hoisted:
            hoisted.append(line)
    return re.sub(pattern, "", text, flags=re.M)


def _hoist_imports(rules: RuleFile, function: str) -> tuple[str, str]:
    """(the function without the lines ``harness.hoist`` matches, those lines as a
    program's ``{hoisted}`` text, each on a line of its own)."""
    hoisted: list[str] = []
    function = hoist_lines(rules.harness.hoist, function, hoisted)
    return function, "".join("\n" + h for h in hoisted)


def harness_text(rules: RuleFile, function: str, body: str) -> str:
    """``harness.program`` around a function: lines ``harness.hoist`` matches (the
    imports a file carried with its function, in Java and C#) leave the function for the
    program's ``{hoisted}``, where the language allows them."""
    function, hoisted = _hoist_imports(rules, function)
    return rules.harness.program.format(
        prelude=rules.prelude, function=function, body=body, hoisted=hoisted
    )


def render_harness(
    rules: RuleFile, seed: TypedSeed, function: str, cases: list[Case] | None = None
) -> str:
    """The verdict-protocol program: prelude, the translated function, every case."""
    cases = cases if cases is not None else [seed_case(seed)]
    body = render_body(rules, seed, cases)
    source = harness_text(rules, function, body)
    return hooks.apply(rules.hooks, source)


def render_body(
    rules: RuleFile,
    seed: TypedSeed,
    cases: list[Case],
    entry: str | None = None,
    first: int = 0,
) -> str:
    """The harness's case lines, calling the function as ``entry`` (default: its name);
    the cases are numbered from ``first``."""
    rt = seed.signature.result_type()
    return "\n".join(
        _indent(
            rules,
            rules.harness.case.format(
                i=i,
                call=_render_call(rules, seed, c, entry),
                expected=render_literal(rules, c.expected, rt),
                result_type=render_type(rules, rt),
            ),
        )
        for i, c in enumerate(cases, first)
    )


def harness_program(
    rules: RuleFile,
    seed: TypedSeed,
    function: str,
    cases: list[Case] | None = None,
    *,
    program_id: str | None = None,
) -> Program:
    cases = cases if cases is not None else [seed_case(seed)]
    return program_from_parts(
        rules,
        ProgramParts(
            function=function,
            body=render_body(rules, seed, cases, ENTRY_TOKEN),
            entry=seed.entry,
        ),
        program_id=program_id or f"{seed.id}:{rules.lang}",
        n_cases=len(cases),
        expected=[canonical(c.expected) for c in cases],
    )


def program_from_parts(
    rules: RuleFile,
    parts: ProgramParts,
    *,
    program_id: str,
    n_cases: int,
    expected: list[str] | None = None,
) -> Program:
    """The harness program for a function and its rendered cases (the body may hold
    statements besides the cases, e.g. the execution benchmark's failing variants)."""
    body = parts.body.replace(ENTRY_TOKEN, parts.entry)
    source = harness_text(rules, parts.function, body)
    return Program(
        id=program_id,
        lang=rules.lang,
        source=hooks.apply(rules.hooks, source),
        n_cases=n_cases,
        expected=expected,
        parts=parts,
    )


def roundtrip_program(rules: RuleFile, values: list[tuple[Any, Type]], program_id: str) -> Program:
    """A program that reports each literal's canonical text back (as a case's actual)."""
    body = "\n".join(
        _indent(
            rules,
            rules.harness.value.format(
                i=i, value=render_literal(rules, v, t), type=render_type(rules, t)
            ),
        )
        for i, (v, t) in enumerate(values)
    )
    source = harness_text(rules, "", body)
    source = hooks.apply(rules.hooks, source)
    return Program(id=program_id, lang=rules.lang, source=source, n_cases=len(values))


@dataclass(frozen=True)
class PublishedItem:
    id: int | str
    code: str
    input_reasoning: str
    output_reasoning: str
    natural: bool = False  # its test needs no helper of ours (the natural one, or py's)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "input_reasoning": self.input_reasoning,
            "output_reasoning": self.output_reasoning,
        }


def published_id(seed_id: str) -> int | str:
    """CRUXEval-X's id is the integer N of seed ``sample_N``; other ids stay strings."""
    head, _, tail = seed_id.rpartition("_")
    return int(tail) if head == "sample" and tail.isdigit() else seed_id


def natural_test(rules: RuleFile, seed: TypedSeed, expected: str) -> tuple[str, str] | None:
    """The language's own test for the item, as (harness, prelude), where it is exact:
    the natural test when every kind in the result type is one it compares exactly and
    renders without our helpers (a kind whose literal or type needs the helper prelude is
    not listed as exact), every kind in the parameters one it renders so
    (``literal_only`` too), and the rendered expected value is not one it misreads
    (``helper_when``); a kind in ``result_only`` is exact in the result alone. The close
    test for a float result; a container test for a list result whose elements it
    compares exactly, and the like for the other containers (``containers``). None: our
    helper's."""
    nat = rules.published.natural
    if nat is None:
        return None
    params = {_kind(n) for t in seed.signature.param_types() for n in walk(t)}
    result = [_kind(n) for n in walk(seed.signature.result_type())]
    if not params <= {*nat.exact, *nat.literal_only}:
        return None
    if nat.helper_when and re.search(nat.helper_when, expected):
        return None
    if all(k in {*nat.exact, *nat.result_only} for k in result):
        return nat.harness, nat.prelude
    if nat.close is not None and result == ["float"]:
        return nat.close.harness, nat.close.prelude
    for c in nat.containers:
        if result[0] == c.of and all(k in c.elems for k in result[1:]):
            return c.harness, c.prelude
    return None


def _with_literals(rules: RuleFile, forms: dict[str, str]) -> RuleFile:
    if not forms:
        return rules
    return rules.model_copy(update={"literals": rules.literals.model_copy(update=forms)})


def natural_result_rules(rules: RuleFile) -> RuleFile:
    """The rules whose literals write an expected value where the language's own test
    stands (``[published.natural]`` literals and result literals; ours without)."""
    nat = rules.published.natural
    return _with_literals(rules, {**nat.literals, **nat.result_literals}) if nat else rules


def render_published(
    rules: RuleFile, seed: TypedSeed, function: str, case: Case | None = None
) -> PublishedItem:
    """The item in CRUXEval-X's format: function + test, and its two masks. The test is
    the language's own where it is exact for the item (:func:`natural_test`: the natural
    one, or a float result's close test), else our asserting harness with its
    deep-equality helper. ``case`` replaces the seed's example (a
    mutant's wrong expected value, when the published test itself is proven)."""
    case = case or seed_case(seed)
    # the language's own test (in its own literals) where it is exact for the item, else
    # our helper's
    nat = rules.published.natural
    arg_rules = _with_literals(rules, nat.literals) if nat else rules
    result_rules = natural_result_rules(rules)
    expected = render_literal(result_rules, case.expected, seed.signature.result_type())
    own = natural_test(rules, seed, expected)
    if own is None and result_rules is not rules:  # our helper's test: our literals
        arg_rules = rules
        expected = render_literal(rules, case.expected, seed.signature.result_type())
    harness, prelude = own or (rules.published.harness, rules.published.prelude)
    call = rules.published.call.format(
        entry=seed.entry, args=_render_args(arg_rules, seed, case, labels=False)
    )
    result = render_type(rules, seed.signature.result_type())

    def tail(c: str, e: str) -> str:
        return harness.format(prelude=prelude, call=c, expected=e, result=result)

    # the masked prompts are the test alone: what the harness puts before it (imports, the
    # helpers our test needs) stays in the code, never in what a model is asked to complete
    test = harness.split("{prelude}", 1)[1] if "{prelude}" in harness else harness

    def masked(c: str, e: str) -> str:
        return test.format(call=c, expected=e, result=result).lstrip("\n")

    # imports the function carries go to the program's top where it says ({hoisted}):
    # Java's and C#'s are not legal inside the class around the function
    hoisted = ""
    if "{hoisted}" in rules.published.program:
        function, hoisted = _hoist_imports(rules, function)
    code = rules.published.program.format(
        function=function.strip("\n") if hoisted else function.rstrip("\n"),
        harness=tail(call, expected),
        hoisted=hoisted,
    )
    code = hooks.apply(rules.hooks, code)
    return PublishedItem(
        id=published_id(seed.id),
        code=code,
        # as CRUXEval-X: the arguments are masked, the call stays
        input_reasoning=masked(rules.published.call.format(entry=seed.entry, args=MASK), expected),
        output_reasoning=masked(call, MASK),
        # Python's one test needs no helper of ours: natural too
        natural=own is not None or not rules.published.prelude.strip(),
    )


def strip_prelude(lang: str, text: str) -> str:
    """``text`` without the language's published prelude (the helpers of our published
    tests), for showing a model the code of an item without our harness code."""
    from runtimes.spec import LANGUAGES

    if lang not in LANGUAGES:
        return text
    prelude = rules_for(lang).published.prelude.strip("\n")
    if not prelude:
        return text
    return text.replace(prelude + "\n", "").replace(prelude, "")
