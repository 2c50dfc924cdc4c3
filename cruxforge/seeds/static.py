"""Static (AST) checks run before any seed code executes.

They reject what the subprocess run could not judge safely or reproducibly: imports,
I/O, dynamic code and introspection, and names that read clocks, randomness or the
environment. Module names are flagged only when *free* (not bound anywhere in the seed),
since CRUXEval code routinely names a parameter ``string`` or ``time``.
"""

from __future__ import annotations

import ast

from cruxforge.models import Reason, Seed
from cruxforge.seeds.reasons import make_reason

IO_CALLS = frozenset({"print", "input", "open", "breakpoint", "exit", "quit", "help"})
REFLECTION_CALLS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "memoryview",
    }
)
NONDET_CALLS = frozenset({"id", "hash"})
NONDET_NAMES = frozenset(
    {
        "random",
        "time",
        "os",
        "sys",
        "datetime",
        "uuid",
        "secrets",
        "threading",
        "subprocess",
        "socket",
        "multiprocessing",
    }
)


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the seed binds anywhere (params, targets, defs, comprehension vars)."""
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
    return out


def entry_function(tree: ast.Module, entry: str) -> ast.FunctionDef | None:
    """The last module-level ``def entry`` (the one Python would bind), if any."""
    found = None
    for n in tree.body:
        if isinstance(n, ast.FunctionDef) and n.name == entry:
            found = n
    return found


def static_check(seed: Seed) -> Reason | None:
    """First static reason to reject ``seed``, or None when it may be run."""
    try:
        tree = ast.parse(seed.code)
    except SyntaxError as e:
        return make_reason("syntax_error", seed.id, "code", f"line {e.lineno}: {e.msg}")
    fn = entry_function(tree, seed.entry)
    if fn is None:
        return make_reason(
            "no_entry_function", seed.id, "code", f"no module-level def {seed.entry}(...)"
        )
    a = fn.args
    if a.vararg or a.kwarg or a.posonlyargs:
        return make_reason(
            "untypable",
            seed.id,
            "code",
            "variadic_params: *args/**kwargs/positional-only parameters have no fixed "
            "signature in the type language",
        )
    bound = _bound_names(tree)
    found = _scan(tree, bound, seed.id, "code")
    if found is not None:
        return found
    for field, code in (("input", "bad_input"), ("output", "bad_output")):
        text = getattr(seed, field)
        src = f"__cf_pack__({text})" if field == "input" else text
        try:
            expr = ast.parse(src.strip() or "None", mode="eval")
        except SyntaxError as e:
            return make_reason(code, seed.id, field, f"does not parse: {e.msg}")
        found = _scan(expr, bound | {"__cf_pack__"}, seed.id, field)
        if found is not None:
            return found
    return None


def _scan(tree: ast.AST, bound: set[str], seed_id: str, field: str) -> Reason | None:
    """First forbidden construct in ``tree`` (imports, I/O, reflection, nondeterminism)."""
    for n in ast.walk(tree):
        line = getattr(n, "lineno", "?")
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            return make_reason("uses_import", seed_id, field, f"line {line}: {ast.unparse(n)!r}")
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in bound:
            name = n.func.id
            if name in IO_CALLS:
                return make_reason("uses_io", seed_id, field, f"line {line}: calls {name}()")
            if name in REFLECTION_CALLS:
                return make_reason(
                    "uses_reflection", seed_id, field, f"line {line}: calls {name}()"
                )
            if name in NONDET_CALLS:
                return make_reason(
                    "uses_nondeterminism", seed_id, field, f"line {line}: calls {name}()"
                )
        if isinstance(n, ast.Name) and n.id not in bound:
            if n.id in NONDET_NAMES:
                return make_reason(
                    "uses_nondeterminism", seed_id, field, f"line {line}: uses {n.id!r}"
                )
            if n.id.startswith("__") and n.id != "__name__":
                return make_reason("uses_reflection", seed_id, field, f"line {line}: uses {n.id!r}")
        if isinstance(n, ast.Attribute) and n.attr.startswith("__") and n.attr.endswith("__"):
            return make_reason(
                "uses_reflection", seed_id, field, f"line {line}: uses attribute {n.attr!r}"
            )
    return None
