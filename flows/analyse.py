"""Prefect flow: the cross-language report (thin wrapper of analysis.report).

Publishes the report as a Markdown artifact with its plots inlined (``data:`` URIs: the
UI shows them, where a ``file://`` link to the serving host shows nothing), each plot as
its own Markdown artifact, and each CSV table as a table artifact. Keys name the release
(or the report folder). Import-safe: defining the flow starts nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.keys import artifact_key, release_label


@flow(name="cruxforge-analyse")
def analyse_flow(
    results: list[str], out: str, release: str | None = None, n_boot: int = 2000, seed: int = 0
) -> str:
    from analysis.report import build_report, inline_images

    report = build_report(
        [Path(r) for r in results], Path(out),
        release=Path(release) if release else None, n_boot=n_boot, seed=seed,
    )  # fmt: skip
    label = release_label(release) or Path(out).name

    def key(name: str) -> str:
        return artifact_key("analysis", label, name)

    text = report.markdown.read_text(encoding="utf-8")
    create_markdown_artifact(inline_images(text, report.folder), key=key("report"))
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
        create_table_artifact(clean, key=key(name))
    for img in report.images:
        create_markdown_artifact(
            inline_images(f"![{img.stem}]({img.name})", img.parent), key=key(img.stem),
            description=f"{img.stem} ({img})",
        )  # fmt: skip
    return str(report.markdown)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--results", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--release")
    a = ap.parse_args()
    analyse_flow(a.results, a.out, a.release)
