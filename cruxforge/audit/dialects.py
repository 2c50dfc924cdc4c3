"""Which conventions an item is written in: ours, or a dialect of the rule file.

A typed language declares its function's parameter and result types; an item is read
in the first dialect (ours first) whose name for the function is in the code and whose
type names the declaration uses, so that our harness passes arguments and expected
values of the declared types (CRUXEval-X's Go `[]int`, not our `[]int64`) and calls the
function by its name there (C#'s `F`). Untyped languages, and items no dialect fits,
are read in ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cruxforge.models import TypedSeed
from cruxforge.typesys import Prim
from transition_rules.engine import Unsupported, dialect_entry, render_type, rules_for
from transition_rules.parsing import (
    FunctionNotFound,
    function_header,
    function_names,
    token_pattern,
)
from transition_rules.schema import RuleFile

OURS = "cruxforge"


@dataclass(frozen=True)
class Reading:
    dialect: str  # OURS or a dialect's name
    rules: RuleFile
    seed: TypedSeed  # the seed with the function's name in that dialect


def _flat(text: str) -> str:
    """Whitespace only where it separates words (``long long``), none around symbols."""
    text = re.sub(r"\s*([^\w\s])\s*", r"\1", re.sub(r"\s+", " ", text.strip()))
    return text.replace(",)", ")")


def declares(rules: RuleFile, seed: TypedSeed, header: str) -> bool:
    """Whether ``header`` names every parameter and result type as ``rules`` write them
    (each as a whole token: Go's ``[]int`` is not in ``[]int64``)."""
    flat = _flat(header)
    sig = seed.signature
    for t in [*sig.param_types(), sig.result_type()]:
        if not re.search(token_pattern(_flat(render_type(rules, t))), flat):
            return False
    return True


def read_dialect(lang: str, code: str, seed: TypedSeed, told: str | None = None) -> Reading:
    """The conventions ``code`` is written in for ``seed``: ``told`` where the language
    has that dialect, else detected; FunctionNotFound when no dialect's name for the
    function is in it."""
    base = rules_for(lang)
    names = function_names(lang, code)
    found: list[Reading] = []
    for d in [told] if told in base.dialects else [None, *base.dialects]:
        entry = dialect_entry(lang, d, seed.entry)
        if entry in names:
            seen = seed.model_copy(update={"entry": entry})
            found.append(Reading(d or OURS, rules_for(lang, d), seen))
    if not found:
        wanted = sorted({dialect_entry(lang, d, seed.entry) for d in [None, *base.dialects]})
        raise FunctionNotFound(
            f"no function named {' or '.join(map(repr, wanted))} in the {lang} source "
            f"(functions found: {sorted(names) or 'none'})"
        )
    if len(found) == 1 and (told in base.dialects or not base.dialects):
        return found[0]
    fits = []
    for r in found:
        header = function_header(lang, code, r.seed.entry)
        try:
            if declares(r.rules, r.seed, header):
                fits.append(r)
        except Unsupported:  # a type the dialect can't write: not this dialect
            continue
        detect = base.dialects[r.dialect].detect if r.dialect != OURS else None
        if detect and re.search(detect, header):  # marked as the dialect's (Swift's labels)
            return r
    if len(fits) > 1:  # the longer type names that fit (D's Nullable!(long[string]) holds
        # our long[string]); where they are alike (a union's interface{}), the body's names
        return max(fits, key=lambda r: (_declared_length(r), _own_names_used(r, fits, code)))
    return fits[0] if fits else found[0]


def _declared_length(r: Reading) -> int:
    sig = r.seed.signature
    return sum(len(_flat(render_type(r.rules, t))) for t in [*sig.param_types(), sig.result_type()])


_PRIMS = [Prim("int"), Prim("float"), Prim("str"), Prim("bool")]


def _own_names_used(r: Reading, readings: list[Reading], code: str) -> int:
    """How often ``code`` uses type names only ``r`` writes (Go's ``int`` against our
    ``int64``); max() keeps the first reading (ours) on a tie."""
    mine = {render_type(r.rules, t) for t in _PRIMS}
    others = {render_type(o.rules, t) for o in readings if o is not r for t in _PRIMS}
    used = 0
    for name in mine - others:
        text = code
        for longer in others:  # C++'s `long` is not counted inside our `long long`
            if name in longer:
                text = text.replace(longer, " ")
        used += len(re.findall(token_pattern(name), text))
    return used
