"""Named hooks for what rule data can't say. A rule file lists the hooks it uses by name.

A hook takes the finished program text and returns it changed; the engine applies a
language's hooks, in order, to every harness and published item it renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Hook = Callable[[str], str]


def _strip_duplicate_imports(source: str) -> str:
    """Keep the first of identical import/using/#include lines (prelude + translation)."""
    seen: set[str] = set()
    out = []
    pat = re.compile(r"^\s*(import|using|#include|use|from)\b")
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
ITEM_HOOKS: dict[str, ItemHook] = {}
