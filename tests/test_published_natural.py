"""Published items with the language's natural test (``[published.natural]`` in the rules).

An item whose every type the natural test compares exactly is published with it
(``assert f(x) == y``, ``assert_eq!``, ``assert.deepStrictEqual`` ...), with no helper of
ours in its code or prompts; other items keep our asserting harness. Proven by execution:
on gold and on a mutant (a wrong expected value of the same type), the natural test and
our helper's test give the same verdict, and gold passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from cruxforge.audit.mutants import plant_wrong_expected
from cruxforge.models import TypedSeed
from cruxforge.seeds.check import check_file
from cruxforge.typesys import walk
from runtimes.backend import Backend, Program, Verdict, get_backend
from tests.conftest import DEMO_REFS, DOCKER_ONLY, docker_available
from transition_rules.engine import (
    Case,
    PublishedItem,
    Unsupported,
    check_seed,
    dialect_entry,
    render_published,
    rules_for,
    seed_case,
)
from transition_rules.proof import load_references, mutate
from transition_rules.schema import NaturalTest, RuleFile

ROOT = Path(__file__).resolve().parent.parent
NATURAL = [lang for lang in sorted(p.stem for p in DEMO_REFS.glob("*.jsonl"))
           if rules_for(lang).published.natural is not None]  # fmt: skip
PER_LANGUAGE = 4  # items run per language (distinct result types first)


def _seeds() -> list[TypedSeed]:
    return [c.typed for c in check_file(ROOT / "seeds" / "demo.jsonl") if c.typed is not None]


def _items(lang: str) -> list[tuple[TypedSeed, str, PublishedItem]]:
    rules = rules_for(lang)
    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    out = []
    for s in _seeds():
        if s.id not in refs:
            continue
        try:
            check_seed(rules, s)
        except Unsupported:
            continue
        out.append((s, refs[s.id], render_published(rules, s, refs[s.id])))
    return out


def natural_items(
    lang: str, n: int, needs_mutant: bool = False
) -> list[tuple[TypedSeed, str, PublishedItem]]:
    """Up to ``n`` demo items published with the language's own test: a float result
    first (its close test), then one per result type."""
    natural = [x for x in _items(lang) if x[2].natural and (_has_mutant(x[0]) or not needs_mutant)]
    picked: list[tuple[TypedSeed, str, PublishedItem]] = []
    seen: set[str] = set()
    for x in sorted(natural, key=lambda x: str(x[0].signature.result_type()) != "float"):
        t = str(x[0].signature.result_type())
        if t not in seen and len(picked) < n:
            seen.add(t)
            picked.append(x)
    return picked


def _with_helper(rules: RuleFile) -> RuleFile:
    """The same rules without the natural test: every item gets our helper's test."""
    published = rules.published.model_copy(update={"natural": None})
    return rules.model_copy(update={"published": published})


def test_natural_languages_are_most_of_them() -> None:
    # py's only test is natural already; the others here carry [published.natural]
    assert len(NATURAL) >= 17, NATURAL


@pytest.mark.parametrize("lang", NATURAL)
def test_natural_items_show_no_helper(lang: str) -> None:
    rules = rules_for(lang)
    items = _items(lang)
    natural = [it for _, _, it in items if it.natural]
    assert natural, f"{lang}: no demo item gets the natural test"
    helper_lines = [ln for ln in rules.published.prelude.splitlines() if "crux" in ln]
    for it in natural:
        for text in (it.input_reasoning, it.output_reasoning):
            assert "crux_" not in text and "crux-" not in text, (lang, it.id, text)
            assert text.count("????") == 1, (lang, it.id, text)
        leaked = [ln for ln in helper_lines if ln in it.code]
        assert not leaked, (lang, it.id, leaked[:3])
    close = rules.published.natural.close if rules.published.natural else None
    for s, _, it in items:  # a float result is never compared by a natural ==
        if "float" in str(s.signature.result_type()) and it.natural:
            assert close is not None and str(s.signature.result_type()) == "float", it.id
            assert close.prelude.strip() in it.code, (lang, it.id)


