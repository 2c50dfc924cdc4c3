"""Seed intake: turn a seed file into ``Seed`` models plus per-record rejections.

Two formats, chosen by suffix:

* ``.jsonl`` (CRUXEval): one object per line with string fields ``code``, ``input``,
  ``output``, ``id`` (optional ``entry``, default ``f``). A bad line never stops the run:
  it becomes a rejected ``SeedCheck`` naming the line and field.
* ``.py`` (a researcher's own seeds): functions plus top-level
  ``assert name(args) == expected`` lines. Each assert is a seed ``<stem>_<k>``; its code is
  the called function plus the module-level definitions it (transitively) needs.

Only a file that can't be read at all (missing, not UTF-8, unsupported suffix, a ``.py``
that doesn't parse) is fatal: :class:`SeedFileError` carries the line and the cause.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from cruxforge.models import Seed, SeedCheck
from cruxforge.seeds.reasons import make_reason

REQUIRED_FIELDS = ("code", "input", "output", "id")
SUFFIXES = (".jsonl", ".py")


class SeedFileError(Exception):
    """The seed file as a whole can't be read; ``line`` is 1-based (0 = whole file)."""

    def __init__(self, path: Path | str, line: int, cause: str) -> None:
        self.path = str(path)
        self.line = line
        self.cause = cause
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {cause}")


@dataclass
class Intake:
    """What a seed file yielded: runnable seeds and records rejected on the spot."""

    seeds: list[Seed] = field(default_factory=list)
    rejected: list[SeedCheck] = field(default_factory=list)


def read_seeds(path: Path | str) -> Intake:
    """Read a ``.jsonl`` or ``.py`` seed file (see module docstring)."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise SeedFileError(p, 0, f"unsupported format {p.suffix or '(no suffix)'!r}; "
                            f"expected one of {', '.join(SUFFIXES)}")
    text = _read_text(p)
    if p.suffix == ".jsonl":
        return _read_jsonl(p, text)
    return _read_py(p, text)


def _read_text(p: Path) -> str:
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise SeedFileError(p, 0, "no such file") from None
    except OSError as e:
        raise SeedFileError(p, 0, f"cannot read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise SeedFileError(p, line, f"not UTF-8 (byte 0x{raw[e.start]:02x} at offset "
                            f"{e.start})") from None


def _reject(rec_id: str, code: str, field_: str, cause: str) -> SeedCheck:
    reason = make_reason(code, rec_id, field_, cause)
    return SeedCheck(id=rec_id, status="rejected", reason=reason, typed=None)


def _read_jsonl(p: Path, text: str) -> Intake:
    out = Intake()
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p.name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            out.rejected.append(_reject(where, "malformed_json", "line", f"line {lineno}: {e.msg} "
                                        f"at column {e.colno}"))
            continue
        if not isinstance(obj, dict):
            out.rejected.append(_reject(where, "malformed_json", "line", f"line {lineno}: "
                                        f"expected a JSON object, got {type(obj).__name__}"))
            continue
        rec_id = obj["id"] if isinstance(obj.get("id"), str) and obj["id"] else where
        bad = None
        for name in REQUIRED_FIELDS:
            if name not in obj:
                bad = ("missing_field", name, f"line {lineno}: field {name!r} is missing")
                break
            if not isinstance(obj[name], str):
                bad = ("bad_field_type", name, f"line {lineno}: field {name!r} must be a "
                       f"string, got {type(obj[name]).__name__}")
                break
        entry = obj.get("entry", "f")
        if bad is None and (not isinstance(entry, str) or not entry.isidentifier()):
            bad = ("bad_field_type", "entry", f"line {lineno}: field 'entry' must be an "
                   f"identifier string, got {entry!r}")
        if bad is None and not obj["id"]:
            bad = ("bad_field_type", "id", f"line {lineno}: field 'id' is empty")
        if bad is None and rec_id in seen:
            bad = ("duplicate_id", "id", f"line {lineno}: id {rec_id!r} was already used")
        if bad is not None:
            out.rejected.append(_reject(rec_id, *bad))
            continue
        seen.add(rec_id)
        out.seeds.append(Seed(id=rec_id, code=obj["code"], input=obj["input"],
                              output=obj["output"], entry=entry, source=where))
    return out


# ---------------------------------------------------------------- .py seed files


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _split_assert(node: ast.Assert) -> tuple[ast.Call, ast.expr] | None:
    """``assert f(args) == expected`` (either side) -> (call, expected)."""
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return None
    left, right = t.left, t.comparators[0]
    if isinstance(left, ast.Call) and isinstance(left.func, ast.Name):
        return left, right
    if isinstance(right, ast.Call) and isinstance(right.func, ast.Name):
        return right, left
    return None


def _read_py(p: Path, text: str) -> Intake:
    try:
        tree = ast.parse(text, filename=str(p))
    except SyntaxError as e:
        raise SeedFileError(p, e.lineno or 0, f"Python syntax error: {e.msg}") from None
    defs = [(n, _defined_names(n)) for n in tree.body if not isinstance(n, ast.Assert)]
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    out = Intake()
    asserts = [n for n in tree.body if isinstance(n, ast.Assert)]
    for k, node in enumerate(asserts):
        seed_id = f"{p.stem}_{k}"
        where = f"{p.name}:{node.lineno}"
        split = _split_assert(node)
        if split is None or not isinstance(split[0].func, ast.Name):
            out.rejected.append(_reject(seed_id, "unsupported_assert", "assert",
                                        f"line {node.lineno}: expected `assert f(...) == value`"))
            continue
        call, expected = split
        assert isinstance(call.func, ast.Name)
        entry = call.func.id
        if entry not in functions:
            out.rejected.append(_reject(seed_id, "no_entry_function", "assert",
                                        f"line {node.lineno}: {entry!r} is not a function "
                                        f"defined in {p.name}"))
            continue
        args = [ast.get_source_segment(text, a) or ast.unparse(a) for a in call.args]
        args += [f"{kw.arg}={ast.get_source_segment(text, kw.value) or ast.unparse(kw.value)}"
                 if kw.arg else f"**{ast.unparse(kw.value)}" for kw in call.keywords]
        exp_text = ast.get_source_segment(text, expected) or ast.unparse(expected)
        code = _closure_source(text, defs, {entry} | _used_names(call) | _used_names(expected),
                               before=node.lineno)
        out.seeds.append(Seed(id=seed_id, code=code, input=", ".join(args), output=exp_text,
                              entry=entry, source=where))
    return out


def _closure_source(text: str, defs: list[tuple[ast.stmt, set[str]]], wanted: set[str],
                    before: int) -> str:
    """Source of the module-level statements (above line ``before``) that bind the names
    in ``wanted``, transitively, in file order; the last binding of a name wins."""
    chosen: set[int] = set()
    todo = list(wanted)
    done: set[str] = set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        for i in range(len(defs) - 1, -1, -1):
            node, names = defs[i]
            if name in names and node.lineno < before:
                if i not in chosen:
                    chosen.add(i)
                    todo.extend(_used_names(node) - done)
                break
    parts = [ast.get_source_segment(text, defs[i][0], padded=True) or ast.unparse(defs[i][0])
             for i in sorted(chosen)]
    order = sorted(chosen)
    blocks = [_with_decorators(text, defs[i][0], s) for i, s in zip(order, parts, strict=True)]
    return "\n\n".join(blocks) + "\n"


def _with_decorators(text: str, node: ast.stmt, src: str) -> str:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.decorator_list:
        lines = text.splitlines()
        first = min(d.lineno for d in node.decorator_list)
        return "\n".join(lines[first - 1 : node.end_lineno])
    return src
