"""Reading a benchmark to audit: every line becomes an item or a record of why not.

Unlike the reference translator (which stops at a bad line), an audit reads on: a
malformed line, a repeated id or a file named for no known language each get a skipped
record with a reason, and the rest of the benchmark is audited. Only a folder that
can't be read at all is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cruxforge.audit.records import SKIP_CODES, AuditRecord
from cruxforge.itemfiles import NOT_ITEMS, lang_of_file, records, release_ids, seed_id_of
from cruxforge.translators.reference import BenchmarkError, BenchmarkItem

# what an audit writes into its own output folder (never read back as items)
OUTPUTS = frozenset({"audit.jsonl"})


@dataclass
class AuditInput:
    items: dict[str, list[BenchmarkItem]] = field(default_factory=dict)
    problems: list[AuditRecord] = field(default_factory=list)  # already settled
    files: dict[str, str] = field(default_factory=dict)  # language -> its item file's name


def _skip(lang: str, path: Path, line: int, item_id: object, code: str, why: str) -> AuditRecord:
    assert code in SKIP_CODES, code
    return AuditRecord(
        id=item_id, lang=lang, file=path.name, line=line, reason_code=code, reason=why
    ).settle()


def read_audit_input(folder: Path, languages: list[str] | None = None) -> AuditInput:
    """Items by language, and records for the lines and files that hold no usable item."""
    if not folder.is_dir():
        raise BenchmarkError(f"benchmark folder not found: {folder}")
    ids = release_ids(folder)
    out = AuditInput()
    files = sorted(folder.glob("*.jsonl")) + sorted((folder / "data").glob("*.jsonl"))
    for path in files:
        if path.name in NOT_ITEMS or path.name in OUTPUTS:
            continue
        lang = lang_of_file(path)
        if lang is not None and languages and lang not in languages:
            continue
        seen: dict[str, int] = {}
        items = out.items.setdefault(lang, []) if lang is not None else []
        if lang is not None:
            out.files[lang] = path.name
        for n, rec in records(path):
            if isinstance(rec, ValueError) or "id" not in rec or not isinstance(
                rec.get("code"), str
            ):
                why = rec if isinstance(rec, ValueError) else "no 'id' or no string 'code'"
                problem = _skip(lang or path.stem, path, n, None, "malformed_line",
                                f"{path.name}:{n}: {why}")  # fmt: skip
                out.problems.append(problem)
                continue
            if lang is None:
                out.problems.append(_skip(path.stem, path, n, rec["id"], "unknown_language",
                    f"{path.name}: {path.stem!r} is not a language id or CRUXEval-X name "
                    "cruxforge knows (cruxforge runtimes list)"))  # fmt: skip
                continue
            key = repr(rec["id"])
            if key in seen:
                out.problems.append(_skip(lang, path, n, rec["id"], "duplicate_id",
                    f"id {rec['id']!r} is also on line {seen[key]} of {path.name}"))  # fmt: skip
                continue
            seen[key] = n
            items.append(BenchmarkItem(rec["id"], seed_id_of(rec["id"], ids), lang, rec["code"], n))
    out.items = {k: v for k, v in out.items.items() if v}
    return out
