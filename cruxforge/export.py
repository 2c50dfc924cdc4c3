"""Write a benchmark in CRUXEval-X's published format from seeds and a translator.

No execution happens here: this renders items (function + asserting harness and the two
prediction masks). Validation by execution is ``cruxforge audit`` (and the build flow).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from cruxforge.models import TypedSeed
from cruxforge.translators import TranslationUnavailable, Translator
from transition_rules.engine import (
    Unsupported,
    check_seed,
    dialect_entry,
    render_published,
    render_stub,
    rules_for,
)


class ExportSkip(BaseModel):
    id: str
    lang: str
    reason: str


def export_benchmark(
    seeds: Sequence[TypedSeed],
    translator: Translator,
    languages: Sequence[str],
    out: Path,
    dialect: str | None = None,
) -> tuple[dict[str, int], list[ExportSkip]]:
    """Write ``out/<lang>.jsonl``; return items written per language and every skip.
    With ``dialect`` (a rule-file dialect, e.g. ``cruxeval-x``), items are written in
    its conventions (type names, literals, the function's name): the translator is
    asked for the function in them."""
    if dialect is not None and not any(dialect in rules_for(lg).dialects for lg in languages):
        raise ValueError(f"no language of {list(languages)} has a dialect {dialect!r}")
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    skips: list[ExportSkip] = []
    for lang in languages:
        with_dialect = dialect if dialect in rules_for(lang).dialects else None
        rules = rules_for(lang, with_dialect)
        lines = []
        for seed in seeds:
            seed = seed.model_copy(
                update={"entry": dialect_entry(lang, with_dialect, seed.entry)}
            )
            try:
                check_seed(rules, seed)
                function = translator.translate(seed, lang, render_stub(rules, seed))
            except Unsupported as e:
                skips.append(ExportSkip(id=seed.id, lang=lang, reason=f"{e.code}: {e.message}"))
                continue
            except TranslationUnavailable as e:
                skips.append(ExportSkip(id=seed.id, lang=lang, reason=f"no_translation: {e}"))
                continue
            item = render_published(rules, seed, function)
            lines.append(json.dumps(item.as_json(), ensure_ascii=False))
        (out / f"{lang}.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        counts[lang] = len(lines)
    with (out / "skipped.jsonl").open("w", encoding="utf-8") as f:
        for s in skips:
            f.write(s.model_dump_json() + "\n")
    return counts, skips
