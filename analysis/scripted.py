"""Scripted "models" for a real release: predictions with a known structure, scored by
execution like any other.

Each model has two latent skills; each language draws on one of them (``groups``). A model
answers an item correctly (the item's own masked span) with the probability its skill
gives, and otherwise with a wrong answer (another item's span of the same language). The
predictions are written in the result format ``cruxforge evaluate --predictions`` reads,
so everything after them (execution, scoring, correlation) is the real pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from cruxforge.evaluate.items import MaskNotFound, locate, read_release


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _span(code: str, masked: str) -> str | None:
    """What the mask hides: the right answer (None when the mask can't be located)."""
    try:
        return locate(code, masked).original(code)
    except MaskNotFound:
        return None


def scripted_predictions(
    release: Path,
    out: Path,
    languages: Sequence[str],
    groups: Mapping[str, str],
    *,
    n_models: int = 6,
    task: Literal["input", "output"] = "output",
    seed: int = 0,
) -> dict[str, Path]:
    """One predictions file per model under ``out``: ``{model: path}``."""
    rng = np.random.default_rng(seed)
    skills = {g: rng.normal(0.5, 1.2, n_models) for g in sorted(set(groups.values()))}
    items = read_release(release, list(languages))
    spans_of = {lang: [_span(it.code, it.masked(task)) for it in pool]
                for lang, pool in items.items()}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for m in range(n_models):
        rows = []
        for lang, pool in items.items():
            spans = spans_of[lang]
            p = _sigmoid(skills[groups[lang]][m] + rng.normal(0, 0.3))
            for k, (it, span) in enumerate(zip(pool, spans)):
                if span is None:
                    continue
                wrong = next((s for s in spans[k + 1 :] + spans[:k] if s and s != span), span)
                answer = span if rng.random() < p else wrong
                rows.append({"lang": lang, "task": task, "id": it.id, "answer": answer})
        name = f"scripted-{m:02d}"
        paths[name] = out / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return paths
