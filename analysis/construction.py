"""Construction statistics of a release, from its ``report.jsonl``.

Each line is one (seed, language) attempt: ``id, lang, status`` (validated / failed /
skipped), ``reason``, ``rounds`` (repair rounds used; 0 = the first draft passed),
``tokens``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def load_report(release: Path) -> pd.DataFrame:
    path = release / "report.jsonl" if release.is_dir() else release
    if not path.is_file():
        raise FileNotFoundError(f"no construction report: {path}")
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    df = pd.DataFrame(rows)
    for col, default in (("reason", ""), ("rounds", 0), ("tokens", 0)):
        if col not in df.columns:
            df[col] = default
    return df


def yield_by_language(report: pd.DataFrame) -> pd.DataFrame:
    """Per language: attempted, validated, failed, skipped, yield, mean rounds when validated."""
    g = report.groupby("lang")
    out = pd.DataFrame(
        {
            "attempted": g.size(),
            "validated": g["status"].apply(lambda s: int((s == "validated").sum())),
            "failed": g["status"].apply(lambda s: int((s == "failed").sum())),
            "skipped": g["status"].apply(lambda s: int((s == "skipped").sum())),
        }
    )
    tried = out["attempted"] - out["skipped"]
    out["yield"] = out["validated"] / tried.where(tried > 0)
    val = report[report["status"] == "validated"]
    out["mean_rounds"] = val.groupby("lang")["rounds"].mean()
    out["tokens"] = g["tokens"].sum()
    return out.reset_index()


def rounds_distribution(report: pd.DataFrame) -> pd.DataFrame:
    """languages x rounds: how many validated items needed that many repair rounds."""
    val = report[report["status"] == "validated"]
    return val.pivot_table(index="lang", columns="rounds", values="id", aggfunc="count").fillna(0)


def failure_reasons(report: pd.DataFrame) -> pd.DataFrame:
    """Counts of failure / skip reasons (the code before the first ':') per language."""
    bad = report[report["status"] != "validated"].copy()
    if bad.empty:
        return pd.DataFrame(columns=["lang", "status", "reason", "count"])
    bad["reason"] = bad["reason"].fillna("").astype(str).str.split(":").str[0].replace("", "?")
    return (
        bad.groupby(["lang", "status", "reason"]).size().rename("count").reset_index()
        .sort_values(["lang", "count"], ascending=[True, False])
    )  # fmt: skip
