"""Rules proven by execution in every language with a runtime here.

For each language: the value round-trip corpus comes back unchanged; every demo seed's
harness passes with its reference translation; every mutant (a different expected value
of the same type) is caught; hypothesis-generated values round-trip too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtimes.backend import Backend, Verdict, get_backend
from runtimes.spec import LANGUAGES
from tests.conftest import DEMO_REFS, DOCKER_ONLY, JULIA_REASON, docker_available
from transition_rules.engine import Unsupported, check_seed, check_type, render_literal, rules_for
from transition_rules.proof import (
    harness_and_mutant,
    load_references,
    run_roundtrip,
)

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]

_backends: dict[str, Backend] = {}


def backend_or_skip(lang: str) -> Backend:
    if lang == "jl":
        pytest.skip(JULIA_REASON)
    name = "docker" if lang in DOCKER_ONLY else "local"
    if name == "docker":
        why = docker_available()
        if why:
            pytest.skip(f"{DOCKER_ONLY[lang]}; {why}")
    if name not in _backends:
        _backends[name] = get_backend(name)
    b = _backends[name]
    status = b.doctor(lang)
    if not status.available:
        pytest.skip(f"{lang} not available on the {name} backend: {status.reason}")
    return b


@pytest.fixture(scope="module", autouse=True)
def _close_backends() -> Iterator[None]:
    yield
    for b in _backends.values():
        b.close()
    _backends.clear()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_roundtrip_corpus(lang: str) -> None:
    b = backend_or_skip(lang)
    res = run_roundtrip(b, lang)
    assert res.ok, "\n".join(res.failures)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_demo_harnesses_pass_and_mutants_fail(lang: str, demo_report: Path) -> None:
    from cruxforge.seed_report import typed_seeds

    b = backend_or_skip(lang)
    refs = load_references(DEMO_REFS / f"{lang}.jsonl")
    rules = rules_for(lang)
    programs, labels = [], []
    skipped = 0
    for seed in typed_seeds(demo_report):
        try:
            check_seed(rules, seed)
        except Unsupported as e:
            assert e.message, f"{seed.id}: skip without a reason"
            skipped += 1
            continue
        assert seed.id in refs, f"{lang}: no reference translation for {seed.id}"
        gold, mutant = harness_and_mutant(lang, seed, refs[seed.id])
        programs.append(gold)
        labels.append((seed.id, "gold"))
        if mutant is not None:
            programs.append(mutant)
            labels.append((seed.id, "mutant"))
    results = b.execute(programs)
    bad = []
    for (sid, kind), r in zip(labels, results):
        want = Verdict.passed if kind == "gold" else Verdict.wrong_answer
        if r.verdict is not want:
            bad.append(
                f"{sid} {kind}: {r.verdict.value} {r.cases[0].message if r.cases else ''} "
                f"{r.compile_output[-300:]}"
            )
    assert not bad, "\n".join(bad)
    assert programs, f"{lang}: every demo seed skipped"
    assert skipped <= 12, f"{lang}: {skipped} of the demo seeds skipped"


_SCALARS = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=12),
    st.booleans(),
)


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang not in ("jl",)])
def test_roundtrip_generated_values(lang: str) -> None:
    """hypothesis values of several types, in one program per language."""
    from cruxforge.typesys import type_of_value

    b = backend_or_skip(lang)
    rules = rules_for(lang)
    collected: list[tuple[object, object]] = []

    @settings(
        max_examples=40, suppress_health_check=list(HealthCheck), deadline=None, database=None
    )
    @given(
        st.one_of(
            st.lists(st.integers(min_value=-(2**31), max_value=2**31), max_size=5),
            st.lists(st.text(max_size=6), max_size=4),
            st.dictionaries(st.text(max_size=4), st.integers(-1000, 1000), max_size=3),
            st.tuples(st.integers(-99, 99), st.text(max_size=5)),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            _SCALARS,
        )
    )
    def gather(v: object) -> None:
        t = type_of_value(v)
        try:
            check_type(rules, t)
            render_literal(rules, v, t)
        except (Unsupported, ValueError):
            return
        collected.append((v, t))

    gather()
    res = run_roundtrip(b, lang, collected)  # type: ignore[arg-type]
    assert res.ok, "\n".join(res.failures[:10])


GO_COPY_OPTIONAL_KEYS = """func f(d map[*int64]int64) map[*int64]int64 {
	out := map[*int64]int64{}
	for k, v := range d {
		if k == nil {
			out[nil] = v
		} else {
			x := *k // a fresh pointer: equal keys at other addresses
			out[&x] = v
		}
	}
	return out
}"""


def test_go_compares_optional_keys_by_value(tmp_path: Path) -> None:
    """Go maps keyed by a pointer (an Optional key) are compared by the pointed-to value,
    not by address: a copy with fresh pointers passes, a changed value still fails."""
    from cruxforge.seeds.check import check_file

    b = backend_or_skip("go")
    seeds = tmp_path / "s.jsonl"
    seeds.write_text(
        json.dumps({"id": "optkey", "code": "def f(d):\n    return {k: v for k, v in d.items()}",
                    "input": "{None: 1, 2: 3}", "output": "{None: 1, 2: 3}"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    [c] = check_file(seeds)
    assert c.typed is not None and "Optional[int]" in c.typed.signature.params[0].type, c
    gold, mutant = harness_and_mutant("go", c.typed, GO_COPY_OPTIONAL_KEYS)
    assert mutant is not None
    g, m = b.execute([gold, mutant])
    assert g.verdict is Verdict.passed, (g.cases, g.compile_output)
    assert m.verdict is Verdict.wrong_answer, (m.cases, m.compile_output)
