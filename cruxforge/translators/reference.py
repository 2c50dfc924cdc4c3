"""The ``reference`` translator: functions taken from an existing benchmark.

A benchmark is a folder of CRUXEval-X-format ``<lang>.jsonl`` files (``id``, ``code``
= function + harness). The function is cut from its harness with tree-sitter. The
project's demo references (``seeds/demo_reference/<lang>.jsonl``, function only) are
read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cruxforge.itemfiles import read_items, release_ids, seed_id_of
from cruxforge.models import TypedSeed
from cruxforge.translators import TranslationUnavailable, Translator, register_translator
from transition_rules.parsing import FunctionNotFound, cut_function


@dataclass(frozen=True)
class BenchmarkItem:
    id: object  # as written in the file
    seed_id: str
    lang: str
    code: str
    line: int


class BenchmarkError(ValueError):
    pass


def read_benchmark(
    folder: Path, languages: list[str] | None = None
) -> dict[str, list[BenchmarkItem]]:
    """Every item file in ``folder``; a bad line is an error naming file and line."""
    if not folder.is_dir():
        raise BenchmarkError(f"benchmark folder not found: {folder}")
    ids = release_ids(folder)
    return read_items(
        folder,
        languages,
        lambda lang, n, rec: BenchmarkItem(
            rec["id"], seed_id_of(rec["id"], ids), lang, rec["code"], n
        ),
        BenchmarkError,
        "a benchmark item",
    )


@register_translator
class ReferenceTranslator(Translator):
    """Answers from a benchmark folder (function cut from each item's code)."""

    name = "reference"

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._items = {
            (it.seed_id, lang): it
            for lang, items in read_benchmark(self.folder).items()
            for it in items
        }

    def translate(self, seed: TypedSeed, lang: str, stub: str) -> str:
        item = self._items.get((seed.id, lang))
        if item is None:
            raise TranslationUnavailable(f"{self.folder}: no {lang} item for seed {seed.id}")
        try:
            return cut_function(lang, item.code, seed.entry)
        except FunctionNotFound as e:
            raise TranslationUnavailable(f"{self.folder}/{lang}.jsonl:{item.line}: {e}") from None