def test_natural_test_schema_rejects_float_and_unknown_kinds() -> None:
    with pytest.raises(ValidationError, match="float"):
        NaturalTest(harness="{call} == {expected}", exact=["int", "float"])
    with pytest.raises(ValidationError, match="unknown type kinds"):
        NaturalTest(harness="{call} == {expected}", exact=["int", "hashmap"])
    with pytest.raises(ValidationError, match="no helper of ours"):
        NaturalTest(harness="crux_eq({call}, {expected})", exact=["int"])
    with pytest.raises(ValidationError, match="no helper of ours"):
        close = {"harness": "{prelude}{call}", "prelude": "def crux_close(): ..."}
        NaturalTest(harness="{call} == {expected}", exact=["int"], close=close)  # type: ignore[arg-type]
    assert NaturalTest(harness="{call} == {expected}", exact=["int"], literal_only=["float"])
    with pytest.raises(ValidationError, match="unknown literal forms"):
        NaturalTest(harness="{call} == {expected}", exact=["int"], literals={"array": "[]"})
    with pytest.raises(ValidationError, match="no helper of ours"):
        NaturalTest(harness="{call} == {expected}", exact=["list"],
                    literals={"list": "crux_list({items})"})  # fmt: skip


def test_a_value_the_natural_test_would_misread_keeps_our_helper() -> None:
    """Shell's $(...) drops a str's trailing newlines: an expected value ending in one
    gets our helper's test (helper_when), the same item without it the natural one."""
    rules = rules_for("sh")
    assert rules.published.natural is not None and rules.published.natural.helper_when
    seed, fn, item = next((s, fn, it) for s, fn, it in _items("sh")
                          if it.natural and str(s.signature.result_type()) == "str")  # fmt: skip
    args = seed_case(seed).args
    plain = render_published(rules, seed, fn, Case(args, "two\nlines"))
    trailing = render_published(rules, seed, fn, Case(args, "two\nlines\n"))
    assert plain.natural and "crux_" not in plain.output_reasoning
    assert not trailing.natural and "crux_is 'str'" in trailing.code
    with pytest.raises(ValidationError, match="helper_when"):
        NaturalTest(harness="{call} == {expected}", exact=["int"], helper_when="(")


# languages whose own test goes beyond the plain natural test in our literals: values
# in the language's own literals, kinds exact in the result only, container tests
OWN_FORMS = [lang for lang in NATURAL
             if (n := rules_for(lang).published.natural)
             and (n.literals or n.result_literals or n.containers)]  # fmt: skip


def _plain(rules: RuleFile) -> RuleFile:
    """The rules with the plain natural test: our literals, no result-only kinds, no
    container tests."""
    assert rules.published.natural is not None
    nat = rules.published.natural.model_copy(
        update={"literals": {}, "result_literals": {}, "result_only": [], "containers": []}
    )
    return rules.model_copy(
        update={"published": rules.published.model_copy(update={"natural": nat})}
    )


def _in_own_forms(lang: str) -> list[tuple[TypedSeed, str, PublishedItem]]:
    """Demo items published with the language's own test whose text those forms change."""
    plain = _plain(rules_for(lang))
    return [(s, fn, it) for s, fn, it in _items(lang)
            if it.natural and render_published(plain, s, fn).code != it.code]  # fmt: skip


def test_d_publishes_lists_dicts_and_tuples_in_its_own_literals() -> None:
    """D's natural test compares lists, associative arrays and tuples with ==, written as
    D writes them (``[1L, 2L]``, ``["a": 1L]``, ``tuple(1L, "a")``): no crux_list! in a
    prompt. An associative array of empty lists only is typed void[][K], which == can't
    compare: an expected value with an empty value in an associative array keeps our
    helper."""
    assert "d" in OWN_FORMS
    items = _in_own_forms("d")
    kinds = {type(n).__name__ for s, _, _ in items
             for t in [*s.signature.param_types(), s.signature.result_type()]
             for n in walk(t)}  # fmt: skip
    assert {"ListT", "TupleT", "DictT"} <= kinds, kinds
    for _, _, it in items:
        assert "crux" not in it.input_reasoning + it.output_reasoning, it.id
    rules = rules_for("d")
    seed, fn, _ = next(x for x in _items("d") if x[0].id == "demo_10")  # dict[int, list[str]]
    args = seed_case(seed).args
    empty_only = render_published(rules, seed, fn, Case(args, {2: []}))
    none_empty = render_published(rules, seed, fn, Case(args, {2: ["ab"], 3: ["abc"]}))
    assert not empty_only.natural and "crux_check" in empty_only.code
    assert none_empty.natural and '[2L: ["ab"], 3L: ["abc"]]' in none_empty.code


