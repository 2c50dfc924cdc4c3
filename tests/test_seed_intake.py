"""Seed intake: JSONL and .py seed files, per-record rejections, fatal file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cruxforge.seeds.intake import SeedFileError, read_seeds

REPO = Path(__file__).resolve().parents[1]


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "seeds.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _rec(**kw: object) -> str:
    base = {"code": "def f(x):\n    return x", "input": "1", "output": "1", "id": "s0"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_jsonl_good_and_bad_lines_keep_going(tmp_path: Path) -> None:
    p = _jsonl(
        tmp_path,
        [
            _rec(id="a"),
            "{not json",
            "[1, 2]",
            _rec(id="b", output=...),
            _rec(id="c", input=3),
            "",
            _rec(id="a"),
            _rec(id="d", entry="g h"),
            _rec(id="e", entry="g", code="def g(x):\n    return x"),
        ],
    )
    got = read_seeds(p)
    assert [s.id for s in got.seeds] == ["a", "e"]
    assert got.seeds[0].source == "seeds.jsonl:1"
    assert got.seeds[1].entry == "g"
    codes = [(r.id, r.reason.code) for r in got.rejected if r.reason]
    assert codes == [
        ("seeds.jsonl:2", "malformed_json"),
        ("seeds.jsonl:3", "malformed_json"),
        ("b", "missing_field"),
        ("c", "bad_field_type"),
        ("a", "duplicate_id"),
        ("d", "bad_field_type"),
    ]
    msgs = {r.id: r.reason.message for r in got.rejected if r.reason}
    assert "line 4" in msgs["b"] and "'output'" in msgs["b"]
    assert "line 5" in msgs["c"] and "'input'" in msgs["c"] and "int" in msgs["c"]
    assert all(r.status == "rejected" for r in got.rejected)


def test_not_utf8_is_fatal_with_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_bytes(_rec(id="a").encode() + b"\n" + b'{"id": "\xff"}\n')
    with pytest.raises(SeedFileError) as ei:
        read_seeds(p)
    assert ei.value.line == 2
    assert "UTF-8" in ei.value.cause


def test_missing_and_unsupported_files_are_fatal(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="no such file"):
        read_seeds(tmp_path / "nope.jsonl")
    csv = tmp_path / "seeds.csv"
    csv.write_text("a,b\n")
    with pytest.raises(SeedFileError, match="unsupported format"):
        read_seeds(csv)


PY_SEEDS = '''\
LIMIT = 3
UNUSED = 99


def helper(x):
    return x * LIMIT


def triple_all(xs):
    return [helper(x) for x in xs]


def greet(name, punct="!"):
    return "hi " + name + punct


assert triple_all([1, 2]) == [3, 6]
assert "hi bo?" == greet("bo", punct="?")
assert triple_all([]) != [1]
assert nothing(1) == 2
'''


def test_py_file_asserts_become_seeds(tmp_path: Path) -> None:
    p = tmp_path / "mine.py"
    p.write_text(PY_SEEDS, encoding="utf-8")
    got = read_seeds(p)
    assert [s.id for s in got.seeds] == ["mine_0", "mine_1"]
    s0, s1 = got.seeds
    assert s0.entry == "triple_all" and s0.input == "[1, 2]" and s0.output == "[3, 6]"
    assert "LIMIT = 3" in s0.code and "def helper" in s0.code and "UNUSED" not in s0.code
    assert "def greet" not in s0.code
    assert s1.entry == "greet" and s1.input == '"bo", punct="?"' and s1.output == '"hi bo?"'
    assert s1.source == "mine.py:18"
    codes = {r.id: r.reason.code for r in got.rejected if r.reason}
    assert codes == {"mine_2": "unsupported_assert", "mine_3": "no_entry_function"}


def test_py_file_syntax_error_is_fatal(tmp_path: Path) -> None:
    p = tmp_path / "broken.py"
    p.write_text("def f(x):\n    return x\n\ndef g(:\n", encoding="utf-8")
    with pytest.raises(SeedFileError) as ei:
        read_seeds(p)
    assert ei.value.line == 4


def test_demo_seeds_shape() -> None:
    got = read_seeds(REPO / "seeds" / "demo.jsonl")
    assert not got.rejected
    assert [s.id for s in got.seeds] == [f"demo_{i}" for i in range(24)]
    assert {s.entry for s in got.seeds} == {"f"}
