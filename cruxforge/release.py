"""Builds and releases: seeds -> cases -> translation per language -> a versioned release.

The steps are plain functions (no Prefect) so the flows in ``flows/`` wrap them as coarse
tasks and :func:`build_release` runs them in order without an orchestrator. A release is
``<out_root>/<name>/<version>/``:

- ``<lang>.jsonl``: validated items in CRUXEval-X's format, in seed-file order;
- ``benchmark.parquet``: the same items, one table with a ``lang`` column;
- ``report.jsonl``: one record per seed and language (``id lang status reason rounds tokens``);
- ``seeds.jsonl`` (the seed file as given), ``typed_seeds.jsonl``, ``cases.jsonl`` (every
  test case the items passed), ``README.md`` (dataset card), ``transcript/`` (LLM builds);
- ``manifest.json``: what produced it (versions, hashes, toolchains, translator, model
  settings, prompt hash), counts, a hash per item and per file.

:func:`verify_release` re-runs every item and checks the manifest against the files and
the current rules and runtime specs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import cruxforge
from cruxforge.models import SeedCheck, TypedSeed
from cruxforge.progress import tracker
from cruxforge.store import ItemStore, canonical_json, cases_from_wire, cases_to_wire
from cruxforge.translate.loop import ItemReport
from transition_rules.engine import Case, published_id

MANIFEST_KIND = "cruxforge.release"
MANIFEST_FORMAT = 1
ROOT = Path(__file__).resolve().parent.parent
DEMO_SEEDS = ROOT / "seeds" / "demo.jsonl"
DEMO_LICENCE = "MIT: the demo seeds and their reference translations were written for cruxforge"
REPORT_FIELDS = ("id", "lang", "status", "reason", "rounds", "tokens", "origin", "draft_note")


class BuildSpec(BaseModel):
    """Everything a build is asked to do (flow parameters map onto these fields)."""

    seeds: str
    languages: list[str]
    translator: str = "reference"  # reference | llm | replay:DIR | none (drafts only)
    references: str | None = None
    drafts: str | None = None  # an existing benchmark: round 0's answers (--drafts)
    model: str | None = None
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    concurrency: int | None = None  # LLM requests in flight at once (LLMConfig.concurrency)
    llm_config: str | None = None  # TOML file of LLM settings
    max_repairs: int = 3
    agreement: int = 10
    backend: str = "batched"
    refresh: bool = False  # recompute items the store holds
    release_name: str = "demo"
    version: str = "1"
    out_root: str = "artifacts"
    work_dir: str | None = None  # store + live transcript; default <out_root>/<name>/.work
    seeds_licence: str | None = None

    @property
    def work(self) -> Path:
        return Path(self.work_dir or Path(self.out_root) / self.release_name / ".work")

    @property
    def release_dir(self) -> Path:
        return Path(self.out_root) / self.release_name / self.version

    def store(self) -> ItemStore:
        return ItemStore(self.work / "store")

    @property
    def translator_name(self) -> str:
        return self.translator.partition(":")[0]

    def transcript_dir(self) -> Path | None:
        name, _, arg = self.translator.partition(":")
        if name == "replay":
            return Path(arg) if arg else None
        if name == "llm":
            return self.work / "transcript"
        return None


class BuildError(ValueError):
    """The build was asked for something impossible (bad translator, unknown language)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def item_hash(item: Mapping[str, Any]) -> str:
    """sha256 of the published item's canonical JSON (``id code input_reasoning ...``)."""
    return hashlib.sha256(canonical_json(dict(item)).encode("utf-8")).hexdigest()


