"""Items of a release (or a bare CRUXEval-X folder) and the span each mask hides.

An item's ``input_reasoning`` / ``output_reasoning`` is the item's harness with one span
(the call, or the expected value) replaced by ``????``; the harness is a suffix of
``code``. :func:`locate` finds that span in ``code``: exactly (the masked text's part
before ``????`` and after it bracket the span), or, when the published texts differ in
whitespace or the like, by aligning the two texts with :mod:`difflib` and accepting the
alignment only if everything outside the replaced span is equal up to whitespace.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cruxforge.itemfiles import read_items

MASK = "????"
Task = Literal["input", "output"]
TASKS: tuple[Task, Task] = ("input", "output")


class ReleaseError(ValueError):
    """A release file or item is unusable (names file and line)."""


@dataclass(frozen=True)
class Slot:
    """``code[start:end]`` is what the mask hides; ``code[harness_start:]`` the harness."""

    start: int
    end: int
    harness_start: int

    def original(self, code: str) -> str:
        return code[self.start : self.end]


@dataclass(frozen=True)
class EvalItem:
    id: str  # as text; integer ids of CRUXEval-X become their decimal text
    lang: str
    code: str
    input_reasoning: str
    output_reasoning: str
    line: int

    def masked(self, task: Task) -> str:
        return self.input_reasoning if task == "input" else self.output_reasoning

    def function(self, task: Task) -> str:
        """The code before the harness (the function and anything it needs)."""
        return self.code[: locate(self.code, self.masked(task)).harness_start]


def item_key(raw_id: object) -> str:
    return str(raw_id)


def _eval_item(lang: str, line: int, rec: dict[str, Any]) -> EvalItem:
    return EvalItem(
        id=item_key(rec["id"]),
        lang=lang,
        code=rec["code"],
        input_reasoning=rec["input_reasoning"],
        output_reasoning=rec["output_reasoning"],
        line=line,
    )


def read_release(folder: Path, languages: list[str] | None = None) -> dict[str, list[EvalItem]]:
    """Every ``<lang>.jsonl`` (or CRUXEval-X ``Python.jsonl`` ...) in ``folder``, by language."""
    if not folder.is_dir():
        raise ReleaseError(f"release folder not found: {folder}")
    out = read_items(folder, languages, _eval_item, ReleaseError, "a CRUXEval-X item")
    if languages:
        missing = sorted(set(languages) - set(out))
        if missing:
            raise ReleaseError(f"{folder}: no items for language(s) {missing}")
    return out


class MaskNotFound(ReleaseError):
    pass


def locate(code: str, masked: str) -> Slot:
    """Where in ``code`` the span hidden by ``masked``'s ``????`` lies."""
    slot = _locate_exact(code, masked)
    if slot is None:
        slot = _locate_aligned(code, masked)
    if slot is None:
        raise MaskNotFound("the masked harness is not the item's harness with one span masked")
    return slot


# what may follow a harness in its program: the braces closing a class or an object the
# harness sits in (C#, Java and Scala items), and whitespace
_CLOSING = re.compile(r"[\s})\]]*\Z")


def _locate_exact(code: str, masked: str) -> Slot | None:
    # Try every ???? in the masked text (a literal may itself contain "????").
    pos = masked.find(MASK)
    body = code.rstrip()
    while pos >= 0:
        pre, post = masked[:pos], masked[pos + len(MASK) :].rstrip()
        end = body.rfind(post) if post else len(body)
        while end >= 0 and not _CLOSING.match(body, end + len(post)):
            end = body.rfind(post, 0, end + len(post) - 1) if post else -1
        if end >= 0:
            h = code.rfind(pre, 0, end)
            if h >= 0 and h + len(pre) < end:
                return Slot(start=h + len(pre), end=end, harness_start=h)
        pos = masked.find(MASK, pos + 1)
    return None


def _locate_aligned(code: str, masked: str) -> Slot | None:
    pos = masked.find(MASK)
    if pos < 0:
        return None
    # compare masked with the tail of code of a similar length (plus slack)
    offset = max(0, len(code) - len(masked) - 2000)
    tail = code[offset:]
    sm = difflib.SequenceMatcher(None, tail, masked, autojunk=False)
    start = end = None
    first_equal = None
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            if first_equal is None and j1 == 0:
                first_equal = i1
            continue
        if j1 <= pos and pos + len(MASK) <= j2:
            if start is not None:
                return None
            # the replaced span, without the text around the mask that did match
            lead, trail = masked[j1:pos], masked[pos + len(MASK) : j2]
            seg = tail[i1:i2]
            if not (seg.startswith(lead) and seg.endswith(trail)):
                return None
            start, end = i1 + len(lead), i2 - len(trail)
        elif tail[i1:i2].strip() or masked[j1:j2].strip():
            if j2 == 0 or j1 == 0 and tag == "delete":
                continue  # code before the harness
            return None
    if start is None or end is None or end <= start or first_equal is None:
        return None
    return Slot(start=offset + start, end=offset + end, harness_start=offset + first_equal)
