"""Writing a release folder: items, report, manifest, dataset card (into a temp dir
beside it, then moved into place)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cruxforge
from cruxforge.models import SeedCheck, TypedSeed
from cruxforge.release.files import item_hash, sha256_file, tree_hash
from cruxforge.release.spec import BuildSpec, translator_info
from cruxforge.store import cases_to_wire
from cruxforge.translate.loop import ItemReport
from transition_rules.engine import Case

MANIFEST_KIND = "cruxforge.release"
# 2: items under data/, integer ids, a Hugging Face card; 3: the input prompt masks the
# call's arguments (CRUXEval-X's mask), not the whole call
MANIFEST_FORMAT = 3
ROOT = Path(__file__).resolve().parents[2]
DEMO_SEEDS = ROOT / "seeds" / "demo.jsonl"
DEMO_LICENCE = "MIT: the demo seeds and their reference translations were written for cruxforge"
REPORT_FIELDS = ("id", "lang", "status", "reason", "rounds", "tokens", "origin", "draft_note")


def git_commit() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}
    if commit.returncode != 0:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}


def item_ids(seed_ids: Sequence[str]) -> dict[str, int]:
    """Each seed's item id, an integer as CRUXEval-X's: N for CRUXEval's ``sample_N``,
    else the seed's position in the seed file (every seed its position, should that give
    two seeds one id)."""
    ids: dict[str, int] = {}
    for pos, sid in enumerate(seed_ids):
        m = re.fullmatch(r"sample_(\d+)", sid)
        ids[sid] = int(m.group(1)) if m else pos
    if len(set(ids.values())) != len(ids):
        ids = {sid: pos for pos, sid in enumerate(seed_ids)}
    return ids


def published_items(
    typed: Sequence[TypedSeed],
    reports: Sequence[ItemReport],
    lang: str,
    ids: Mapping[str, int] | None = None,
    natural: list[bool] | None = None,
) -> list[dict[str, Any]]:
    """The language's validated items in CRUXEval-X's fields (``id`` from ``ids``);
    ``natural``, when given, gets per item whether its test is the language's natural
    one (else our helper's: counted in the manifest)."""
    from transition_rules.engine import render_published, rules_for

    by_id = {s.id: s for s in typed}
    rules = rules_for(lang)
    out = []
    for r in reports:
        if r.status == "validated" and r.code is not None and r.id in by_id:
            rendered = render_published(rules, by_id[r.id], r.code)
            item = rendered.as_json()
            if ids is not None:
                item["id"] = ids[r.id]
            out.append(item)
            if natural is not None:
                natural.append(rendered.natural)
    return out


def _licence(spec: BuildSpec) -> str:
    if spec.seeds_licence:
        return spec.seeds_licence
    try:
        if Path(spec.seeds).resolve() == DEMO_SEEDS.resolve():
            return DEMO_LICENCE
    except OSError:
        pass
    return "not stated: pass --seeds-licence (the licence of the seed file applies)"


def cruxeval_x_name(lang: str) -> str:
    """The language's split name in CRUXEval-X (``Cpp``, ``CS``, ``Java`` ...)."""
    from transition_rules.engine import rules_for

    return rules_for(lang).names.cruxeval_x or lang


def _jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_release(
    spec: BuildSpec,
    checks: Sequence[SeedCheck],
    cases: Mapping[str, list[Case]],
    status: Mapping[str, Mapping[str, Any]],
    reports: Mapping[str, Sequence[ItemReport]],
    problems: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write the release into a temp dir beside it, then move it into place.
    ``problems``: what in the drafts folder could not become an item."""
    from transition_rules.engine import rules_hash

    final = spec.release_dir
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    typed = [c.typed for c in checks if c.typed is not None]
    rejected = [c for c in checks if c.status == "rejected"]
    langs = list(reports)
    ids = item_ids([c.id for c in checks])
    (tmp / "data").mkdir()
    (tmp / "cruxeval-x").mkdir()

    report_rows: list[dict[str, Any]] = []
    items: dict[str, list[dict[str, Any]]] = {}
    natural: dict[str, list[bool]] = {lang: [] for lang in langs}
    for lang in langs:
        for r in reports[lang]:
            report_rows.append({k: getattr(r, k) for k in REPORT_FIELDS})
        for c in rejected:
            reason = f"seed_rejected: {c.reason.code}: {c.reason.message}" if c.reason else ""
            report_rows.append(
                {"id": c.id, "lang": lang, "status": "skipped", "reason": reason,
                 "rounds": 0, "tokens": 0, "origin": None, "draft_note": ""}
            )  # fmt: skip
        if status[lang]["available"]:
            items[lang] = published_items(typed, reports[lang], lang, ids, natural[lang])
            _jsonl(tmp / "data" / f"{lang}.jsonl", items[lang])
            _jsonl(tmp / "cruxeval-x" / f"{cruxeval_x_name(lang)}.jsonl", items[lang])
    _jsonl(tmp / "report.jsonl", report_rows)
    if spec.drafts:
        _jsonl(tmp / "drafts_problems.jsonl", problems)
    _jsonl(tmp / "data" / "all.jsonl", [{"lang": lang, **it} for lang, its in items.items()
                                         for it in its])  # fmt: skip
    shutil.copyfile(spec.seeds, tmp / "seeds.jsonl")
    _jsonl(tmp / "typed_seeds.jsonl", [s.model_dump(mode="json") for s in typed])
    _jsonl(
        tmp / "cases.jsonl",
        [{"id": s.id, "cases": cases_to_wire(cases[s.id])} for s in typed if s.id in cases],
    )
    tdir = spec.transcript_dir()
    if tdir is not None and tdir.is_dir():
        shutil.copytree(tdir, tmp / "transcript", ignore=shutil.ignore_patterns("*.tmp", ".*"))

    counts = {
        lang: {
            s: sum(r.status == s for r in reports[lang]) for s in ("validated", "failed", "skipped")
        }
        for lang in langs
    }
    for lang in langs:
        counts[lang]["skipped"] += len(rejected)
        counts[lang]["rounds"] = sum(r.rounds for r in reports[lang] if r.status == "validated")
        # published items whose test needs our deep-equality helper (floats, or a type the
        # language's natural test does not compare exactly): transition_rules NaturalTest
        counts[lang]["helper_tests"] = natural[lang].count(False)
        if spec.drafts:
            ok = [r for r in reports[lang] if r.status == "validated"]
            counts[lang]["from_draft"] = sum(r.origin == "draft" for r in ok)
            counts[lang]["draft_repaired"] = sum(r.origin == "draft+repair" for r in ok)
    translator = translator_info(spec)
    manifest: dict[str, Any] = {
        "kind": MANIFEST_KIND,
        "format": MANIFEST_FORMAT,
        "name": spec.release_name,
        "version": spec.version,
        "cruxforge": {"version": cruxforge.__version__, **git_commit()},
        "build": {
            "languages": langs,
            "backend": spec.backend,
            "max_repairs": spec.max_repairs,
            "agreement": spec.agreement,
            "translator": spec.translator,
            "replay_from": spec.replay_from,
            "drafts": spec.drafts,
            "drafts_problems": len(problems) if spec.drafts else None,
        },
        "seeds": {
            "file": Path(spec.seeds).name,
            "sha256": sha256_file(Path(spec.seeds)),
            "total": len(checks),
            "ok": len(typed),
            "rejected": len(rejected),
            "licence": _licence(spec),
        },
        "rules": {lang: rules_hash(lang) for lang in langs},
        "runtimes": {lang: dict(status[lang]) for lang in langs},
        "translator": translator,
        "counts": counts,
        "items": {
            lang: {str(it["id"]): item_hash(it) for it in its} for lang, its in items.items()
        },
        # item id -> seed id (the ids of the items are integers, as CRUXEval-X's)
        "ids": {str(ids[s.id]): s.id for s in typed},
    }
    (tmp / "README.md").write_text(_card(spec, manifest), encoding="utf-8")
    files = sorted(
        p for p in tmp.rglob("*") if p.is_file() and p.parts[len(tmp.parts)] != "transcript"
    )
    manifest["files"] = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in files}
    th, n = tree_hash(tmp / "transcript")
    manifest["transcript"] = {"entries": n, "sha256": th} if n else None
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def _card(spec: BuildSpec, m: Mapping[str, Any]) -> str:
    t = m["translator"]
    if t["name"] == "reference":
        model = f"reference translations from `{t['references']}`"
    elif t["name"] == "none":
        model = "none (drafts validated, not repaired)"
    else:
        model = (
            f"model `{t['model']}` (temperature {t['temperature']}, max_tokens {t['max_tokens']})"
        )
    if t.get("drafts"):
        model += f"; round-0 answers from the drafts in `{t['drafts']}`"
    lines = [
        f"# {m['name']} {m['version']}",
        "",
        "A CRUXEval-X-style multilingual code-reasoning benchmark built by cruxforge "
        f"{m['cruxforge']['version']} (commit {m['cruxforge']['git_commit'] or 'unknown'}).",
        "",
        "## Counts per language",
        "",
        "| language | validated | failed | skipped | repair rounds (validated) "
        "| tests with our helper | toolchain |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lang, c in m["counts"].items():
        rt = m["runtimes"][lang]
        tool = rt["toolchain"] or f"unavailable: {rt['reason']}"
        lines.append(
            f"| {lang} | {c['validated']} | {c['failed']} | {c['skipped']} | {c['rounds']} "
            f"| {c.get('helper_tests', '?')} | {tool} |"
        )
    s = m["seeds"]
    lines += [
        "",
        "## How it was built",
        "",
        f"- Seeds: `{s['file']}` (sha256 `{s['sha256'][:16]}…`), {s['total']} seeds, "
        f"{s['ok']} validated and typed, {s['rejected']} rejected.",
        f"- Each seed was run in Python, typed, and given up to {spec.agreement} extra "
        "test inputs Python agrees on (`cases.jsonl`).",
        f"- Translator `{t['name']}`: {model}; prompts hash `{t['prompts_hash']}`; up to "
        f"{spec.max_repairs} repair rounds driven by execution diagnostics.",
        "- An item is published only if its translation passes every test case twice "
        f"(flakiness check) on the `{spec.backend}` sandbox backend.",
        "- `manifest.json` records every version and hash; `report.jsonl` has one record "
        "per seed and language; `cruxforge release verify <this dir>` re-runs every item.",
        *(
            [
                "- With drafts, `report.jsonl` says per item where it came from (`origin`: "
                "`draft` = the draft unchanged, `draft+repair` = repaired in `rounds` rounds) "
                "or why it was dropped (`reason`, `draft_note`); `drafts_problems.jsonl` "
                "lists draft lines that name no seed or can't be read.",
            ]
            if t.get("drafts")
            else []
        ),
        "",
        "## Files",
        "",
        "`data/<lang>.jsonl` (CRUXEval-X format: `id` an integer, `code`, `input_reasoning`, "
        "`output_reasoning`; one Hugging Face config each), `data/all.jsonl` (all "
        "languages, a `lang` field first; the `all` config), `cruxeval-x/<Split>.jsonl` (the same "
        "items under CRUXEval-X's split names: `Cpp`, `CS`, `Java` ...), "
        "`report.jsonl`, `manifest.json` (`ids`: item id to seed id), `seeds.jsonl`, "
        "`typed_seeds.jsonl`, `cases.jsonl`"
        + (
            ", `transcript/` (every LLM exchange; replay with `--translator replay:DIR`)"
            if m.get("transcript") or t["name"] != "reference"
            else ""
        )
        + ".",
        "",
        "## Licence",
        "",
        f"Seeds: {s['licence']}.",
        "",
    ]
    return front_matter(m) + "\n".join(lines)


def front_matter(m: Mapping[str, Any]) -> str:
    """The card's YAML header: what ``datasets.load_dataset(<release dir>)`` and the Hub
    read (one config per language, ``all`` the default)."""
    import yaml

    total = sum(len(v) for v in m["items"].values())
    size = next(
        (name for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"),
                                  (100_000, "10K<n<100K")) if total < limit),
        "100K<n<1M",
    )  # fmt: skip
    licence = str(m["seeds"]["licence"])
    configs: list[dict[str, Any]] = [
        {"config_name": "all", "data_files": [{"split": "test", "path": "data/all.jsonl"}],
         "default": True},
        *({"config_name": lang, "data_files": [{"split": "test", "path": f"data/{lang}.jsonl"}]}
          for lang in m["items"]),
    ]  # fmt: skip
    header = {
        "pretty_name": f"{m['name']} {m['version']}",
        "license": "mit" if licence.lower().startswith("mit") else "other",
        "language": ["en"],
        "tags": ["code", "code-reasoning", "cruxeval-x", "multilingual"],
        "task_categories": ["text-generation"],
        "size_categories": [size],
        "configs": configs,
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n"
