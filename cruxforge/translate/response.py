"""Taking a usable function out of whatever a model answered.

Models wrap code in fences or not, add prose, put imports above the function, return a
Java method without its class or a whole program with its own ``main``. We take what is
usable and say precisely what isn't: every problem becomes a repairable diagnostic, like
a compile error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transition_rules.parsing import (
    FunctionNotFound,
    cut_function,
    find_functions,
    parse,
    syntax_errors,
    tagged,
)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PYTHON_CALL = re.compile(r"\bpython[0-9.]*\b|\bpy_compile\b|\bPyRun_", re.I)

def fence_tags(lang: str) -> set[str]:
    """Every tag after ``` that names ``lang`` (the rule file's ``[names]``)."""
    from transition_rules.engine import rules_for

    names = rules_for(lang).names
    return {lang, names.fence, *names.fence_tags}


@dataclass(frozen=True)
class Extracted:
    code: str | None  # the function (with what it needs), or None
    problem: str | None  # why nothing usable was found, as a diagnostic for the model


def _blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def extract_function(
    lang: str,
    text: str,
    entry: str,
    *,
    arity: int | None = None,
    forbidden: list[str] | None = None,
) -> Extracted:
    """The function ``entry`` from a model's answer in ``lang``, or a precise problem."""
    if not text or not text.strip():
        return Extracted(None, "the answer was empty")
    blocks = _blocks(text)
    tags = fence_tags(lang)
    wrong = [t for t, _ in blocks if t and t not in tags]
    candidates = [b for t, b in blocks if not t or t in tags] or ([text] if not blocks else [])
    if not candidates:
        return Extracted(
            None, f"the code block is marked as {', '.join(sorted(set(wrong)))}, not {lang}"
        )
    problems = []
    for block in sorted(candidates, key=lambda b: entry not in b):
        try:
            code = cut_function(lang, block, entry)
        except FunctionNotFound as e:
            problems.append(str(e))
            continue
        errs = syntax_errors(lang, code)
        if errs:
            problems.append(f"the function does not parse as {lang}: " + "; ".join(errs))
            continue
        if arity is not None:
            n = count_parameters(lang, block, entry)
            if n is not None and n != arity:
                problems.append(
                    f"function {entry!r} takes {n} parameters; the signature has {arity}"
                )
                continue
        if calls_python(lang, code):
            problems.append("the function calls out to a Python interpreter; translate it instead")
            continue
        searchable = strip_comments(lang, code)
        for lit in forbidden or []:
            if lit and lit in searchable:
                problems.append(
                    f"the function embeds the expected output literal {lit[:80]!r}; "
                    "compute it instead"
                )
                break
        else:
            return Extracted(code, None)
    if wrong and not problems:
        problems.append(f"the answer is in {', '.join(sorted(set(wrong)))}, not {lang}")
    return Extracted(None, problems[0] if problems else f"no {lang} function {entry!r} found")


_PARAM_NODES = {
    "parameter",
    "parameter_declaration",
    "formal_parameter",
    "required_parameter",
    "optional_parameter",
    "simple_parameter",
    "typed_parameter",
    "default_parameter",
    "typed_default_parameter",
    "identifier",
    "variadic_parameter",
    "spread_parameter",
}


def count_parameters(lang: str, source: str, entry: str) -> int | None:
    """Parameters of ``entry`` where the grammar shows a parameter list; else None."""
    found = [f for f in find_functions(lang, source) if f.name == entry]
    if not found:
        return None
    node = found[0].node
    direct = [c for c in node.named_children if c.type == "parameter"]  # Swift
    if direct:
        return len(direct)
    stack = list(node.children)
    while stack:
        n = stack.pop(0)
        if n.type in ("parameters", "parameter_list", "formal_parameters", "method_parameters"):
            return sum(_names_in(c) for c in n.named_children if c.type in _PARAM_NODES)
        if n.type in (
            "block",
            "compound_statement",
            "statement_block",
            "function_body",
            "body_statement",
        ):
            continue
        stack.extend(n.children)
    return None


def _names_in(param: object) -> int:
    """Go declares `a, b int` as one parameter of two names."""
    if getattr(param, "type", "") == "parameter_declaration":
        names = [c for c in param.named_children if c.type == "identifier"]  # type: ignore[attr-defined]
        return max(1, len(names))
    return 1


def _nodes(lang: str, code: str, kinds: tuple[str, ...]) -> list[tuple[int, int]]:
    """Byte spans (in ``code``) of the nodes whose type contains one of ``kinds``."""
    shift = tagged(lang, code)[1]
    spans = []
    stack = [parse(lang, code)]
    while stack:
        n = stack.pop()
        if any(k in n.type for k in kinds) and n.start_byte >= shift:
            spans.append((n.start_byte - shift, n.end_byte - shift))
            continue
        stack.extend(n.children)
    return spans


def strip_comments(lang: str, code: str) -> str:
    """The code with comments blanked out (a comment may mention anything)."""
    data = bytearray(code.encode("utf-8"))
    for a, b in _nodes(lang, code, ("comment",)):
        data[a:b] = b" " * (b - a)
    return data.decode("utf-8", errors="replace")


def calls_python(lang: str, code: str) -> bool:
    """Whether a string literal of the code names a Python interpreter (comments don't count)."""
    data = code.encode("utf-8")
    for a, b in _nodes(lang, code, ("string", "heredoc")):
        if _PYTHON_CALL.search(data[a:b].decode("utf-8", errors="replace")):
            return True
    return False
