"""Per-item versus batched execution of the same programs, on the same backend, in one run.

For each language: the demo items (example and agreement cases), their mutants and
failing variants (loop, flood, memory bomb, syntax error) from ``cruxforge.execset``;
runs them one program per process on the backend, then through the batched engine
around the same backend, and prints items, seconds each way, the ratio and whether every
case verdict matched. Exit status 1 when any verdict differs.

    uv run python benchmarks/execute.py                      # every language runnable here
    uv run python benchmarks/execute.py --languages cpp,java --backend docker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cruxforge.execset import program_set  # noqa: E402
from cruxforge.seeds.check import check_file  # noqa: E402
from cruxforge.translate.run import seed_cases  # noqa: E402
from runtimes.backend import RunResult, get_backend  # noqa: E402
from runtimes.spec import LANGUAGES  # noqa: E402
from transition_rules.proof import load_references  # noqa: E402

PER_CASE = 4  # 254-290 programs per language, 8 of them failing variants


def verdicts(r: RunResult) -> list[str]:
    return [c.verdict.value for c in r.cases]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--languages", default="all")
    ap.add_argument("--backend", default="local", help="inner backend: local or docker")
    ap.add_argument("--seeds", default=str(ROOT / "seeds/demo.jsonl"))
    ap.add_argument("--references", default=str(ROOT / "seeds/demo_reference"))
    ap.add_argument("--failing-each", type=int, default=2, help="variants of each failing kind")
    ap.add_argument(
        "--per-case",
        type=int,
        default=PER_CASE,
        help="agreement cases per seed that also run as one-test programs of their own",
    )
    ap.add_argument("--json", help="write the table as JSON here")
    ap.add_argument("--limit", type=int, help="only the first N programs of each language")
    args = ap.parse_args(argv)

    seeds = [c.typed for c in check_file(args.seeds) if c.typed is not None]
    t = time.monotonic()
    cases = seed_cases(seeds)
    print(f"agreement cases for {len(seeds)} seeds: {time.monotonic() - t:.1f}s", flush=True)
    probe = get_backend(args.backend)
    langs = list(LANGUAGES) if args.languages == "all" else args.languages.split(",")
    rows = []
    for lang in langs:
        status = probe.doctor(lang)
        if not status.available:
            print(f"{lang}: skipped, not available on {args.backend}: {status.reason}")
            continue
        ref = Path(args.references) / f"{lang}.jsonl"
        programs = program_set(
            lang,
            seeds,
            load_references(ref),
            cases,
            failing_each=args.failing_each,
            per_case=args.per_case,
        )[: args.limit]
        with get_backend(args.backend) as single:
            t = time.monotonic()
            alone = single.execute(programs)
            t_alone = time.monotonic() - t
        with get_backend("batched", inner=args.backend) as batched:
            t = time.monotonic()
            together = batched.execute(programs)
            t_batch = time.monotonic() - t
            stats = batched.stats
        diffs = [
            (p.id, verdicts(a), verdicts(b))
            for p, a, b in zip(programs, alone, together)
            if verdicts(a) != verdicts(b)
        ]
        row = {
            "lang": lang,
            "programs": len(programs),
            "cases": sum(p.n_cases for p in programs),
            "per_item_s": round(t_alone, 2),
            "batched_s": round(t_batch, 2),
            "ratio": round(t_alone / t_batch, 2) if t_batch else None,
            "verdicts_match": not diffs,
            "batches": stats.batches,
            "run_alone": stats.alone,
            "why_alone": dict(stats.confirmed),
            "differences": diffs,
        }
        rows.append(row)
        print(
            f"{lang:6} programs {len(programs):4}  per-item {t_alone:8.1f}s  "
            f"batched {t_batch:7.1f}s  ratio {row['ratio']:6.1f}x  "
            f"match {'yes' if not diffs else 'NO'}  (batches {stats.batches}, "
            f"alone {stats.alone}: {dict(stats.confirmed)})",
            flush=True,
        )
        for pid, a, b in diffs:
            print(f"    {pid}: per-item {a} batched {b}")
    probe.close()
    if not rows:
        print("no language could run")
        return 1
    tot_a = sum(r["per_item_s"] for r in rows)
    tot_b = sum(r["batched_s"] for r in rows)
    print()
    print("| lang | programs | per-item s | batched s | ratio | verdicts match |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['lang']} | {r['programs']} | {r['per_item_s']:.1f} | {r['batched_s']:.1f} "
            f"| {r['ratio']:.1f}x | {'yes' if r['verdicts_match'] else 'NO'} |"
        )
    all_match = all(r["verdicts_match"] for r in rows)
    print(
        f"| **all** | {sum(r['programs'] for r in rows)} | {tot_a:.1f} | {tot_b:.1f} "
        f"| {tot_a / tot_b:.1f}x | {'yes' if all_match else 'NO'} |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0 if all_match else 1


if __name__ == "__main__":
    raise SystemExit(main())
