"""The translation-repair loop end to end: a real local chat-completions server scripted
per test, the real LLM client, the real local sandbox, the real rules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cruxforge.agreement import python_run_calls
from cruxforge.llm.client import ChatClient
from cruxforge.llm.config import LLMConfig
from cruxforge.llm.testserver import Reply, ScriptedChatServer
from cruxforge.llm.transcript import TranscriptCache
from cruxforge.models import TypedSeed
from cruxforge.seeds.check import check_file
from cruxforge.translate.drafters import ChatDrafter, ReferenceDrafter
from cruxforge.translate.loop import translate_item
from cruxforge.translate.run import seed_cases, translate_all
from tests.conftest import DEMO_REFS, DEMO_SEEDS

pytestmark = pytest.mark.toolchains

GOOD_0 = """```python
def f(n):
    n = abs(n)
    total = 0
    while n > 0:
        total += n % 10
        n = n // 10
    return total
```"""
# right on the seed example (-4096 -> 19) but wrong elsewhere: ignores the sign only for -4096
RIGHT_ON_EXAMPLE_ONLY = """```python
def f(n):
    if n == -4096:
        n = 4096
    total = 0
    while n > 0:
        total += n % 10
        n = n // 10
    return total
```"""
BROKEN = "```python\ndef f(n):\n    return (n +\n```"


@pytest.fixture(scope="module")
def demo() -> dict[str, TypedSeed]:
    return {c.id: c.typed for c in check_file(DEMO_SEEDS) if c.typed is not None}


@pytest.fixture(scope="module")
def cases(demo: dict[str, TypedSeed]):  # type: ignore[no-untyped-def]
    return seed_cases([demo["demo_0"], demo["demo_9"]])


def drafter(server: ScriptedChatServer, tmp: Path | None = None, mode: str = "live") -> ChatDrafter:
    cfg = LLMConfig(
        base_url=server.base_url if server else None,
        model="scripted",
        timeout_s=2.0,
        max_retries=3,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    cache = TranscriptCache(tmp) if tmp else None
    return ChatDrafter(ChatClient(cfg, cache, mode=mode), "llm" if mode == "live" else "replay")


def test_generated_cases_are_many_and_agreed_by_python(cases, demo) -> None:  # type: ignore[no-untyped-def]
    c0 = cases["demo_0"]
    assert len(c0) == 11 and c0[0].args == (-4096,) and c0[0].expected == 19
    assert len({c.args for c in c0}) == 11
    again = python_run_calls(demo["demo_0"], [c.args for c in c0[1:]])
    assert again == [c.expected for c in c0[1:]]


def test_broken_draft_is_repaired_in_round_1(cases, demo, local_backend) -> None:  # type: ignore[no-untyped-def]
    with ScriptedChatServer([Reply.answer(BROKEN), Reply.answer(GOOD_0)]) as server:
        rep = translate_item(
            demo["demo_0"], "py", cases["demo_0"], drafter(server), local_backend, 3
        )
        assert rep.status == "validated" and rep.rounds == 1, rep
        assert rep.attempts[0].outcome == "response_problem"
        assert "does not parse" in rep.attempts[0].diagnosis
        repair_prompt = server.requests[1]["messages"][-1]["content"]
        assert "could not be used" in repair_prompt and "does not parse" in repair_prompt
        assert rep.tokens > 0


def test_right_on_example_wrong_elsewhere_is_caught_and_repaired(
    cases, demo, local_backend
) -> None:  # type: ignore[no-untyped-def]
    with ScriptedChatServer([Reply.answer(RIGHT_ON_EXAMPLE_ONLY), Reply.answer(GOOD_0)]) as server:
        rep = translate_item(
            demo["demo_0"], "py", cases["demo_0"], drafter(server), local_backend, 3
        )
        assert rep.status == "validated" and rep.rounds == 1
        first = rep.attempts[0]
        assert first.outcome == "failing_cases" and first.verdicts[0] == "passed"
        assert "expected" in first.diagnosis and "but it returned" in first.diagnosis
        assert (
            "does not behave like the Python function"
            in server.requests[1]["messages"][-1]["content"]
        )


def test_model_that_never_fixes_it_fails_after_n_rounds(cases, demo, local_backend) -> None:  # type: ignore[no-untyped-def]
    with ScriptedChatServer(default=Reply.answer(RIGHT_ON_EXAMPLE_ONLY)) as server:
        rep = translate_item(
            demo["demo_0"], "py", cases["demo_0"], drafter(server), local_backend, 2
        )
        assert rep.status == "failed" and rep.rounds == 2 and len(rep.attempts) == 3
        assert "not validated after 2 repair rounds" in rep.reason and "expected" in rep.reason
        assert len(server.requests) == 3


def test_transport_faults_retried_and_bad_answers_become_diagnostics(
    cases, demo, local_backend
) -> None:  # type: ignore[no-untyped-def]
    script = [
        Reply.error(429, retry_after=0), Reply.error(500), Reply.slow(3.0, "late"),  # retried
        Reply.empty(),                                         # round 0: diagnostic
        Reply.truncated("```python\ndef f(n):\n    n = abs("),  # round 1: diagnostic
        Reply.answer("```rust\nfn f(n: i64) -> i64 { n }\n```"),  # round 2: wrong language
        Reply.answer(GOOD_0),                                  # round 3: fixed
    ]  # fmt: skip
    with ScriptedChatServer(script) as server:
        rep = translate_item(
            demo["demo_0"], "py", cases["demo_0"], drafter(server), local_backend, 4
        )
    assert rep.status == "validated" and rep.rounds == 3, [a.diagnosis for a in rep.attempts]
    diags = [a.diagnosis for a in rep.attempts[:3]]
    assert "empty" in diags[0]
    assert "cut off" in diags[1] or "does not parse" in diags[1]
    assert "rust" in diags[2]


def test_endpoint_down_fails_item_and_run_goes_on(cases, demo, local_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seeds = [demo["demo_0"], demo["demo_9"]]
    with ScriptedChatServer(default=Reply.error(503)) as server:
        reports = translate_all(seeds, ["py"], drafter(server), local_backend, tmp_path, 1, 3)
    assert [r.status for r in reports] == ["failed", "failed"]
    assert all("no_answer" in r.reason and "LLMUnavailable" in r.reason for r in reports)
    lines = (tmp_path / "report.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["demo_0", "demo_9"]


def test_replayed_run_gives_byte_identical_items(demo, local_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seeds = [demo["demo_0"]]
    transcript = tmp_path / "transcript"
    with ScriptedChatServer([Reply.answer(BROKEN), Reply.answer(GOOD_0)]) as server:
        translate_all(
            seeds, ["py"], drafter(server, transcript), local_backend, tmp_path / "a", 2, 4
        )
        asked = len(server.requests)
    replay = drafter(None, transcript, mode="replay")  # type: ignore[arg-type]
    translate_all(seeds, ["py"], replay, local_backend, tmp_path / "b", 2, 4)
    a = (tmp_path / "a" / "py.jsonl").read_bytes()
    assert a and a == (tmp_path / "b" / "py.jsonl").read_bytes()
    assert asked == 2
    assert (tmp_path / "a" / "report.jsonl").read_bytes() == (
        tmp_path / "b" / "report.jsonl"
    ).read_bytes()


def test_replay_of_an_unrecorded_request_fails_clearly(
    cases, demo, local_backend, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    replay = drafter(None, tmp_path / "empty", mode="replay")  # type: ignore[arg-type]
    rep = translate_item(demo["demo_0"], "py", cases["demo_0"], replay, local_backend, 2)
    assert rep.status == "failed" and "ReplayMiss" in rep.reason


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["py", "js", "cpp"])
def test_agreement_validates_demo_references_and_catches_wrong_variants(
    lang, demo, local_backend
) -> None:  # type: ignore[no-untyped-def]
    """Every demo reference agrees with Python on the generated inputs; a variant that is
    right only on the seed's example is caught."""
    if not (DEMO_REFS / f"{lang}.jsonl").exists():
        pytest.skip(f"no demo references for {lang}")
    seeds = list(demo.values())
    all_cases = seed_cases(seeds, 6)
    ref = ReferenceDrafter(DEMO_REFS)
    bad = []
    for s in seeds:
        rep = translate_item(s, lang, all_cases[s.id], ref, local_backend, 0)
        if rep.status == "failed":
            bad.append((s.id, rep.reason[:300]))
    assert not bad, bad


