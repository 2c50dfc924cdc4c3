"""Synthetic evaluation results with a known correlation structure (tests, the notebook).

Each model has two latent skills ``s`` and ``t`` (independent, standard normal). Each
item has a difficulty per language *group*. A language in group ``"s"`` is solved with
probability ``sigmoid(s + noise - difficulty)``; group ``"t"`` uses ``t``. Languages of
the same group share the item difficulties, so they agree at item level too; languages
of different groups are independent at both levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_results(
    groups: dict[str, str] | None = None,
    *,
    n_models: int = 30,
    n_items: int = 150,
    noise: float = 0.15,
    seed: int = 0,
    tasks: tuple[str, ...] = ("input", "output"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results in the ``results.jsonl`` layout, the true pass probabilities per model/lang).

    ``groups`` maps language -> latent skill ("s" or "t"); default A, B on "s", C on "t".
    """
    groups = groups or {"A": "s", "B": "s", "C": "t"}
    rng = np.random.default_rng(seed)
    skills = {"s": rng.normal(0, 1, n_models), "t": rng.normal(0, 1, n_models)}
    rows = []
    truth = []
    for task in tasks:
        difficulty = {g: rng.normal(0, 1.0, n_items) for g in ("s", "t")}
        for lang, g in groups.items():
            own = skills[g] + rng.normal(0, noise, n_models)
            p = _sigmoid(own[:, None] - difficulty[g][None, :])  # models x items
            solved = rng.random(p.shape) < p
            for m in range(n_models):
                truth.append(
                    {"model": f"m{m:02d}", "task": task, "lang": lang, "p": float(p[m].mean())}
                )
                for i in range(n_items):
                    ok = bool(solved[m, i])
                    rows.append(
                        {
                            "model": f"m{m:02d}",
                            "lang": lang,
                            "task": task,
                            "id": str(i),
                            "passed": ok,
                            "verdict": "passed" if ok else "wrong_answer",
                        }
                    )
    return pd.DataFrame(rows), pd.DataFrame(truth)


def write_results(df: pd.DataFrame, folder) -> list:  # type: ignore[no-untyped-def]
    """One ``<model>/results.jsonl`` per model under ``folder``; returns the paths."""
    from pathlib import Path

    base = Path(folder)
    paths = []
    for model, g in df.groupby("model"):
        p = base / str(model) / "results.jsonl"
        p.parent.mkdir(parents=True, exist_ok=True)
        g.to_json(p, orient="records", lines=True)
        paths.append(p)
    return paths


def population_correlation(
    *, n_items: int = 150, noise: float = 0.15, n: int = 20000, seed: int = 12345
) -> float:
    """Monte Carlo: the correlation across the model *population* of the observed pass@1
    of two languages that share a skill (languages of different groups: 0 exactly).

    Includes the binomial noise of ``n_items`` items, as observed pass@1 does.
    """
    rng = np.random.default_rng(seed)
    d = rng.normal(0, 1.0, n_items)
    s = rng.normal(0, 1, n)
    obs = []
    for _ in range(2):
        own = s + rng.normal(0, noise, n)
        p = _sigmoid(own[:, None] - d[None, :])
        obs.append((rng.random(p.shape) < p).mean(axis=1))
    return float(np.corrcoef(obs[0], obs[1])[0, 1])
