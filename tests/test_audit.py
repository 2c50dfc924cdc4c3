"""`cruxforge audit` on a CRUXEval-X-format benchmark made from the demo references."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DEMO_SEEDS, load_jsonl
from tests.release_helpers import export_demo

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]

LANGS = "py,js,rb,lua"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = export_demo(tmp_path_factory.mktemp("bench"), LANGS)
    # an item whose id is not in the seed file, and one whose function is missing
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
    nofunc = [r for r in recs if r["id"] == "demo_0" and r["lang"] == "py" and r["reason"]]
    assert nofunc and "function not found" in nofunc[0]["reason"]


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