def test_java_dicts_csharp_containers_and_swift_tuples_get_their_own_test() -> None:
    """Java: a dict result is compared by HashMap's order-free equals, written as
    MultiPL-E writes it; a dict argument keeps our ordered crux_dict. C#: a list of
    scalars is compared by SequenceEqual, a set or a dict of them by SetEquals; a
    container of containers (Equals by reference inside) keeps our helper. Swift: a
    tuple result of scalars is compared by the standard library's tuple ==."""
    java = {s.id: (s, fn, it) for s, fn, it in _items("java")}
    for sid in ("demo_9", "demo_10", "demo_22"):  # dict results
        it = java[sid][2]
        assert it.natural and "Map.ofEntries(Map.entry(" in it.code, sid
        assert "crux_" not in it.output_reasoning + it.input_reasoning, sid
    assert not java["demo_16"][2].natural  # a dict argument: crux_dict keeps its order
    cs = {s.id: it for s, _, it in _items("cs")}
    for sid in ("demo_5", "demo_15", "demo_19", "demo_20", "demo_21"):  # list[int] results
        assert cs[sid].natural and ".SequenceEqual(????)" in cs[sid].output_reasoning, sid
    assert cs["demo_11"].natural and ".SetEquals(????)" in cs["demo_11"].output_reasoning
    for sid in ("demo_9", "demo_16", "demo_22"):  # dict[str, int | str] results
        assert cs[sid].natural and ".ToHashSet().SetEquals(????)" in cs[sid].output_reasoning
    assert not cs["demo_6"].natural  # list[list[int]]: Equals by reference inside
    assert not cs["demo_10"].natural  # dict[int, list[str]]: the same
    swift = {s.id: it for s, _, it in _items("swift")}
    for sid in ("demo_7", "demo_8"):  # tuple[int, int] and tuple[int, int, int] results
        assert swift[sid].natural and "crux_" not in swift[sid].output_reasoning, sid
    nat = rules_for("swift").published.natural
    assert nat is not None and nat.helper_when is not None  # == takes 2 to 6 members
    assert re.search(nat.helper_when, "(1, 2, 3, 4, 5, 6, 7)")
    assert not re.search(nat.helper_when, "(1, 2, 3, 4, 5, 6)")
    with pytest.raises(ValidationError, match="not a kind compared exactly"):
        NaturalTest(harness="{call} == {expected}", exact=["int"],
                    containers=[{"of": "list", "harness": "{call}", "elems": ["float"]}])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="one container test per"):
        twice = {"of": "set", "harness": "{call}", "elems": ["int"]}
        NaturalTest(harness="{call} == {expected}", exact=["int"], containers=[twice, twice])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="float"):
        NaturalTest(harness="{call} == {expected}", exact=["int"], result_only=["float"])


