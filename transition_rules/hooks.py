"""Named hooks for what rule data can't say. A rule file lists the hooks it uses by name.

A hook takes the finished program text and returns it changed; the engine applies a
language's hooks, in order, to every harness and published item it renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Hook = Callable[[str], str]


def _strip_duplicate_imports(source: str) -> str:
    """Keep the first of identical top-level import/using/#include lines (prelude +
    translation); an indented one (``using X = ...`` in a function) is scoped: kept."""
    seen: set[str] = set()
    out = []
    pat = re.compile(r"^(import|using|#include|use|from)\b")
    for line in source.split("\n"):  # not splitlines(): U+2028 may sit in a literal
        key = line.strip()
        if pat.match(line) and key.endswith((";", ">", '"')) or key.startswith("#include"):
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return "\n".join(out)


_PHP_OPEN = re.compile(r"^[ \t]*<\?php\b[ \t]*\n?", re.M)
_PHP_CLOSE = re.compile(r"^[ \t]*\?>[ \t]*(\n|\Z)", re.M)


def _php_open_tag(source: str) -> str:
    """Exactly one ``<?php`` at the very top (a translation may bring its own, or none).

    PHP prints text outside ``<?php`` as is and exits 0, so a published item (function
    first, then harness) needs the tag at its start, and a second tag would be an error.
    """
    return "<?php\n" + _PHP_CLOSE.sub("", _PHP_OPEN.sub("", source))


def _perl_use_utf8(source: str) -> str:
    """``use utf8`` as the first line, so the function's string literals are characters too.

    In a published item the function comes before the harness: without this, its
    non-ASCII literals would be bytes while the harness's are characters.
    """
    return source if source.startswith("use utf8;") else "use utf8;\n" + source


HOOKS: dict[str, Hook] = {
    "dedupe_imports": _strip_duplicate_imports,
    "php_open_tag": _php_open_tag,
    "perl_use_utf8": _perl_use_utf8,
}


def apply(names: list[str], source: str) -> str:
    for n in names:
        source = HOOKS[n](source)
    return source


# Item hooks (a rule file's batch.item_hook): for a language whose namespaces can't hold a
# function as written, rewrite item k's function so that items can share one source.
# (function, entry, k) -> (function, entry)
ItemHook = Callable[[str, str, int], tuple[str, str]]

# names a Go translation must not get a fresh spelling for: the harness declares them at
# package level too (imports, prelude, main), so alone they clash; kept, they clash in the
# batch as well and the item is charged the compile error
_GO_KEEP = {"_", "main", "init", "fmt", "math", "os", "reflect", "sort", "strconv",
            "strings", "unicode", "utf8"}  # fmt: skip


def _go_rename(function: str, entry: str, k: int) -> tuple[str, str]:
    """Go has one namespace per package: give the function's top-level names a suffix.

    Every top-level function, type, var and const the translation declares (not methods,
    which belong to their type) becomes ``name_cruxK``; each ``identifier`` and
    ``type_identifier`` node spelling such a name is renamed (locals that shadow it too,
    consistently), never text in strings or comments, selectors (``x.name``) or package
    qualifiers. Names the harness itself declares at package level (``crux_*``, imports,
    ``main``) are left alone, so a clash stays a compile error as it is alone.
    """
    from tree_sitter import Node

    from transition_rules.parsing import parse, rename_identifiers

    root = parse("go", function)

    def spec_names(node: Node) -> list[Node]:
        out: list[Node] = []
        for c in node.named_children:
            if c.type in ("type_spec", "type_alias"):
                n = c.child_by_field_name("name")
                out += [n] if n is not None else []
            elif c.type in ("var_spec", "const_spec"):
                out += c.children_by_field_name("name")
            elif c.type in ("var_spec_list", "const_spec_list", "type_spec_list"):
                out += spec_names(c)
        return out

    names: set[str] = set()
    for top in root.named_children:
        found: list[Node] = []
        if top.type == "function_declaration":
            n = top.child_by_field_name("name")
            found = [n] if n is not None else []
        elif top.type in ("type_declaration", "var_declaration", "const_declaration"):
            found = spec_names(top)
        for n in found:
            text = (n.text or b"").decode("utf-8")
            if text and text not in _GO_KEEP and not text.startswith("crux_"):
                names.add(text)
    if not names:
        return function, entry
    suffix = f"_crux{k}"
    renamed = rename_identifiers("go", function, {n: n + suffix for n in names})
    return renamed, entry + suffix if entry in names else entry


ITEM_HOOKS: dict[str, ItemHook] = {
    "go_rename": _go_rename,
}
