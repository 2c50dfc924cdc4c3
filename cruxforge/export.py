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
    render_published,
    render_stub,
    rules_for,
)


class ExportSkip(BaseModel):
    id: str
    lang: str
    reason: str


def export_benchmark(
    seeds: Sequence[TypedSeed], translator: Translator, languages: Sequence[str], out: Path
) -> tuple[dict[str, int], list[ExportSkip]]:
    """Write ``out/<lang>.jsonl``; return items written per language and every skip."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    skips: list[ExportSkip] = []
    for lang in languages:
        rules = rules_for(lang)
        lines = []
        for seed in seeds:
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
