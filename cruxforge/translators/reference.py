"""The ``reference`` translator: functions taken from an existing benchmark.

A benchmark is a folder of CRUXEval-X-format ``<lang>.jsonl`` files (``id``, ``code``
= function + harness). The function is cut from its harness with tree-sitter. The
project's demo references (``seeds/demo_reference/<lang>.jsonl``, function only) are
read the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cruxforge.models import TypedSeed
from cruxforge.translators import TranslationUnavailable, Translator, register_translator
from runtimes.spec import LANGUAGES
from transition_rules.parsing import FunctionNotFound, cut_function

# CRUXEval-X names its files/splits by language name; cruxforge uses short ids.
CRUXEVAL_X_NAMES = {
    "Cpp": "cpp", "CS": "cs", "D": "d", "Go": "go", "Java": "java", "Julia": "jl",
    "JavaScript": "js", "Lua": "lua", "PHP": "php", "Perl": "pl", "Python": "py", "R": "r",
    "Ruby": "rb", "Racket": "rkt", "Rust": "rs", "Scala": "scala", "Shell": "sh",
    "Swift": "swift", "TypeScript": "ts",
}  # fmt: skip


def lang_of_file(path: Path) -> str | None:
    stem = path.stem
    if stem in LANGUAGES:
        return stem
    return CRUXEVAL_X_NAMES.get(stem) or {k.lower(): v for k, v in CRUXEVAL_X_NAMES.items()}.get(
        stem.lower()
    )


def seed_id_of(item_id: object) -> str:
    """CRUXEval-X's integer id N is seed ``sample_N``; string ids are seed ids as they are."""
    if isinstance(item_id, int) or (isinstance(item_id, str) and item_id.isdigit()):
        return f"sample_{int(item_id)}"
    return str(item_id)


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
    """Every ``<lang>.jsonl`` in ``folder``; a bad line is an error naming file and line."""
    if not folder.is_dir():
        raise BenchmarkError(f"benchmark folder not found: {folder}")
    out: dict[str, list[BenchmarkItem]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        lang = lang_of_file(path)
        if lang is None or (languages and lang not in languages):
            continue
        items = out.setdefault(lang, [])
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                items.append(BenchmarkItem(rec["id"], seed_id_of(rec["id"]), lang, rec["code"], n))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise BenchmarkError(
                    f"{path}:{n}: not a benchmark item ({type(e).__name__}: {e})"
                ) from None
    return out


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
