"""The evaluate and analyse flows through Prefect's real engine, with their UI artifacts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from flows.keys import artifact_key, release_label
from tests.release_helpers import export_demo

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]


@pytest.fixture(scope="module")
def harness():  # type: ignore[no-untyped-def]
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def _artifacts() -> dict[str, Any]:
    """The latest artifact under each key."""
    from prefect.client.orchestration import get_client

    async def read() -> dict[str, Any]:
        async with get_client() as c:
            return {a.key: a for a in await c.read_artifacts() if a.key}

    return asyncio.run(read())


def test_analyse_flow_writes_report_and_publishes_artifacts(harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from analysis.synthetic import synthetic_results, write_results
    from flows.analyse import analyse_flow

    df, _ = synthetic_results(n_models=8, n_items=40, seed=3)
    paths = write_results(df, tmp_path / "results")
    report = Path(analyse_flow([str(p) for p in paths], str(tmp_path / "report"), n_boot=200))
    assert report.exists() and "Pearson" in report.read_text()
    assert list((tmp_path / "report").glob("*.png")) and list((tmp_path / "report").glob("*.csv"))
    arts = _artifacts()
    # keyed by what they show (here the report folder, as no release was given)
    assert "analysis-report-report" in arts, sorted(arts)
    assert "analysis-report-correlations-output" in arts, sorted(arts)
    # the plots are inlined: the UI can show a data: URI, not a file on the serving host
    md = str(arts["analysis-report-report"].data)
    assert "data:image/png;base64," in md and "](pearson_output.png)" not in md
    assert "data:image/png;base64," in str(arts["analysis-report-pearson-output"].data)


def test_evaluate_flow_scores_imported_predictions(harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.evaluate import evaluate_flow

    bench = export_demo(tmp_path / "bench", "py")
    items = [json.loads(x) for x in (bench / "py.jsonl").read_text().splitlines()][:2]
    (bench / "py.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    first, second = items
    # demo_0 -4096 -> 19: a right output answer for the first item, a wrong one for the second
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        json.dumps({"lang": "py", "task": "output", "id": first["id"], "answer": "19"})
        + "\n"
        + json.dumps({"lang": "py", "task": "output", "id": second["id"], "answer": "0.0"})
        + "\n"
    )
    evaluate_flow(str(bench), str(tmp_path / "out"), predictions=str(preds), languages=["py"])
    results = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    out = {(r["id"], r["task"]): r["passed"] for r in results}
    assert out[(first["id"], "output")] is True
    assert out[(second["id"], "output")] is False
    # the release (here a folder without a manifest: its last two path parts) and the model
    # name the artifacts
    arts = _artifacts()
    key = artifact_key("evaluation", release_label(bench), "preds")
    assert key + "-scores" in arts and key + "-pass-at-1" in arts, sorted(arts)


def test_audit_flow_writes_the_report_and_its_artifacts(harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.audit import audit_flow

    bench = export_demo(tmp_path / "bench", "py,js")
    items = [json.loads(x) for x in (bench / "js.jsonl").read_text().splitlines()]
    for it in items:  # demo_15 ([] -> []) returns an empty list whatever it is given
        if it["id"] == "demo_15":
            it["code"] = it["code"].replace("function f(xs) {", "function f(xs) {\n  return [];", 1)
    (bench / "js.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (bench / "py.jsonl").open("a").write("not json\n")
    out = tmp_path / "audit"
    report = Path(audit_flow(str(bench), out=str(out), agreement=4, repeat=1))
    recs = [json.loads(x) for x in (out / "audit.jsonl").read_text().splitlines()]
    assert len(recs) == 2 * 24 + 1
    bad = next(r for r in recs if r["lang"] == "js" and r["id"] == "demo_15")
    assert bad["status"] == "diverges" and bad["cases"] == 5, bad
    assert sum(r["reason_code"] == "malformed_line" for r in recs) == 1
    assert json.loads((out / "summary.json").read_text())["status"]["diverges"] == 1
    md = report.read_text()
    assert "js:demo_15" in md
    arts = _artifacts()
    label = release_label(str(bench))
    assert str(arts[artifact_key("audit-report", label)].data) == md
    assert artifact_key("audit", label) in arts
