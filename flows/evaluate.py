"""Prefect flow: evaluate one model on a release (thin wrapper of cruxforge.evaluate).

Import-safe: defining the flow starts nothing. Run with
``uv run python -m flows.evaluate --release DIR --out OUT --predictions P`` or deploy it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.keys import artifact_key, release_label


@flow(name="cruxforge-evaluate")
def evaluate_flow(
    release: str,
    out: str,
    model: str | None = None,
    base_url: str | None = None,
    predictions: str | None = None,
    languages: list[str] | None = None,
    backend: str = "local",
    shots: int = 1,
) -> dict[str, Any]:
    """Ask (``model`` + ``base_url``) or import (``predictions``), check by execution, score."""
    from cruxforge.evaluate.predictions import read_predictions
    from cruxforge.evaluate.run import (
        Answerer,
        evaluate_release,
        model_answerer,
        predictions_answerer,
    )
    from cruxforge.evaluate.score import scores_markdown, scores_table
    from runtimes.backend import get_backend

    client = None
    answerer: Answerer
    if predictions is not None:
        answerer = predictions_answerer(read_predictions(Path(predictions)))
        name = model or Path(predictions).stem
    else:
        from cruxforge.llm.client import ChatClient
        from cruxforge.llm.config import load_config
        from cruxforge.llm.transcript import TranscriptCache

        overrides = {"model": model, "base_url": base_url}
        config = load_config(None, {k: v for k, v in overrides.items() if v})
        client = ChatClient(config, TranscriptCache(Path(out) / "transcript"))
        answerer = model_answerer(client, shots)
        name = config.model
    try:
        with get_backend(backend) as b:
            scores = evaluate_release(
                Path(release), Path(out), model=name, answerer=answerer, backend=b,
                languages=languages,
            )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    key = artifact_key("evaluation", release_label(release), name)
    create_markdown_artifact(scores_markdown(scores), key=key + "-scores")
    create_table_artifact(scores_table(scores), key=key + "-pass-at-1")
    get_run_logger().info("wrote %s/results.jsonl", out)
    return scores


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--release", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model")
    ap.add_argument("--base-url")
    ap.add_argument("--predictions")
    a = ap.parse_args()
    evaluate_flow(a.release, a.out, a.model, a.base_url, a.predictions)
