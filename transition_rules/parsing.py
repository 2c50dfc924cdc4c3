"""Finding and cutting functions in source text with tree-sitter (data in parsing.toml).

Used to take a benchmark's translated function out of its harness (the reference
translator, ``cruxforge audit``) and, later, to check an LLM's answer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter_language_pack as tslp
from pydantic import BaseModel, ConfigDict
from tree_sitter import Node, Query, QueryCursor

PARSING_FILE = Path(__file__).resolve().parent / "parsing.toml"


class ParseRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grammar: str
    query: str
    scope: str = "prefix"  # "prefix" | "definition"
    drop: list[str] = []
    open_tag: str = ""


class FunctionNotFound(LookupError):
    pass


@cache
def parse_rules() -> dict[str, ParseRules]:
    data = tomllib.loads(PARSING_FILE.read_text(encoding="utf-8"))
    return {lang: ParseRules.model_validate(v) for lang, v in data.items()}


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


def text_after_function(lang: str, source: str, entry: str) -> str:
    """The source besides the function ``entry`` and what comes before it: the harness, if any."""
    found = [f for f in find_functions(lang, source) if f.name == entry]
    if not found:
        raise FunctionNotFound(f"no function named {entry!r} in the {lang} source")
    node = found[0].node
    data = tagged(lang, source)[0].encode("utf-8")
    if parse_rules()[lang].scope == "definition":  # the harness may wrap it (a class)
        return (data[: node.start_byte] + data[node.end_byte :]).decode("utf-8").strip()
    while node.parent is not None and node.parent.parent is not None:
        node = node.parent
    return data[node.end_byte :].decode("utf-8").strip()
