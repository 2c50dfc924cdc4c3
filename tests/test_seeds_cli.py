"""`cruxforge seeds check`: the real command on the demo seeds and on bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cruxforge.cli.seeds import seeds_app
from cruxforge.seed_report import load_report, typed_seeds
from cruxforge.typesys import conforms, has_unknown, parse_type

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "seeds" / "demo.jsonl"
runner = CliRunner()


def test_help_on_every_command() -> None:
    for args in (["--help"], ["check", "--help"]):
        r = runner.invoke(seeds_app, args)
        assert r.exit_code == 0, r.output
        assert "Usage" in r.output
    assert "--memory-mb" in runner.invoke(seeds_app, ["check", "--help"]).output


def test_demo_seeds_all_ok(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = runner.invoke(seeds_app, ["check", str(DEMO), "--report", str(out), "--jobs", "2"])
    assert r.exit_code == 0, r.output
    assert "ok" in r.output and "24" in r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == 1 and doc["kind"] == "cruxforge.seeds.check"
    records = load_report(out)
    assert [c.id for c in records] == [f"demo_{i}" for i in range(24)]
    assert {c.status for c in records} == {"ok"}, [c.reason for c in records if c.reason]
    typed = typed_seeds(out)
    assert len(typed) == 24
    shapes = set()
    for ts in typed:
        ptypes = ts.signature.param_types()
        rtype = ts.signature.result_type()
        for t, v in zip(ptypes, ts.arg_values(), strict=False):
            assert conforms(v, t) and not has_unknown(t)
        assert conforms(ts.result_value(), rtype)
        shapes.update(type(t).__name__ for t in [*ptypes, rtype])
        shapes.update(str(t) for t in [*ptypes, rtype])
    # the demo set covers every shape of the type language
    for needed in ("Prim", "ListT", "SetT", "TupleT", "DictT", "OptionalT", "UnionT",
                   "int", "float", "bool", "str", "None"):
        assert needed in shapes, needed
    assert any(str(t).startswith("dict[int") for ts in typed
               for t in [*ts.signature.param_types(), ts.signature.result_type()])
    assert any(isinstance(parse_type(p.type), type(parse_type("list[list[int]]")))
               and "list[list" in p.type for ts in typed for p in ts.signature.params)


def test_bad_records_are_rejected_not_fatal(tmp_path: Path) -> None:
    seeds = tmp_path / "mixed.jsonl"
    good = {"id": "g", "code": "def f(x):\n    return x + 1", "input": "1", "output": "2"}
    seeds.write_text(json.dumps(good) + "\n{oops\n" + json.dumps({"id": "m"}) + "\n",
                     encoding="utf-8")
    out = tmp_path / "r.json"
    r = runner.invoke(seeds_app, ["check", str(seeds), "--report", str(out)])
    assert r.exit_code == 0, r.output
    assert "malformed_json" in r.output and "missing_field" in r.output
    got = {c.id: c for c in load_report(out)}
    assert got["g"].status == "ok"
    assert got["mixed.jsonl:2"].reason.code == "malformed_json"  # type: ignore[union-attr]
    assert got["m"].reason.code == "missing_field"  # type: ignore[union-attr]


def test_unreadable_file_exits_nonzero_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": "a"}\n{"id": "\xfe"}\n')
    out = tmp_path / "r.json"
    # a real subprocess: exit status and stderr as a user sees them
    p = subprocess.run(
        [sys.executable, "-m", "cruxforge.cli.seeds", "check", str(bad), "--report", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert p.returncode == 2
    assert "bad.jsonl:2" in p.stderr and "UTF-8" in p.stderr
    assert not out.exists()
    r = runner.invoke(seeds_app, ["check", str(tmp_path / "missing.jsonl"), "--report", str(out)])
    assert r.exit_code == 2 and "no such file" in r.output
