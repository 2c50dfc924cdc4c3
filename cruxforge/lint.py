"""The published-items lint: what a model is shown must be the item's test, nothing of ours.

Run by ``cruxforge release verify`` and by the tests over every demo item. Per item:

- no line of the language's published prelude (the helpers our tests need) in either
  reasoning prompt;
- exactly one ``????`` in each prompt;
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


def lint_item(lang: str, item: Mapping[str, Any]) -> list[str]:
    """Problems of one published item (empty: clean)."""
    from cruxforge.evaluate.items import MaskNotFound, locate

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
        try:
            locate(str(item.get("code", "")), text)
        except MaskNotFound:
            problems.append(f"{task}_reasoning is not the end of the code with one span masked")
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
