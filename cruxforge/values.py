"""Values crossing process and language boundaries.

Two encodings live here:

* the *wire* encoding (``to_wire``/``from_wire``): lossless JSON for Python values of the
  type language, used between the seed runner subprocess and the parent, and on disk;
* the *canonical text* (``canonical``/``parse_canonical``): the one-line form every
  language's harness prints for an actual value (see docs/architecture.md, "Verdict
  protocol"). It is parsed back *by type*, so languages need not agree on how they
  spell a float or a one-element tuple, and compared with :func:`values_equal`
  (float tolerance, unordered sets and dicts).
"""

from __future__ import annotations

import math
from typing import Any

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
)

REL_TOL = 1e-6
ABS_TOL = 1e-9


class UnsupportedValue(ValueError):
    """A value outside the type language (bytes, callables, objects ...)."""


# ---------------------------------------------------------------- wire encoding


def to_wire(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, list):
        return {"l": [to_wire(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": [to_wire(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"s": [to_wire(x) for x in v]}
    if isinstance(v, dict):
        return {"d": [[to_wire(k), to_wire(x)] for k, x in v.items()]}
    raise UnsupportedValue(
        f"value of Python type {type(v).__name__!r} is outside the type language"
    )


def from_wire(w: Any) -> Any:
    if w is None or isinstance(w, (bool, str, int)):
        return w
    if isinstance(w, dict) and len(w) == 1:
        ((tag, body),) = w.items()
        if tag == "f":
            return float(body)
        if tag == "l":
            return [from_wire(x) for x in body]
        if tag == "t":
            return tuple(from_wire(x) for x in body)
        if tag == "s":
            return {from_wire(x) for x in body}
        if tag == "d":
            return {from_wire(k): from_wire(x) for k, x in body}
    raise ValueError(f"not a wire-encoded value: {w!r}")


# ---------------------------------------------------------------- canonical text


def _str_canon(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _float_canon(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def canonical(v: Any) -> str:
    """The canonical one-line text of a Python value (dict/set in iteration order)."""
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float_canon(v)
    if isinstance(v, str):
        return _str_canon(v)
    if isinstance(v, list):
        return "[" + ", ".join(canonical(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(canonical(x) for x in v) + ")"
    if isinstance(v, (set, frozenset)):
        return "{" + ", ".join(canonical(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{canonical(k)}: {canonical(x)}" for k, x in v.items()) + "}"
    raise UnsupportedValue(
        f"value of Python type {type(v).__name__!r} is outside the type language"
    )


class CanonicalSyntaxError(ValueError):
    pass


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def peek(self) -> str:
        self.ws()
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise CanonicalSyntaxError(f"expected {ch!r} at offset {self.i} in {self.s!r}")
        self.i += 1

    def atom(self) -> str:
        self.ws()
        j = self.i
        while j < len(self.s) and self.s[j] not in ",)]}: \t":
            j += 1
        tok = self.s[self.i : j]
        self.i = j
        if not tok:
            raise CanonicalSyntaxError(f"expected a value at offset {j} in {self.s!r}")
        return tok

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        s = self.s
        while True:
            if self.i >= len(s):
                raise CanonicalSyntaxError(f"unterminated string in {s!r}")
            ch = s[self.i]
            self.i += 1
            if ch == '"':
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                continue
            esc = s[self.i : self.i + 1]
            self.i += 1
            simple = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "/": "/", "0": "\0"}
            if esc in simple:
                out.append(simple[esc])
            elif esc == "u":
                code = int(s[self.i : self.i + 4], 16)
                self.i += 4
                if 0xD800 <= code < 0xDC00 and s[self.i : self.i + 2] == "\\u":
                    low = int(s[self.i + 2 : self.i + 6], 16)
                    if 0xDC00 <= low < 0xE000:
                        self.i += 6
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                out.append(chr(code))
            elif esc == "U":
                out.append(chr(int(s[self.i : self.i + 8], 16)))
                self.i += 8
            else:
                raise CanonicalSyntaxError(f"bad escape \\{esc} in {s!r}")

    def seq(self, open_: str, close: str, item) -> list[Any]:  # type: ignore[no-untyped-def]
        self.expect(open_)
        items: list[Any] = []
        if self.peek() == close:
            self.i += 1
            return items
        while True:
            items.append(item())
            if self.peek() == ",":
                self.i += 1
                if self.peek() == close:  # tolerate a trailing comma, e.g. Python's (x,)
                    self.i += 1
                    return items
                continue
            self.expect(close)
            return items


def parse_canonical(text: str, t: Type) -> Any:
    """Parse canonical text as a value of type ``t``; raises CanonicalSyntaxError."""
    r = _Reader(text.strip())
    v = _read(r, t)
    if r.peek():
        raise CanonicalSyntaxError(f"trailing text at offset {r.i} in {text!r}")
    return v


def _read(r: _Reader, t: Type) -> Any:
    if isinstance(t, OptionalT):
        save = r.i
        if r.peek() in ("N", "n"):
            if r.atom() in ("None", "null", "nil"):
                return None
            r.i = save
        return _read(r, t.inner)
    if isinstance(t, UnionT):
        save = r.i
        errors = []
        # an int-looking token is an int where both int and float are possible
        for arm in sorted(t.arms, key=lambda a: 0 if a == Prim("int") else 1):
            r.i = save
            try:
                v = _read(r, arm)
                nxt = r.peek()
                if nxt in ("", ",", ")", "]", "}", ":"):
                    return v
            except (CanonicalSyntaxError, ValueError) as e:
                errors.append(str(e))
        raise CanonicalSyntaxError(f"no arm of {t} matches at offset {save} in {r.s!r}")
    if isinstance(t, Prim):
        if t.name == "str":
            return r.string()
        tok = r.atom()
        if t.name == "None":
            if tok in ("None", "null", "nil"):
                return None
            raise CanonicalSyntaxError(f"expected None, got {tok!r}")
        if t.name == "bool":
            if tok in ("True", "true"):
                return True
            if tok in ("False", "false"):
                return False
            raise CanonicalSyntaxError(f"expected a bool, got {tok!r}")
        if t.name == "int":
            try:
                return int(tok)
            except ValueError:
                raise CanonicalSyntaxError(f"expected an int, got {tok!r}") from None
        try:
            return float(tok)
        except ValueError:
            raise CanonicalSyntaxError(f"expected a float, got {tok!r}") from None
    if isinstance(t, ListT):
        return r.seq("[", "]", lambda: _read(r, t.elem))
    if isinstance(t, SetT):
        return set(r.seq("{", "}", lambda: _read(r, t.elem)))
    if isinstance(t, TupleT):
        it = iter(t.elems)

        def member() -> Any:
            e = next(it, None)
            if e is None:
                raise CanonicalSyntaxError(f"expected {len(t.elems)} tuple elements in {r.s!r}")
            return _read(r, e)

        items = r.seq("(", ")", member)
        if len(items) != len(t.elems):
            raise CanonicalSyntaxError(f"expected {len(t.elems)} tuple elements in {r.s!r}")
        return tuple(items)
    if isinstance(t, DictT):

        def pair() -> tuple[Any, Any]:
            k = _read(r, t.key)
            r.expect(":")
            return k, _read(r, t.value)

        return dict(r.seq("{", "}", pair))
    if isinstance(t, Unknown):
        raise CanonicalSyntaxError("cannot parse a value of unresolved type '?'")
    raise CanonicalSyntaxError(f"unsupported type {t}")


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality with float tolerance; sets and dicts compare unordered; types must match."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if type(a) is not type(b):
        if isinstance(a, (set, frozenset)) and isinstance(b, (set, frozenset)):
            pass
        else:
            return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        if len(a) != len(b):
            return False
        rest = list(b)
        for x in a:
            for i, y in enumerate(rest):
                if values_equal(x, y):
                    del rest[i]
                    break
            else:
                return False
        return True
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for k, x in a.items():
            if k in b:
                if not values_equal(x, b[k]):
                    return False
                continue
            for k2, y in b.items():
                if values_equal(k, k2) and values_equal(x, y):
                    break
            else:
                return False
        return True
    return bool(a == b)


__all__ = [
    "UnsupportedValue",
    "canonical",
    "conforms",
    "from_wire",
    "parse_canonical",
    "to_wire",
    "values_equal",
]
