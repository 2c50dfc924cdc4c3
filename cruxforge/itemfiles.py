"""Benchmark item files, read the one way: which language a file holds, and its records.

A benchmark (CRUXEval-X's folder, a cruxforge release, drafts) is a folder of
``<lang>.jsonl`` files, named by cruxforge id (``js.jsonl``) or by the language's
CRUXEval-X name (``JavaScript.jsonl``), at its top or under ``data/``. Readers decide what
a bad line means for them (an error, or a problem to report); this module only reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from runtimes.spec import LANGUAGES

T = TypeVar("T")

# files of a release that are not items
NOT_ITEMS = frozenset({"report.jsonl", "cases.jsonl", "typed_seeds.jsonl", "seeds.jsonl",
                       "attempts.jsonl", "drafts_problems.jsonl", "all.jsonl"})  # fmt: skip


@cache
def cruxeval_x_names() -> dict[str, str]:
    """CRUXEval-X file / split name (lower case) -> language id, from the rule files."""
    from transition_rules.engine import rules_for

    out = {}
    for lang in LANGUAGES:
        name = rules_for(lang).names.cruxeval_x
        if name:
            out[name.lower()] = lang
    return out


def lang_of_file(path: Path) -> str | None:
    """The language a file holds, from its name; None when the name says none."""
    stem = path.stem
    if stem in LANGUAGES:
        return stem
    return cruxeval_x_names().get(stem.lower())


def item_files(folder: Path, languages: list[str] | None = None) -> list[tuple[str, Path]]:
    """(language, file) of every item file in ``folder`` and ``folder/data``."""
    files = sorted(folder.glob("*.jsonl")) + sorted((folder / "data").glob("*.jsonl"))
    out = []
    for path in files:
        lang = lang_of_file(path)
        if path.name in NOT_ITEMS or lang is None or (languages and lang not in languages):
            continue
        out.append((lang, path))
    return out


def records(path: Path) -> Iterator[tuple[int, dict[str, Any] | ValueError]]:
    """(line number, the record or why the line is not one) of every non-blank line."""
    text = path.read_text(encoding="utf-8", errors="replace")
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as e:
            yield n, ValueError(f"not JSON ({e})")
            continue
        yield n, rec if isinstance(rec, dict) else ValueError("not a JSON object")


def seed_id_of(item_id: object, ids: dict[str, str] | None = None) -> str:
    """The seed an item id names: a cruxforge release says (``ids`` from its manifest);
    else CRUXEval-X's integer id N is seed ``sample_N``, and a string is the seed id."""
    if ids and str(item_id) in ids:
        return ids[str(item_id)]
    if isinstance(item_id, int) or (isinstance(item_id, str) and item_id.isdigit()):
        return f"sample_{int(item_id)}"
    return str(item_id)


def read_manifest(folder: Path) -> dict[str, Any]:
    """A cruxforge release's ``manifest.json``; empty for a folder without a readable one
    (a CRUXEval-X-format benchmark)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def release_ids(folder: Path) -> dict[str, str]:
    """A cruxforge release's item id -> seed id (its manifest's ``ids``); empty elsewhere."""
    ids = read_manifest(folder).get("ids")
    return {str(k): str(v) for k, v in ids.items()} if isinstance(ids, dict) else {}


def read_items(
    folder: Path,
    languages: list[str] | None,
    make: Callable[[str, int, dict[str, Any]], T],
    error: type[ValueError],
    what: str,
) -> dict[str, list[T]]:
    """Every item of ``folder``'s item files, by language: ``make(lang, line, record)``
    builds one; a bad line raises ``error`` naming the file and line."""
    out: dict[str, list[T]] = {}
    for lang, path in item_files(folder, languages):
        items = out.setdefault(lang, [])
        for n, rec in records(path):
            try:
                if isinstance(rec, ValueError):
                    raise rec
                items.append(make(lang, n, rec))
            except (ValueError, KeyError, TypeError) as e:
                raise error(f"{path}:{n}: not {what} ({type(e).__name__}: {e})") from None
    return out
