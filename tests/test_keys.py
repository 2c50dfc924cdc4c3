"""Artifact keys name the release and the model, in the characters Prefect accepts."""

from __future__ import annotations

import json
from pathlib import Path

from flows.keys import artifact_key, release_label


def test_keys_are_prefect_safe_and_name_release_and_model(tmp_path: Path) -> None:
    rel = tmp_path / "art" / "demo" / "1"
    rel.mkdir(parents=True)
    (rel / "manifest.json").write_text(json.dumps({"name": "Demo", "version": "2.0"}))
    assert release_label(rel) == "Demo-2.0"
    key = artifact_key("evaluation", release_label(rel), "Qwen/Qwen2.5-7B_Instruct")
    assert key == "evaluation-demo-2-0-qwen-qwen2-5-7b-instruct"
    # a folder without a manifest (a CRUXEval-X-format benchmark): its last two parts
    bench = tmp_path / "cruxeval-x" / "data"
    bench.mkdir(parents=True)
    assert release_label(bench) == "cruxeval-x-data"
    assert release_label(None) is None and artifact_key("audit", None) == "audit"
