"""The published-items lint: what a model is shown must be the item's test, nothing of ours.

Run by ``cruxforge release verify`` and by the tests over every demo item. Per item:

- no line of the language's published prelude (the helpers our tests need) in either
  reasoning prompt;
- exactly one ``????`` in each prompt; the input prompt masks the call's arguments, as
  CRUXEval-X does, not the whole call;
- each prompt is the end of the item's code with one span masked (evaluation finds the
  span, and an answer replaces it there);
- the code as published compiles and runs to exit status 0 (:func:`published_programs`,
  run by ``release verify``: our own harness is what verify re-runs otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtimes.backend import Program
from transition_rules.engine import MASK, rules_for

MIN_LINE = 8  # prelude lines shorter than this ("}", "end") prove nothing


def lint_item(lang: str, item: Mapping[str, Any], *, arguments_mask: bool = True) -> list[str]:
    """Problems of one published item (empty: clean). ``arguments_mask=False`` accepts a
    whole-call input mask (releases before manifest format 3)."""
    from cruxforge.evaluate.items import MaskNotFound, locate
    from cruxforge.evaluate.shapes import callable_names, slot_shape

    problems: list[str] = []
    prelude = [
        ln.strip()
        for ln in rules_for(lang).published.prelude.splitlines()
        if len(ln.strip()) >= MIN_LINE
    ]
    for task in ("input", "output"):
        text = str(item.get(f"{task}_reasoning", ""))
        n = text.count(MASK)
        if n != 1:
            problems.append(f"{task}_reasoning has {n} {MASK} (one expected)")
        lines = {ln.strip() for ln in text.splitlines()}
        leaked = [ln for ln in prelude if ln in lines]
        if leaked:
            problems.append(
                f"{task}_reasoning shows {len(leaked)} line(s) of our harness prelude, "
                f"e.g. {leaked[0][:80]!r}"
            )
        code = str(item.get("code", ""))
        try:
            slot = locate(code, text)
        except MaskNotFound:
            problems.append(f"{task}_reasoning is not the end of the code with one span masked")
            continue
        names = callable_names(lang, code)
        if arguments_mask and task == "input" and slot_shape(code, slot.start, slot.end, names)[1]:
            problems.append("input_reasoning masks the whole call, not its arguments")
    return problems


def published_programs(lang: str, items: list[Mapping[str, Any]]) -> list[tuple[str, Program]]:
    """Per item, its code as published, judged by exit status as other benchmarks' code
    is (``published`` runtime variant)."""
    return [
        (
            str(it["id"]),
            Program(
                id=f"lint:{lang}:{it['id']}",
                lang=lang,
                source=str(it["code"]),
                n_cases=1,
                judge="exit_status",
                variant="published",
            ),
        )
        for it in items
    ]
