"""Evaluation by execution: prompts, extraction, imports, the escape screen, scoring.

A small release (4 demo seeds in py and js, made with the real ``cruxforge export``) is
evaluated against a scripted local chat-completions server and against hand-written
prediction files; every answer is checked by running it in the local sandbox.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cruxforge.evaluate.check import ESCAPED, NO_ANSWER, REJECTED, check_answers, screen_answer
from cruxforge.evaluate.items import TASKS, locate, read_release
from cruxforge.evaluate.predictions import PredictionsError, read_predictions
from cruxforge.evaluate.prompts import build_prompt, extract_answer, pick_shots
from cruxforge.evaluate.run import evaluate_release, model_answerer
from cruxforge.evaluate.shapes import call_head
from cruxforge.llm.client import ChatClient
from cruxforge.llm.config import LLMConfig
from cruxforge.llm.testserver import Reply, ScriptedChatServer

ROOT = Path(__file__).resolve().parent.parent
LANGS = ["py", "js"]

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("release")
    seeds = tmp / "seeds.jsonl"
    lines = (ROOT / "seeds" / "demo.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp / "rel"
    subprocess.run(
        ["cruxforge", "export", "--seeds", str(seeds), "--references",
         str(ROOT / "seeds" / "demo_reference"), "--out", str(out), "--languages", "py,js"],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    return out


def _items(release: Path):  # type: ignore[no-untyped-def]
    return {(it.lang, it.id): it for pool in read_release(release).values() for it in pool}


# ------------------------------------------------------------------ no execution


def test_locate_finds_the_masked_span_of_every_item(release: Path) -> None:
    items = _items(release)
    assert {k[0] for k in items} == set(LANGS) and len(items) == 8
    for it in items.values():
        for task in TASKS:
            masked = it.masked(task)
            s = locate(it.code, masked)
            rebuilt = it.code[: s.harness_start] + masked.replace("????", s.original(it.code))
            assert rebuilt.rstrip() == it.code.rstrip()
    py0 = items[("py", "demo_0")]
    assert locate(py0.code, py0.output_reasoning).original(py0.code) == "19"
    # CRUXEval-X's input mask: the arguments, the call stays
    assert "candidate(????)" in py0.input_reasoning
    assert locate(py0.code, py0.input_reasoning).original(py0.code) == "-4096"


def test_locate_tolerates_whitespace_differences_in_the_mask(release: Path) -> None:
    it = _items(release)[("py", "demo_0")]
    masked = it.output_reasoning.replace("def test_check():", "def  test_check():")
    s = locate(it.code, masked)
    assert s.original(it.code) == "19"


def test_answer_extraction() -> None:
    masked = "def check(candidate):\n    assert candidate(-4096) == ????\n"
    assert extract_answer("think...\n[ANSWER]\n19\n[/ANSWER]", masked) == "19"
    assert extract_answer("[ANSWER]1[/ANSWER] no wait [ANSWER] 2 [/ANSWER]", masked) == "2"
    assert extract_answer("[ANSWER]\n```python\n19\n```\n[/ANSWER]", masked) == "19"
    assert extract_answer("[ANSWER]assert candidate(-4096) == 19[/ANSWER]", masked) == "19"
    assert extract_answer("[ANSWER] 19", masked) == "19"  # cut off before the closing tag
    assert extract_answer("the answer is 19", masked) is None
    assert extract_answer("[ANSWER][/ANSWER]", masked) is None
    assert call_head("candidate.call(1)") == "candidate.call("
    assert call_head('(candidate "x")') == "(candidate "
    assert call_head('$(candidate "x")') == "$(candidate "


def test_prompt_has_shots_function_and_mask_but_not_the_answer(release: Path) -> None:
    pool = read_release(release, ["py"])["py"]
    item = next(it for it in pool if it.id == "demo_0")
    shots = pick_shots(item, pool, 1)
    assert len(shots) == 1 and shots[0].id != "demo_0"
    prompt = build_prompt(item, "output", shots)
    question = prompt.rsplit("[CODE]", 1)[1]
    assert "def f(n):" in question and "assert candidate(-4096) == ????" in question
    assert "== 19" not in question
    assert "[ANSWER]" in prompt.split("[CODE]", 2)[1]  # the shot is solved
    prompt_in = build_prompt(item, "input", [])
    assert "assert candidate(????) == 19" in prompt_in and "the arguments of the call" in prompt_in


def test_read_predictions_folder_and_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "preds"
    folder.mkdir()
    (folder / "Python_output.json").write_text(json.dumps([{"id": 3, "answer": "1"}]))
    (folder / "js_input.json").write_text(json.dumps([{"id": "demo_0", "answer": ["x", "y"]}]))
    assert read_predictions(folder) == {("py", "output", "3"): "1", ("js", "input", "demo_0"): "x"}
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"lang": "rb", "task": "input", "id": 7, "answer": "a"}) + "\n")
    assert read_predictions(jl) == {("rb", "input", "7"): "a"}
    (folder / "py_both.json").write_text("[]")
    with pytest.raises(PredictionsError, match="py_both.json"):
        read_predictions(folder)
    jl.write_text('{"lang": "py", "task": "output", "id": 1}\n')
    with pytest.raises(PredictionsError, match="p.jsonl:1"):
        read_predictions(jl)


@pytest.mark.parametrize(
    ("lang", "task", "answer", "reason"),
    [
        ("py", "output", "19) or True or (19", "does not parse"),
        ("py", "output", "19; import os", "not one expression"),
        ("py", "output", "candidate(-4096)", "may not mention candidate"),
        ("py", "output", "__import__('os')._exit(0)", "__import__"),
        ("py", "output", "type('A', (), {'__eq__': lambda s, o: True})()", "lambda, type"),
        ("py", "output", "19\nimport os", "several lines"),
        # input: the arguments of candidate(????), screened as the whole call they fill
        ("py", "input", "1) or True or (1", "not one expression"),
        ("py", "input", "f(1)", "call candidate once"),
        ("py", "input", "candidate(1)", "call candidate once"),
        ("js", "output", "19) || true || (19", "not one expression"),
        ("js", "output", "process.exit(0)", "exit, process"),
        ("js", "input", "1), 19) || crux_eq((1", "not one expression"),
    ],
)
def test_screen_rejects_escapes(
    release: Path, lang: str, task: str, answer: str, reason: str
) -> None:
    item = _items(release)[(lang, "demo_0")]
    got, structured = screen_answer(item, task, answer)  # type: ignore[arg-type]
    assert got is not None and reason in got
    assert structured or reason == "several lines"


def test_screen_accepts_plain_answers(release: Path) -> None:
    items = _items(release)
    for lang, task, answer in [
        ("py", "output", "19"), ("py", "output", "float('nan')"), ("py", "input", "-4"),
        ("py", "input", "n=-4096"), ("js", "output", "19"), ("js", "input", "-4096"),
        ("js", "input", "1, 2"), ("js", "output", '"f"'),
    ]:  # fmt: skip
        assert screen_answer(items[(lang, "demo_0")], task, answer)[0] is None, (lang, answer)


def test_screen_allows_names_the_items_own_literal_uses() -> None:
    """C#'s Union values are written with a cast to object: the item's own expected
    value is not rejected for it, while an answer to another item still is."""
    from cruxforge.evaluate.items import EvalItem

    harness = '        if (!Equals(f("ab"), (object)("melon"))) throw new Exception("x");\n'
    code = "public static class Problem {\n    public static object f(string s) => s;\n" + harness
    item = EvalItem(id="1", lang="cs", code=code + "}\n", line=0,
                    input_reasoning=harness.replace('"ab"', "????"),
                    output_reasoning=harness.replace('(object)("melon")', "????"))  # fmt: skip
    assert screen_answer(item, "output", '(object)("lemon")')[0] is None
    plain_code = code.replace('(object)("melon")', '"melon"') + "}\n"
    plain = EvalItem(id="2", lang="cs", code=plain_code, line=0,
                     input_reasoning=item.input_reasoning.replace('(object)("melon")', '"melon"'),
                     output_reasoning=item.output_reasoning)  # fmt: skip
    reason = screen_answer(plain, "output", '(object)("lemon")')[0]
    assert reason is not None and "object" in reason


# ------------------------------------------------------------------ with execution


@needs_node
def test_sentinel_catches_early_exit_with_status_0(release: Path, local_backend) -> None:  # type: ignore[no-untyped-def]
    """With the screen off, exiting 0 early is still caught by the missing sentinel."""
    items = _items(release)
    jobs = [
        (items[("py", "demo_0")], "output", "__import__('os')._exit(0)"),
        (items[("js", "demo_0")], "output", "process.exit(0)"),
        (items[("py", "demo_0")], "output", "19"),
    ]
    out = check_answers(local_backend, jobs, screen=False)  # type: ignore[arg-type]
    assert [o.verdict for o in out] == [ESCAPED, ESCAPED, "passed"]
    assert all(o.sentinel for o in out)


CODE_RE = "[CODE]"


def _scripted(release: Path):  # type: ignore[no-untyped-def]
    """Script keyed by (lang, id, task) of the question at the end of the prompt."""
    items = _items(release)
    replies = {
        ("py", "demo_0", "output"): Reply.answer("step by step...\n[ANSWER]\n19\n[/ANSWER]"),
        ("py", "demo_1", "output"): Reply.answer("[ANSWER]1.5[/ANSWER]"),
        ("py", "demo_2", "output"): Reply.answer("It returns True, I think."),
        ("py", "demo_3", "output"): Reply.answer('[ANSWER]"say"[/ANSWER]'),
        ("py", "demo_0", "input"): Reply.answer(
            "[ANSWER]\n```python\ncandidate(-4096)\n```\n[/ANSWER]"
        ),
        ("py", "demo_1", "input"): Reply.answer(
            "[ANSWER]candidate([1.0]) or True or candidate([1.0])[/ANSWER]"
        ),
        ("py", "demo_2", "input"): Reply.answer('[ANSWER]assert candidate("aba") == True[/ANSWER]'),
        ("py", "demo_3", "input"): Reply.error(400, message="bad request"),
        ("js", "demo_0", "output"): Reply.answer("[ANSWER]process.exit(0)[/ANSWER]"),
        ("js", "demo_1", "output"): Reply.answer(
            "[ANSWER]1.0833333333333333) || true || (1[/ANSWER]"
        ),
        ("js", "demo_2", "output"): Reply.answer("[ANSWER]true[/ANSWER]"),
        ("js", "demo_3", "output"): Reply.answer('[ANSWER]"say"[/ANSWER]'),
        ("js", "demo_0", "input"): Reply.answer("[ANSWER]candidate(4096)[/ANSWER]"),
        ("js", "demo_1", "input"): Reply.answer("[ANSWER]candidate([1.5, -2.25, 4.0][/ANSWER]"),
        ("js", "demo_2", "input"): Reply.answer('[ANSWER]candidate("ab")[/ANSWER]'),
        ("js", "demo_3", "input"): Reply.answer("[ANSWER]candidate(1, 2)[/ANSWER]"),
    }

    def script(body: dict) -> Reply:  # type: ignore[type-arg]
        question = body["messages"][-1]["content"].rsplit(CODE_RE, 1)[1]
        for (lang, iid), it in items.items():
            for task in TASKS:
                if it.masked(task).rstrip("\n") in question and it.code[:40] in question:
                    return replies[(lang, iid, task)]
        raise AssertionError("unknown question")

    return script


@needs_node
def test_evaluate_against_scripted_endpoint(release: Path, local_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with ScriptedChatServer(_scripted(release)) as server:
        cfg = LLMConfig(base_url=server.base_url, model="scripted-1", max_retries=0, concurrency=2)
        with ChatClient(cfg) as client:
            scores = evaluate_release(
                release, tmp_path, model="scripted-1", answerer=model_answerer(client, shots=1),
                backend=local_backend, concurrency=2,
            )  # fmt: skip
        assert len(server.requests) == 16
    recs = {
        (r["lang"], r["task"], r["id"]): r
        for r in map(json.loads, (tmp_path / "results.jsonl").read_text().splitlines())
    }
    assert len(recs) == 16
    assert all(
        set(r) >= {"model", "lang", "task", "id", "passed", "verdict"} for r in recs.values()
    )
    verdicts = {k: r["verdict"] for k, r in recs.items()}
    assert verdicts == {
        ("py", "output", "demo_0"): "passed",
        ("py", "output", "demo_1"): "wrong_answer",
        ("py", "output", "demo_2"): NO_ANSWER,
        ("py", "output", "demo_3"): "wrong_answer",
        ("py", "input", "demo_0"): "passed",
        ("py", "input", "demo_1"): REJECTED,
        ("py", "input", "demo_2"): "passed",
        ("py", "input", "demo_3"): NO_ANSWER,
        ("js", "output", "demo_0"): REJECTED,
        ("js", "output", "demo_1"): REJECTED,
        ("js", "output", "demo_2"): "passed",
        ("js", "output", "demo_3"): "wrong_answer",
        ("js", "input", "demo_0"): "passed",
        ("js", "input", "demo_1"): REJECTED,
        ("js", "input", "demo_2"): "wrong_answer",
        ("js", "input", "demo_3"): "wrong_answer",
    }
    assert "400" in recs[("py", "input", "demo_3")]["detail"]
    # the repeated assertion is cut down to what the mask hides: the arguments
    assert recs[("py", "input", "demo_2")]["answer"] == '"aba"'
    # a whole call is fitted to the arguments mask; the call as written is kept
    assert recs[("py", "input", "demo_0")]["answer"] == "-4096"
    assert recs[("py", "input", "demo_0")]["submitted"] == "candidate(-4096)"
    s = scores["models"]["scripted-1"]
    assert s["py"]["input"]["all"] == {"n": 4, "passed": 2, "pass@1": 0.5, "excluded": 0}
    assert s["py"]["output"]["all"]["pass@1"] == 0.25
    assert s["js"]["output"]["all"]["pass@1"] == 0.25
    assert s["js"]["input"]["all"]["pass@1"] == 0.25
    assert json.loads((tmp_path / "scores.json").read_text())["n_common_ids"] == 4
    assert "scripted-1" in (tmp_path / "scores.md").read_text()


@needs_node
def test_imported_predictions_reproduce_hand_checked_scores(release: Path, tmp_path: Path) -> None:
    """CLI run on a release whose js lacks demo_3: 'common' counts demo_0..2 only."""
    rel = tmp_path / "rel"
    shutil.copytree(release, rel)
    js = (rel / "js.jsonl").read_text().splitlines()
    (rel / "js.jsonl").write_text("\n".join(x for x in js if '"demo_3"' not in x) + "\n")
    preds = [
        ("py", "demo_0", "19"),  # right
        ("py", "demo_1", "1.0833333333333333"),  # right
        ("py", "demo_2", "False"),  # wrong
        ("js", "demo_0", "19"),  # right
        ("js", "demo_1", "1.08"),  # wrong
        ("js", "demo_2", "true"),  # right
        # py demo_3: no prediction
    ]
    pfile = tmp_path / "preds.jsonl"
    pfile.write_text(
        "".join(
            json.dumps({"lang": lang, "task": "output", "id": i, "answer": a}) + "\n"
            for lang, i, a in preds
        )
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        ["cruxforge", "evaluate", "--release", str(rel), "--predictions", str(pfile),
         "--model", "hand", "--out", str(out), "--tasks", "output"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    s = json.loads((out / "scores.json").read_text())
    assert s["n_common_ids"] == 3
    py, js = s["models"]["hand"]["py"]["output"], s["models"]["hand"]["js"]["output"]
    assert (py["all"]["passed"], py["all"]["n"]) == (2, 4)
    assert (py["common"]["passed"], py["common"]["n"]) == (2, 3)
    assert (js["all"]["passed"], js["all"]["n"]) == (2, 3)
    assert js["common"]["pass@1"] == pytest.approx(2 / 3)
    recs = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in recs} == {"output"} and len(recs) == 7
    assert next(r for r in recs if r["id"] == "demo_3")["verdict"] == NO_ANSWER
