"""Prove one language's rules by execution: ``python -m transition_rules.selfcheck LANG``.

Runs the value round-trip corpus, then (given a seeds report and reference
translations) every demo harness (must pass) and its mutant (must fail).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtimes.backend import Verdict, get_backend
from transition_rules.engine import Unsupported, check_seed, rules_for
from transition_rules.proof import harness_and_mutant, load_references, run_roundtrip

REFS = Path(__file__).resolve().parent.parent / "seeds" / "demo_reference"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("lang")
    ap.add_argument("--backend", default="local")
    ap.add_argument("--report", type=Path, help="seeds check report of the demo seeds")
    ap.add_argument("--refs", type=Path, default=REFS)
    ap.add_argument("--only", help="comma-separated seed ids")
    a = ap.parse_args(argv)
    backend = get_backend(a.backend)
    bad = 0
    rt = run_roundtrip(backend, a.lang)
    print(f"roundtrip {a.lang}: {'ok' if rt.ok else 'FAIL'} ({rt.detail})")
    for f in rt.failures:
        print("   ", f)
    bad += not rt.ok
    ref_file = a.refs / f"{a.lang}.jsonl"
    if a.report and ref_file.exists():
        from cruxforge.seed_report import typed_seeds

        refs = load_references(ref_file)
        rules = rules_for(a.lang)
        only = set(a.only.split(",")) if a.only else None
        for seed in typed_seeds(a.report):
            if only and seed.id not in only:
                continue
            try:
                check_seed(rules, seed)
            except Unsupported as e:
                print(f"  {seed.id}: skipped ({e.code}: {e.message})")
                continue
            if seed.id not in refs:
                print(f"  {seed.id}: NO REFERENCE")
                bad += 1
                continue
            gold, mut = harness_and_mutant(a.lang, seed, refs[seed.id])
            progs = [gold] + ([mut] if mut else [])
            results = backend.execute(progs)
            g = results[0]
            ok = g.passed
            msg = ""
            if not ok:
                first = g.cases[0] if g.cases else None
                msg = (
                    f" gold={g.verdict.value} {first.actual if first else ''}"
                    f" {first.message if first else ''} {g.compile_output[-600:]} {g.stderr[-600:]}"
                )
            if mut:
                m = results[1]
                if m.verdict is not Verdict.wrong_answer:
                    ok = False
                    msg += f" mutant={m.verdict.value} (expected wrong_answer)"
            print(f"  {seed.id}: {'ok' if ok else 'FAIL'}{msg}")
            bad += not ok
    backend.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
