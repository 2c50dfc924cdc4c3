"""Median size of a release's published prompts per language, beside CRUXEval-X's.

CRUXEval-X's medians of ``input_reasoning`` (characters) are the ones measured on its
published items for issue 15 (C++ 88, D 94, shell 100, Java 104, C# 109, Rust 96, R 128,
Go 434, JavaScript 136; Python 108). Prints, per language: the median characters and
lines of both prompts, the ratio to CRUXEval-X, and how many prompts show a ``crux_``
helper (the target is none).

    uv run python benchmarks/prompt_sizes.py artifacts/demo/1
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CRUXEVAL_X_INPUT_CHARS = {
    "cpp": 88, "d": 94, "sh": 100, "java": 104, "cs": 109, "rs": 96, "r": 128, "go": 434,
    "js": 136, "py": 108,
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    a = ap.parse_args()
    data = a.release / "data"
    print("| language | input (chars) | CRUXEval-X | ratio | output (chars) | input (lines) "
          "| prompts showing crux_ |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in sorted(data.glob("*.jsonl")):
        lang = path.stem
        items = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
        if lang == "all" or not items:
            continue
        ins = [len(i["input_reasoning"]) for i in items]
        outs = [len(i["output_reasoning"]) for i in items]
        lines = [i["input_reasoning"].count("\n") + 1 for i in items]
        crux = sum("crux" in i[k] for i in items for k in ("input_reasoning", "output_reasoning"))
        theirs = CRUXEVAL_X_INPUT_CHARS.get(lang)
        ratio = f"{statistics.median(ins) / theirs:.1f}x" if theirs else ""
        print(f"| {lang} | {statistics.median(ins):.0f} | {theirs or ''} | {ratio} | "
              f"{statistics.median(outs):.0f} | {statistics.median(lines):.0f} | "
              f"{crux}/{2 * len(items)} |")  # fmt: skip


if __name__ == "__main__":
    main()
