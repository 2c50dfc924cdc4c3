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
from functools import cache
from pathlib import Path

import pytest

from cruxforge.audit.dialects import declares, read_dialect
from cruxforge.audit.mutants import plant_wrong_expected
from cruxforge.seeds.check import check_file
from cruxforge.typesys import parse_type
from runtimes.backend import Backend
from tests.conftest import DEMO_REFS, DEMO_SEEDS, backend_for, load_jsonl
from transition_rules.engine import (
    RuleError,
    Unsupported,
    check_seed,
    check_type,
    dialect_entry,
    harness_text,
    load_rules,
    render_literal,
    render_published,
    render_type,
    rules_for,
)
from transition_rules.parsing import carried_imports, cut_function

DIALECT = "cruxeval-x"
# how the demo references are written in the dialect (the items "written yourself")
REWRITE = {
    "go": [(r"\bint64\b", "int")],
    "cpp": [(r"\blong long\b", "long")],
    "rs": [(r"\bi64\b", "isize")],
    "cs": [(r"\bf\(", "F(")],
    "ts": [(r"\bArray<([^<>]*)>", r"\1[]")] * 3,  # nested lists, innermost first
    "js": [],
    "d": [],  # the dict-typed references are written by hand (Nullable!(V[K]))
    "lua": [(r"\bnull\b", "nil")],  # None is nil there
    "rkt": [(r"\(void\)", "#f")],  # None is #f there
    "r": [],  # our references read vectors and doubles as well as lists and integers
    "swift": [(r"\A(func [^\n]*?)\b_ (\w+):", r"\1\2:")] * 5,  # labels, first line only
    "java": [],  # our type names; MultiPL-E's imports and class around the function
    "scala": [],  # our type names; MultiPL-E's imports (a mutable Map) around it
    # MultiPL-E's conventions are ours (see each rule file's dialect)
    "py": [],
    "php": [],
    "rb": [],
    "pl": [],
    "jl": [],
}
# the dialect's type names are ours: an item reads alike in both (recorded as ours)
SAME_TYPES = {"java", "scala", "py", "php", "rb", "pl", "jl"}
# untyped: nothing in a declaration tells the dialect, so the audit is told it
TOLD = {"js", "lua", "rkt", "r"}
# the demo references that use a dict or None, written by hand in the dialect (JS / TS
# object maps and undefined)
WRITTEN = Path(__file__).parent / "dialect_items"


@cache
def _written(lang: str) -> dict[str, str]:
    path = WRITTEN / f"{lang}.jsonl"
    return {r["id"]: r["code"] for r in load_jsonl(path)} if path.exists() else {}


def _rewrite(lang: str, code: str, seed_id: str = "") -> str | None:
    """A demo reference in the dialect; None where the rewrite can't say it (Go tuples are
    structs in our rules and []interface{} in the dialect)."""
    if seed_id in (mine := _written(lang)):
        return mine[seed_id]
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


def test_longer_declared_types_and_detect_patterns_decide_a_reading() -> None:
    checks = {c.id: c.typed for c in check_file(DEMO_SEEDS)}
    dict_seed, list_seed = checks["demo_9"], checks["demo_5"]  # -> dict[str, int]; list[int]
    assert dict_seed is not None and list_seed is not None
    d_x = "Nullable!(long[string]) f(string sentence)\n{\n    return typeof(return).init;\n}\n"
    d_ours = "long[string] f(string sentence)\n{\n    return null;\n}\n"
    assert read_dialect("d", d_x, dict_seed).dialect == DIALECT  # holds our long[string]
    assert read_dialect("d", d_ours, dict_seed).dialect == "cruxforge"
    body = " {\n    return xs\n}\n"
    labelled = "func f(xs: [Int], backwards: Bool) -> [Int]" + body
    bare = "func f(_ xs: [Int], _ backwards: Bool) -> [Int]" + body
    assert read_dialect("swift", labelled, list_seed).dialect == DIALECT
    assert read_dialect("swift", bare, list_seed).dialect == "cruxforge"


