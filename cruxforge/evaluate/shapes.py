"""Input-prediction answers in the shapes models write them, fitted to the masked slot.

A model asked for the input of ``candidate(????) == 19`` (CRUXEval-X masks the
arguments) or of ``crux_eq(????, 19)`` (our harness masks the whole call) answers in
one of three shapes, whatever the mask: the bare arguments (``-4096``), a call of the
item's function (``f(-4096)``, ``(f -4096)``, ``$(f -4096)``), or a call written the way
the harness calls it (``candidate(-4096)``, ``candidate.call(-4096)``,
``$candidate->(-4096)``, ``(candidate -4096)``, ``$(candidate -4096)``). Substituted as
written, a whole call lands inside the harness's own call (``candidate(candidate(0))``)
or bare arguments where a call is due. :func:`fit_input_answer` reads the arguments out
of the answer and writes them in the slot's own shape; the escape screen
(:mod:`cruxforge.evaluate.check`) then judges the result exactly as before.

Only a call whose parentheses close at the very end of the answer is unwrapped: in
``f(1) + f(2)`` the first ``(`` closes early, so the answer is taken as bare arguments
(and then screened and run like any other).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_OPEN, _CLOSE = "([{", ")]}"


def _head_re(name: str) -> str:
    """How a harness calls ``name``: ``$(name `` (bash), ``(name `` (Racket),
    ``$name->(`` (Perl), ``name.call(`` (Ruby), ``name(`` (the rest)."""
    n = re.escape(name)
    return rf"(?:\$\({n} |\({n} |\${n}->\(|{n}\.call\(|{n}\()"


@lru_cache(maxsize=4096)
def defined_names(lang: str, code: str) -> frozenset[str]:
    """The functions an item's code defines (tree-sitter), plus ``candidate`` and ``f``
    (kept per item: the screen, the fitting and the prompt all ask)."""
    from transition_rules.parsing import find_functions

    try:
        names = {f.name for f in find_functions(lang, code)}
    except Exception:  # noqa: BLE001 - no parser for this language: the usual names only
        names = set()
    return frozenset(names | {"candidate", "f"})


def callable_names(lang: str, code: str) -> frozenset[str]:
    """The names a harness may call the function under test by: the item's functions but
    our own helpers (``crux_*``: ``crux_set({1, 2})`` is an argument, not the call)."""
    return frozenset(n for n in defined_names(lang, code) if not n.lower().startswith("crux"))


def _names_longest_first(names: Iterable[str]) -> list[str]:
    return sorted({"candidate", *names}, key=lambda n: (-len(n), n))


def call_head(call: str, names: Iterable[str] = ()) -> str:
    """The part of ``call`` before its arguments when it is a call of ``candidate`` or of
    one of ``names``: ``candidate(``, ``candidate.call(``, ``$(candidate ``, ``f(`` ..."""
    for name in _names_longest_first(names):
        m = re.match(_head_re(name), call)
        if m:
            return m.group(0)
    return ""


def callee(head: str) -> str:
    """The function a call head calls: ``$(candidate `` -> ``candidate``."""
    m = re.match(r"(?:\$\(|\(|\$)?([A-Za-z_][A-Za-z0-9_]*)", head)
    return m.group(1) if m else ""


def _closes_at_end(text: str) -> bool:
    """Whether ``text`` (the part after a call's opening) closes that call at its very
    last character, with balanced brackets in between (string literals skipped)."""
    bare = _STRINGS.sub('""', text)
    depth = 1
    for i, c in enumerate(bare):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return i == len(bare) - 1 and c == ")"
    return False


def call_heads(head: str, names: Iterable[str]) -> list[str]:
    """The heads a call of the function may start with, longest first: the harness's own
    (``head``), the same with ``candidate`` or any of ``names`` as the callee, and
    ``name(``."""
    called = callee(head)
    out = {head}
    for name in {"candidate", *names}:
        out.add(head.replace(called, name, 1) if called else head)
        out.add(name + "(")
    return sorted((h for h in out if h), key=len, reverse=True)


def arguments_of(answer: str, heads: Iterable[str]) -> str:
    """The arguments of ``answer`` if it is one call starting with one of ``heads`` and
    closing at its end; else the answer itself (bare arguments)."""
    for h in heads:
        if answer.startswith(h) and _closes_at_end(answer[len(h) :]):
            return answer[len(h) : -1].strip()
    return answer


def slot_shape(code: str, start: int, end: int, names: Iterable[str]) -> tuple[str, bool]:
    """How the slot ``code[start:end]`` of an input mask sits in its call: (the call's
    head, whether the slot is the whole call). ("", False) when it is in no call we know."""
    names = set(names)
    original = code[start:end]
    head = call_head(original, names)
    if head and original.endswith(")"):
        return head, True
    if not code[end:].lstrip(" ").startswith(")"):
        return "", False
    # the slot is a call's arguments: the longest head before it (candidate.call(, not
    # call( of a function named call)
    before = code[:start]
    found = [
        m.group(0)
        for name in names | {"candidate"}
        if (m := re.search(_head_re(name) + r"\Z", before))
    ]
    return (max(found, key=len), False) if found else ("", False)


def fit_input_answer(code: str, start: int, end: int, answer: str, names: Iterable[str]) -> str:
    """``answer`` rewritten for the slot ``code[start:end]`` of an input-prediction mask;
    ``names`` are the functions the item defines (``f``, C#'s ``F`` ...)."""
    names = set(names)
    answer = answer.strip()
    head, whole = slot_shape(code, start, end, names)
    if not head:
        return answer
    args = arguments_of(answer, call_heads(head, names))
    return f"{head}{args})" if whole else args
