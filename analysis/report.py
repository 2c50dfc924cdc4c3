"""The analysis report: Markdown + PNG heatmaps/dendrograms + CSV tables.

``build_report(results, out)`` reads several models' ``results.jsonl``, restricts each
model and task to the ids present in every language (CRUXEval-X's convention), and
writes into ``out``:

- ``pass_at_1_<task>.csv`` (models x languages) and ``pass_at_1_<task>.png``;
- ``correlations_<task>.csv``: per language pair, Pearson / Spearman across models,
  p-values, bootstrap CIs; ``pearson_<task>.png``, ``spearman_<task>.png`` heatmaps
  (languages in clustering order) and ``dendrogram_<task>.png``;
- ``item_agreement.csv`` (per model, task, pair: phi and raw agreement) and
  ``phi_<task>.png`` (mean phi over models);
- with a release's ``report.jsonl``: ``construction_yield.csv``,
  ``construction_rounds.csv``, ``construction_failures.csv``, ``construction_yield.png``;
- ``report.md`` tying them together.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402

from analysis import construction  # noqa: E402
from analysis.correlation import (  # noqa: E402
    cluster_languages,
    common_subset,
    correlation_matrix,
    correlations,
    item_agreement,
    load_results,
    pass_at_1,
)


@dataclass
class Report:
    folder: Path
    markdown: Path
    images: list[Path] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # name -> table (as CSV)
    clusters: dict[str, list[str]] = field(default_factory=dict)  # task -> language order


def md_table(df: pd.DataFrame, floatfmt: str = "{:.3f}", index: bool = False) -> str:
    """A Markdown table without optional dependencies."""
    if index:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]

    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else floatfmt.format(v)
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def _heatmap(mat: pd.DataFrame, title: str, path: Path, vmin: float = -1, vmax: float = 1) -> None:
    fig, ax = plt.subplots(
        figsize=(2.5 + 0.6 * len(mat.columns), 1.8 + 0.3 * len(mat.index) + 0.2 * len(mat.columns))
    )
    im = ax.imshow(mat.to_numpy(dtype=float), cmap="RdBu_r", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(mat.columns)), [str(c) for c in mat.columns], rotation=45)
    ax.set_yticks(range(len(mat.index)), [str(c) for c in mat.index])
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            v = mat.iat[i, j]
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _dendrogram(link: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(2 + 0.5 * len(labels), 3.5))
    hierarchy.dendrogram(link, labels=labels, ax=ax, color_threshold=0.7)
    ax.set_ylabel("1 - Pearson r")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(df: pd.DataFrame, title: str, ylabel: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(2 + 0.5 * len(df.index), 3.5))
    df.plot.bar(ax=ax, legend=False)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_report(
    results: Sequence[Path | str] | pd.DataFrame,
    out: Path,
    *,
    release: Path | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Report:
    out.mkdir(parents=True, exist_ok=True)
    df = results if isinstance(results, pd.DataFrame) else load_results(results)
    df = common_subset(df)
    rep = Report(folder=out, markdown=out / "report.md")
    md = ["# Cross-language evaluation report", ""]
    models = sorted(df["model"].unique())
    langs = sorted(df["lang"].unique())
    md += [
        f"{len(models)} models, {len(langs)} languages ({', '.join(langs)}); per model and "
        "task, only the ids present in every language are counted.",
        "",
    ]

    def save(name: str, table: pd.DataFrame, index: bool = False) -> None:
        rep.tables[name] = table
        table.to_csv(out / f"{name}.csv", index=index)

    def image(name: str) -> Path:
        p = out / f"{name}.png"
        rep.images.append(p)
        return p

    agreement = item_agreement(df)
    save("item_agreement", agreement)
    for task in sorted(df["task"].unique()):
        scores = pass_at_1(df, task)
        save(f"pass_at_1_{task}", scores, index=True)
        md += [f"## {task} prediction", "", "### pass@1 (models x languages)", ""]
        md += [md_table(scores, index=True), ""]
        _heatmap(scores, f"pass@1, {task}", image(f"pass_at_1_{task}"), vmin=0, vmax=1)
        md += [f"![pass@1](pass_at_1_{task}.png)", ""]
        pairs = correlations(scores, n_boot=n_boot, seed=seed)
        save(f"correlations_{task}", pairs)
        md += [
            "### Correlation of pass@1 across models",
            "",
            f"Pearson and Spearman over {len(scores)} models, two-sided p-values, "
            f"95% percentile bootstrap intervals ({n_boot} resamples of the models, seed "
            f"{seed}).",
            "",
            md_table(pairs),
            "",
        ]
        if len(pairs):
            pearson = correlation_matrix(pairs, list(scores.columns), "pearson")
            spearman = correlation_matrix(pairs, list(scores.columns), "spearman")
            if len(pearson) >= 2:
                link, order = cluster_languages(pearson)
                rep.clusters[task] = order
                _dendrogram(
                    link, list(pearson.index), f"languages, {task}", image(f"dendrogram_{task}")
                )
                md += [
                    "### Hierarchical clustering (average linkage on 1 - Pearson r)",
                    "",
                    f"Leaf order: {', '.join(order)}",
                    "",
                    f"![dendrogram](dendrogram_{task}.png)",
                    "",
                ]
                pearson, spearman = (m.loc[order, order] for m in (pearson, spearman))
            _heatmap(pearson, f"Pearson r of pass@1, {task}", image(f"pearson_{task}"))
            _heatmap(spearman, f"Spearman rho of pass@1, {task}", image(f"spearman_{task}"))
            md += [f"![pearson](pearson_{task}.png) ![spearman](spearman_{task}.png)", ""]
        sub = agreement[agreement["task"] == task]
        if len(sub):
            mean_phi = (
                sub.groupby(["lang_a", "lang_b"])["phi"].mean().reset_index()
                .rename(columns={"phi": "mean_phi"})
            )  # fmt: skip
            mean_phi["models"] = len(sub["model"].unique())
            phi_mat = correlation_matrix(
                mean_phi.rename(columns={"mean_phi": "phi"}), list(scores.columns), "phi"
            )
            if task in rep.clusters:
                phi_mat = phi_mat.loc[rep.clusters[task], rep.clusters[task]]
            _heatmap(phi_mat, f"mean item-level phi over models, {task}", image(f"phi_{task}"))
            md += [
                "### Item-level agreement (phi of per-item correctness, mean over models)",
                "",
                md_table(mean_phi),
                "",
                f"![phi](phi_{task}.png)",
                "",
                "Per model: `item_agreement.csv`.",
                "",
            ]
    if release is not None:
        md += _construction(release, out, save, image)
    rep.markdown.write_text("\n".join(md) + "\n", encoding="utf-8")
    return rep


def _construction(release: Path, out: Path, save, image) -> list[str]:  # type: ignore[no-untyped-def]
    try:
        report = construction.load_report(release)
    except FileNotFoundError as e:
        return ["## Construction", "", f"(no construction statistics: {e})", ""]
    y = construction.yield_by_language(report)
    rounds = construction.rounds_distribution(report)
    reasons = construction.failure_reasons(report)
    save("construction_yield", y)
    save("construction_rounds", rounds, index=True)
    save("construction_failures", reasons)
    _bars(
        y.set_index("lang")[["yield"]],
        "yield per language",
        "validated / tried",
        image("construction_yield"),
    )
    return [
        "## Construction of the release",
        "",
        md_table(y),
        "",
        "![yield](construction_yield.png)",
        "",
        "### Repair rounds of validated items (languages x rounds)",
        "",
        md_table(rounds, floatfmt="{:.0f}", index=True),
        "",
        "### Reasons for failure",
        "",
        md_table(reasons) if len(reasons) else "(none)",
        "",
    ]


_IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)")


def inline_images(markdown: str, folder: Path) -> str:
    """The report's Markdown with each local PNG link replaced by a ``data:`` URI, so a
    viewer that can't reach the report's folder (the Prefect UI) still shows the plots."""

    def embed(m: re.Match[str]) -> str:
        path = folder / m.group(2)
        if not path.is_file():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"![{m.group(1)}](data:image/png;base64,{data})"

    return _IMAGE_LINK.sub(embed, markdown)
