"""CRUXEval-X-style prompts (templates in ``prompts/``) and answer extraction.

The prompt shows the code before the harness and the masked harness; ``shots`` solved
examples (other items of the same language, with their original span as the answer)
come first. The model answers between ``[ANSWER]`` and ``[/ANSWER]``.
"""

from __future__ import annotations

import re
from pathlib import Path

from cruxforge.evaluate.items import EvalItem, Task, locate
from cruxforge.evaluate.shapes import callable_names, slot_shape
from cruxforge.templates import TemplateDir
from transition_rules.engine import rules_for, strip_prelude

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"

def language_name(lang: str) -> str:
    """The language as prompts name it (the rule file's ``name``)."""
    from runtimes.spec import LANGUAGES

    return rules_for(lang).name if lang in LANGUAGES else lang


TEMPLATES = TemplateDir(PROMPTS_DIR)
template = TEMPLATES.template
prompts_hash = TEMPLATES.hash


def pick_shots(item: EvalItem, pool: list[EvalItem], shots: int) -> list[EvalItem]:
    """The ``shots`` shortest other items of the pool (deterministic)."""
    others = [(len(x.code), n, x) for n, x in enumerate(pool) if x.id != item.id]
    others.sort(key=lambda t: (t[0], t[1]))
    return [x for _, _, x in others[:shots]]


def build_prompt(item: EvalItem, task: Task, examples: list[EvalItem]) -> str:
    language = language_name(item.lang)
    blocks = []
    for ex in examples:
        slot = locate(ex.code, ex.masked(task))
        blocks.append(
            template("example").format(
                function=strip_prelude(ex.lang, ex.code[: slot.harness_start]).rstrip("\n"),
                masked=ex.masked(task).rstrip("\n"),
                answer=slot.original(ex.code),
            )
        )
    slot = locate(item.code, item.masked(task))
    head, whole = (
        slot_shape(item.code, slot.start, slot.end, callable_names(item.lang, item.code))
        if task == "input"
        else ("", False)
    )
    call_example = f"{head or 'candidate('}...)"
    wanted = (
        f"the whole call with its arguments (for example {call_example})"
        if whole
        else f"the arguments of the call (a whole call such as {call_example} is read too)"
    )
    return template(task).format(
        language=language,
        examples="".join(blocks),
        function=strip_prelude(item.lang, item.code[: slot.harness_start]).rstrip("\n"),
        masked=item.masked(task).rstrip("\n"),
        wanted=wanted,
    )


_ANSWER_RE = re.compile(r"\[ANSWER\](.*?)(?:\[/ANSWER\]|$)", re.DOTALL)
_FENCE_RE = re.compile(r"^```[\w+#-]*\s*\n?(.*?)\n?```$", re.DOTALL)


def extract_answer(text: str, masked: str) -> str | None:
    """The text between the last ``[ANSWER]`` and ``[/ANSWER]`` (closing tag optional).

    Code fences are removed. When the model repeats the masked line around its answer
    (``assert candidate(1) == 3``), the repeated context is cut off. ``None`` when there
    is no ``[ANSWER]`` tag or it is empty.
    """
    found = _ANSWER_RE.findall(text or "")
    if not found:
        return None
    ans = found[-1].strip()
    m = _FENCE_RE.match(ans)
    if m:
        ans = m.group(1).strip()
    line = next((ln for ln in masked.splitlines() if "????" in ln), "")
    left, _, right = line.partition("????")
    left, right = left.strip(), right.strip()
    if left and ans.startswith(left) and ans.endswith(right) and len(ans) > len(left) + len(right):
        ans = ans[len(left) : len(ans) - len(right)].strip() if right else ans[len(left) :].strip()
    return ans or None