def test_an_untyped_item_is_read_in_the_dialect_the_audit_is_told(tmp_path: Path) -> None:
    seed = next(c.typed for c in check_file(DEMO_SEEDS) if c.id == "demo_9")  # -> dict[str, int]
    assert seed is not None
    code = "function f(sentence) {\n  return {};\n}\n"
    assert read_dialect("js", code, seed).dialect == "cruxforge"  # nothing to detect it by
    told = read_dialect("js", code, seed, DIALECT)
    assert told.dialect == DIALECT
    dict_t = seed.signature.result_type()
    assert render_literal(told.rules, {"a": 1}, dict_t) == '{"a": 1}'
    assert render_literal(rules_for("js"), {"a": 1}, dict_t) == 'new Map([["a", 1]])'
    sh = "f() {\n  echo\n}\n"
    assert "cruxeval-x" not in rules_for("sh").dialects  # read in ours, as detected
    assert read_dialect("sh", sh, seed, DIALECT).dialect == "cruxforge"
    (tmp_path / "js.jsonl").write_text(json.dumps({"id": "demo_9", "code": code}) + "\n")
    run = subprocess.run(["cruxforge", "audit", "--benchmark", str(tmp_path), "--seeds",
                          str(DEMO_SEEDS), "--out", str(tmp_path / "a"), "--dialect", "nope"],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2 and "has a dialect 'nope'" in run.stdout, run.stdout


def test_js_object_map_keys() -> None:
    """CRUXEval-X's JS dicts are objects: a negative key is written [-1] (a bare -1 is a
    syntax error there), and keys other than str and int can't be read back."""
    x = rules_for("js", DIALECT)
    t = parse_type("dict[int, str]")
    assert render_literal(x, {-1: "a", 2: "b"}, t) == '{[-1]: "a", 2: "b"}'
    assert render_type(x, t) == "{[key: number]: string}"
    with pytest.raises(Unsupported, match="keys are strings") as e:
        check_type(x, parse_type("dict[bool, int]"))
    assert e.value.code == "unsupported_object_key"
    check_type(rules_for("js"), parse_type("dict[bool, int]"))  # our Map carries it


@pytest.mark.parametrize(
    ("lang", "carried", "refused", "code"),
    [
        ("lua", "Optional[int]", "list[Optional[int]]", "unsupported_contained_none"),
        ("lua", "dict[str, int]", "dict[str, Optional[int]]", "unsupported_contained_none"),
        ("rkt", "Optional[int]", "Optional[bool]", "unsupported_optional_bool"),
    ],
)
def test_what_a_dialects_none_cannot_carry(
    lang: str, carried: str, refused: str, code: str
) -> None:
    x = rules_for(lang, DIALECT)
    check_type(x, parse_type(carried))
    with pytest.raises(Unsupported) as e:
        check_type(x, parse_type(refused))
    assert e.value.code == code
    check_type(rules_for(lang), parse_type(refused))  # ours carries it
    none = render_literal(x, None, parse_type("Optional[int]"))
    assert none == {"lua": "nil", "rkt": "#f"}[lang] != render_literal(
        rules_for(lang), None, parse_type("Optional[int]"))  # fmt: skip


def test_a_files_imports_travel_with_its_function() -> None:
    """Java, C# and Scala items hold the function in a class: the file's imports come
    along (carried_imports) and our harness puts them where the language allows them."""
    java = ("import java.util.*;\nimport java.math.*;\nclass Problem {\n"
            "    public static Long f(Long n) { return BigInteger.ONE.longValue(); }\n}\n")
    assert carried_imports("java", java) == "import java.util.*;\nimport java.math.*;"
    scala = "import scala.collection.mutable._\nobject Problem {\n  def f(n: Long): Long = n\n}\n"
    assert carried_imports("scala", scala) == "import scala.collection.mutable._"
    assert carried_imports("cs", "using System.Numerics;\nclass Problem {}\n") == (
        "using System.Numerics;"
    )
    assert carried_imports("py", "import math\ndef f(n):\n    return n\n") == ""  # in the cut
    body = "        crux_done();"
    source = harness_text(rules_for("java"), "import java.math.*;\n" + cut_function(
        "java", java, "f"), body)  # fmt: skip
    top, _, inside = source.partition("public class Main")
    assert "import java.math.*;" in top and "import" not in inside and "BigInteger" in inside


# ---------------------------------------------------------------- by execution


@pytest.mark.toolchains
def test_a_lua_none_argument_is_nil_in_the_dialect(tmp_path: Path) -> None:
    """MultiPL-E's Lua passes None as nil, which a function tests with `== nil`; ours
    passes the sentinel `null`. A None inside a list can't be nil: not carried."""
    from runtimes.backend import get_backend
    from transition_rules.proof import harness_and_mutant

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"id": "s", "code": "def f(x):\n    return 1 if x is None else 2",
                                 "input": "None", "output": "1"}) + "\n")  # fmt: skip
    seed = check_file(seeds)[0].typed
    assert seed is not None
    code = "function f(x)\n  if x == nil then return 1 end\n  return 2\nend\n"
    with get_backend("local") as b:
        if not b.doctor("lua").available:
            print(f"SKIP lua: {b.doctor('lua').reason}")
            pytest.skip(f"lua: {b.doctor('lua').reason}")
        runs = []
        for dialect in (DIALECT, None):
            gold, mutant = harness_and_mutant("lua", seed, code, dialect=dialect)
            assert mutant is not None
            runs.append([r.passed for r in b.execute([gold, mutant])])
    assert runs[0] == [True, False]
    assert not runs[1][0]  # the gold read in ours: its nil check misses our `null`
    with pytest.raises(Unsupported, match="inside a table"):
        check_type(rules_for("lua", DIALECT), parse_type("list[Optional[int]]"))


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", sorted(REWRITE))
def test_dialect_proven_by_execution(lang: str) -> None:
    from runtimes.backend import get_backend

    with get_backend(backend_for(lang)) as b:  # Swift: docker
        _prove(b, lang)


