"""Whole published programs in batches (``[batch.published]``): the same verdicts as one
program per process, and fewer processes. The audit's published code and its planted
mutants go through the batched engine this way."""

from __future__ import annotations

from pathlib import Path

import pytest

from cruxforge.audit.mutants import plant_wrong_expected
from cruxforge.models import TypedSeed
from cruxforge.release.build import check_seeds
from runtimes.backend import Program, Verdict, get_backend
from runtimes.batched import BatchedBackend
from runtimes.spec import LANGUAGES
from tests.conftest import DEMO_SEEDS, backend_for, docker_available, load_jsonl
from tests.release_helpers import export_demo
from transition_rules.batch import published_parts, why_alone
from transition_rules.engine import rules_for

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]

# the languages whose rules say how a batch holds a whole published program
WHOLE = sorted(lg for lg in LANGUAGES if (b := rules_for(lg).batch) and b.published)
ITEMS = 4  # demo items per language (each with its planted mutants)

# programs written as CRUXEval-X's own items are (MultiPL-E's harness conventions), one
# passing and one failing, for the languages whose entry point differs from ours
CRUXEVAL_X_STYLE = {
    "java": (
        "import java.util.*;\nimport java.lang.reflect.*;\n\nclass Problem {\n"
        "    public static long f(long n) {\n        return n * 2L;\n    }\n"
        "    public static void main(String[] args) {\n"
        "        assert(f((4l)) == ({expected}l));\n    }\n\n}\n"
    ),
    "scala": (
        "import scala.math._\nimport scala.collection.mutable._\nobject Problem {\n"
        "    def f(n : Long) : Long = {\n        n * 2l\n    }\n"
        "    def main(args: Array[String]) = {\n"
        "    assert(f((4l)) == ({expected}l));\n    }\n\n}\n"
    ),
    # rackunit: a failed check is reported on stderr, and the program exits 0
    "rkt": (
        "#lang racket\n\n(define (f n)\n  (* n 2))\n\n(require rackunit)\n\n"
        "(define (test-humaneval) \n  (let (( candidate f))\n"
        "    (check-equal? (candidate 4) {expected})\n))\n\n(test-humaneval)\n"
    ),
    "r": (
        "f <- function(n) {\n    n * 2\n}\ntest_humaneval <- function() {\n"
        "candidate <- f\n    if(!identical(candidate(4), {expected})){quit('no', 1)}\n}\n"
        "test_humaneval()"
    ),
    # Debug.Assert reports on stderr (MONO_TRACE_LISTENER) and the program goes on
    "cs": (
        "using System;\nusing System.Diagnostics;\nusing System.Collections.Generic;\n"
        "using System.Linq;\nusing System.Text;\nclass Problem {\n"
        "    public static long F(long n) {\n        return n * 2L;\n    }\n"
        "    public static void Main(string[] args) {\n"
        "    Debug.Assert(F((4L)) == ({expected}L));\n    }\n\n}\n"
    ),
    "rs": (
        "fn f(n: isize) -> isize {\n    n * 2\n}\n\nfn main() {\n    let candidate = f;\n"
        "    assert_eq!(candidate(4), {expected});\n}\n"
    ),
    # -unittest (the published variant) runs the unittest block, then the empty main
    "d": (
        "import std.math;\nimport std.typecons;\nlong f(long n) \n{\n    return n * 2L;\n}\n\n"
        "unittest\n{\n    alias candidate = f;\n\n    assert(candidate(4L) == {expected}L);\n}\n"
        "void main(){}"
    ),
    "sh": (
        '#!/bin/bash\n\nf() {\n    echo $(( $1 * 2 ))\n}\n\ncandidate() {\n    f "$@"\n}\n\n'
        'set -e\nrun_test() {\n    [[ $(candidate "4") = "{expected}" ]]\n}\n\nrun_test\n'
    ),
    # test/unit runs the test case at exit and sets the status
    "rb": (
        "def f(n)\n    n * 2\nend\n\nrequire 'test/unit'\n"
        "class TestHumanEval < Test::Unit::TestCase\n  def test_f\n"
        "    candidate = method(:f)\n    assert_equal({expected}, candidate.call(4))\n  end\nend\n"
    ),
    # a main program; a panic exits 2 (MultiPL-E's `go test` form runs alone: `testing`)
    "go": (
        'package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc f(n int) int {\n'
        "\treturn n * 2\n}\n\nfunc main() {\n\tcandidate := f\n"
        "\tif got := candidate(4); got != {expected} {\n"
        '\t\tpanic(fmt.Sprintf("got %d", got))\n\t}\n\t_ = strings.ToUpper\n}\n'
    ),
    # luaunit sets the status; here through an os.exit inside a pcall, which alone ends
    # the program with it (a batch that let the pcall catch it would reach os.exit(5))
    "lua": (
        "function f(n)\n    return n * 2\nend\n\nlu = require('luaunit')\n\n"
        "function test_humaneval()\nlocal candidate = f\n"
        "    lu.assertEquals(candidate(4), {expected})\n"
        "end\n\nseen = (seen or 0) + 1\nif seen ~= 1 then os.exit(4) end\n"
        "local failures = lu.LuaUnit.run()\n"
        "pcall(function() os.exit(failures) end)\nos.exit(5)\n"
    ),
    "pl": (
        "sub f {\n    my ($n) = @_;\n    return $n * 2;\n}\nuse Test::Deep;\n"
        "our $seen; $seen++; exit 4 if $seen != 1;\n"
        "sub testhumaneval {\n    my $candidate = \\&f;\n"
        '        if(eq_deeply($candidate->(4),{expected})) {\n        print "ok!" }else{\n'
        "        exit 1;\n        }\n}\n\ntesthumaneval();\n"
    ),
    # no `<?php` tag, as CRUXEval-X publishes them (the published variant adds one); the
    # test is called before it is declared (top-level functions are hoisted)
    "php": (
        "function f($n) {\n    return $n * 2;\n}\n\ntest();\n\nfunction candidate(...$args) {\n"
        "    return f(...$args);\n}\n\nfunction test(): void {\n"
        '    if (candidate(4) !== {expected}) { throw new Exception("Test failed!"); }\n}\n'
    ),
    "cpp": (
        "#include<assert.h>\n#include<bits/stdc++.h>\nlong f(long n) {\n    return n * 2;\n}\n"
        "int main() {\n    auto candidate = f;\n    assert(candidate((4)) == ({expected}));\n}\n"
    ),
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_demo(tmp_path_factory.mktemp("bench"), ",".join(WHOLE))


@pytest.fixture(scope="module")
def typed() -> dict[str, TypedSeed]:
    return {c.id: c.typed for c in check_seeds(DEMO_SEEDS) if c.typed is not None}


def _programs(lang: str, bench: Path, typed: dict[str, TypedSeed]) -> list[Program]:
    """Demo items as published, their mutants, one with a syntax error appended, and the
    CRUXEval-X-style programs."""
    rules = rules_for(lang)
    out: list[Program] = []

    def whole(pid: str, source: str) -> Program:
        return Program(
            id=pid, lang=lang, source=source, judge="exit_status", variant="published",
            parts=published_parts(rules, source),
        )  # fmt: skip

    for it in load_jsonl(bench / f"{lang}.jsonl")[:ITEMS]:
        out.append(whole(f"{it['id']}:published", it["code"]))
        out += plant_wrong_expected(rules, typed[it["id"]], it["code"], str(it["id"])).programs
    out.append(whole("broken", load_jsonl(bench / f"{lang}.jsonl")[0]["code"] + "\n)(}{ ]\n"))
    if lang in CRUXEVAL_X_STYLE:
        for want in (8, 9, 8, 9):  # twice: a batch's state must not carry over
            source = CRUXEVAL_X_STYLE[lang].replace("{expected}", str(want))
            out.append(whole(f"cruxeval-x:{want}:{len(out)}", source))
    return out


@pytest.mark.parametrize("lang", WHOLE)
def test_whole_programs_batch_with_the_verdicts_they_get_alone(
    lang: str, bench: Path, typed: dict[str, TypedSeed]
) -> None:
    inner = backend_for(lang)
    if inner == "docker" and (why := docker_available()):
        pytest.skip(f"{lang} runs in Docker here: {why}")
    alone_backend = get_backend(inner)
    status = alone_backend.doctor(lang)
    if not status.available:
        pytest.skip(f"{lang}: {status.reason}")
    progs = _programs(lang, bench, typed)
    refused = {p.id: why_alone(rules_for(lang), p.parts) for p in progs}
    assert [k for k, w in refused.items() if w and k != "broken"] == [], refused
    engine = get_backend("batched", inner=inner)
    assert isinstance(engine, BatchedBackend)
    with engine:
        batched = engine.execute(progs)
    with alone_backend:
        alone = alone_backend.execute(progs)
    got = {p.id: (b.verdict, a.verdict) for p, b, a in zip(progs, batched, alone)}
    assert {k: v for k, v in got.items() if v[0] != v[1]} == {}, got
    # the verdicts are the ones a published program should get: gold passes, every
    # mutant fails, the broken one fails
    for pid, (verdict, _) in got.items():
        fails = "mutant" in pid or pid == "broken" or pid.startswith("cruxeval-x:9")
        assert (verdict is not Verdict.passed) == fails, (pid, verdict)
    # and they ran batched: one compile for the lot, nothing but the broken one alone
    assert engine.stats.batches >= 1
    assert engine.stats.alone <= 1, engine.stats
    print(f"{lang}: {len(progs)} programs, {engine.stats}")


def test_a_batch_holds_published_programs_and_harness_programs_together(
    bench: Path, typed: dict[str, TypedSeed], local_backend
) -> None:  # type: ignore[no-untyped-def]
    """The audit sends both kinds in one call: they share the language's batches."""
    from transition_rules.engine import harness_program, seed_case
    from transition_rules.parsing import cut_function

    lang = "cpp"
    if not local_backend.doctor(lang).available or lang not in WHOLE:
        pytest.skip(f"{lang} not runnable here")
    rules = rules_for(lang)
    progs: list[Program] = []
    for it in load_jsonl(bench / f"{lang}.jsonl")[:3]:
        seed = typed[it["id"]]
        fn = cut_function(lang, it["code"], seed.entry)
        own = harness_program(rules, seed, fn, [seed_case(seed)], program_id=f"{it['id']}:own")
        pub = Program(
            id=f"{it['id']}:pub", lang=lang, source=it["code"], judge="exit_status",
            variant="published", parts=published_parts(rules, it["code"]),
        )  # fmt: skip
        progs += [own, pub]
    engine = get_backend("batched", inner="local")
    assert isinstance(engine, BatchedBackend)
    with engine:
        res = engine.execute(progs)
    assert [r.verdict for r in res] == [Verdict.passed] * len(progs), [
        (p.id, r.verdict, r.cases[0].message if r.cases else "") for p, r in zip(progs, res)
    ]
    assert engine.stats.batches == 1 and engine.stats.alone == 0, engine.stats


def test_a_recipe_that_renames_to_a_non_identifier_is_refused_on_load(tmp_path: Path) -> None:
    from transition_rules.engine import RuleError, load_rules

    rules_dir = Path(__file__).resolve().parent.parent / "transition_rules" / "rules"
    for f in rules_dir.glob("_*.toml"):
        (tmp_path / f.name).write_text(f.read_text())
    text = (rules_dir / "java.toml").read_text()
    assert 'rename = { Main = "crux_Main" }' in text
    (tmp_path / "java.toml").write_text(
        text.replace('rename = { Main = "crux_Main" }', 'rename = { Main = "crux Main" }')
    )
    where = r"java\.toml: invalid rule file:(?s:.*)batch\.published\.rename"
    with pytest.raises(RuleError, match=where):
        load_rules("java", tmp_path)


GO_MAIN = (
    'package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\n'
    'func main() {\n\tfmt.Println(strings.ToUpper("a"))\n}\n'
)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("", ""), None),
        (('"strings"', '"strings"\n\t"sort"'), "imports ['sort'] without using them"),
        (('\t"strings"\n', ""), "uses ['strings'] without importing them"),
        (('"strings"', '"testing"'), "imports 'testing', which the batch does not"),
        (('"strings"', 's "strings"'), "imports 'strings' under another name"),
        (("func main() {", "func main() {\n\tfmt := 1\n\t_ = fmt"), "spells the package name"),
        (("package main", "package other"), "not package main"),
        (('"strings"', '"time"'), "imports 'time', which the batch does not"),
        (("func main() {", "func main() {\n\t_ = crux_eq"), "uses a crux_ name it does not"),
        (("func main() {", "func crux_eq() bool {\n\treturn true\n}\n\nfunc main() {"), None),
    ],
)
def test_go_programs_batch_only_where_their_imports_compile_the_same_alone(
    change: tuple[str, str], why: str | None
) -> None:
    """Go's batch has one import block: a program's imports go, so an unused or missing
    import (a compile error alone) or a package name reused as a variable runs alone."""
    rules = rules_for("go")
    source = GO_MAIN.replace(*change) if change[0] else GO_MAIN
    got = why_alone(rules, published_parts(rules, source))
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got, got


