"""The batched engine: same verdicts as one process per program, with compile errors,
crashes, infinite loops and output floods in the middle of a batch; on the real local
sandbox (every language with batch rules and a toolchain here) and in Docker."""

from __future__ import annotations

import pytest

from cruxforge.execset import failing_variant
from cruxforge.models import TypedSeed
from cruxforge.seeds.check import check_file
from runtimes.backend import Program, RunResult, Verdict, get_backend
from runtimes.batched import BatchedBackend, _alone_outcome, attribute, segment
from runtimes.spec import LANGUAGES
from tests.conftest import DEMO_REFS, DEMO_SEEDS, DOCKER_ONLY, JULIA_REASON, docker_available
from transition_rules.batch import compose, why_alone
from transition_rules.engine import (
    Case,
    harness_program,
    program_from_parts,
    rules_for,
    seed_case,
)
from transition_rules.proof import load_references, mutate

# ------------------------------------------------------------------ pure parts


def test_segment_cuts_the_verdict_file_per_item() -> None:
    text = "\n".join(
        [
            "ITEM 0", "CASE 0 PASS", "CASE 1 FAIL 3",
            "ITEM 1", "CASE 0 PASS",  # then stalled
            "ITEM 2", "CASE 0 ERROR boom",  # a later segment
            "ITEM 3",
            "DONE",
            "BATCH END 1 STALL 0",
            "BATCH SLOW 2",
        ]
    )  # fmt: skip
    seg = segment(text, 5)
    assert seg.text[0] == ["CASE 0 PASS", "CASE 1 FAIL 3"]
    assert seg.text[1] == ["CASE 0 PASS"]
    assert seg.ended == {1: ("STALL", 0)}
    assert seg.slow == {2}
    assert seg.finished == {0, 2, 3}  # 1 ended; 2 is finished but slow
    assert 4 not in seg.text and seg.done


def test_segment_reads_the_items_run_again_alone() -> None:
    text = "\n".join(
        [
            "ITEM 0", "CASE 0 PASS",
            "ITEM 1", "CASE 0 PASS",  # then killed
            "ITEM 2", "CASE 0 PASS",
            "DONE",
            "BATCH END 1 EXIT 137",
            "BATCH ALONE 1 EXIT 137 1 2500000", "CASE 0 PASS", "ITEM 2?", "BATCH ALONE-END 1",
            "BATCH ALONE 2 TIMEOUT 0 0 5000000", "BATCH ALONE-END 2",
            "BATCH ALONE 0 DONE 0 0 100", "CASE 0 PASS",  # cut short: the supervisor died
        ]
    )  # fmt: skip
    seg = segment(text, 3)
    assert seg.ended == {1: ("EXIT", 137)} and seg.done
    assert set(seg.alone) == {1, 2}  # item 0's re-run has no end note: not taken
    one = seg.alone[1]
    assert (one.why, one.rc, one.oom, one.seconds) == ("EXIT", 137, True, 2.5)
    assert one.lines == ["CASE 0 PASS", "ITEM 2?"]  # its own lines, whatever they say
    run = _alone_outcome(one, "Killed")
    assert run.memory_exceeded and run.signal == 9 and run.stderr == "Killed"
    late = _alone_outcome(seg.alone[2], "")
    assert late.timed_out and late.exit_code is None and not late.memory_exceeded
    assert seg.text[2] == ["CASE 0 PASS"]  # the batch's own lines are kept apart


def test_segment_notes_a_start_failure() -> None:
    seg = segment("BATCH NOSTART 0 EXIT 1", 3)
    assert seg.nostart == (0, "EXIT", 1) and not seg.finished and not seg.text


def test_attribute_names_items_by_line() -> None:
    lines = {0: (10, 20), 1: (21, 40), 2: (41, 60)}
    gcc = "main.cpp:33:5: error: expected ';'\nmain.cpp:45:1: error: x"
    assert attribute(gcc, "main.cpp", lines) == {1, 2}
    py = 'Traceback:\n  File "/work/main.py", line 12\n    def f(:\nSyntaxError'
    assert attribute(py, "main.py", lines) == {0}
    assert attribute("Main.cs(55,3): error CS1002", "Main.cs", lines) == {2}
    assert attribute("no line here", "main.cpp", lines) == set()


