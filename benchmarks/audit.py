"""A whole-benchmark audit (agreement 10, repeat 2) against the same work item by item.

The benchmark: the build benchmark's seeds (the demo seeds and ``--variants`` variants
of each, see benchmarks/build.py) x every language runnable here, written by
``cruxforge export`` from the demo reference translations: CRUXEval-X-format items
(function + published test). Then, in one run:

1. ``cruxforge.audit.audit`` on all of it through the batched engine (our harness
   programs many per process; published code and its mutants too, in the languages
   whose rules have ``[batch.published]``, else one per process);
2. the same audit of a sample (every ``--sample-every``-th item of each language) on
   the ``auto`` backend, one program per process: the per-item way, its time scaled to
   the whole set (items are independent there, so time grows with their number).

Prints wall time, items, cases and programs of each, the ratio, and the whole audit's
time per item extrapolated to a 13,000-item benchmark (CRUXEval-X's size).

    uv run python benchmarks/audit.py                  # 24 seeds x 17 languages
    uv run python benchmarks/audit.py --variants 16    # 408 seeds x 17 languages
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.build import REFS, make_seeds  # noqa: E402
from cruxforge.audit import (  # noqa: E402
    AuditOptions,
    AuditRecord,
    audit,
    audit_cases,
    write_audit,
    write_report,
)
from cruxforge.seeds.check import check_file  # noqa: E402
from runtimes.backend import get_backend  # noqa: E402
from runtimes.spec import LANGUAGES  # noqa: E402

CRUXEVAL_X_ITEMS = 13_000


def references(seeds: Path, out: Path) -> None:
    """Reference translations for every seed: a variant takes its origin's."""
    ids = [json.loads(x)["id"] for x in seeds.read_text().splitlines() if x.strip()]
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(REFS.glob("*.jsonl")):
        code = {json.loads(x)["id"]: json.loads(x)["code"]
                for x in path.read_text().splitlines() if x.strip()}  # fmt: skip
        lines = [json.dumps({"id": i, "code": code[i.rsplit("_v", 1)[0]]})
                 for i in ids if i.rsplit("_v", 1)[0] in code]  # fmt: skip
        (out / path.name).write_text("\n".join(lines) + "\n")


def sample(bench: Path, out: Path, every: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for path in sorted(bench.glob("*.jsonl")):
        lines = [x for x in path.read_text().splitlines() if x.strip()][::every]
        (out / path.name).write_text("\n".join(lines) + "\n")
        n += len(lines)
    return n


def timed(bench: Path, checks: list, backend: str, langs: list[str], opts: AuditOptions,
          per_lang: dict[str, float]) -> tuple[float, list[AuditRecord]]:  # fmt: skip
    """The whole audit's wall time (agreement cases included) and its records; each
    language's own time goes into ``per_lang``."""
    t0 = time.monotonic()
    typed = [c.typed for c in checks if c.typed is not None]
    cases = audit_cases(typed, opts.agreement)
    per_lang["(agreement cases)"] = time.monotonic() - t0
    with get_backend(backend) as b:  # as `cruxforge audit` runs: two languages at once
        recs = audit(bench, checks, b, langs, options=opts, cases=cases, timings=per_lang)
    return time.monotonic() - t0, recs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", type=int, default=0)
    ap.add_argument("--languages", default="")
    ap.add_argument("--agreement", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sample-every", type=int, default=8)
    args = ap.parse_args()
    with get_backend("auto") as b:
        wanted = args.languages.split(",") if args.languages else list(LANGUAGES)
        langs = [lg for lg in wanted if b.doctor(lg).available]
    # kept compiles from an earlier run would make this one faster than a first audit:
    # both ways start without them (each keeps what it compiles for its own repeats)
    for backend in (get_backend("local"), get_backend("docker")):
        shutil.rmtree(backend.compiled.root, ignore_errors=True)  # type: ignore[attr-defined]
    work = Path(tempfile.mkdtemp(prefix="cruxforge-audit-bench-"))
    seeds = make_seeds(work / "seeds.jsonl", args.variants)
    references(seeds, work / "refs")
    subprocess.run(["cruxforge", "export", "--seeds", str(seeds), "--references",
                    str(work / "refs"), "--out", str(work / "bench"), "--languages",
                    ",".join(langs)], check=True, capture_output=True)  # fmt: skip
    (work / "bench" / "skipped.jsonl").unlink(missing_ok=True)
    checks = check_file(seeds)
    opts = AuditOptions(agreement=args.agreement, repeat=args.repeat)
    t_whole: dict[str, float] = {}
    t_sample: dict[str, float] = {}
    whole, recs = timed(work / "bench", checks, "batched", langs, opts, t_whole)
    write_audit(recs, work / "audit")
    write_report(recs, work / "audit", "the benchmark")
    n_sample = sample(work / "bench", work / "sample", args.sample_every)
    for backend in (get_backend("local"), get_backend("docker")):
        shutil.rmtree(backend.compiled.root, ignore_errors=True)  # type: ignore[attr-defined]
    per_item, srecs = timed(work / "sample", checks, "auto", langs, opts, t_sample)
    items, cases = len(recs), sum(r.cases for r in recs)
    scaled = per_item / max(1, n_sample) * items
    statuses = {s: sum(r.status == s for r in recs) for s in sorted({r.status for r in recs})}
    print(f"benchmark: {len(checks)} seeds x {len(langs)} languages = {items} items "
          f"({', '.join(langs)}); agreement {args.agreement}, repeat {args.repeat}")  # fmt: skip
    print(f"statuses (whole audit): {statuses}")
    print()
    print("| way | items | cases run | wall s | s per item |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| audit, batched engine | {items} | {cases} | {whole:.1f} | {whole / items:.3f} |")
    print(f"| item by item, sample 1/{args.sample_every} | {n_sample} | "
          f"{sum(r.cases for r in srecs)} | {per_item:.1f} | {per_item / n_sample:.3f} |")
    print(f"| item by item, scaled to {items} | {items} | | {scaled:.1f} | |")
    print()
    print("each language's wall time (two languages run at once, so these overlap):")
    print("| language | batched s | item by item s (sample) |")
    print("| --- | ---: | ---: |")
    for k in t_whole:
        print(f"| {k} | {t_whole[k]:.1f} | {t_sample.get(k, 0.0):.1f} |")
    print(f"\nrecords and report: {work / 'audit'}")
    print()
    print(f"ratio (item by item / batched): {scaled / whole:.1f}x")
    est = whole / items * CRUXEVAL_X_ITEMS
    print(f"extrapolated to {CRUXEVAL_X_ITEMS} items: {est:.0f} s ({est / 60:.1f} min; "
          "target 15 min)")


if __name__ == "__main__":
    main()
