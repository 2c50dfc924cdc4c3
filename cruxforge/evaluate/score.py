"""pass@1 per language and task, over all items and over the ids common to all languages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cruxforge.evaluate.items import TASKS

# never counted against a model: the sandbox failed, or the item itself is broken
EXCLUDED_VERDICTS = frozenset({"infra_error", "bad_item"})


def common_ids(ids_by_lang: Mapping[str, Iterable[str]]) -> set[str]:
    sets = [set(v) for v in ids_by_lang.values()]
    return set.intersection(*sets) if sets else set()


def _cell(recs: list[dict[str, Any]]) -> dict[str, Any]:
    counted = [r for r in recs if r["verdict"] not in EXCLUDED_VERDICTS]
    passed = sum(bool(r["passed"]) for r in counted)
    return {
        "n": len(counted),
        "passed": passed,
        "pass@1": passed / len(counted) if counted else None,
        "excluded": len(recs) - len(counted),
    }


def score(
    results: list[dict[str, Any]], ids_by_lang: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """``scores.json`` content from result records and the release's ids per language."""
    common = common_ids(ids_by_lang)
    models = sorted({r["model"] for r in results})
    out: dict[str, Any] = {"models": {}, "n_common_ids": len(common)}
    for model in models:
        langs: dict[str, Any] = {}
        for lang in sorted(ids_by_lang):
            langs[lang] = {}
            for task in TASKS:
                recs = [
                    r for r in results if r["model"] == model and r["lang"] == lang
                    and r["task"] == task
                ]  # fmt: skip
                if not recs:
                    continue
                langs[lang][task] = {
                    "all": _cell(recs),
                    "common": _cell([r for r in recs if r["id"] in common]),
                }
        out["models"][model] = langs
    return out


def scores_table(scores: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows (model, lang, task, subset, n, passed, pass@1) for CSV / Markdown."""
    rows = []
    for model, langs in scores["models"].items():
        for lang, tasks in langs.items():
            for task, subsets in tasks.items():
                for subset, cell in subsets.items():
                    rows.append(
                        {"model": model, "lang": lang, "task": task, "subset": subset, **cell}
                    )
    return rows


def scores_markdown(scores: dict[str, Any]) -> str:
    lines = [
        f"pass@1 (common = the {scores['n_common_ids']} ids present in every language)",
        "",
        "| model | lang | input (all) | input (common) | output (all) | output (common) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    def fmt(cell: dict[str, Any] | None) -> str:
        if not cell or cell["pass@1"] is None:
            return "-"
        return f"{100 * cell['pass@1']:.1f}% ({cell['passed']}/{cell['n']})"

    for model, langs in scores["models"].items():
        for lang, tasks in langs.items():
            cells = [fmt(tasks.get(t, {}).get(s)) for t in TASKS for s in ("all", "common")]
            lines.append(f"| {model} | {lang} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