@pytest.mark.slow
def test_wrong_demo_variants_are_caught_by_agreement(demo, local_backend) -> None:  # type: ignore[no-untyped-def]
    """Deliberately wrong Python variants, right on the example: all rejected."""
    variants = {
        "demo_0": "def f(n):\n    return 19 if n == -4096 else abs(n) % 10",
        "demo_12": "def f(xs):\n    return 2 if xs == [3, 8, -2, 5] else len(xs)",
        "demo_2": "def f(text):\n    return len(text) > 5",
    }
    cases = seed_cases([demo[k] for k in variants], 8)

    class Fixed:
        name = "fixed"

        def answer(self, seed, lang, messages):  # type: ignore[no-untyped-def]
            from cruxforge.translate.loop import Answer

            return Answer(text=f"```python\n{variants[seed.id]}\n```")

    for sid in variants:
        rep = translate_item(demo[sid], "py", cases[sid], Fixed(), local_backend, 0)
        assert rep.status == "failed" and rep.attempts[0].verdicts[0] == "passed", (sid, rep.reason)


def test_translate_cli_with_reference_translator(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run(
        [
            "cruxforge",
            "translate",
            "--seeds",
            str(DEMO_SEEDS),
            "--languages",
            "py",
            "--translator",
            "reference",
            "--references",
            str(DEMO_REFS),
            "--out",
            str(out),
            "--max-repairs",
            "0",
            "--agreement",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    report = [json.loads(x) for x in (out / "report.jsonl").read_text().splitlines()]
    assert len(report) == 24 and all(r["status"] == "validated" for r in report)
    items = [json.loads(x) for x in (out / "py.jsonl").read_text().splitlines()]
    assert len(items) == 24 and all("????" in it["input_reasoning"] for it in items)
