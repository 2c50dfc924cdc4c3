"""Prefect flow: the cross-language report (thin wrapper of analysis.report).

Publishes the report as a Markdown artifact, each CSV table as a table artifact and
each PNG as an image artifact (a ``file://`` URL: artifacts hold links, not bytes).
Import-safe: defining the flow starts nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact


def _key(name: str) -> str:
    return "analysis-" + "".join(c if c.isalnum() else "-" for c in name.lower())


@flow(name="cruxforge-analyse")
def analyse_flow(
    results: list[str], out: str, release: str | None = None, n_boot: int = 2000, seed: int = 0
) -> str:
    from analysis.report import build_report

    report = build_report(
        [Path(r) for r in results], Path(out),
        release=Path(release) if release else None, n_boot=n_boot, seed=seed,
    )  # fmt: skip
    create_markdown_artifact(report.markdown.read_text(encoding="utf-8"), key=_key("report"))
    for name, table in report.tables.items():
        rows = (
            table.reset_index().to_dict(orient="records")
            if name.startswith("pass_at_1")
            else (table.to_dict(orient="records"))
        )
        clean = [
            {str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows
        ]
        create_table_artifact(clean, key=_key(name))
    for img in report.images:
        create_image_artifact(img.resolve().as_uri(), key=_key(img.stem))
    return str(report.markdown)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--results", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--release")
    a = ap.parse_args()
    analyse_flow(a.results, a.out, a.release)
