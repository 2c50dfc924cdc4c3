"""Cross-language correlation of evaluation results.

Input is a long table of per-item results (``model, lang, task, id, passed, verdict``),
as written by ``cruxforge evaluate`` (``results.jsonl``). Functions here are pure (no
files, no plots) and seeded where random.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

EXCLUDED_VERDICTS = ("infra_error", "bad_item")


def load_results(paths: Iterable[Path | str]) -> pd.DataFrame:
    """Concatenate ``results.jsonl`` files (a folder means its ``results.jsonl``)."""
    frames = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            path = path / "results.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"no results file: {path}")
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        frames.append(pd.DataFrame(rows))
    if not frames:
        raise ValueError("no results given")
    df = pd.concat(frames, ignore_index=True)
    missing = {"model", "lang", "task", "id", "passed"} - set(df.columns)
    if missing:
        raise ValueError(f"results lack column(s) {sorted(missing)}")
    if "verdict" not in df.columns:
        df["verdict"] = np.where(df["passed"], "passed", "wrong_answer")
    df["id"] = df["id"].astype(str)
    df["passed"] = df["passed"].astype(bool)
    dup = df.duplicated(["model", "lang", "task", "id"])
    if dup.any():
        raise ValueError(f"{int(dup.sum())} duplicate (model, lang, task, id) results")
    return df[~df["verdict"].isin(EXCLUDED_VERDICTS)].reset_index(drop=True)


def common_subset(df: pd.DataFrame) -> pd.DataFrame:
    """Per model and task, only the ids present in every language (CRUXEval-X's subset)."""
    keep = []
    for _, g in df.groupby(["model", "task"]):
        n_langs = g["lang"].nunique()
        counts = g.groupby("id")["lang"].nunique()
        ids = set(counts[counts == n_langs].index)
        keep.append(g[g["id"].isin(ids)])
    return pd.concat(keep, ignore_index=True) if keep else df.iloc[0:0]


def pass_at_1(df: pd.DataFrame, task: str) -> pd.DataFrame:
    """models x languages matrix of pass@1 for ``task``."""
    sub = df[df["task"] == task]
    return sub.pivot_table(
        index="model", columns="lang", values="passed", aggfunc="mean"
    ).sort_index(axis=1)


def _corr(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    if method == "pearson":
        return float(np.corrcoef(x, y)[0, 1])
    return float(stats.spearmanr(x, y).statistic)


def _boot_corr(bx: np.ndarray, by: np.ndarray, method: str) -> np.ndarray:
    """Row-wise correlation of resamples (rows with a NaN or no spread give NaN)."""
    bad = np.isnan(bx).any(axis=1) | np.isnan(by).any(axis=1)
    if method == "spearman":
        bx, by = stats.rankdata(bx, axis=1), stats.rankdata(by, axis=1)
    dx = bx - bx.mean(axis=1, keepdims=True)
    dy = by - by.mean(axis=1, keepdims=True)
    den = np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (dx * dy).sum(axis=1) / den
    r[bad | (den <= 1e-12)] = np.nan
    return r


def correlations(
    scores: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05
) -> pd.DataFrame:
    """Per language pair: Pearson and Spearman over models, p-values, bootstrap CIs.

    The bootstrap resamples models with replacement (``n_boot`` times, percentile
    interval of level ``1 - alpha``); resamples where a language has no spread, or a
    model lacks a score, or that hold fewer than 3 distinct models, are skipped. Fewer
    than 3 models give NaN everywhere.
    """
    rng = np.random.default_rng(seed)
    langs = list(scores.columns)
    rows = []
    m = scores.to_numpy(dtype=float)
    n = m.shape[0]
    idx = rng.integers(0, n, size=(n_boot, n)) if n else np.zeros((0, 0), dtype=int)
    # a resample of fewer than 3 distinct models has a degenerate correlation (+-1)
    distinct = (np.diff(np.sort(idx, axis=1), axis=1) != 0).sum(axis=1) + 1 if n else idx[:, 0]
    for i, j in itertools.combinations(range(len(langs)), 2):
        ok = ~np.isnan(m[:, i]) & ~np.isnan(m[:, j])
        x, y = m[ok, i], m[ok, j]
        row: dict[str, object] = {"lang_a": langs[i], "lang_b": langs[j], "n_models": int(ok.sum())}
        for method in ("pearson", "spearman"):
            r = _corr(x, y, method)
            if np.isnan(r):
                p = float("nan")
            elif method == "pearson":
                p = float(stats.pearsonr(x, y).pvalue)
            else:
                p = float(stats.spearmanr(x, y).pvalue)
            if ok.sum() >= 3:
                boots = _boot_corr(m[idx, i], m[idx, j], method)
                boots = boots[~np.isnan(boots) & (distinct >= 3)]
            else:
                boots = np.zeros(0)
            lo, hi = (
                (float(np.quantile(boots, alpha / 2)), float(np.quantile(boots, 1 - alpha / 2)))
                if len(boots) >= 10
                else (float("nan"), float("nan"))
            )
            row.update({method: r, f"{method}_p": p, f"{method}_lo": lo, f"{method}_hi": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def correlation_matrix(pairs: pd.DataFrame, langs: list[str], value: str) -> pd.DataFrame:
    mat = pd.DataFrame(np.eye(len(langs)), index=langs, columns=langs)
    for _, r in pairs.iterrows():
        mat.loc[r["lang_a"], r["lang_b"]] = r[value]
        mat.loc[r["lang_b"], r["lang_a"]] = r[value]
    return mat


def cluster_languages(corr: pd.DataFrame, method: str = "average") -> tuple[np.ndarray, list[str]]:
    """Hierarchical clustering on distance ``1 - r``; returns (linkage, leaf order)."""
    d = 1.0 - corr.to_numpy(dtype=float)
    d = np.nan_to_num(d, nan=1.0)  # an undefined correlation counts as none
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    d = np.clip(d, 0.0, 2.0)
    link = hierarchy.linkage(squareform(d, checks=False), method=method)
    order = [str(corr.index[k]) for k in hierarchy.leaves_list(link)]
    return link, order


def phi(a: np.ndarray, b: np.ndarray) -> float:
    """Phi coefficient of two boolean vectors (NaN when either is constant)."""
    a, b = a.astype(bool), b.astype(bool)
    n11 = float(np.sum(a & b))
    n00 = float(np.sum(~a & ~b))
    n10 = float(np.sum(a & ~b))
    n01 = float(np.sum(~a & b))
    den = np.sqrt((n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00))
    return float((n11 * n00 - n10 * n01) / den) if den > 0 else float("nan")


def item_agreement(df: pd.DataFrame) -> pd.DataFrame:
    """Per model, task and language pair: phi of per-item correctness over shared ids."""
    rows = []
    for (model, task), g in df.groupby(["model", "task"]):
        wide = g.pivot_table(index="id", columns="lang", values="passed", aggfunc="first")
        for a, b in itertools.combinations(sorted(wide.columns), 2):
            both = wide[[a, b]].dropna()
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "lang_a": a,
                    "lang_b": b,
                    "n_items": len(both),
                    "agree": float((both[a] == both[b]).mean()) if len(both) else float("nan"),
                    "phi": phi(both[a].to_numpy(), both[b].to_numpy())
                    if len(both)
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows)
