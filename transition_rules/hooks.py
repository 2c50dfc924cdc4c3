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


def _go_top_names(code: str) -> set[str]:
    """The names Go code declares at package level: functions, types, vars, consts."""
    from tree_sitter import Node

    from transition_rules.parsing import parse

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
    for top in parse("go", code).named_children:
        found: list[Node] = []
        if top.type == "function_declaration":
            n = top.child_by_field_name("name")
            found = [n] if n is not None else []
        elif top.type in ("type_declaration", "var_declaration", "const_declaration"):
            found = spec_names(top)
        names.update(t for n in found if (t := (n.text or b"").decode("utf-8")))
    return names


def _go_rename(function: str, entry: str, k: int) -> tuple[str, str]:
    """Go has one namespace per package: give the function's top-level names a suffix.

    Every top-level function, type, var and const the translation declares (not methods,
    which belong to their type) becomes ``name_cruxK``; each ``identifier`` and
    ``type_identifier`` node spelling such a name is renamed (locals that shadow it too,
    consistently), never text in strings or comments, selectors (``x.name``) or package
    qualifiers. Names the harness itself declares at package level (``crux_*``, imports,
    ``main``) are left alone, so a clash stays a compile error as it is alone.
    """
    from transition_rules.parsing import rename_identifiers

    names = {n for n in _go_top_names(function) if n not in _GO_KEEP and not n.startswith("crux_")}
    if not names:
        return function, entry
    suffix = f"_crux{k}"
    renamed = rename_identifiers("go", function, {n: n + suffix for n in names})
    return renamed, entry + suffix if entry in names else entry


ITEM_HOOKS: dict[str, ItemHook] = {
    "go_rename": _go_rename,
}


# Program hooks (a rule file's batch.published.program_hook): for a whole published
# program whose batch form data can't say. (program) -> (program as the batch holds it,
# why it must run alone instead or None)
ProgramHook = Callable[[str], tuple[str, str | None]]


def _go_batch_imports() -> dict[str, str]:
    """The Go batch program's own imports: package name -> path (aliased ones too)."""
    from transition_rules.engine import rules_for

    b = rules_for("go").batch
    block = re.search(r"^import \((.*?)^\)", b.program if b else "", re.M | re.S)
    out: dict[str, str] = {}
    for m in re.finditer(r'^\s*(\w+\s+)?"([^"]+)"\s*$', block.group(1) if block else "", re.M):
        out[(m.group(1) or m.group(2).rsplit("/", 1)[-1]).strip()] = m.group(2)
    return out


def _go_published(program: str) -> tuple[str, str | None]:
    """A whole Go program (``package main``, its imports, its ``main``) as a batch item.

    The batch is one package with one import block, so the program's package clause and
    imports go; it keeps its verdict only if they would compile the same way alone: every
    package it imports is one the batch imports, unaliased, and it uses exactly the
    packages it imports (alone, an unused import and an undeclared package are both
    compile errors the batch would not see). A program that spells a package name as
    anything but a package qualifier (a variable ``fmt``) runs alone as well. Helpers the
    program declares under our ``crux_`` names (a published item's exact equality) are
    its own: renamed ``pub_crux_...``, so the item hook gives them the item's suffix; a
    ``crux_`` name it uses without declaring would be the batch's: it runs alone.
    """
    from transition_rules.parsing import identifiers, parse, rename_identifiers

    own = {n: "pub_" + n for n in _go_top_names(program) if n.startswith("crux_")}
    program = rename_identifiers("go", program, own)
    if any(n.startswith("crux_") for n in identifiers("go", program)):
        return program, "uses a crux_ name it does not declare (the batch's own)"
    batch = _go_batch_imports()
    names = {n for n in batch if not n.startswith("crux_")}
    root = parse("go", program)
    imported: set[str] = set()
    cut: list[tuple[int, int]] = []
    for top in root.named_children:
        if top.type == "package_clause":
            pkg = next((c for c in top.named_children if c.type == "package_identifier"), None)
            if pkg is None or pkg.text != b"main":
                return program, "not package main"
            cut.append((top.start_byte, top.end_byte))
        elif top.type == "import_declaration":
            specs = [s for c in top.named_children
                     for s in ([c] if c.type == "import_spec" else c.named_children)
                     if s.type == "import_spec"]  # fmt: skip
            for s in specs:
                path_node = s.child_by_field_name("path")
                path = (path_node.text or b"").decode("utf-8").strip('"`') if path_node else ""
                if s.child_by_field_name("name") is not None:
                    return program, f"imports {path!r} under another name"
                name = path.rsplit("/", 1)[-1]
                if batch.get(name) != path:
                    return program, f"imports {path!r}, which the batch does not"
                imported.add(name)
            cut.append((top.start_byte, top.end_byte))
    used: set[str] = set()
    outside = ("package_clause", "import_declaration")
    stack = [n for n in root.named_children if n.type not in outside]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "package_identifier", "type_identifier"):
            text = (node.text or b"").decode("utf-8")
            if text in names:
                parent = node.parent
                qualifier = parent is not None and (
                    parent.type == "selector_expression"
                    and parent.child_by_field_name("operand") == node
                    or parent.type == "qualified_type"
                    and parent.child_by_field_name("package") == node
                )
                if not qualifier:
                    return program, f"spells the package name {text!r} as an identifier"
                used.add(text)
            continue
        stack.extend(node.children)
    if used != imported:
        return program, (
            f"imports {sorted(imported - used)} without using them"
            if imported - used
            else f"uses {sorted(used - imported)} without importing them"
        )
    data = program.encode("utf-8")
    for start, end in sorted(cut, reverse=True):
        data = data[:start] + data[end:]
    return data.decode("utf-8"), None


