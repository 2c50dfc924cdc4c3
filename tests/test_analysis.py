"""The analysis: correlation with confidence intervals, clustering, phi, construction stats."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import construction
from analysis.correlation import (
    cluster_languages,
    common_subset,
    correlation_matrix,
    correlations,
    item_agreement,
    load_results,
    pass_at_1,
    phi,
)
from analysis.report import build_report
from analysis.synthetic import population_correlation, synthetic_results, write_results

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def synthetic():  # type: ignore[no-untyped-def]
    return synthetic_results(n_models=25, n_items=80, tasks=("output",), seed=7)


def test_correlation_structure_is_recovered_within_the_intervals(synthetic) -> None:  # type: ignore[no-untyped-def]
    df, truth = synthetic
    scores = pass_at_1(df, "output")
    pairs = correlations(scores, n_boot=400, seed=0).set_index(["lang_a", "lang_b"])
    same = population_correlation(n_items=80)
    assert 0.8 < same < 1.0
    true_r = {("A", "B"): same, ("A", "C"): 0.0, ("B", "C"): 0.0}
    for (a, b), r in true_r.items():
        row = pairs.loc[(a, b)]
        for method in ("pearson", "spearman"):
            assert row[f"{method}_lo"] <= row[method] <= row[f"{method}_hi"]
        # the population correlation lies inside the 95% bootstrap interval
        assert row["pearson_lo"] <= r <= row["pearson_hi"], (a, b, r)
    ab, ac, bc = pairs.loc[("A", "B")], pairs.loc[("A", "C")], pairs.loc[("B", "C")]
    assert ab["pearson_lo"] > 0.6 and ab["pearson_p"] < 1e-4 and ab["spearman_p"] < 1e-4
    for row in (ac, bc):  # independent skills: the interval covers 0
        assert row["pearson_lo"] < 0 < row["pearson_hi"]
        assert row["spearman_lo"] < 0 < row["spearman_hi"]
    link, order = cluster_languages(
        correlation_matrix(pairs.reset_index(), ["A", "B", "C"], "pearson")
    )
    assert sorted(order.index(x) for x in "AB") in ([0, 1], [1, 2])
    first = {int(link[0, 0]), int(link[0, 1])}
    assert first == {0, 1}  # A and B merge first


def test_bootstrap_is_seeded_and_needs_three_models(synthetic) -> None:  # type: ignore[no-untyped-def]
    df, _ = synthetic
    scores = pass_at_1(df, "output")
    a = correlations(scores, n_boot=200, seed=1)
    b = correlations(scores, n_boot=200, seed=1)
    pd.testing.assert_frame_equal(a, b)
    two = correlations(scores.iloc[:2], n_boot=50)
    assert two[["pearson", "pearson_lo", "spearman_p"]].isna().all().all()


def test_phi_and_item_agreement(synthetic) -> None:  # type: ignore[no-untyped-def]
    a = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    assert phi(a, a) == pytest.approx(1.0)
    assert phi(a, ~a) == pytest.approx(-1.0)
    # 2x2 table n11=2, n10=1, n01=1, n00=2 -> (4 - 1) / sqrt(3*3*3*3) = 1/3
    assert phi(np.array([1, 1, 1, 0, 0, 0]), np.array([1, 1, 0, 1, 0, 0])) == pytest.approx(1 / 3)
    assert np.isnan(phi(np.ones(4), a[:4]))
    df, _ = synthetic
    ag = item_agreement(df).groupby(["lang_a", "lang_b"])["phi"].mean()
    assert ag[("A", "B")] > 0.08  # shared item difficulty
    assert abs(ag[("A", "C")]) < 0.05 and abs(ag[("B", "C")]) < 0.05
    assert ag[("A", "B")] > ag[("A", "C")] + 0.05


def test_common_subset_keeps_ids_in_every_language() -> None:
    rows = [
        {"model": "m", "lang": lang, "task": "output", "id": i, "passed": True, "verdict": "passed"}
        for lang, ids in (("py", "123"), ("js", "12"))
        for i in ids
    ]
    rows.append({"model": "m", "lang": "js", "task": "output", "id": "9", "passed": False,
                 "verdict": "infra_error"})  # fmt: skip
    got = common_subset(pd.DataFrame(rows))
    assert sorted(got["id"].unique()) == ["1", "2"]


def test_construction_statistics(tmp_path: Path) -> None:
    rel = tmp_path / "rel"
    rel.mkdir()
    recs = [
        ("s1", "py", "validated", "", 0), ("s2", "py", "validated", "", 2),
        ("s3", "py", "failed", "failing_cases: 2 of 5", 3), ("s1", "js", "validated", "", 1),
        ("s2", "js", "skipped", "unsupported_type: set of sets", 0),
        ("s3", "js", "failed", "compile_error: x", 3),
    ]  # fmt: skip
    (rel / "report.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "lang": lg, "status": st, "reason": r, "rounds": n, "tokens": 10})
            + "\n"
            for i, lg, st, r, n in recs
        )
    )
    rep = construction.load_report(rel)
    y = construction.yield_by_language(rep).set_index("lang")
    assert y.loc["py", "yield"] == pytest.approx(2 / 3)
    assert y.loc["js", "yield"] == pytest.approx(1 / 2)  # skipped items are not tried
    assert y.loc["py", "mean_rounds"] == 1.0 and y.loc["js", "tokens"] == 30
    rounds = construction.rounds_distribution(rep)
    assert rounds.loc["py", 2] == 1 and rounds.loc["js", 1] == 1
    reasons = construction.failure_reasons(rep)
    assert set(reasons["reason"]) == {"failing_cases", "unsupported_type", "compile_error"}


def test_analyse_cli_writes_report(tmp_path: Path) -> None:
    df, _ = synthetic_results(n_models=5, n_items=20, seed=2)
    paths = write_results(df, tmp_path / "runs")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "report.jsonl").write_text(
        json.dumps({"id": "a", "lang": "py", "status": "validated", "reason": "", "rounds": 0})
        + "\n"
    )
    out = tmp_path / "report"
    proc = subprocess.run(
        ["cruxforge", "analyse", "--results", *map(str, paths), "--out", str(out),
         "--release", str(rel), "--bootstrap", "100"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = (out / "report.md").read_text()
    assert "5 models, 3 languages" in md and "Construction of the release" in md
    for name in ("pearson_input", "spearman_output", "dendrogram_input", "phi_output",
                 "construction_yield"):  # fmt: skip
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"({name}.png)" in md
    corr = pd.read_csv(out / "correlations_input.csv")
    assert list(corr[["lang_a", "lang_b"]].itertuples(index=False, name=None)) == [
        ("A", "B"), ("A", "C"), ("B", "C"),
    ]  # fmt: skip
    assert len(load_results(paths)) == len(df)
    report = build_report(df, tmp_path / "again", n_boot=50)
    assert set(report.clusters) == {"input", "output"}


def test_walkthrough_notebook_executes() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "analysis" / "walkthrough.ipynb", as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the scripted models' two skills come back out of execution results: languages on
    # one skill correlate more than languages across skills
    text = "".join(o.get("text", "") for o in outputs)
    m = re.search(r"within a skill: (-?[\d.]+|nan); across skills: (-?[\d.]+|nan)", text)
    assert m, text[-2000:]
    within, across = float(m.group(1)), float(m.group(2))
    assert within > across, (within, across)
