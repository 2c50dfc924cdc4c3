"""Finding and cutting functions in source text with tree-sitter.

Used to take a benchmark's translated function out of its harness (the reference
translator, ``cruxforge audit``, ``--drafts``) and to check an LLM's answer. The data is
one file per language, ``transition_rules/parsing_rules/<lang>.toml``
(tree-sitter-language-pack 0.13.0 grammars, which work offline):

- ``grammar``: the pack's grammar name;
- ``query``: a tree-sitter query capturing the definition as ``@def`` and its name as
  ``@name``;
- ``scope``: "prefix", a cut function keeps the top-level declarations before it
  (imports, helpers); "definition", only the definition itself (methods that live inside
  a class in the published harness);
- ``drop``: top-level node types never kept in a prefix (the harness brings them);
- ``carry``: with scope "definition", top-level node types of the file that a function
  needs beside it (imports: Scala's ``scala.collection.mutable._``, Java's ``java.math``),
  given by ``carried_imports`` for a harness to put where the language allows them;
- ``open_tag``: text a source must start with to parse as code (PHP's ``<?php``): source
  without it (a function alone, CRUXEval-X's PHP items) is parsed as if it had it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter_language_pack as tslp
from pydantic import BaseModel, ConfigDict, ValidationError
from tree_sitter import Node, Query, QueryCursor

PARSING_DIR = Path(__file__).resolve().parent / "parsing_rules"


class ParseRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grammar: str
    query: str
    scope: str = "prefix"  # "prefix" | "definition"
    drop: list[str] = []
    carry: list[str] = []
    open_tag: str = ""


class FunctionNotFound(LookupError):
    pass


class ParseRulesError(ValueError):
    """A language's parsing rules are missing or invalid; names the file."""


@cache
def parse_rules() -> dict[str, ParseRules]:
    out: dict[str, ParseRules] = {}
    for path in sorted(PARSING_DIR.glob("*.toml")):
        try:
            out[path.stem] = ParseRules.model_validate(
                tomllib.loads(path.read_text(encoding="utf-8"))
            )
        except (tomllib.TOMLDecodeError, ValidationError) as e:
            raise ParseRulesError(f"{path}: {e}") from None
    return out


@cache
def _query(lang: str) -> Query:
    pr = parse_rules()[lang]
    return Query(tslp.get_language(pr.grammar), pr.query)  # type: ignore[arg-type]


def tagged(lang: str, source: str) -> tuple[str, int]:
    """The source as the grammar wants it, and how many bytes were put in front."""
    tag = parse_rules()[lang].open_tag
    if tag and tag.strip() not in source:
        return tag + source, len(tag.encode("utf-8"))
    return source, 0


def parse(lang: str, source: str) -> Node:
    pr = parse_rules()[lang]
    parser = tslp.get_parser(pr.grammar)  # type: ignore[arg-type]
    return parser.parse(tagged(lang, source)[0].encode("utf-8")).root_node


@dataclass(frozen=True)
class FoundFunction:
    name: str
    node: Node


def find_functions(lang: str, source: str) -> list[FoundFunction]:
    root = parse(lang, source)
    out = []
    for _, caps in QueryCursor(_query(lang)).matches(root):
        (d,) = caps["def"]
        (n,) = caps["name"]
        out.append(FoundFunction((n.text or b"").decode(), d))
    out.sort(key=lambda f: f.node.start_byte)
    return out


def syntax_errors(lang: str, source: str) -> list[str]:
    """Line-numbered descriptions of tree-sitter error / missing nodes (empty if clean)."""
    root = parse(lang, source)
    errs: list[str] = []

    def visit(n: Node) -> None:
        if len(errs) >= 5:
            return
        # a leaf that holds an error is a missing token under a hidden rule (Scala's
        # `val x = }` gives an identifier whose only, hidden, child is MISSING)
        if n.is_error or n.is_missing or (n.has_error and n.child_count == 0):
            kind = "missing " + n.type if not n.is_error else "unexpected text"
            errs.append(f"line {n.start_point[0] + 1}: {kind}")
            return
        if n.has_error:
            for c in n.children:
                visit(c)

    visit(root)
    return errs


