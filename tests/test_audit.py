"""`cruxforge audit` on a CRUXEval-X-format benchmark made from the demo references."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_SEEDS, load_jsonl
from tests.release_helpers import export_demo

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]

LANGS = "py,js,rb,lua"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = export_demo(tmp_path_factory.mktemp("bench"), LANGS)
    # an item whose id is not in the seed file, and an id given twice
    with (out / "py.jsonl").open("a") as f:
        f.write(json.dumps({"id": 799, "code": "def f(x):\n    return x\n"}) + "\n")
        f.write(json.dumps({"id": "demo_0", "code": "def g(n):\n    return n\n"}) + "\n")
    return out


def test_audit_validates_every_demo_item_and_reports_strays(bench: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            "cruxforge",
            "audit",
            "--benchmark",
            str(bench),
            "--seeds",
            str(DEMO_SEEDS),
            "--out",
            str(tmp_path),
            "--languages",
            LANGS,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    recs = load_jsonl(tmp_path / "audit.jsonl")
    demo = [r for r in recs if r["reason"] == ""]
    assert len(demo) == 24 * len(LANGS.split(","))
    assert all(r["own_harness"] == "passed" and r["published_code"] == "passed" for r in demo), [
        r for r in demo if r["own_harness"] != "passed" or r["published_code"] != "passed"
    ][:3]
    stray = next(r for r in recs if r["id"] == 799)
    assert stray["own_harness"] == "skipped" and "not in the seed file" in stray["reason"]
    assert "sample_799" in stray["reason"]
    dup = [r for r in recs if r["id"] == "demo_0" and r["lang"] == "py" and r["reason"]]
    assert [r["reason_code"] for r in dup] == ["duplicate_id"], dup
    assert "also on line 1" in dup[0]["reason"]


def test_audit_catches_a_wrong_translation(bench: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    items = load_jsonl(bench / "js.jsonl")[:3]
    for it in items:  # same harness, function replaced by one that returns its input's length
        it["code"] = it["code"].replace("function f(", "function f_orig(", 1)
        it["code"] = "function f(...a) { return a.length; }\n" + it["code"]
    (wrong / "js.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    subprocess.run(
        [
            "cruxforge",
            "audit",
            "--benchmark",
            str(wrong),
            "--seeds",
            str(DEMO_SEEDS),
            "--out",
            str(tmp_path / "o"),
            "--languages",
            "js",
        ],
        check=True,
        capture_output=True,
    )
    recs = load_jsonl(tmp_path / "o" / "audit.jsonl")
    assert len(recs) == 3
    assert all(r["own_harness"] == "wrong_answer" for r in recs), recs
    assert all(r["published_code"] != "passed" for r in recs), recs


# ---------------------------------------------------------------- planted defects

GO_MAP_ORDER = """func f(words []string) map[int64][]string {
\tseen := map[string]bool{}
\tfor _, w := range words {
\t\tseen[w] = true
\t}
\tgroups := map[int64][]string{}
\tfor w := range seen { // map order: differs from run to run
\t\tn := int64(utf8.RuneCountInString(w))
\t\tgroups[n] = append(groups[n], w)
\t}
\treturn groups
}"""


def _replace_function(code: str, start: str, new: str) -> str:
    """``code`` with the function that begins at ``start`` (ends at a line '}') replaced."""
    i = code.index(start)
    j = code.index("\n}", i) + 2
    return code[:i] + new + code[j:]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo items with one defect of each kind planted, and inputs the audit can't use."""
    out = export_demo(tmp_path_factory.mktemp("planted"), "py,js,go,php,rkt,jl")

    def edit(lang: str, change: dict[str, Any]) -> None:
        path = out / f"{lang}.jsonl"
        items = load_jsonl(path)
        for it in items:
            if it["id"] in change:
                it["code"] = change[it["id"]](it["code"])
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))

    edit("js", {
        # right on the example ([] -> []), wrong wherever a number is not positive
        "demo_15": lambda c: _replace_function(
            c, "function f(", "function f(xs) {\n  return xs.filter((x) => x < 0);\n}"),
        # the test swallows its own failure
        "demo_19": lambda c: c.replace(
            "  assert.deepStrictEqual(", "  try { assert.deepStrictEqual(")
        .replace(");\n}\n\ntest();", "); } catch (e) {}\n}\n\ntest();"),
    })  # fmt: skip
    edit("go", {"demo_10": lambda c: _replace_function(c, "func f(", GO_MAP_ORDER)})
    # prose: Racket prints a module's string and exits 0 (two Racket items are enough)
    rkt = load_jsonl(out / "rkt.jsonl")[:2]
    rkt[0]["code"] = '#lang racket\n"The function sums the digits of abs(n)."\n'
    (out / "rkt.jsonl").write_text("".join(json.dumps(i) + "\n" for i in rkt))
    with (out / "py.jsonl").open("a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"id": "demo_1", "code": "def f(xs):\n    return 0.0\n"}) + "\n")
        f.write(json.dumps({"id": 4242, "code": "def f(x):\n    return x\n"}) + "\n")
    (out / "kotlin.jsonl").write_text(json.dumps({"id": "demo_0", "code": "fun f() = 1"}) + "\n")
    return out


def test_audit_reports_each_planted_defect_and_lets_good_items_through(
    planted: Path, tmp_path: Path
) -> None:
    run = subprocess.run(
        ["cruxforge", "audit", "--benchmark", str(planted), "--seeds", str(DEMO_SEEDS),
         "--out", str(tmp_path), "--languages", "py,js,go,php,rkt,jl"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    recs = load_jsonl(tmp_path / "audit.jsonl")
    by = {(r["lang"], r["id"], r["line"]): r for r in recs}

    def one(lang: str, item: object) -> dict[str, Any]:
        got = [r for (lg, i, _), r in by.items() if lg == lang and i == item]
        assert len(got) == 1, (lang, item, got)
        return got[0]

    wrong = one("js", "demo_15")
    assert wrong["status"] == "diverges" and wrong["own_harness"] == "passed", wrong
    assert wrong["published_code"] == "passed"  # the published one-example test can't see it
    d = wrong["divergence"]
    assert d["verdict"] == "wrong_answer" and d["input"] and d["expected"] != d["actual"], d
    order = one("go", "demo_10")
    assert order["status"] == "flaky" and order["flaky"], order
    assert order["repeats"] == 2 and "repeat" in order["flaky_detail"], order
    prose = one("rkt", "demo_0")
    assert prose["status"] == "untestable" and prose["reason_code"] == "function_not_found", prose
    assert prose["published_code"] == "passed", prose
    swallowed = one("js", "demo_19")
    assert swallowed["status"] == "untestable", swallowed
    assert swallowed["published_mutant"] == "passes" and swallowed["own_harness"] == "passed"
    # every other demo item of the four languages is through, its mutant caught
    planted_ids = {("js", "demo_15"), ("js", "demo_19"), ("go", "demo_10"), ("rkt", "demo_0")}
    good = [r for r in recs if r["lang"] in ("py", "js", "go", "php", "rkt") and r["line"] <= 24
            and (r["lang"], r["id"]) not in planted_ids]  # fmt: skip
    assert len(good) == 4 * 24 + 1 - 3
    assert all(r["status"] == "ok" and r["agreement"] == "agrees" for r in good), [
        r for r in good if r["status"] != "ok"][:3]  # fmt: skip
    assert all(r["published_mutant"] == "caught" for r in good if r["id"] != "demo_4")
    # inputs the audit can't use: a record each, with its reason code
    codes = {(r["lang"], r["reason_code"]) for r in recs if r["status"] == "skipped"}
    assert {("py", "malformed_line"), ("py", "duplicate_id"), ("py", "no_seed"),
            ("kotlin", "unknown_language")} <= codes, codes  # fmt: skip
    jl = [r for r in recs if r["lang"] == "jl"]
    assert len(jl) == 24 and all(r["reason_code"] == "no_runtime" for r in jl), jl[:1]
    # the report: summary, table, causes and the ids to fix
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["languages"]["js"]["diverges"] == 1 and summary["status"]["flaky"] == 1
    assert summary["status"]["untestable"] == 2
    report = (tmp_path / "report.md").read_text()
    assert "| js | 24 |" in report and "js:demo_15" in report and "go:demo_10" in report
    assert "## Most common divergence causes" in report and "demo_15" in report