# an import as a translation may carry it at the top of its function, and a use of it
CARRIED = {
    "java": ("import java.math.BigInteger;\n", "BigInteger.ONE.longValue() * "),
    "cs": ("using static System.Math;\n", "Abs(1L) * "),
}


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", sorted(CARRIED))
@pytest.mark.parametrize("dialect", [None, "cruxeval-x"])
def test_a_functions_imports_go_to_the_published_programs_top(
    lang: str, dialect: str | None
) -> None:
    """Java and C# can't import inside the class around the function: the published
    program puts what the function carries at its top, and runs."""
    b = _backend(lang)
    rules = rules_for(lang, dialect)
    seed, fn, _ = next(x for x in _items(lang) if x[0].id == "demo_0")  # digit sum: long
    seed = seed.model_copy(update={"entry": dialect_entry(lang, dialect, seed.entry)})
    fn = re.sub(r"\bf\(", f"{seed.entry}(", fn)
    imp, use = CARRIED[lang]
    carried = imp + fn.replace("return total;", f"return {use}total;")
    assert carried != imp + fn
    code = render_published(rules, seed, carried).code
    assert code.index(imp.strip()) < code.index("class Problem" if dialect else "class ")
    res = b.execute([_program(lang, f"carried:{dialect}", code)])[0]
    assert res.verdict is Verdict.passed, (res.verdict, res.compile_output[-500:], code[:400])


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", OWN_FORMS)
def test_own_forms_pass_on_gold_and_fail_on_a_mutant(lang: str) -> None:
    """Every demo item whose own test those forms change, by execution: the published
    program compiles and passes with the right expected value and fails (wrong_answer,
    or runtime_error for a trap; never a compile error) with a wrong one of the same
    type, rendered so or planted by the audit's mutant check."""
    b = _backend(lang)
    programs: list[tuple[str, Program]] = []
    for s, fn, it in _in_own_forms(lang):
        if not _has_mutant(s):
            continue
        case = seed_case(s)
        wrong = Case(case.args, mutate(case.expected, s.signature.result_type()))
        for kind, c in (("gold", case), ("mutant", wrong)):
            item = render_published(rules_for(lang), s, fn, c)
            assert item.natural, (s.id, kind)
            programs.append((f"{s.id}:{kind}", _program(lang, f"{s.id}:{kind}:own", item.code)))
        # the audit's check that the published test can fail plants its wrong value
        # where the expected one stands: in the language's own literals here
        planted = plant_wrong_expected(rules_for(lang), s, it.code, f"{lang}:{s.id}")
        assert planted.programs, (s.id, planted.why_none)
        programs += [(f"{s.id}:planted{i}:mutant", p) for i, p in enumerate(planted.programs)]
    results = b.execute([p for _, p in programs])
    # a failed test ends the program with status 1, or a trap (Swift's precondition)
    want = {"gold": {Verdict.passed}, "mutant": {Verdict.wrong_answer, Verdict.runtime_error}}
    bad = [f"{key}: {r.verdict.value} {(r.compile_output or r.stderr)[-300:]}"
           for (key, _), r in zip(programs, results)
           if r.verdict not in want[key.rsplit(":", 1)[1]]]  # fmt: skip
    assert not bad, "\n".join(bad)
    print(f"{lang}: {len(programs)} programs in its own forms, as wanted")
    assert programs


def test_release_counts_items_with_our_helper(tmp_path: Path) -> None:
    from cruxforge.release.write import published_items
    from cruxforge.translate.loop import ItemReport

    seeds = _seeds()
    refs = load_references(DEMO_REFS / "cs.jsonl")  # its lists, maps and sets: our helper
    reports = [
        ItemReport(id=s.id, lang="cs", status="validated", code=refs[s.id])
        for s in seeds
        if s.id in refs
    ]
    flags: list[bool] = []
    items = published_items(seeds, reports, "cs", natural=flags)
    assert len(flags) == len(items) and 0 < flags.count(False) < len(flags)
    for it, nat in zip(items, flags):
        assert ("crux_eq(" in it["code"]) is not nat, it["id"]


# ------------------------------------------------------------------ by execution

_backends: dict[str, Backend] = {}


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    for b in _backends.values():
        b.close()
    _backends.clear()


def _backend(lang: str) -> Backend:
    name = "docker" if lang in DOCKER_ONLY else "local"
    if name == "docker" and (why := docker_available()):
        print(f"SKIP {lang}: {DOCKER_ONLY[lang]}; {why}")
        pytest.skip(f"{DOCKER_ONLY[lang]}; {why}")
    if name not in _backends:
        _backends[name] = get_backend(name, parallel=2)
    b = _backends[name]
    status = b.doctor(lang)
    if not status.available:
        print(f"SKIP {lang}: {status.reason}")
        pytest.skip(f"{lang} not available on the {name} backend: {status.reason}")
    return b


def _program(lang: str, tag: str, code: str) -> Program:
    return Program(id=f"natural:{lang}:{tag}", lang=lang, source=code, n_cases=1,
                   judge="exit_status", variant="published")  # fmt: skip


