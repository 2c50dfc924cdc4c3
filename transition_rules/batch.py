"""Many harness programs of one language as one source: the batched engine's composer.

Each item keeps its function and cases in its own namespace (the language's ``[batch]``
rules say how); a dispatcher runs the items from a start index given on the command line,
writing ``ITEM k`` before each. The composer also says which lines hold which item, so a
compile error can be charged to the item that caused it.
"""

from __future__ import annotations

import re

from runtimes.backend import ENTRY_TOKEN, Program, ProgramParts
from runtimes.batched import BatchSettings, ComposedBatch, register_composer
from transition_rules import hooks
from transition_rules.engine import hoist_lines
from transition_rules.parsing import rename_identifiers, syntax_errors
from transition_rules.schema import RuleFile


def published_parts(rules: RuleFile, code: str) -> ProgramParts | None:
    """A whole published program as one batch item, where the language's
    ``[batch.published]`` says how (None: it runs as its own program)."""
    recipe = rules.batch.published if rules.batch is not None else None
    if recipe is None:
        return None
    entry = ""
    if recipe.entry is not None:
        m = re.search(recipe.entry, code, re.M)
        named = [g for g in m.groups() if g] if m is not None else []
        if not named:
            return None
        entry = named[0]  # the first group that matched (alternatives in order of choice)
    return ProgramParts(
        function=code, body=recipe.body.format(entry=ENTRY_TOKEN), entry=entry, whole=True
    )


def _why_whole_alone(rules: RuleFile, parts: ProgramParts) -> str | None:
    b = rules.batch
    recipe = b.published if b is not None else None
    if b is None or recipe is None:
        return f"no [batch.published] rules for {rules.lang}"
    if ENTRY_TOKEN in parts.function:
        return "the program holds the entry token"
    if recipe.refuse and re.search(recipe.refuse, parts.function, re.M):
        return "the program matches the language's batch.published.refuse pattern"
    if recipe.batch_refuse and b.refuse and re.search(b.refuse, parts.function, re.M):
        return "the program matches the language's batch.refuse pattern"
    if recipe.screen and syntax_errors(rules.lang, parts.function):
        return "syntax error seen before compiling"
    if recipe.program_hook:
        return hooks.PROGRAM_HOOKS[recipe.program_hook](parts.function)[1]
    return None


def why_alone(rules: RuleFile, parts: ProgramParts | None) -> str | None:
    """Why a program can't share a source with others (None: it can)."""
    if parts is None:
        return "the program was not rendered from parts"
    if parts.whole:
        return _why_whole_alone(rules, parts)
    if rules.batch is None:
        return f"no [batch] rules for {rules.lang}"
    if ENTRY_TOKEN in parts.function or ENTRY_TOKEN not in parts.body:
        return "the entry token can't be placed unambiguously"
    if rules.batch.refuse and re.search(rules.batch.refuse, parts.function, re.M):
        return "the function matches the language's batch.refuse pattern"
    return None


def _prefix(text: str, prefix: str) -> str:
    if not prefix:
        return text
    # split on "\n" only: str.splitlines() would also cut at U+2028 inside a literal
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def compose(rules: RuleFile, parts: list[ProgramParts]) -> ComposedBatch:
    """One source running every item of ``parts`` (in order, item k = parts[k])."""
    b = rules.batch
    if b is None:
        raise ValueError(f"no [batch] rules for {rules.lang}")
    hoisted: list[str] = []
    items: list[str] = []
    for k, p in enumerate(parts):
        function, entry = p.function, p.entry
        whole = b.published if p.whole else None  # the recipe for a whole program
        if b.item_hook and whole is None:
            function, entry = hooks.ITEM_HOOKS[b.item_hook](function, entry, k)
        if whole is not None:
            if whole.program_hook:
                function = hooks.PROGRAM_HOOKS[whole.program_hook](function)[0]
            function = rename_identifiers(rules.lang, function, whole.rename)
            entry = whole.rename.get(entry, entry)
            if whole.item_hook:
                function, entry = hooks.ITEM_HOOKS[whole.item_hook](function, entry, k)
        # the harness's own hoist too: a function carries its file's imports alike in a
        # program of its own and in a batch
        for pattern in (whole.hoist if whole else None, b.hoist, rules.harness.hoist):
            function = hoist_lines(pattern, function, hoisted)
        if whole is not None:
            for pattern, replacement in whole.replace:
                function = re.sub(pattern, replacement, function, flags=re.M)
            program = _prefix(function, whole.wrap_indent)
            function = whole.wrap.format(program=program, entry=entry)
        items.append(
            (whole.item if whole and whole.item else b.item).format(
                k=k,
                function=_prefix(function, b.function_indent),
                body=_prefix(p.body.replace(ENTRY_TOKEN, entry), b.body_indent),
                entry=entry,
            )
        )
    dispatch = b.dispatch_sep.join(b.dispatch.format(k=k) for k in range(len(parts)))
    source = b.program.format(
        prelude=rules.prelude,
        hoisted="\n".join(hoisted),
        items="\n\n".join(items),
        dispatch=dispatch,
        n=len(parts),
    )
    source = hooks.apply(rules.hooks, source)
    lines = source.split("\n")
    ranges: dict[int, tuple[int, int]] = {}
    at = 0
    for k, text in enumerate(items):
        mark = re.compile(rf"\bcrux_item_{k}\b")
        while at < len(lines) and not mark.search(lines[at]):
            at += 1
        if at == len(lines):
            raise ValueError(f"{rules.lang} batch.item must name crux_item_{{k}} on its first line")
        ranges[k] = (at + 1, at + text.count("\n") + 1)
        at += 1
    # an item ends where the next begins, whatever a hook removed inside it
    keys = sorted(ranges)
    for a, b2 in zip(keys, keys[1:]):
        first, last = ranges[a]
        ranges[a] = (first, min(last, ranges[b2][0] - 1))
    return ComposedBatch(source=source, lines=ranges)


class RulesComposer:
    """The batched engine's composer (runtimes.batched.Composer) from the rule files."""

    def settings(self, lang: str) -> BatchSettings | None:
        from transition_rules.engine import rules_for

        b = rules_for(lang).batch
        return None if b is None else BatchSettings(b.max_items, b.rerun_in_process)

    def why_alone(self, program: Program) -> str | None:
        from transition_rules.engine import rules_for

        return why_alone(rules_for(program.lang), program.parts)

    def compose(self, lang: str, parts: list[ProgramParts]) -> ComposedBatch:
        from transition_rules.engine import rules_for

        return compose(rules_for(lang), parts)

    def has_syntax_error(self, lang: str, function: str) -> bool:
        from transition_rules.parsing import syntax_errors

        return bool(syntax_errors(lang, function))


register_composer(RulesComposer())