# top-level PHP nodes that declare (alone, functions and classes are declared before the
# first statement runs; a namespace block does the same) and may not stand in a function
_PHP_DECLARATIONS = frozenset({
    "function_definition", "class_declaration", "interface_declaration",
    "trait_declaration", "enum_declaration", "const_declaration", "comment",
})  # fmt: skip


def _php_published(program: str) -> tuple[str, str | None]:
    """A whole PHP script as a batch item: its declarations stay at the item namespace's
    top level, its statements become the body of ``crux_main()``, which the item calls.

    In a batch every item's top level runs when the file loads, so the statements can't
    stay there. Their variables become the function's locals, as only the statements
    see them (``global`` and ``$GLOBALS``, which would tell, run alone by the batch's
    refuse pattern). Text outside ``<?php`` (printed alone) runs alone. The functions
    it declares under our ``crux_`` names (a published item's exact equality) are
    renamed ``pub_crux_...``: the batch declares its own globally, and a namespace's
    function may not shadow one (``crux_batch_clash``); a ``crux_`` name it uses without
    declaring would be the batch's, so it runs alone. PHP's names are case-insensitive.
    """
    from transition_rules.parsing import parse, tagged

    source = tagged("php", program)[0]
    data = source.encode("utf-8")
    root = parse("php", source)
    crux: list[int] = []  # where a crux_ name starts
    used: set[str] = set()
    declared: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "name" and (node.parent is None or node.parent.type != "variable_name"):
            text = (node.text or b"").decode("utf-8").lower()
            if text.startswith("crux_"):
                crux.append(node.start_byte)
                used.add(text)
                if node.parent is not None and node.parent.type == "function_definition":
                    declared.add(text)
            continue
        stack.extend(node.children)
    if undeclared := sorted(used - declared):
        return program, f"uses {undeclared[0]!r}, a crux_ name it does not declare (the batch's)"

    def renamed(start: int, end: int) -> str:
        out, at = b"", start
        for off in sorted(o for o in crux if start <= o < end):
            out, at = out + data[at:off] + b"pub_", off
        return (out + data[at:end]).decode("utf-8")

    declarations: list[str] = []
    statements: list[str] = []
    for top in root.children:
        if top.type == "php_tag":
            continue
        if top.type in ("text", "text_interpolation"):
            return program, "has text outside <?php (PHP prints it)"
        text = renamed(top.start_byte, top.end_byte)
        (declarations if top.type in _PHP_DECLARATIONS else statements).append(text)
    return "\n".join([*declarations, "function crux_main() {", *statements, "}"]), None


def _cpp_published(program: str) -> tuple[str, str | None]:
    """A whole C++ program keeps its verdict in a batch only where its ``main`` returns
    nothing but 0: the batch calls it as a function, whose value it can't read (a
    ``main`` that falls off its end returns 0 alone, but no value as a function)."""
    from transition_rules.parsing import parse

    for node in parse("cpp", program).named_children:
        if node.type != "function_definition":
            continue
        declarator = node.child_by_field_name("declarator")
        name = declarator.child_by_field_name("declarator") if declarator else None
        if name is None or name.text != b"main":
            continue
        inside = [node.child_by_field_name("body")]
        while inside:
            n = inside.pop()
            if n is None or n.type == "lambda_expression":
                continue  # a lambda's return is its own
            if n.type == "return_statement":
                value = [c for c in n.named_children if c.type != "comment"]
                if value and (value[0].text or b"").strip() != b"0":
                    return program, "main returns a status other than 0"
            inside.extend(n.named_children)
    return program, None


PROGRAM_HOOKS: dict[str, ProgramHook] = {
    "cpp_published": _cpp_published,
    "go_published": _go_published,
    "php_published": _php_published,
}
