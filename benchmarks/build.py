"""A benchmark-scale build: rounds across items against the serial loop, in one run.

The seeds: every demo seed plus variants of it (the same function, marked by a comment,
with another example taken from its agreement cases), ``--variants`` each: 24 x 17 = 408
seeds by default. The "model" is a local chat-completions server that answers every
request after ``--latency`` seconds with the demo reference translation, and with a
wrong function in the first answer of a ``--faults`` share of the items (repaired in
round 1). Then, on every language runnable here:

1. the round-synchronous build (``cruxforge.release.build_release``: languages side by
   side, every answer of a round asked at once, every program of a round in one call to
   the batched engine) on all seeds;
2. the same build on a sample of the seeds (every ``--sample-every``-th), and the serial
   loop that builds used before (two languages at a time, one item at a time, each
   round's program run as its own process, one request in flight per language) on the
   same sample: measured side by side, and the serial time scaled to the whole set
   (items are independent in the serial loop, so its time grows with their number).

Prints wall time, items and programs per second, the most requests in flight and the
repair rounds, each beside the serial loop's.

    uv run python benchmarks/build.py                       # 408 seeds, 1 s latency
    uv run python benchmarks/build.py --variants 2 --languages py,js,rs   # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cruxforge.agreement import _py_literal, agreement_cases, python_run_calls  # noqa: E402
from cruxforge.llm.testserver import Reply, ScriptedChatServer  # noqa: E402
from cruxforge.release import BuildSpec, build_release, runtime_status  # noqa: E402
from cruxforge.seeds.check import check_file  # noqa: E402
from cruxforge.translate.loop import ItemReport, translate_item  # noqa: E402
from cruxforge.translate.run import seed_cases  # noqa: E402
from cruxforge.translators.reference import read_benchmark  # noqa: E402
from runtimes.backend import get_backend  # noqa: E402
from runtimes.spec import LANGUAGES  # noqa: E402
from transition_rules.engine import Case, rules_for  # noqa: E402

DEMO = ROOT / "seeds" / "demo.jsonl"
REFS = ROOT / "seeds" / "demo_reference"
MARK = "# variant "


def make_seeds(out: Path, variants: int) -> Path:
    """The demo seeds and up to ``variants`` variants of each (another example, a comment
    mark), keeping only variants typed as their original (an example with an empty list
    leaves its element type to a guess, which the reference translations need not match)."""
    demo = [json.loads(x) for x in DEMO.read_text().splitlines() if x.strip()]
    typed = {c.id: c.typed for c in check_file(DEMO) if c.typed is not None}
    cases = seed_cases(list(typed.values()), variants * 2 + 4)
    candidates = []
    for d in demo:
        if d["id"] not in typed:
            continue
        for k, case in enumerate(cases[d["id"]][1:], 1):
            args = ", ".join(_py_literal(a) for a in case.args)
            candidates.append({
                "id": f"{d['id']}_v{k}", "code": f"{MARK}{k}\n{d['code']}",
                "input": args, "output": _py_literal(case.expected),
            })  # fmt: skip
    out.write_text("\n".join(json.dumps(c) for c in candidates) + "\n", encoding="utf-8")
    kept: dict[str, int] = {}
    lines = [json.dumps(d) for d in demo]
    for c in check_file(out):
        origin = c.id.rsplit("_v", 1)[0]
        if c.typed is None or kept.get(origin, 0) >= variants:
            continue
        want, got = typed[origin].signature, c.typed.signature
        if [p.type for p in want.params] == [p.type for p in got.params] and (
            want.result == got.result
        ):
            kept[origin] = kept.get(origin, 0) + 1
            lines.append(next(json.dumps(x) for x in candidates if x["id"] == c.id))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


class Model:
    """The scripted "model": reference translations after a fixed latency; a wrong
    function first for a share of the items (by a hash, so both builds see the same)."""

    def __init__(self, latency: float, faults: float) -> None:
        self.latency, self.faults = latency, faults
        self.refs = {(it.seed_id, lang): it.code for lang, items in read_benchmark(REFS).items()
                     for it in items}  # fmt: skip
        self.lang_of = {rules_for(x).name: x for x in LANGUAGES}
        demo = [json.loads(x) for x in DEMO.read_text().splitlines() if x.strip()]
        self.id_of = {d["code"].strip(): d["id"] for d in demo}

    def __call__(self, body: dict[str, Any]) -> Reply:
        msgs = body["messages"]
        user = next(m["content"] for m in msgs if m["role"] == "user")
        name = user.split("Translate this Python function into ", 1)[1].split(".\n", 1)[0]
        python = user.split("```python\n", 1)[1].split("\n```", 1)[0]
        lang = self.lang_of[name]
        plain = "\n".join(ln for ln in python.splitlines() if not ln.startswith(MARK)).strip()
        sid = self.id_of[plain]
        code = self.refs.get((sid, lang), "")
        first = sum(m["role"] == "user" for m in msgs) == 1
        h = int(hashlib.sha256(f"{lang}\0{python}".encode()).hexdigest()[:8], 16) / 2**32
        if first and h < self.faults:
            code = self.refs.get(("demo_0" if sid != "demo_0" else "demo_3", lang), code)
        time.sleep(self.latency)
        return Reply.answer(f"```\n{code}\n```", prompt_tokens=200, completion_tokens=80)


def programs_run(reports: Sequence[ItemReport]) -> int:
    """Programs executed: one per attempt with code, two when it passed once."""
    return sum(
        (1 + (a.outcome in ("validated", "flaky"))) if a.code is not None else 0
        for r in reports
        for a in r.attempts
    )


def figures(name: str, seconds: float, reports: Sequence[ItemReport], most: int) -> dict[str, Any]:
    done = [r for r in reports if not r.reused]
    return {
        "build": name,
        "items": len(done),
        "validated": sum(r.status == "validated" for r in done),
        "seconds": round(seconds, 1),
        "items_per_s": round(len(done) / seconds, 2) if seconds else None,
        "programs": programs_run(done),
        "programs_per_s": round(programs_run(done) / seconds, 2) if seconds else None,
        "most_in_flight": most,
        "repair_rounds": sum(r.rounds for r in done if r.status == "validated"),
    }


def round_build(seeds: Path, langs: list[str], work: Path, url: str, concurrency: int,
                agreement: int) -> tuple[float, float, list[ItemReport]]:  # fmt: skip
    fresh_compiles()
    spec = BuildSpec(
        seeds=str(seeds), languages=langs, translator="llm", model="bench", base_url=url,
        concurrency=concurrency, agreement=agreement, max_repairs=2, backend="batched",
        out_root=str(work / "out"), work_dir=str(work / "work"), release_name="bench",
    )  # fmt: skip
    t = time.monotonic()
    typed = [c.typed for c in check_file(seeds) if c.typed is not None]
    seed_cases(typed, agreement, spec.store())  # timed on its own: the batched oracle
    t_cases = time.monotonic() - t
    rel = build_release(spec)
    seconds = time.monotonic() - t
    reports = [ItemReport.model_validate(r) for r in _attempts(spec)]
    del rel
    return seconds, t_cases, reports


def fresh_compiles() -> None:
    """Forget compiles kept by an earlier run: each build pays for its own."""
    import shutil

    from runtimes.local import LocalBackend

    shutil.rmtree(LocalBackend().compiled.root, ignore_errors=True)


def _attempts(spec: BuildSpec) -> list[dict[str, Any]]:
    from cruxforge.store import ItemStore

    store = ItemStore(spec.work / "store")
    return [store.get_item(k).model_dump() for k in store.item_keys()]  # type: ignore[union-attr]


def serial_build(seeds: Path, langs: list[str], work: Path, url: str,
                 agreement: int) -> tuple[float, float, list[ItemReport]]:  # fmt: skip
    """The loop builds ran before rounds: per language one item at a time, each round's
    program its own process on the per-item backend, two languages at a time."""
    from cruxforge.llm.config import LLMConfig

    fresh_compiles()
    t = time.monotonic()
    typed = [c.typed for c in check_file(seeds) if c.typed is not None]
    cases: dict[str, list[Case]] = {
        s.id: agreement_cases(s, python_run_calls, agreement) for s in typed
    }  # seed by seed, as before
    t_cases = time.monotonic() - t
    cfg = LLMConfig(base_url=url, model="bench", concurrency=1)

    def one_language(lang: str) -> list[ItemReport]:
        from cruxforge.llm.client import ChatClient
        from cruxforge.llm.transcript import TranscriptCache
        from cruxforge.translate.drafters import ChatDrafter

        drafter = ChatDrafter(
            ChatClient(cfg, cache=TranscriptCache(work / "serial" / lang)), "llm"
        )
        with get_backend("auto") as b:
            return [translate_item(s, lang, cases[s.id], drafter, b, 2) for s in typed]

    # the loop as it was: every program compiled, its flakiness re-run included
    os.environ["CRUXFORGE_COMPILE_CACHE"] = "0"

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            reports = [r for rs in pool.map(one_language, langs) for r in rs]
    finally:
        os.environ.pop("CRUXFORGE_COMPILE_CACHE", None)
    return time.monotonic() - t, t_cases, reports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--languages", default="all", help="'all': every language runnable here")
    ap.add_argument("--variants", type=int, default=16, help="variants of each demo seed")
    ap.add_argument("--latency", type=float, default=1.0, help="seconds per model answer")
    ap.add_argument("--faults", type=float, default=0.1, help="share of wrong first answers")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight at most")
    ap.add_argument("--agreement", type=int, default=10)
    ap.add_argument("--sample-every", type=int, default=17, help="serial loop on every N-th seed")
    ap.add_argument("--no-serial", action="store_true", help="skip the serial comparison")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    wanted = list(LANGUAGES) if args.languages == "all" else args.languages.split(",")
    status = runtime_status("auto", wanted)
    langs = [x for x in wanted if status[x]["available"]]
    for x in sorted(set(wanted) - set(langs)):
        print(f"{x}: not runnable here: {status[x]['reason']}")
    work = Path(tempfile.mkdtemp(prefix="cruxforge-build-bench-"))
    seeds = make_seeds(work / "seeds.jsonl", args.variants)
    lines = seeds.read_text().splitlines()
    sample = work / "sample.jsonl"
    sample.write_text("\n".join(lines[:: args.sample_every]) + "\n")
    n_all, n_sample = len(lines), len(lines[:: args.sample_every])
    print(f"{n_all} seeds ({n_sample} in the sample) x {len(langs)} languages: {' '.join(langs)}")
    rows = []
    with ScriptedChatServer(Model(args.latency, args.faults)) as srv:
        sec, cases_s, reps = round_build(seeds, langs, work / "full", srv.base_url,
                                         args.concurrency, args.agreement)  # fmt: skip
        rows.append({**figures("rounds, all seeds", sec, reps, srv.most_in_flight),
                     "cases_s": round(cases_s, 1)})  # fmt: skip
        print(rows[-1], flush=True)
        if not args.no_serial:
            srv.most_in_flight = 0
            sec, cases_s, reps = round_build(sample, langs, work / "sample-rounds", srv.base_url,
                                             args.concurrency, args.agreement)  # fmt: skip
            rows.append({**figures("rounds, sample", sec, reps, srv.most_in_flight),
                         "cases_s": round(cases_s, 1)})  # fmt: skip
            print(rows[-1], flush=True)
            srv.most_in_flight = 0
            sec, cases_s, reps = serial_build(sample, langs, work / "sample-serial",
                                              srv.base_url, args.agreement)  # fmt: skip
            rows.append({**figures("serial loop, sample", sec, reps, srv.most_in_flight),
                         "cases_s": round(cases_s, 1)})  # fmt: skip
            print(rows[-1], flush=True)
    print()
    print("| build | items | validated | wall s | items/s | programs | programs/s "
          "| most in flight | repair rounds | agreement cases s |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['build']} | {r['items']} | {r['validated']} | {r['seconds']} "
              f"| {r['items_per_s']} | {r['programs']} | {r['programs_per_s']} "
              f"| {r['most_in_flight']} | {r['repair_rounds']} | {r['cases_s']} |")  # fmt: skip
    if len(rows) == 3:
        full, rs, ss = rows
        scaled = ss["seconds"] * full["items"] / max(1, ss["items"])
        print()
        print(f"sample, measured: serial {ss['seconds']} s / rounds {rs['seconds']} s = "
              f"{ss['seconds'] / rs['seconds']:.1f}x")  # fmt: skip
        print(f"all seeds: serial scaled from the sample {scaled:.0f} s / rounds "
              f"{full['seconds']} s = {scaled / full['seconds']:.1f}x")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"work dir: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