def _prove(b: Backend, lang: str) -> None:
    from transition_rules.proof import harness_and_mutant, load_references, run_roundtrip

    if not b.doctor(lang).available:
        print(f"SKIP {lang}: {b.doctor(lang).reason}")
        pytest.skip(f"{lang}: {b.doctor(lang).reason}")
    rt = run_roundtrip(b, lang, dialect=DIALECT)
    assert rt.ok, rt.failures[:5]
    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    programs, names = [], []
    for c in check_file(DEMO_SEEDS):
        code = _rewrite(lang, refs.get(c.id, ""), c.id) if c.typed is not None else None
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


# languages whose published items differ in the dialect (type names, literals, preamble)
PUBLISHED = sorted(lg for lg in REWRITE if (d := rules_for(lg).dialects.get(DIALECT))
                   and (d.types or d.literals or d.published or d.entry != "{entry}"))  # fmt: skip


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", PUBLISHED)
def test_items_published_in_the_dialect_pass_their_test_and_fail_a_mutant(lang: str) -> None:
    """What ``cruxforge export --dialect`` writes, run alone as published: every demo
    item written in the dialect passes its own test, and the audit's planted wrong
    expected value fails it (D's dicts as `[...].nullable`, Java's and C#'s imports at the
    program's top, MultiPL-E's preambles)."""
    from runtimes.backend import Program, Verdict, get_backend

    rules = rules_for(lang, DIALECT)
    refs = {r["id"]: r["code"] for r in load_jsonl(DEMO_REFS / f"{lang}.jsonl")}
    gold: list[Program] = []
    mutants: list[Program] = []
    for c in check_file(DEMO_SEEDS):
        code = _rewrite(lang, refs.get(c.id, ""), c.id) if c.typed is not None else None
        if not code or c.typed is None:
            continue
        seed = c.typed.model_copy(update={"entry": dialect_entry(lang, DIALECT, c.typed.entry)})
        try:
            check_seed(rules, seed)
        except Unsupported:
            continue
        source = render_published(rules, seed, code).code
        gold.append(Program(id=f"x:{lang}:{c.id}", lang=lang, source=source, n_cases=1,
                            judge="exit_status", variant="published"))  # fmt: skip
        mutants += plant_wrong_expected(rules, seed, source, f"x:{lang}:{c.id}").programs[:1]
    assert len(gold) >= 15 and len(mutants) >= len(gold) - 2, (len(gold), len(mutants))
    with get_backend("auto") as b:  # batched, as the audit runs them; Swift in docker
        if not b.doctor(lang).available:
            print(f"SKIP {lang}: {b.doctor(lang).reason}")
            pytest.skip(f"{lang}: {b.doctor(lang).reason}")
        results = b.execute(gold + mutants)
    bad = [(p.id, r.verdict.value, (r.compile_output or r.stderr)[-200:])
           for p, r in zip(gold + mutants, results)
           if (r.verdict is Verdict.passed) != (p in gold)]  # fmt: skip
    print(f"{lang}: {len(gold)} published in the dialect pass, {len(mutants)} mutants fail")
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.toolchains
def test_audit_reads_items_written_in_the_dialect(tmp_path: Path) -> None:
    """Items in the dialect (declared types, naming) are read in it and accepted; the same
    seeds in our conventions are read in ours."""
    from runtimes.backend import get_backend

    with get_backend("auto") as b:  # as the audit's batched backend: Swift in docker
        missing = {lg: b.doctor(lg).reason for lg in REWRITE if not b.doctor(lg).available}
    for lang, why in missing.items():
        print(f"{lang} not audited here: {why}")
    audited = sorted(set(REWRITE) - set(missing))
    refs = tmp_path / "refs"
    refs.mkdir()
    for lang in audited:
        rows = []
        for it in load_jsonl(DEMO_REFS / f"{lang}.jsonl"):
            code = _rewrite(lang, it["code"], it["id"])
            if code is not None:
                rows.append(json.dumps({"id": it["id"], "code": code}))
        (refs / f"{lang}.jsonl").write_text("\n".join(rows) + "\n")
    for dialect, folder in ((DIALECT, tmp_path / "x"), (None, tmp_path / "ours")):
        source = refs if dialect else DEMO_REFS
        # in ours, only where the dialect's type names differ (elsewhere both read alike)
        mine = audited if dialect else sorted(set(audited) - TOLD - SAME_TYPES)
        subprocess.run(["cruxforge", "export", "--seeds", str(DEMO_SEEDS), "--references",
                        str(source), "--out", str(folder), "--languages", ",".join(mine),
                        *(["--dialect", dialect] if dialect else [])],
                       check=True, capture_output=True)  # fmt: skip
        (folder / "skipped.jsonl").unlink()
        recs = []
        told = sorted(TOLD) if dialect else []
        for group, how in ((sorted(set(mine) - set(told)), []),
                           (told, ["--dialect", DIALECT])):  # fmt: skip
            if not group:
                continue
            out = folder / f"audit-{len(how)}"
            run = subprocess.run(["cruxforge", "audit", "--benchmark", str(folder), "--seeds",
                                  str(DEMO_SEEDS), "--out", str(out), "--languages",
                                  ",".join(group), "--agreement", "3", "--repeat", "0", *how],
                                 capture_output=True, text=True)  # fmt: skip
            assert run.returncode == 0, run.stderr
            recs += load_jsonl(out / "audit.jsonl")
        for lang in mine:
            got = [r for r in recs if r["lang"] == lang]
            ok = [r for r in got if r["status"] == "ok"]
            bad = [(r["id"], r["dialect"], r["own_detail"][:200]) for r in got if r not in ok]
            read_x = sum(r["dialect"] == DIALECT for r in got)
            print(f"{dialect or 'ours'} {lang}: {len(ok)}/{len(got)} accepted, {read_x} read in it")
            assert len(got) >= 15 and len(ok) >= 0.97 * len(got), (dialect, lang, bad)
            if dialect is None:
                assert {r["dialect"] for r in got} == {"cruxforge"}, (lang, got[:2])
            elif lang in ("cs", *TOLD):  # named F / told
                assert {r["dialect"] for r in got} == {DIALECT}
            elif lang not in SAME_TYPES:  # an item with no int in its types reads alike
                least = 4 if lang == "d" else 5  # D: the four dict-typed items
                assert sum(r["dialect"] == DIALECT for r in got) >= least, (lang, got[:2])
