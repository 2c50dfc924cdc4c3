"""Re-pin golden harnesses after a reviewed rule change:
``uv run python tests/golden/regen.py LANG [LANG ...]`` (then read the git diff)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from cruxforge.seeds.check import check_file
from transition_rules.engine import render_harness, rules_for
from transition_rules.proof import load_references

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main(langs: list[str]) -> None:
    with tempfile.TemporaryDirectory():
        seeds = {c.id: c.typed for c in check_file(ROOT / "seeds" / "demo.jsonl") if c.typed}
    for lang in langs:
        refs = load_references(ROOT / "seeds" / "demo_reference" / f"{lang}.jsonl")
        for path in sorted((HERE / lang).glob("*.txt")):
            seed = seeds[path.stem]
            path.write_text(render_harness(rules_for(lang), seed, refs[seed.id]), encoding="utf-8")
            print("pinned", path.relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