def test_attribute_leaves_out_the_lines_of_warnings() -> None:
    """A failed batch warns about fine items too (swiftc: an unneeded ``try``): only the
    items errors name are charged."""
    lines = {0: (10, 20), 1: (21, 40), 2: (41, 60)}
    swift = (
        "main.swift:12:16: warning: no calls to throwing functions occur within 'try'\n"
        " 12 |   let x = try f()\n"
        "main.swift:45:32: error: 'nil' is not compatible with expected argument type 'Int'\n"
        "main.swift:30:3: note: declared here\n"
    )
    assert attribute(swift, "main.swift", lines) == {1, 2}
    rust = (
        "warning: unused variable: `x`\n --> main.rs:12:9\n   |\n"
        "error[E0308]: mismatched types\n --> main.rs:45:5\n"
    )
    assert attribute(rust, "main.rs", lines) == {2}
    mcs = "Main.cs(15,3): warning CS0168\nMain.cs(55,3): error CS1002"
    assert attribute(mcs, "Main.cs", lines) == {2}
    go = "./main.go:33:2: declared and not used: x"  # no severity word: counts
    assert attribute(go, "main.go", lines) == {1}


@pytest.fixture(scope="module")
def seeds() -> list[TypedSeed]:
    return [c.typed for c in check_file(DEMO_SEEDS) if c.typed is not None]


def test_compose_keeps_items_apart_and_locates_them(seeds: list[TypedSeed]) -> None:
    rules = rules_for("cpp")
    refs = load_references(DEMO_REFS / "cpp.jsonl")
    progs = [harness_program(rules, s, refs[s.id]) for s in seeds[:3]]
    composed = compose(rules, [p.parts for p in progs if p.parts])
    src = composed.source.split("\n")
    for k, p in enumerate(progs):
        first, last = composed.lines[k]
        assert f"crux_item_{k}" in src[first - 1]
        assert p.parts is not None
        # the item's function sits inside its own line range
        head = p.parts.function.strip().split("\n")[0]
        assert any(head in line for line in src[first - 1 : last])
    assert composed.source.count("int main(") == 1


def test_why_alone_names_the_reason(seeds: list[TypedSeed]) -> None:
    rules = rules_for("py")
    prog = harness_program(rules, seeds[0], 'def f(x):\n    """doc"""\n    return x\n')
    assert "refuse" in (why_alone(rules, prog.parts) or "")
    assert why_alone(rules, None) == "the program was not rendered from parts"


def test_syntax_errors_sees_a_token_missing_under_a_hidden_rule() -> None:
    from transition_rules.parsing import syntax_errors

    # tree-sitter-scala gives `val x = }` an identifier whose only child, hidden, is
    # MISSING: a batch holding it would fail its whole compile
    assert syntax_errors("scala", "def f(x: Int): Int = { val y = }\n")
    assert not syntax_errors("scala", "def f(x: Int): Int = { val y = x\n  y }\n")


# ------------------------------------------------------------------ real runs


def _mixed(lang: str, seeds: list[TypedSeed]) -> list[Program]:
    """Ten programs: gold, mutants, and one of each failing kind in the middle."""
    rules = rules_for(lang)
    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    usable = [s for s in seeds if s.id in refs]
    out: list[Program] = []
    for s in usable[:6]:
        case = seed_case(s)
        if len(out) % 3 == 2:
            rt = s.signature.result_type()
            case = Case(case.args, mutate(case.expected, rt))
        out.append(harness_program(rules, s, refs[s.id], [case], program_id=f"{s.id}:g"))
    for j, kind in enumerate(("loop", "flood", "memory", "syntax")):
        s = usable[6 + j]
        cases = [seed_case(s), seed_case(s)]
        out.insert(1 + 2 * j, failing_variant(lang, s, refs[s.id], cases, kind, f"{s.id}:{kind}"))
    return out


def _verdicts(r: RunResult) -> list[Verdict]:
    return [c.verdict for c in r.cases]


# a function that parses but doesn't compile: tree-sitter can't see it, the compiler's
# line numbers must charge it
UNDEFINED = {
    "cpp": "long crux_broken_helper() { return crux_no_such_function(); }",
    "java": "static long crux_broken_helper() { return crux_no_such_function(); }",
    "cs": "static long crux_broken_helper() { return crux_no_such_function(); }",
    "rs": "fn crux_broken_helper() -> i64 { crux_no_such_function() }",
    "go": "func crux_broken_helper() int64 { return crux_no_such_function() }",
}