@pytest.mark.parametrize(
    ("lang", "source", "why"),
    [
        # C++: the batch calls main as a function and can't read its value
        ("cpp", "int main() {\n    assert(1 == 1);\n}\n", None),
        ("cpp", "int main() {\n    auto g = [] { return 5; };\n    return 0;\n}\n", None),
        ("cpp", "int main() {\n    if (2 > 1) return 1;\n    return 0;\n}\n", "main returns"),
        # PHP: statements go into crux_main, declarations stay; what can't is alone
        ("php", "function f() { return 1; }\nif (f() !== 1) { throw new Exception(); }\n", None),
        ("php", "function crux_eq($a, $b) { return $a === $b; }\ncrux_eq(1, 1);\n", None),
        ("php", "function f() { return 1; }\nif (f() !== 1) { exit(1); }\n", "refuse pattern"),
        ("php", "if (!crux_eq(1, 1)) { throw new Exception(); }\n", "'crux_eq', a crux_ name"),
        ("php", "Some prose.\n<?php\necho 1;\n", "text outside <?php"),
        ("php", "function f() { global $x; return $x; }\n$x = 1;\nf();\n", "refuse pattern"),
        # Lua and Perl: what would reach past the item, or catch its exit, runs alone
        ("lua", "x = 1\nos.exit(x == 1)\n", None),
        ("lua", "coroutine.wrap(function() os.exit(1) end)()\n", "refuse pattern"),
        ("lua", "string.up = string.upper\n", "refuse pattern"),
        ("lua", "s = [=====[ ]=====]\n", "refuse pattern"),
        ("pl", "sub f { return 1 }\nexit(f() == 1 ? 0 : 1);\n", None),
        ("pl", "eval { exit 1 };\n", "refuse pattern"),
        ("pl", "END { print 1 }\n", "refuse pattern"),
        ("pl", "return 1;\n", "refuse pattern"),
    ],
)
def test_whole_programs_run_alone_where_a_batch_would_change_them(
    lang: str, source: str, why: str | None
) -> None:
    """The recipes' refusals (hooks and patterns) for what a batch can't hold as alone."""
    rules = rules_for(lang)
    got = why_alone(rules, published_parts(rules, source))
    if why is None:
        assert got is None, got
    else:
        assert got is not None and why in got, got