def _has_mutant(s: TypedSeed) -> bool:
    try:
        mutate(seed_case(s).expected, s.signature.result_type())
    except ValueError:  # None has one value
        return False
    return True


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", NATURAL)
def test_natural_test_agrees_with_our_helper_on_gold_and_mutant(lang: str) -> None:
    b = _backend(lang)
    rules = rules_for(lang)
    helper = _with_helper(rules)
    picked = natural_items(lang, PER_LANGUAGE, needs_mutant=True)
    programs: list[tuple[str, Program]] = []
    for s, fn, _ in picked:
        case = seed_case(s)
        wrong = Case(case.args, mutate(case.expected, s.signature.result_type()))
        for kind, c in (("gold", case), ("mutant", wrong)):
            for form, r in (("natural", rules), ("helper", helper)):
                code = render_published(r, s, fn, c).code
                programs.append((f"{s.id}:{kind}", _program(lang, f"{s.id}:{kind}:{form}", code)))
    results = b.execute([p for _, p in programs])
    verdicts: dict[str, list[Verdict]] = {}
    for (key, _), res in zip(programs, results):
        verdicts.setdefault(key, []).append(res.verdict)
    bad = []
    for key, (nat, ours) in verdicts.items():
        want_pass = key.endswith(":gold")
        if nat is not ours or (nat is Verdict.passed) is not want_pass:
            bad.append(f"{key}: natural {nat.value}, helper {ours.value}")
    detail = {p.id: (r.compile_output or r.stderr)[-300:] for (_, p), r in zip(programs, results)
              if r.verdict not in (Verdict.passed, Verdict.wrong_answer)}  # fmt: skip
    assert not bad, f"{bad}\n{detail}"
    assert len(verdicts) == 2 * len(picked) and picked


CLOSE = [lang for lang in NATURAL if (n := rules_for(lang).published.natural) and n.close]
# the float seed (demo_1: the mean of a list of floats) where its list argument renders
# without our helpers (D's in its own literals since [published.natural] literals)
CLOSE_DEMO = [lang for lang in CLOSE
              if any(s.id == "demo_1" and it.natural for s, _, it in _items(lang))]  # fmt: skip
INF, NAN = float("inf"), float("nan")
# (the argument, the expected value, whether the test passes): the close helper's
# tolerance is our helper's, NaN and the infinities included
CLOSE_CASES = [
    ([1.0, 2.0], 1.5 + 1e-7, True),
    ([1.0, 2.0], 1.5 + 1e-3, False),
    ([NAN], NAN, True),
    ([NAN], 1.0, False),
    ([INF, 1.0], INF, True),
    ([INF], -INF, False),
    ([INF], 1.0, False),
]


def test_most_languages_publish_a_float_result_with_their_close_test() -> None:
    assert len(CLOSE) >= 16 and len(CLOSE_DEMO) >= 15, (CLOSE, CLOSE_DEMO)


@pytest.mark.slow
@pytest.mark.toolchains
@pytest.mark.parametrize("lang", CLOSE_DEMO)
def test_close_test_agrees_with_our_helper_on_nan_infinity_and_tolerance(lang: str) -> None:
    """A float result's close test (demo_1, the mean of a list of floats) against our
    helper's, on values at the edges of the tolerance."""
    b = _backend(lang)
    rules = rules_for(lang)
    helper = _with_helper(rules)
    seed, fn, item = next(x for x in _items(lang) if x[0].id == "demo_1")
    assert item.natural and str(seed.signature.result_type()) == "float"
    programs = []
    for i, (xs, want, _) in enumerate(CLOSE_CASES):
        for form, r in (("close", rules), ("helper", helper)):
            code = render_published(r, seed, fn, Case((xs,), want)).code
            programs.append(_program(lang, f"{i}:{form}", code))
    results = b.execute(programs)
    bad = []
    for i, (xs, want, passes) in enumerate(CLOSE_CASES):
        close, ours = (r.verdict for r in results[2 * i : 2 * i + 2])
        if close is not ours or (close is Verdict.passed) is not passes:
            bad.append(f"mean({xs}) vs {want}: close {close.value}, helper {ours.value}")
    detail = {p.id: (r.compile_output or r.stderr)[-300:] for p, r in zip(programs, results)
              if r.verdict not in (Verdict.passed, Verdict.wrong_answer)}  # fmt: skip
    assert not bad, f"{bad}\n{detail}"