def _check_same(inner: str, lang: str, seeds: list[TypedSeed]) -> BatchedBackend:
    progs = _mixed(lang, seeds)
    if lang in UNDEFINED:
        g = progs[2]
        assert g.parts is not None
        broken = g.parts.model_copy(
            update={"function": g.parts.function.rstrip() + "\n\n" + UNDEFINED[lang] + "\n"}
        )
        progs.insert(
            5,
            program_from_parts(
                rules_for(lang), broken, program_id="broken", n_cases=g.n_cases,
                expected=g.expected,
            ),
        )  # fmt: skip
    with get_backend(inner) as alone:
        want = alone.execute(progs)
    batched = get_backend("batched", inner=inner)
    assert isinstance(batched, BatchedBackend)
    with batched:
        got = batched.execute(progs)
    diffs = [
        (p.id, _verdicts(a), _verdicts(b))
        for p, a, b in zip(progs, want, got)
        if _verdicts(a) != _verdicts(b)
    ]
    assert not diffs, diffs
    by_id = {p.id: r for p, r in zip(progs, got)}
    loop = next(r for i, r in by_id.items() if i.endswith(":loop"))
    assert _verdicts(loop) == [Verdict.passed, Verdict.timeout]
    flood = next(r for i, r in by_id.items() if i.endswith(":flood"))
    assert _verdicts(flood)[0] is Verdict.passed
    assert _verdicts(flood)[1] is Verdict.output_exceeded
    syntax = next(r for i, r in by_id.items() if i.endswith(":syntax"))
    assert Verdict.passed not in _verdicts(syntax)
    if lang in UNDEFINED:
        assert _verdicts(by_id["broken"]) == [Verdict.compile_error]
        assert batched.stats.compile_failures >= 1  # charged by the compiler's line numbers
    gold = [r for i, r in by_id.items() if i.endswith(":g")]
    assert sum(r.passed for r in gold) == 4  # two of six carry mutated expectations
    # the batch did the work: the gold programs were not run one by one, and items that
    # ended the process ran again inside the batch's sandbox, not compiled alone
    assert batched.stats.batches >= 1
    assert batched.stats.alone <= 5, batched.stats
    if lang == "cpp":  # its memory bomb is killed by the OOM killer, ending the process
        memory = next(r for i, r in by_id.items() if i.endswith(":memory"))
        assert _verdicts(memory) == [Verdict.passed, Verdict.memory_exceeded]
        assert batched.stats.rerun_in_batch >= 1, batched.stats
    return batched


def _batch_langs() -> list[str]:
    return [lang for lang in LANGUAGES if rules_for(lang).batch is not None]


@pytest.mark.toolchains
@pytest.mark.slow
@pytest.mark.parametrize("lang", _batch_langs())
def test_batched_local_same_verdicts(lang: str, seeds: list[TypedSeed], local_backend) -> None:  # type: ignore[no-untyped-def]
    if lang == "jl":
        pytest.skip(JULIA_REASON)
    if lang in DOCKER_ONLY:
        pytest.skip(DOCKER_ONLY[lang] + " (covered by the docker test)")
    st = local_backend.doctor(lang)
    if not st.available:
        pytest.fail(f"{lang} toolchain missing on this machine: {st.reason}")
    _check_same("local", lang, seeds)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("lang", ["cpp", "swift"])
def test_batched_docker_same_verdicts(lang: str, seeds: list[TypedSeed]) -> None:
    why = docker_available()
    if why:
        pytest.skip(why)
    if rules_for(lang).batch is None:
        pytest.skip(f"{lang} has no [batch] rules")
    st = get_backend("docker").doctor(lang)
    if not st.available:
        pytest.fail(f"{lang} image missing: {st.reason}")
    _check_same("docker", lang, seeds)


@pytest.mark.toolchains
def test_batches_fill_every_slot_and_share_the_call_with_programs_alone(
    seeds: list[TypedSeed], local_backend
) -> None:  # type: ignore[no-untyped-def]
    """100 programs under max_items 40 make 4 even batches (not 40+40+20, whose last
    would run with a slot idle); a syntax error goes to the inner backend with them."""
    from cruxforge.execset import program_set
    from cruxforge.translate.run import seed_cases

    refs = load_references(DEMO_REFS / "py.jsonl")
    progs = program_set("py", seeds, refs, seed_cases(seeds), failing_each=0, per_case=4)[:99]
    s = next(x for x in seeds if x.id in refs)
    progs.insert(50, failing_variant("py", s, refs[s.id], [seed_case(s)], "syntax", "bad"))
    with get_backend("local") as alone:
        want = alone.execute(progs)
    batched = get_backend("batched", inner="local", max_items=40)
    assert isinstance(batched, BatchedBackend)
    with batched:
        got = batched.execute(progs)
    assert [_verdicts(r) for r in got] == [_verdicts(r) for r in want]
    assert batched.stats.batches == 4, batched.stats
    assert batched.stats.confirmed == {"syntax error seen before compiling": 1}
    assert Verdict.passed not in _verdicts(got[50])
