"""Dialects: other benchmarks' conventions as rule-file data, read by the audit.

The ``cruxeval-x`` dialect (MultiPL-E's conventions, as CRUXEval-X uses them) of Go, C++,
Rust and C#: Python's int as Go's ``int``, C++'s ``long``, Rust's ``isize``; C#'s function
named ``F``. Proven by execution like our rules (value round-trips; gold passes, mutant
fails), and read by ``cruxforge audit`` from items written in it: the demo references
rewritten in the dialect's type names, exported with ``cruxforge export --dialect``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cruxforge.audit.dialects import declares
from cruxforge.seeds.check import check_file
from tests.conftest import DEMO_REFS, DEMO_SEEDS, load_jsonl
from transition_rules.engine import RuleError, dialect_entry, load_rules, rules_for

DIALECT = "cruxeval-x"
# how the demo references are written in the dialect (the items "written yourself")
REWRITE = {
    "go": [(r"\bint64\b", "int")],
    "cpp": [(r"\blong long\b", "long")],
    "rs": [(r"\bi64\b", "isize")],
    "cs": [(r"\bf\(", "F(")],
}


def _rewrite(lang: str, code: str) -> str | None:
    """A demo reference in the dialect; None where the rewrite can't say it (Go tuples are
    structs in our rules and []interface{} in the dialect)."""
    if lang == "go" and "struct{" in code:
        return None
    for a, b in REWRITE[lang]:
        code = re.sub(a, b, code)
    return code


# ---------------------------------------------------------------- data, no execution


def test_a_dialect_is_validated_on_load_and_its_errors_name_it(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(Path("transition_rules/rules"), rules_dir)
    go = rules_dir / "go.toml"
    go.write_text(go.read_text() + '\n[dialects.broken.types]\nnot_a_kind = "x"\n')
    with pytest.raises(RuleError, match=r"go\.toml: invalid dialect 'broken'"):
        load_rules("go", rules_dir)
    with pytest.raises(RuleError, match="no dialect 'nope'"):
        load_rules("cpp", rules_dir, "nope")


def test_dialect_names_and_declared_types() -> None:
    assert dialect_entry("cs", DIALECT, "f") == "F" and dialect_entry("go", DIALECT, "f") == "f"
    seed = next(c.typed for c in check_file(DEMO_SEEDS) if c.id == "demo_5")  # list[int], bool
    assert seed is not None
    go_ours, go_x = rules_for("go"), rules_for("go", DIALECT)
    header_x = "func f(xs []int, backwards bool) []int "
    assert declares(go_x, seed, header_x) and not declares(go_ours, seed, header_x)
    header_ours = "func f(xs []int64, backwards bool) []int64 "
    assert declares(go_ours, seed, header_ours) and not declares(go_x, seed, header_ours)
    cpp_x = rules_for("cpp", DIALECT)
    assert not declares(cpp_x, seed, "std::vector<long long> f(std::vector<long long> xs, bool b)")
    assert declares(cpp_x, seed, "std::vector<long> f(std::vector<long> xs, bool backwards)")


# ---------------------------------------------------------------- by execution


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", sorted(REWRITE))
def test_dialect_proven_by_execution(lang: str) -> None:
    from runtimes.backend import get_backend
    from transition_rules.proof import harness_and_mutant, load_references, run_roundtrip

    b = get_backend("local")
    if not b.doctor(lang).available:
        pytest.skip(f"{lang}: {b.doctor(lang).reason}")
    rt = run_roundtrip(b, lang, dialect=DIALECT)
    assert rt.ok, rt.failures[:5]
    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    programs, names = [], []
    for c in check_file(DEMO_SEEDS):
        code = _rewrite(lang, refs.get(c.id, "")) if c.typed is not None else None
        if not code or c.typed is None:
            continue
        seed = c.typed.model_copy(update={"entry": dialect_entry(lang, DIALECT, c.typed.entry)})
        gold, mutant = harness_and_mutant(lang, seed, code, dialect=DIALECT)
        programs += [gold] + ([mutant] if mutant else [])
        names += [(c.id, "gold")] + ([(c.id, "mutant")] if mutant else [])
    assert len([n for n in names if n[1] == "gold"]) >= 15
    results = b.execute(programs)
    wrong = [(n, r.verdict.value) for n, r in zip(names, results)
             if (n[1] == "gold") != r.passed]  # fmt: skip
    assert not wrong, wrong


@pytest.mark.slow
@pytest.mark.toolchains
def test_audit_reads_items_written_in_the_dialect(tmp_path: Path) -> None:
    """Items in the dialect (declared types, naming) are read in it and accepted; the same
    seeds in our conventions are read in ours."""
    langs = ",".join(sorted(REWRITE))
    refs = tmp_path / "refs"
    refs.mkdir()
    for lang in REWRITE:
        rows = []
        for it in load_jsonl(DEMO_REFS / f"{lang}.jsonl"):
            code = _rewrite(lang, it["code"])
            if code is not None:
                rows.append(json.dumps({"id": it["id"], "code": code}))
        (refs / f"{lang}.jsonl").write_text("\n".join(rows) + "\n")
    for dialect, folder in ((DIALECT, tmp_path / "x"), (None, tmp_path / "ours")):
        source = refs if dialect else DEMO_REFS
        subprocess.run(["cruxforge", "export", "--seeds", str(DEMO_SEEDS), "--references",
                        str(source), "--out", str(folder), "--languages", langs,
                        *(["--dialect", dialect] if dialect else [])],
                       check=True, capture_output=True)  # fmt: skip
        (folder / "skipped.jsonl").unlink()
        run = subprocess.run(["cruxforge", "audit", "--benchmark", str(folder), "--seeds",
                              str(DEMO_SEEDS), "--out", str(folder / "audit"), "--languages",
                              langs, "--agreement", "3", "--repeat", "0"],
                             capture_output=True, text=True)  # fmt: skip
        assert run.returncode == 0, run.stderr
        recs = load_jsonl(folder / "audit" / "audit.jsonl")
        for lang in REWRITE:
            mine = [r for r in recs if r["lang"] == lang]
            ok = [r for r in mine if r["status"] == "ok"]
            bad = [(r["id"], r["dialect"], r["own_detail"][:200]) for r in mine if r not in ok]
            assert len(mine) >= 15 and len(ok) >= 0.97 * len(mine), (dialect, lang, bad)
            if dialect is None:
                assert {r["dialect"] for r in mine} == {"cruxforge"}, (lang, mine[:2])
            elif lang != "cs":  # an item with no int in its types is ours and theirs alike
                assert sum(r["dialect"] == DIALECT for r in mine) >= 5, (lang, mine[:2])
            else:
                assert {r["dialect"] for r in mine} == {DIALECT}
