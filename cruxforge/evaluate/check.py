"""Checking an answer by execution, with a screen against answers that escape the harness.

A check program is the item's ``code`` with the answer in place of the span the mask
hides (:func:`cruxforge.evaluate.items.locate`), run with ``judge="exit_status"``: the
published harness asserts, so the answer is right iff the program compiles and exits 0.
An input answer is first fitted to the slot's shape (:mod:`cruxforge.evaluate.shapes`):
bare arguments, a call of ``f`` or the harness's own call all become what the slot holds,
a whole call (our harness) or the arguments (CRUXEval-X's); the outcome keeps the answer
as submitted. An answer is text chosen by a model, so before and after running it is
screened:

1. **one line**: an answer with a line break is rejected (CRUXEval-X answers are one
   line; a new line is the easiest way to start a new statement).
2. **one syntactic node in the same slot** (tree-sitter, when the item's own code parses
   cleanly and its masked span is one node): the program with the answer must still
   parse; the answer must be exactly one node whose ancestors have the same node types as
   the original span's. ``x) or True or (x``, ``19; import os`` or ``1), 19) || (f(1``
   are not one node in that slot and are rejected without running.
3. **no forbidden names** (outside string literals): an output answer must not mention
   ``candidate`` or any function the item defines, our ``crux_*`` literal helpers aside
   (``candidate(5)`` on both sides of
   ``==`` is a tautology); an input answer for a whole-call slot must be a call with the
   original call's head (``candidate(``, ``candidate.call(``, ``(candidate ``,
   ``$(candidate ``, ``f(`` where the harness calls ``f``), name the called function
   exactly once and none of the item's other functions; one for an arguments slot may
   not name ``candidate`` at all; no answer may name a
   process-control, reflection or definition primitive from :data:`DENIED_NAMES`
   (``exit``, ``__import__``, ``eval``, ``process``, ``lambda``, ``def``, ``type`` ...):
   a literal needs none of them, and they are how one builds an always-equal object
   (a name the item's own masked text uses is allowed: C#'s and Java's Union
   values are written ``(object)("melon")``).
4. **sentinel**: the program prints a fresh random nonce after the harness
   (the rule files' ``[sentinel]``); a run that exits 0 without printing it is ``escaped_harness``.

Limits: this is a screen, not a proof. A single well-formed expression can still
cheat through a language's semantics without any name on the lists, e.g. an object whose
equality always holds built with names not denied; the screen makes such answers long
and conspicuous, and the ``answer`` is kept in ``results.jsonl`` for audit. Languages
without a sentinel rely on 1-3; languages whose grammar does not parse the item cleanly
rely on 1, 3 and 4.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel

from cruxforge.evaluate.items import EvalItem, MaskNotFound, Task, locate
from cruxforge.evaluate.shapes import (
    call_head,
    callable_names,
    callee,
    fit_input_answer,
    slot_shape,
)
from runtimes.backend import Backend, Program, RunResult, Verdict

# verdicts the evaluator adds to the backend's
NO_ANSWER = "no_answer"  # nothing extractable in the model's reply / no prediction
REJECTED = "rejected_answer"  # failed the screen (not run)
ESCAPED = "escaped_harness"  # exited 0 without printing the sentinel
BAD_ITEM = "bad_item"  # the item's own mask could not be located (not the model's fault)

DENIED_NAMES = frozenset(
    """
    exit _exit quit abort die halt exitProcess at_exit atexit register_shutdown_function
    exec eval system spawn fork kill popen subprocess __import__ importlib import require
    load globals locals vars setattr delattr getattr __dict__ __class__ __eq__ __ne__
    __builtins__ builtins compile open os sys posix Process process Runtime Environment
    send __send__ public_send define_method define_singleton_method instance_eval
    class_eval module_eval instance_variable_set const_set binding ObjectSpace Kernel
    method_missing Function Reflect Proxy defineProperty setPrototypeOf prototype __proto__
    constructor globalThis exports module unsafe ccall trap
    def class lambda function fn proc Proc Class Struct Module type object Object coerce
    instance_variable_get new_class
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_SKIP_TYPE = re.compile(r"string|comment|char|heredoc|regex|quoted|rune", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


class CheckOutcome(BaseModel):
    lang: str
    task: Task
    id: str
    answer: str | None
    passed: bool
    verdict: str
    detail: str = ""
    sentinel: bool = False
    structure_checked: bool = False
    # the answer as the model wrote it, when it was fitted to the slot's shape
    # (bare arguments or a call of f where the harness calls candidate, and so on)
    submitted: str | None = None


@cache
def sentinels() -> dict[str, dict[str, str]]:
    """Per language, its rule file's ``[sentinel]`` (append / prepend), where it has one."""
    from runtimes.spec import LANGUAGES
    from transition_rules.engine import rules_for

    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        s = rules_for(lang).sentinel
        if s is not None:
            out[lang] = {k: v for k, v in s.model_dump().items() if v is not None}
    return out


# ------------------------------------------------------------------ screening


def _tokens_lexical(answer: str) -> list[str]:
    return _WORD.findall(_STRINGS.sub('""', answer))


@dataclass(frozen=True)
class Screen:
    reason: str | None  # None = accepted
    tokens: list[str]
    structure_checked: bool


def _slot_node(root, start: int, end: int):  # type: ignore[no-untyped-def]
    """The topmost node spanning exactly bytes [start, end), or None."""
    n = root.descendant_for_byte_range(start, end)
    if n is None or n.start_byte != start or n.end_byte != end:
        return None
    while n.parent is not None and n.parent.start_byte == start and n.parent.end_byte == end:
        n = n.parent
    return n


def _path(n) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    p = n.parent
    while p is not None:
        out.append(p.type)
        p = p.parent
    return out


def _leaf_tokens(n) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    stack = [n]
    while stack:
        x = stack.pop()
        if x is not n and _SKIP_TYPE.search(x.type):
            continue
        if x.child_count == 0:
            out.append((x.text or b"").decode("utf-8", "replace"))
        else:
            stack.extend(reversed(x.children))
    return out


def _byte(s: str, i: int) -> int:
    return len(s[:i].encode("utf-8"))


def structural_screen(lang: str, code: str, start: int, end: int, answer: str) -> Screen:
    """Check 2 above; returns the answer's tokens (tree-sitter or lexical)."""
    from transition_rules.parsing import parse, parse_rules

    lexical = _tokens_lexical(answer)
    if lang not in parse_rules():
        return Screen(None, lexical, False)
    root = parse(lang, code)
    if root.has_error:
        return Screen(None, lexical, False)
    orig = _slot_node(root, _byte(code, start), _byte(code, end))
    if orig is None:
        return Screen(None, lexical, False)
    new_code = code[:start] + answer + code[end:]
    new_root = parse(lang, new_code)
    if new_root.has_error:
        return Screen("the program with this answer does not parse", lexical, True)
    a = _byte(new_code, start)
    node = _slot_node(new_root, a, a + len(answer.encode("utf-8")))
    if node is None:
        return Screen("the answer is not one expression in the masked place", lexical, True)
    if _path(node) != _path(orig):
        return Screen("the answer changes the structure around the masked place", lexical, True)
    return Screen(None, _leaf_tokens(node), True)


def screen_answer(item: EvalItem, task: Task, answer: str) -> tuple[str | None, bool]:
    """(reason to reject or None, whether the structure was checked)."""
    if "\n" in answer or "\r" in answer:
        return "the answer spans several lines", False
    slot = locate(item.code, item.masked(task))
    # the item's functions: what an answer may not call (our crux_* helpers are how some
    # literals are written, crux_set({1, 2}) in Lua, and are allowed)
    defined = callable_names(item.lang, item.code)
    start, end = slot.start, slot.end
    if task == "input":
        head, whole = slot_shape(item.code, start, end, defined)
        if head and not whole:  # an arguments slot is screened as the whole call it fills
            start, end = start - len(head), end + item.code.index(")", end) + 1 - end
            answer = f"{head}{answer})"
    original = item.code[start:end]
    sc = structural_screen(item.lang, item.code, start, end, answer)
    if sc.reason:
        return sc.reason, sc.structure_checked
    tokens = [t.rstrip("!?") or t for t in sc.tokens]  # Ruby's exit! and the like
    # a name the item's own masked text uses is how its literals are written (C#'s and
    # Java's Union values are cast to object): not denied to an answer
    own = set(_tokens_lexical(item.code[slot.start : slot.end]))
    denied = sorted({t for t in tokens if t in DENIED_NAMES and t not in own})
    if denied:
        return f"the answer uses {', '.join(denied)}", sc.structure_checked
    if task == "output":
        named = sorted({t for t in tokens if t in defined})
        if named:
            return f"an output answer may not mention {', '.join(named)}", sc.structure_checked
    else:
        head = call_head(original, defined)
        if head and not answer.startswith(head):
            return f"an input answer must be a call starting {head.strip()!r}", sc.structure_checked
        if head and not answer.endswith(")"):
            return "an input answer must be one whole call", sc.structure_checked
        called = callee(head) or "candidate"
        n_called = sum(t == called for t in tokens)
        others = sorted({t for t in tokens if t in defined and t != called})
        if n_called != (1 if head else 0) or others:
            return f"an input answer must call {called} once, with plain arguments", (
                sc.structure_checked
            )
    return None, sc.structure_checked


# ------------------------------------------------------------------ programs


def check_program(item: EvalItem, task: Task, answer: str, nonce: str) -> tuple[Program, bool]:
    """The program that checks ``answer`` and whether it carries a sentinel."""
    slot = locate(item.code, item.masked(task))
    source = item.code[: slot.start] + answer + item.code[slot.end :]
    snip = sentinels().get(item.lang)
    if snip:
        if "prepend" in snip:
            source = snip["prepend"].format(nonce=nonce) + "\n" + source
        if "append" in snip:
            source = source.rstrip("\n") + "\n" + snip["append"].format(nonce=nonce) + "\n"
    return (
        Program(
            id=f"{item.lang}/{task}/{item.id}",
            lang=item.lang,
            source=source,
            n_cases=1,
            judge="exit_status",
            variant="published",
        ),
        bool(snip),
    )


def _judge(run: RunResult, nonce: str | None) -> tuple[bool, str, str]:
    v = run.verdict
    msg = run.cases[0].message if run.cases and run.cases[0].message else ""
    if v is not Verdict.passed:
        return False, v.value, msg or ""
    if nonce is not None and nonce not in [ln.strip() for ln in run.stdout.splitlines()]:
        return False, ESCAPED, "the program exited 0 before the harness finished"
    return True, Verdict.passed.value, ""


def check_answers(
    backend: Backend,
    jobs: Sequence[tuple[EvalItem, Task, str | None]],
    *,
    batch_size: int = 64,
    screen: bool = True,
) -> list[CheckOutcome]:
    """Screen and run every (item, task, answer); one outcome per job, in order.

    ``screen=False`` skips checks 1-3 (only for testing the sentinel on its own).
    """
    outcomes: list[CheckOutcome | None] = [None] * len(jobs)
    pending: list[tuple[int, Program, str | None]] = []
    for i, (item, task, raw) in enumerate(jobs):
        answer = raw.strip() if raw is not None else ""
        base = CheckOutcome(
            lang=item.lang, task=task, id=item.id, answer=answer or None, passed=False,
            verdict="not_run",
        )  # fmt: skip
        if not answer:
            outcomes[i] = base.model_copy(update={"verdict": NO_ANSWER})
            continue
        try:
            slot = locate(item.code, item.masked(task))
            if task == "input":
                fitted = fit_input_answer(
                    item.code, slot.start, slot.end, answer, callable_names(item.lang, item.code)
                )
                if fitted != answer:
                    base = base.model_copy(update={"answer": fitted, "submitted": answer})
                    answer = fitted
            reason, structured = screen_answer(item, task, answer) if screen else (None, False)
        except MaskNotFound as e:
            outcomes[i] = base.model_copy(update={"verdict": BAD_ITEM, "detail": str(e)})
            continue
        if reason is not None:
            outcomes[i] = base.model_copy(
                update={"verdict": REJECTED, "detail": reason, "structure_checked": structured}
            )
            continue
        nonce = "CRUXFORGE-END-" + secrets.token_hex(12)
        program, has_sentinel = check_program(item, task, answer, nonce)
        outcomes[i] = base.model_copy(
            update={"sentinel": has_sentinel, "structure_checked": structured}
        )
        pending.append((i, program, nonce if has_sentinel else None))
    for b in range(0, len(pending), batch_size):
        chunk = pending[b : b + batch_size]
        runs = backend.execute([p for _, p, _ in chunk])
        for (i, _, want), run in zip(chunk, runs):
            passed, verdict, detail = _judge(run, want)
            o = outcomes[i]
            assert o is not None
            outcomes[i] = o.model_copy(
                update={"passed": passed, "verdict": verdict, "detail": detail[:1000]}
            )
    return [o for o in outcomes if o is not None]