def cut_function(lang: str, source: str, entry: str) -> str:
    """The function ``entry`` as written in ``source``, without the harness after it.

    With scope "prefix", top-level declarations before it (imports, helper functions)
    come along, minus the node types the harness itself provides (``drop``).
    """
    pr = parse_rules()[lang]
    found = [f for f in find_functions(lang, source) if f.name == entry]
    if not found:
        names = sorted({f.name for f in find_functions(lang, source)})
        raise FunctionNotFound(
            f"no function named {entry!r} in the {lang} source (functions found: {names or 'none'})"
        )
    target = found[0].node
    data = tagged(lang, source)[0].encode("utf-8")
    if pr.scope == "definition":
        return data[target.start_byte : target.end_byte].decode("utf-8")
    root = target
    while root.parent is not None and root.parent.parent is not None:
        root = root.parent
    pieces = []
    for child in root.parent.children if root.parent is not None else [root]:
        if child.start_byte > root.start_byte:
            break
        if child.type in pr.drop:
            continue
        pieces.append(data[child.start_byte : child.end_byte].decode("utf-8"))
    return "\n".join(pieces)


def carried_imports(lang: str, source: str) -> str:
    """The file's top-level nodes of the ``carry`` types (its imports), one per line: what
    a function cut with scope "definition" loses with the file around it."""
    pr = parse_rules()[lang]
    if not pr.carry:
        return ""
    data = tagged(lang, source)[0].encode("utf-8")
    root = parse(lang, source)
    return "\n".join(data[c.start_byte : c.end_byte].decode("utf-8")
                     for c in root.children if c.type in pr.carry)  # fmt: skip


def _definition(lang: str, source: str, entry: str) -> tuple[Node, bytes, int]:
    """The function ``entry``'s node (its top-level node with scope "prefix"), the
    tagged source's bytes and how many of them the tag put in front."""
    found = [f for f in find_functions(lang, source) if f.name == entry]
    if not found:
        raise FunctionNotFound(f"no function named {entry!r} in the {lang} source")
    node = found[0].node
    text, tag = tagged(lang, source)
    if parse_rules()[lang].scope != "definition":
        while node.parent is not None and node.parent.parent is not None:
            node = node.parent
    return node, text.encode("utf-8"), tag


def text_after_function(lang: str, source: str, entry: str) -> str:
    """The source besides the function ``entry`` and what comes before it: the harness, if any."""
    node, data, _ = _definition(lang, source, entry)
    if parse_rules()[lang].scope == "definition":  # the harness may wrap it (a class)
        return (data[: node.start_byte] + data[node.end_byte :]).decode("utf-8").strip()
    return data[node.end_byte :].decode("utf-8").strip()


def function_end(lang: str, source: str, entry: str) -> int:
    """The offset in ``source`` (characters) just after the function ``entry``: where
    the harness begins (for a planted change of the published test, not the function)."""
    node, data, tag = _definition(lang, source, entry)
    return len(data[tag : node.end_byte].decode("utf-8", errors="replace"))


def function_names(lang: str, source: str) -> set[str]:
    return {f.name for f in find_functions(lang, source)}


def function_header(lang: str, source: str, entry: str) -> str:
    """The function ``entry``'s definition up to its body: where a typed language
    declares its parameters' and result's types."""
    found = [f for f in find_functions(lang, source) if f.name == entry]
    if not found:
        raise FunctionNotFound(f"no function named {entry!r} in the {lang} source")
    text = (found[0].node.text or b"").decode("utf-8", errors="replace")
    at = text.find("{\n")
    return text[:at] if at >= 0 else text.split("\n", 1)[0]


def token_pattern(text: str) -> str:
    """A regex for ``text`` standing as a whole token: not inside a longer identifier or
    number where it begins or ends with one (Go's ``[]int`` is not in ``[]int64``)."""
    head = r"(?<![\w.])" if re.match(r"[\w.]", text) else ""
    tail = r"(?![\w.])" if re.search(r"[\w.]$", text) else ""
    return head + re.escape(text) + tail


def identifiers(lang: str, code: str) -> set[str]:
    """Every identifier (and type identifier) ``code`` spells, outside strings and comments."""
    found: set[str] = set()
    stack = [parse(lang, code)]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "type_identifier"):
            found.add((node.text or b"").decode("utf-8"))
            continue
        stack.extend(node.children)
    return found


def rename_identifiers(lang: str, code: str, names: dict[str, str]) -> str:
    """``code`` with every identifier (and type identifier) that spells a key of
    ``names`` spelled as its value; strings and comments are left as they are."""
    if not names:
        return code
    data = code.encode("utf-8")
    spans: list[tuple[int, int, bytes]] = []
    stack = [parse(lang, code)]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "type_identifier"):
            new = names.get((node.text or b"").decode("utf-8"))
            if new is not None:
                spans.append((node.start_byte, node.end_byte, new.encode("utf-8")))
            continue
        stack.extend(node.children)
    for start, end, new_b in sorted(spans, reverse=True):
        data = data[:start] + new_b + data[end:]
    return data.decode("utf-8")