def tree_hash(directory: Path) -> tuple[str, int]:
    """sha256 over (relative path, file sha256) of every file under ``directory``; count."""
    h = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    for p in files:
        h.update(f"{p.relative_to(directory).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest(), len(files)


# ---------------------------------------------------------------- translator


def llm_settings(spec: BuildSpec) -> Any:
    """The LLMConfig of an llm/replay build; a replay reads the model from its release."""
    from cruxforge.llm.config import load_config

    overrides: dict[str, Any] = {
        "base_url": spec.base_url,
        "model": spec.model,
        "temperature": spec.temperature,
        "max_tokens": spec.max_tokens,
        "concurrency": spec.concurrency,
    }
    tdir = spec.transcript_dir()
    if spec.translator_name == "replay" and tdir is not None:
        manifest = tdir.parent / "manifest.json"
        if manifest.exists():
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("translator", {})
            for k in ("model", "temperature", "max_tokens"):
                if overrides[k] is None and recorded.get(k) is not None:
                    overrides[k] = recorded[k]
    path = Path(spec.llm_config) if spec.llm_config else None
    return load_config(path, {k: v for k, v in overrides.items() if v is not None})


def make_build_drafter(spec: BuildSpec) -> Any:
    from cruxforge.translate.drafters import make_drafter

    name = spec.translator_name
    if name == "reference":
        if not spec.references:
            raise BuildError("the reference translator needs references (--references DIR)")
        return make_drafter("reference", references=Path(spec.references))
    if name in ("llm", "replay"):
        return make_drafter(
            spec.translator if name == "replay" else "llm",
            llm_config=llm_settings(spec),
            transcript=spec.transcript_dir(),
        )
    if name == "none":
        if not spec.drafts:
            raise BuildError("--translator none validates drafts only: give --drafts DIR")
        return None
    raise BuildError(
        f"unknown translator {spec.translator!r}; known: reference, llm, replay:DIR, none"
    )


def translator_info(spec: BuildSpec) -> dict[str, Any]:
    """The translator as the manifest records it (no secrets: the key is never a setting)."""
    from cruxforge.translate.prompts import prompts_hash

    info: dict[str, Any] = {"name": spec.translator_name, "prompts_hash": prompts_hash()}
    if spec.drafts:
        folder = Path(spec.drafts)
        info["drafts"] = spec.drafts
        info["draft_files"] = {
            p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted([*folder.glob("*.jsonl"), *folder.glob("data/*.jsonl")])
            if p.is_file()
        }
    if spec.translator_name == "none":
        pass
    elif spec.translator_name == "reference":
        refs = Path(spec.references or "")
        info["references"] = spec.references
        info["reference_files"] = {
            p.name: sha256_file(p) for p in sorted(refs.glob("*.jsonl")) if p.is_file()
        }
    else:
        cfg = llm_settings(spec)
        info.update(
            model=cfg.model,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            base_url=cfg.base_url if spec.translator_name == "llm" else None,
        )
    return info


def translator_id(spec: BuildSpec, lang: str) -> dict[str, Any]:
    """What identifies the translator for one language's items in the store key."""
    info = translator_info(spec)
    drafts = {"drafts": info["draft_files"]} if "draft_files" in info else {}
    if info["name"] == "none":
        return {"name": "none", **drafts}
    if info["name"] == "reference":
        return {"name": "reference", "file": info["reference_files"].get(f"{lang}.jsonl"),
                **drafts}  # fmt: skip
    keys = ("name", "model", "base_url", "temperature", "max_tokens", "prompts_hash")
    return {**{k: info[k] for k in keys}, **drafts}


# ---------------------------------------------------------------- the steps


def resolve_languages(languages: str | Sequence[str]) -> list[str]:
    from runtimes.spec import LANGUAGES

    if isinstance(languages, str):
        langs = (
            list(LANGUAGES)
            if languages.strip() == "all"
            else [x.strip() for x in languages.split(",") if x.strip()]
        )
    else:
        langs = list(languages)
    unknown = [x for x in langs if x not in LANGUAGES]
    if unknown:
        raise BuildError(f"unknown languages {unknown}; known: {' '.join(LANGUAGES)}")
    return langs


def runtime_status(backend_name: str, langs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per language: the backend's doctor record, spec hash and (docker) image id."""
    from runtimes.backend import get_backend
    from runtimes.spec import get_spec

    out: dict[str, dict[str, Any]] = {}
    with get_backend(backend_name) as b:
        for lang in langs:
            st = b.doctor(lang)
            rec: dict[str, Any] = {
                "spec_hash": get_spec(lang).spec_hash(),
                "backend": backend_name,
                "available": st.available,
                "toolchain": st.version,
                "reason": st.reason,
            }
            if backend_name == "docker":
                rec.update(_image(lang))
            out[lang] = rec
    return out


def _image(lang: str) -> dict[str, Any]:
    from runtimes.images import docker_client, image_tag
    from runtimes.spec import get_spec

    tag = image_tag(get_spec(lang))
    try:
        return {"image": tag, "image_id": docker_client(timeout=30).images.get(tag).id}
    except Exception as e:  # noqa: BLE001 - recorded, not fatal: doctor already judged it
        return {"image": tag, "image_id": None, "image_error": str(e)[:200]}


def check_seeds(seeds: str | Path) -> list[SeedCheck]:
    from cruxforge.seeds.check import check_file

    return check_file(seeds)


def compute_cases(spec: BuildSpec, typed: Sequence[TypedSeed]) -> dict[str, list[Case]]:
    from cruxforge.translate.run import seed_cases

    return seed_cases(typed, spec.agreement, spec.store())


def read_build_drafts(spec: BuildSpec) -> Any:
    """The build's drafts folder, read (None without ``--drafts``)."""
    if not spec.drafts:
        return None
    from cruxforge.translate.drafts import DraftsError, read_drafts

    try:
        return read_drafts(spec.drafts)
    except DraftsError as e:
        raise BuildError(str(e)) from None


def drafts_problems(spec: BuildSpec, typed: Sequence[TypedSeed]) -> list[dict[str, Any]]:
    """What in the drafts folder can't become an item (unknown ids, bad lines, ...)."""
    drafts = read_build_drafts(spec)
    if drafts is None:
        return []
    wanted = set(spec.languages)
    drafts.check_ids({s.id for s in typed})
    return [
        {"where": p.where, "lang": p.lang, "id": p.id, "reason": p.reason}
        for p in drafts.problems
        if p.lang is None or p.lang in wanted
    ]


def translate_batch(
    spec: BuildSpec,
    typed: Sequence[TypedSeed],
    lang: str,
    cases: Mapping[str, list[Case]],
    on_item: Callable[[ItemReport], None] | None = None,
) -> list[ItemReport]:
    """One language's items, through the store: finished ones are read back; the rest go
    through the repair loop in rounds (every answer of a round asked at once, every
    program of a round in one ``execute`` call)."""
    from cruxforge.translate.run import translate_language
    from runtimes.backend import get_backend

    drafter = make_build_drafter(spec)
    with get_backend(spec.backend) as b:
        reports, _ = translate_language(
            typed,
            lang,
            dict(cases),
            drafter,
            b,
            spec.max_repairs,
            on_item,
            store=spec.store(),
            translator_id=translator_id(spec, lang),
            drafts=read_build_drafts(spec),
            refresh=spec.refresh,
        )
    return reports


def unavailable_reports(typed: Sequence[TypedSeed], lang: str, reason: str) -> list[ItemReport]:
    return [
        ItemReport(id=s.id, lang=lang, status="skipped", reason=f"runtime_unavailable: {reason}")
        for s in typed
    ]


def build_release(
    spec: BuildSpec,
    on_item: Callable[[ItemReport], None] | None = None,
    workers: int | None = None,
) -> Path:
    """The whole build without an orchestrator (the ``build`` flow runs these as tasks):
    languages side by side, ``workers`` at once (default: all)."""
    from concurrent.futures import ThreadPoolExecutor

    from cruxforge.llm.client import close_shared

    langs = resolve_languages(spec.languages)
    make_build_drafter(spec)  # fail early on a bad translator
    status = runtime_status(spec.backend, langs)
    checks = check_seeds(spec.seeds)
    typed = [c.typed for c in checks if c.typed is not None]
    cases = compute_cases(spec, typed)
    reports: dict[str, list[ItemReport]] = {}
    ready = [x for x in langs if status[x]["available"]]
    with ThreadPoolExecutor(max_workers=max(1, workers or len(ready) or 1)) as pool:
        done = dict(zip(ready, pool.map(lambda x: translate_batch(spec, typed, x, cases, on_item),
                                        ready)))  # fmt: skip
    close_shared()
    for lang in langs:
        if lang in done:
            reports[lang] = done[lang]
        else:
            reports[lang] = unavailable_reports(typed, lang, status[lang]["reason"] or "")
    return write_release(spec, checks, cases, status, reports, drafts_problems(spec, typed))


# ---------------------------------------------------------------- writing


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


def published_items(
    typed: Sequence[TypedSeed], reports: Sequence[ItemReport], lang: str
) -> list[dict[str, Any]]:
    from transition_rules.engine import render_published, rules_for

    by_id = {s.id: s for s in typed}
    rules = rules_for(lang)
    return [
        render_published(rules, by_id[r.id], r.code).as_json()
        for r in reports
        if r.status == "validated" and r.code is not None and r.id in by_id
    ]


def _licence(spec: BuildSpec) -> str:
    if spec.seeds_licence:
        return spec.seeds_licence
    try:
        if Path(spec.seeds).resolve() == DEMO_SEEDS.resolve():
            return DEMO_LICENCE
    except OSError:
        pass
    return "not stated: pass --seeds-licence (the licence of the seed file applies)"


def _jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
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
    import pandas as pd

    from transition_rules.engine import rules_hash

    final = spec.release_dir
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    typed = [c.typed for c in checks if c.typed is not None]
    rejected = [c for c in checks if c.status == "rejected"]
    langs = list(reports)

    report_rows: list[dict[str, Any]] = []
    items: dict[str, list[dict[str, Any]]] = {}
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
            items[lang] = published_items(typed, reports[lang], lang)
            _jsonl(tmp / f"{lang}.jsonl", items[lang])
    _jsonl(tmp / "report.jsonl", report_rows)
    if spec.drafts:
        _jsonl(tmp / "drafts_problems.jsonl", problems)
    rows = [
        {"lang": lang, "id": str(it["id"]), **{k: it[k] for k in it if k != "id"}}
        for lang, its in items.items()
        for it in its
    ]
    cols = ["lang", "id", "code", "input_reasoning", "output_reasoning"]
    pd.DataFrame(rows, columns=cols).to_parquet(tmp / "benchmark.parquet", index=False)
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
        "| language | validated | failed | skipped | repair rounds (validated) | toolchain |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for lang, c in m["counts"].items():
        rt = m["runtimes"][lang]
        tool = rt["toolchain"] or f"unavailable: {rt['reason']}"
        lines.append(
            f"| {lang} | {c['validated']} | {c['failed']} | {c['skipped']} | {c['rounds']} "
            f"| {tool} |"
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
        "`<lang>.jsonl` (CRUXEval-X format: `id`, `code`, `input_reasoning`, "
        "`output_reasoning`), `benchmark.parquet` (all languages, `lang` column), "
        "`report.jsonl`, `manifest.json`, `seeds.jsonl`, `typed_seeds.jsonl`, `cases.jsonl`"
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
    return "\n".join(lines)


# ---------------------------------------------------------------- verify


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
    if m.get("kind") != MANIFEST_KIND or m.get("format") != MANIFEST_FORMAT:
        problems.append(f"manifest.json: not a {MANIFEST_KIND} format {MANIFEST_FORMAT} manifest")
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
    by_pub = {str(published_id(sid)): s for sid, s in typed.items()}
    cases: dict[str, list[Case]] = {}
    for line in _lines(directory / "cases.jsonl"):
        rec = json.loads(line)
        cases[rec["id"]] = cases_from_wire(rec["cases"])

    run, passed = 0, 0
    for lang, hashes in sorted(m.get("items", {}).items()):
        path = directory / f"{lang}.jsonl"
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
            problems += [f"{lang} {iid}: lint: {p}" for p in lint_item(lang, it)]
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
