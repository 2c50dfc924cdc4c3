"""Rendering: Python items reproduce CRUXEval's own harness; golden harnesses are pinned."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cruxforge.typesys import INT, STR, DictT, ListT, OptionalT, SetT, TupleT
from cruxforge.values import values_equal
from runtimes.spec import LANGUAGES
from tests.conftest import DEMO_REFS, SHARED_SEEDS, load_jsonl
from transition_rules.engine import (
    MASK,
    Unsupported,
    check_seed,
    render_harness,
    render_literal,
    render_published,
    rules_for,
)
from transition_rules.proof import load_references, mutate, value_corpus

GOLDEN = Path(__file__).parent / "golden"


def _typed(report: Path):  # type: ignore[no-untyped-def]
    from cruxforge.seed_report import typed_seeds

    return typed_seeds(report)


def test_python_literals_evaluate_back_to_the_value() -> None:
    rules = rules_for("py")
    for v, t in value_corpus():
        text = render_literal(rules, v, t)
        back = eval(text, {"float": float})  # noqa: S307 - our own rendered literal
        assert values_equal(back, v) or (v != v), f"{t}: {text!r}"


def test_published_python_item_has_cruxeval_semantics(demo_report: Path) -> None:
    """Same call, same expected value: the published item asserts f(input) == output."""
    rules = rules_for("py")
    for seed in _typed(demo_report):
        item = render_published(rules, seed, seed.code)
        tree = ast.parse(item.code)
        asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert len(asserts) == 1
        cmp = asserts[0].test
        assert isinstance(cmp, ast.Compare) and isinstance(cmp.ops[0], ast.Eq)
        call = cmp.left
        assert isinstance(call, ast.Call)
        got_args = [ast.literal_eval(a) if not _is_set_call(a) else set() for a in call.args]
        assert all(values_equal(g, w) for g, w in zip(got_args, seed.arg_values()))
        expected = cmp.comparators[0]
        exp_val = set() if _is_set_call(expected) else ast.literal_eval(expected)
        assert values_equal(exp_val, seed.result_value())
        # the masks replace exactly the call / the expected value
        assert MASK in item.input_reasoning and ast.unparse(call) not in item.input_reasoning
        assert item.output_reasoning.count(MASK) == 1
        run = subprocess.run([sys.executable, "-c", item.code], capture_output=True, timeout=30)
        assert run.returncode == 0, run.stderr.decode()


def _is_set_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "set"


@pytest.mark.slow
def test_published_python_items_of_real_seeds_pass_as_published(tmp_path: Path) -> None:
    if not SHARED_SEEDS.exists():
        pytest.skip(f"real CRUXEval seeds not present at {SHARED_SEEDS}")
    report = tmp_path / "r.json"
    subprocess.run(
        ["cruxforge", "seeds", "check", str(SHARED_SEEDS), "--report", str(report)],
        check=True,
        capture_output=True,
    )
    rules = rules_for("py")
    failures = []
    seeds = _typed(report)
    assert len(seeds) >= 392
    for seed in seeds:
        item = render_published(rules, seed, seed.code)
        mutated = (
            item.output_reasoning.replace(
                MASK,
                render_literal(
                    rules,
                    mutate(seed.result_value(), seed.signature.result_type()),
                    seed.signature.result_type(),
                ),
            )
            if seed.signature.result != "None"
            else None
        )
        prog = item.code
        run = subprocess.run([sys.executable, "-c", prog], capture_output=True, timeout=30)
        if run.returncode != 0:
            failures.append((seed.id, run.stderr.decode()[-300:]))
        if mutated is not None:
            code = seed.code + "\n\n" + mutated
            bad = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
            if bad.returncode == 0:
                failures.append((seed.id, "mutant passed"))
    assert not failures, failures[:10]


def test_typed_empty_containers_and_optionals_render_per_type() -> None:
    py = rules_for("py")
    assert render_literal(py, set(), SetT(INT)) == "set()"
    assert render_literal(py, (1,), TupleT((INT,))) == "(1,)"
    assert render_literal(py, {"a": None}, DictT(STR, OptionalT(INT))) == '{"a": None}'
    assert render_literal(py, [[]], ListT(ListT(STR))) == "[[]]"


def test_string_escaping_covers_every_code_point_class() -> None:
    py = rules_for("py")
    s = 'q"\\\n\t\r\x00\x7f é 😀'
    text = render_literal(py, s, STR)
    assert "\n" not in text and eval(text) == s  # noqa: S307


def test_out_of_range_integer_is_reported_not_wrapped() -> None:
    cpp_like = rules_for("py").model_copy(deep=True)
    cpp_like.literals.int_bits = 64
    with pytest.raises(Unsupported) as e:
        render_literal(cpp_like, 2**70, INT)
    assert e.value.code == "int_out_of_range"


def _golden_cases() -> list[tuple[str, Path]]:
    return [(p.parent.name, p) for p in sorted(GOLDEN.glob("*/*.txt"))]


@pytest.mark.parametrize(("lang", "path"), _golden_cases(), ids=lambda x: str(x)[-40:])
def test_golden_harness(lang: str, path: Path, demo_report: Path) -> None:
    """A rule change shows up here as a reviewed diff of the pinned harness text."""
    seeds = {s.id: s for s in _typed(demo_report)}
    seed = seeds[path.stem]
    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    rules = rules_for(lang)
    check_seed(rules, seed)
    assert render_harness(rules, seed, refs[seed.id]) == path.read_text(encoding="utf-8")


def test_every_golden_language_has_three_pins() -> None:
    langs = {lang for lang, _ in _golden_cases()}
    for lang in langs:
        assert len(list((GOLDEN / lang).glob("*.txt"))) >= 3, lang


def test_demo_references_are_well_formed() -> None:
    for path in sorted(DEMO_REFS.glob("*.jsonl")):
        for rec in load_jsonl(path):
            assert set(rec) == {"id", "code"}, path
            assert rec["code"].strip(), f"{path}: {rec['id']} empty"
        json.dumps(load_jsonl(path))


def test_ruby_parameters_that_read_as_constants_are_renamed(tmp_path: Path) -> None:
    """CRUXEval has a parameter named XAAXX: Ruby reads it as a constant, so the stub
    renames it (the harness calls by position, so nothing else changes)."""
    import shutil
    import subprocess

    from cruxforge.models import Param, Signature, TypedSeed
    from transition_rules.engine import render_stub

    seed = TypedSeed(
        id="caps", code="def f(XAAXX):\n    return len(XAAXX)", entry="f",
        signature=Signature(name="f", params=[Param(name="XAAXX", type="str")], result="int"),
        args=["ab"], result=2, input_text="'ab'", output_text="2",
    )  # fmt: skip
    stub = render_stub(rules_for("rb"), seed)
    assert "_XAAXX" in stub and "(XAAXX" not in stub
    if shutil.which("ruby") is None:
        pytest.skip("ruby is not installed here (scripts/setup.sh installs it)")
    src = tmp_path / "stub.rb"
    src.write_text(stub)
    check = subprocess.run(["ruby", "-c", str(src)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("lang", LANGUAGES)
def test_published_demo_items_pass_the_lint(lang: str, demo_report: Path) -> None:
    """Every demo item: no line of our prelude in a masked prompt, one ???? each, and
    each prompt is the code's end with one span masked."""
    from cruxforge.lint import lint_item

    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    rules = rules_for(lang)
    n = 0
    for seed in _typed(demo_report):
        try:
            check_seed(rules, seed)
        except Unsupported:
            continue
        item = render_published(rules, seed, refs[seed.id]).as_json()
        assert lint_item(lang, item) == [], (seed.id, lint_item(lang, item))
        n += 1
    assert n >= 12
