"""Verifying a release: files and item hashes against the manifest, the current rules
and runtime specs, the published-items lint, and every item re-run (under our harness,
and its code as published)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cruxforge.models import TypedSeed
from cruxforge.progress import tracker
from cruxforge.release.files import item_hash, sha256_file, tree_hash
from cruxforge.release.write import MANIFEST_FORMAT, MANIFEST_KIND
from cruxforge.store import cases_from_wire
from transition_rules.engine import Case, published_id


class VerifyResult(BaseModel):
    problems: list[str]
    items_run: int
    items_passed: int


def verify_release(
    directory: Path, backend_name: str = "local", rerun: bool = True
) -> VerifyResult:
    """Check files, item hashes and current rules/spec hashes, lint every published item
    (:mod:`cruxforge.lint`); re-run every item under our harness and its code as
    published."""
    from cruxforge.lint import lint_item, published_programs
    from runtimes.backend import Program, get_backend
    from runtimes.spec import get_spec
    from transition_rules.engine import harness_program, rules_for, rules_hash
    from transition_rules.parsing import FunctionNotFound, cut_function

    problems: list[str] = []
    mpath = directory / "manifest.json"
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        return VerifyResult(problems=[f"manifest.json: cannot read: {e}"], items_run=0,
                            items_passed=0)  # fmt: skip
    fmt = m.get("format")
    if m.get("kind") != MANIFEST_KIND or fmt not in range(1, MANIFEST_FORMAT + 1):
        problems.append(
            f"manifest.json: not a {MANIFEST_KIND} format 1 to {MANIFEST_FORMAT} manifest"
        )
        return VerifyResult(problems=problems, items_run=0, items_passed=0)

    listed = m.get("files", {})
    for rel, want in sorted(listed.items()):
        p = directory / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif (got := sha256_file(p)) != want:
            problems.append(f"{rel}: sha256 {got[:16]}… != manifest {want[:16]}…")
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory).as_posix()
        if (
            p.is_file()
            and rel != "manifest.json"
            and not rel.startswith("transcript/")
            and rel not in listed
        ):
            problems.append(f"{rel}: not listed in the manifest")
    if m.get("transcript"):
        th, n = tree_hash(directory / "transcript")
        if th != m["transcript"]["sha256"]:
            problems.append(
                f"transcript/: {n} entries, tree sha256 {th[:16]}… != manifest "
                f"{m['transcript']['sha256'][:16]}… ({m['transcript']['entries']} entries)"
            )
    for lang, want in sorted(m.get("rules", {}).items()):
        if (got := rules_hash(lang)) != want:
            problems.append(f"rules {lang}: current hash {got} != manifest {want}")
    for lang, rt in sorted(m.get("runtimes", {}).items()):
        if (got := get_spec(lang).spec_hash()) != rt.get("spec_hash"):
            problems.append(
                f"runtime {lang}: current spec hash {got} != manifest {rt.get('spec_hash')}"
            )

    typed = {
        s.id: s
        for s in (
            TypedSeed.model_validate_json(line) for line in _lines(directory / "typed_seeds.jsonl")
        )
    }
    ids = m.get("ids") or {str(published_id(sid)): sid for sid in typed}  # format 1: none
    by_pub = {iid: typed[sid] for iid, sid in ids.items() if sid in typed}
    cases: dict[str, list[Case]] = {}
    for line in _lines(directory / "cases.jsonl"):
        rec = json.loads(line)
        cases[rec["id"]] = cases_from_wire(rec["cases"])

    run, passed = 0, 0
    for lang, hashes in sorted(m.get("items", {}).items()):
        path = directory / (f"data/{lang}.jsonl" if fmt >= 2 else f"{lang}.jsonl")
        found: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(_lines(path), 1):
            try:
                it = json.loads(line)
                found[str(it["id"])] = it
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                problems.append(f"{lang}.jsonl:{n}: not an item ({e})")
        for iid in sorted(set(hashes) - set(found)):
            problems.append(f"{lang} {iid}: in the manifest, missing from {lang}.jsonl")
        for iid in sorted(set(found) - set(hashes)):
            problems.append(f"{lang} {iid}: in {lang}.jsonl, not in the manifest")
        programs: list[tuple[str, Program]] = []
        for iid, it in found.items():
            linted = lint_item(lang, it, arguments_mask=fmt >= 3)
            problems += [f"{lang} {iid}: lint: {p}" for p in linted]
            if iid in hashes and (got := item_hash(it)) != hashes[iid]:
                problems.append(f"{lang} {iid}: item hash {got[:16]}… != manifest "
                                f"{hashes[iid][:16]}…")  # fmt: skip
            seed = by_pub.get(iid)
            if seed is None:
                problems.append(f"{lang} {iid}: no typed seed for this item")
                continue
            try:
                fn = cut_function(lang, it["code"], seed.entry)
            except FunctionNotFound as e:
                problems.append(f"{lang} {iid}: {e}")
                continue
            prog = harness_program(rules_for(lang), seed, fn, cases.get(seed.id),
                                   program_id=f"{iid}:{lang}")  # fmt: skip
            programs.append((iid, prog))
        if not rerun or not programs:
            continue
        published = published_programs(lang, list(found.values()))
        bar = tracker()
        bar.start(lang, len(programs))
        bar.phase(lang, "running", 0, len(programs))
        with get_backend(backend_name) as b:
            results = b.execute([p for _, p in programs] + [p for _, p in published])
        bar.phase(lang, "done", 0, 0)
        for (iid, _), res in zip(published, results[len(programs) :]):
            if not res.passed:
                problems.append(
                    f"{lang} {iid}: the code as published fails: {res.verdict.value} "
                    f"{(res.cases[0].message or '')[:200] if res.cases else ''}".rstrip()
                )
        results = results[: len(programs)]
        for (iid, _), res in zip(programs, results):
            run += 1
            bar.item(lang, "validated" if res.passed else "failed")
            if res.passed:
                passed += 1
                continue
            bad = next((c for c in res.cases if c.verdict.value != "passed"), None)
            detail = res.verdict.value
            if bad is not None:
                detail += f" on case {bad.case}"
                if bad.expected is not None:
                    detail += f": expected {bad.expected}, actual {bad.actual}"
                elif bad.message:
                    detail += f": {bad.message[:200]}"
            problems.append(f"{lang} {iid}: re-run {detail}")
    return VerifyResult(problems=problems, items_run=run, items_passed=passed)


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
