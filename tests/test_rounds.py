"""Benchmark-scale builds: rounds across items, concurrency that changes nothing but speed,
existing benchmarks as drafts, faults reported per item, caches that never serve stale
results. Real parts throughout: the local sandbox through the batched engine, a real local
chat-completions server, the real CLI where a user would use it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cruxforge.llm.testserver import Reply, ScriptedChatServer
from cruxforge.release import BuildSpec, build_release
from cruxforge.store import ItemStore
from tests.conftest import DEMO_SEEDS, ROOT
from tests.release_helpers import ReferenceChat, export_demo, small_seeds

pytestmark = pytest.mark.slow

FAULTY = {("py", "demo_1"), ("js", "demo_4")}


def rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def transcript(release: Path) -> dict[str, object]:
    return {
        p.name: json.loads(p.read_text())["response"]
        for p in (release / "transcript").rglob("*.json")
    }


def llm_spec(tmp: Path, name: str, base_url: str, seeds: Path, **kw: object) -> BuildSpec:
    return BuildSpec(
        seeds=str(seeds), languages=["py", "js"], translator="llm", model="scripted",
        base_url=base_url, out_root=str(tmp / name), release_name="r", version="1",
        agreement=2, max_repairs=2, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_same_release_whatever_the_concurrency(tmp_path: Path) -> None:
    """concurrency 1 and 32 against one deterministic endpoint: identical releases; 32 keeps
    at least 16 requests in flight, 1 never more than one."""
    seeds = small_seeds(tmp_path, 24)
    with ScriptedChatServer(ReferenceChat(faulty=FAULTY, delay_s=0.3)) as srv:
        one = build_release(llm_spec(tmp_path, "c1", srv.base_url, seeds, concurrency=1))
        most_1 = srv.most_in_flight
        srv.most_in_flight = 0
        many = build_release(llm_spec(tmp_path, "c32", srv.base_url, seeds, concurrency=32))
        most_32 = srv.most_in_flight
    assert most_1 == 1, most_1
    assert most_32 >= 16, most_32
    for name in ("data/py.jsonl", "data/js.jsonl", "data/all.jsonl", "report.jsonl",
                 "cases.jsonl"):  # fmt: skip
        assert (one / name).read_bytes() == (many / name).read_bytes(), name
    m1, m32 = (json.loads((d / "manifest.json").read_text()) for d in (one, many))
    assert m1["items"] == m32["items"] and m1["counts"] == m32["counts"]
    # the same requests, the same answers (the records differ only in their timestamps)
    assert transcript(one) == transcript(many) and m1["transcript"]["entries"] > 48
    report = {(r["lang"], r["id"]): r for r in rows(one / "report.jsonl")}
    for key in FAULTY:  # planted faults were caught and repaired in round 1
        assert report[key]["status"] == "validated" and report[key]["rounds"] == 1, report[key]


def test_drafts_faults_caught_repaired_and_reported_per_item(tmp_path: Path) -> None:
    """An exported CRUXEval-X folder as drafts, with planted faults and bad input."""
    drafts = export_demo(tmp_path / "drafts", "py,js")
    js = rows(drafts / "js.jsonl")
    by_id = {str(r["id"]): r for r in js}
    # right on the example (-4096 -> 19), wrong on every other input
    by_id["demo_0"]["code"] = by_id["demo_0"]["code"].replace(
        "function f(n) {", "function f(n) {\n  return 19;"
    )
    del by_id["demo_2"]  # missing
    by_id["demo_3"]["code"] = "this is prose, not a function"  # unreadable
    lines = [json.dumps(r) for r in by_id.values()]
    lines += ['{"id": "nope_9", "code": "function f(x) { return x; }"}', "{not json"]
    (drafts / "js.jsonl").write_text("\n".join(lines) + "\n")
    seeds = small_seeds(tmp_path, 5)
    args = ["cruxforge", "build", "--seeds", str(seeds), "--languages", "py,js",
            "--drafts", str(drafts), "--agreement", "3", "--max-repairs", "2",
            "--release-name", "d", "--version", "1"]  # fmt: skip

    # no translator: drafts are validated; the faulty one fails with its failing input
    none = subprocess.run([*args, "--translator", "none", "--out-root", str(tmp_path / "n")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert none.returncode == 0, none.stdout[-3000:] + none.stderr[-3000:]
    rel = tmp_path / "n" / "d" / "1"
    rep = {(r["lang"], r["id"]): r for r in rows(rel / "report.jsonl")}
    assert all(rep[("py", f"demo_{i}")]["origin"] == "draft" for i in range(5))
    assert all(rep[("py", f"demo_{i}")]["status"] == "validated" for i in range(5))
    bad = rep[("js", "demo_0")]
    assert bad["status"] == "failed" and bad["rounds"] == 0, bad
    assert bad["reason"].startswith("draft failed") and "f(n=" in bad["reason"], bad
    assert "expected" in bad["reason"] and "returned 19" in bad["reason"], bad
    assert rep[("js", "demo_2")]["status"] == "skipped"
    assert rep[("js", "demo_2")]["reason"].startswith("no_draft: no js item for seed demo_2")
    assert rep[("js", "demo_3")]["reason"].startswith("draft_unreadable: js.jsonl:")
    assert rep[("js", "demo_1")]["status"] == "validated"
    problems = rows(rel / "drafts_problems.jsonl")
    assert {p["reason"].split(":")[0] for p in problems} == {"unknown_id", "bad_line"}
    assert any(p["id"] == "nope_9" for p in problems)
    assert len(rows(rel / "data" / "js.jsonl")) == 2  # demo_1 and demo_4: nothing faulty shipped

    # with a model: the faulty draft is repaired, the missing and unreadable are drafted
    with ScriptedChatServer(ReferenceChat()) as srv:
        llm = subprocess.run(
            [*args, "--translator", "llm", "--model", "scripted", "--base-url", srv.base_url,
             "--out-root", str(tmp_path / "l")],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        asked = [ReferenceChat().which(b) for b in srv.requests]
    assert llm.returncode == 0, llm.stdout[-3000:] + llm.stderr[-3000:]
    rel = tmp_path / "l" / "d" / "1"
    rep = {(r["lang"], r["id"]): r for r in rows(rel / "report.jsonl")}
    assert rep[("js", "demo_0")]["origin"] == "draft+repair"
    assert rep[("js", "demo_0")]["status"] == "validated" and rep[("js", "demo_0")]["rounds"] == 1
    for sid in ("demo_2", "demo_3"):
        assert rep[("js", sid)]["origin"] == "llm" and rep[("js", sid)]["status"] == "validated"
        assert rep[("js", sid)]["draft_note"], rep[("js", sid)]
    assert sorted(asked) == [("js", "demo_0"), ("js", "demo_2"), ("js", "demo_3")]
    m = json.loads((rel / "manifest.json").read_text())
    assert m["counts"]["js"]["from_draft"] == 2 and m["counts"]["js"]["draft_repaired"] == 1
    assert m["counts"]["py"]["from_draft"] == 5


def test_endpoint_faults_are_per_item_and_a_rerun_asks_only_what_is_missing(
    tmp_path: Path,
) -> None:
    """429 with Retry-After, 5xx, a connection closed mid-answer and a hang: per-item
    reports; finished items stored; the rerun asks for exactly the missing ones."""
    seeds = small_seeds(tmp_path, 6)
    good = ReferenceChat()
    trouble = {"demo_1": Reply.error(429, retry_after="0"), "demo_2": Reply.error(503),
               "demo_3": Reply.dropped(), "demo_4": Reply.slow(5.0)}  # fmt: skip

    def script(body: dict) -> Reply:  # type: ignore[type-arg]
        lang, sid = good.which(body)
        return trouble.get(sid) or good(body)

    spec_kw = {"llm_config": str(tmp_path / "llm.toml")}
    (tmp_path / "llm.toml").write_text("max_retries = 1\ntimeout_s = 1.0\nbackoff_base_s = 0.0\n")
    with ScriptedChatServer(script) as srv:
        spec = llm_spec(tmp_path, "f", srv.base_url, seeds, **spec_kw)
        rel = build_release(spec)
        first = len(srv.requests)
    rep = {(r["lang"], r["id"]): r for r in rows(rel / "report.jsonl")}
    for lang in ("py", "js"):
        for sid in trouble:
            r = rep[(lang, sid)]
            assert r["status"] == "failed" and r["reason"].startswith("no_answer: LLM"), r
        for sid in ("demo_0", "demo_5"):
            assert rep[(lang, sid)]["status"] == "validated"
    assert first == 2 * (2 + 2 * len(trouble))  # each failing request tried twice
    store = ItemStore(spec.work / "store")
    assert len(store.item_keys()) == 4  # finished items stored, infra faults not
    with ScriptedChatServer(ReferenceChat()) as srv2:
        spec2 = spec.model_copy(update={"base_url": srv2.base_url})
        # another endpoint is another translator: its items are its own
        rel2 = build_release(spec2)
        assert len(srv2.requests) == 12
        srv2.requests.clear()
        rel2 = build_release(spec2)  # the same build again: nothing is asked twice
        assert srv2.requests == []
    assert all(r["status"] == "validated" for r in rows(rel2 / "report.jsonl"))


def test_rerun_after_faults_on_the_same_endpoint_asks_only_the_missing(tmp_path: Path) -> None:
    seeds = small_seeds(tmp_path, 4)
    good = ReferenceChat()
    broken = {"demo_2"}

    def script(body: dict) -> Reply:  # type: ignore[type-arg]
        return Reply.error(500) if good.which(body)[1] in broken else good(body)

    (tmp_path / "llm.toml").write_text("max_retries = 0\n")
    with ScriptedChatServer(script) as srv:
        spec = llm_spec(tmp_path, "s", srv.base_url, seeds, llm_config=str(tmp_path / "llm.toml"))
        build_release(spec)
        assert len(srv.requests) == 8
        broken.clear()
        srv.requests.clear()
        rel = build_release(spec)
        assert sorted(good.which(b) for b in srv.requests) == [("js", "demo_2"), ("py", "demo_2")]
    assert all(r["status"] == "validated" for r in rows(rel / "report.jsonl"))


def test_a_round_where_every_program_hits_infra_error(tmp_path: Path) -> None:
    """A sandbox that can't start anything: every item says infra_error, none is stored,
    and the same build on a working sandbox computes them all."""
    from cruxforge.translate.drafters import make_drafter
    from cruxforge.translate.run import seed_cases, translate_language
    from runtimes.local import LocalBackend
    from tests.release_helpers import typed_seeds

    typed = typed_seeds(small_seeds(tmp_path, 3))
    cases = seed_cases(typed, 1)
    store = ItemStore(tmp_path / "store")
    drafter = make_drafter("reference", references=ROOT / "seeds" / "demo_reference")
    broken = LocalBackend(bwrap="/nonexistent/bwrap")
    reps, items = translate_language(typed, "py", cases, drafter, broken, 1, store=store)
    assert [r.status for r in reps] == ["failed"] * 3 and items == []
    assert all(r.reason.startswith("infra_error") for r in reps), [r.reason for r in reps]
    assert store.item_keys() == []
    reps, items = translate_language(typed, "py", cases, drafter, LocalBackend(), 1, store=store)
    assert [r.status for r in reps] == ["validated"] * 3 and len(store.item_keys()) == 3


def test_library_hash_is_in_the_store_key() -> None:
    from cruxforge.fingerprint import library_hash
    from cruxforge.store import item_key_inputs
    from tests.release_helpers import typed_seeds

    seed = typed_seeds(DEMO_SEEDS)[0]
    inputs = item_key_inputs(seed, "py", [], {"name": "x"}, 1, "local")
    assert inputs["library"] == library_hash() and len(library_hash()) == 16
