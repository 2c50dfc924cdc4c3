"""The execution benchmark's programs: demo items, their mutants and failing variants.

Per language: each demo seed's reference translation under its example and under its
agreement cases, each also with every expected value mutated (wrong answers); optionally
the first ``per_case`` agreement cases each as a program of its own (one test per
program, as CRUXEval-X items and evaluated predictions are), with their mutants; plus
failing variants spread through the set - an infinite loop, an output flood, a memory
bomb (the process is killed) and a syntax error - built from the language's conformance
snippets (runtimes/<lang>/conformance.toml). A failing statement block runs after the
item's first case, so the item has a verdict before it fails.
Used by benchmarks/execute.py and the batched engine's tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from cruxforge.models import TypedSeed
from runtimes.backend import ENTRY_TOKEN, Program, ProgramParts
from runtimes.conformance import load_snippets
from transition_rules.engine import (
    Case,
    Unsupported,
    check_seed,
    program_from_parts,
    render_body,
    rules_for,
    seed_case,
)
from transition_rules.proof import harness_and_mutant

FAILING = ("loop", "flood", "memory", "syntax")


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + ln if ln else ln for ln in text.strip("\n").split("\n"))


def failing_variant(
    lang: str, seed: TypedSeed, function: str, cases: list[Case], kind: str, program_id: str
) -> Program:
    """The item with ``kind`` (one of FAILING) built in after its first case."""
    rules = rules_for(lang)
    snippets = load_snippets(lang)
    first = render_body(rules, seed, cases[:1], ENTRY_TOKEN)
    rest = render_body(rules, seed, cases[1:], ENTRY_TOKEN, first=1) if len(cases) > 1 else ""
    if kind == "syntax":
        function = function.rstrip("\n") + "\n" + snippets.syntax_error.strip("\n") + "\n"
        body = "\n".join(x for x in (first, rest) if x)
    elif kind in ("loop", "flood", "memory"):
        block = _indent(getattr(snippets, kind), rules.harness.indent)
        body = "\n".join(x for x in (first, block, rest) if x)
    else:
        raise ValueError(f"unknown failing variant {kind!r}; known: {', '.join(FAILING)}")
    parts = ProgramParts(function=function, body=body, entry=seed.entry)
    return program_from_parts(
        rules,
        parts,
        program_id=program_id,
        n_cases=len(cases),
        expected=None,
    )


def program_set(
    lang: str,
    seeds: Sequence[TypedSeed],
    references: dict[str, str],
    cases: dict[str, list[Case]] | None = None,
    *,
    failing_each: int = 2,
    per_case: int = 0,
) -> list[Program]:
    """The benchmark's programs for ``lang``, failing variants spread through the set."""
    rules = rules_for(lang)
    plain: list[Program] = []
    usable: list[tuple[TypedSeed, str, list[Case]]] = []
    for seed in seeds:
        fn = references.get(seed.id)
        if fn is None:
            continue
        example = [seed_case(seed)]
        agree = (cases or {}).get(seed.id) or example
        try:
            check_seed(rules, seed, agree)
        except Unsupported:
            continue
        usable.append((seed, fn, agree))
        singles = [(f"case{j}", [c]) for j, c in enumerate(agree[:per_case])]
        for name, cs in [("example", example), ("agreement", agree), *singles]:
            gold, mutant = harness_and_mutant(lang, seed, fn, cs)
            plain.append(gold.model_copy(update={"id": f"{seed.id}:{name}"}))
            if mutant is not None:
                plain.append(mutant.model_copy(update={"id": f"{seed.id}:{name}:mutant"}))
    failing: list[Program] = []
    for j in range(failing_each):
        for i, kind in enumerate(FAILING):
            if not usable:
                break
            seed, fn, agree = usable[(3 + 5 * (j * len(FAILING) + i)) % len(usable)]
            failing.append(failing_variant(lang, seed, fn, agree, kind, f"{seed.id}:{kind}{j}"))
    # spread the failing variants evenly, never first or last
    out = list(plain)
    step = max(1, len(out) // (len(failing) + 1))
    for k, p in enumerate(failing):
        out.insert(min(len(out) - 1, (k + 1) * step + k), p)
    return out
