"""Existing benchmarks as drafts (``--drafts DIR``): each item's round-0 answer.

A drafts folder is one of:

- a CRUXEval-X-format folder: ``<lang>.jsonl`` or ``<Name>.jsonl`` (``Cpp``, ``CS`` ...)
  with ``id`` and ``code`` (the function and its harness);
- a cruxforge release (the same files at its top, or under ``data/``);
- a MultiPL-E-style folder: JSONL records with ``name`` (or ``id``), ``language`` (or the
  language in the file name) and the program as ``program``, or ``prompt`` +
  ``completion`` (or the first of ``completions``).

The function is cut from the item's code with tree-sitter, as ``audit`` does. Nothing is
dropped silently: an item with no draft (its language or id missing, its function not
found) carries a note saying why, and lines and ids the build can't use are listed in
:attr:`Drafts.problems`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cruxforge.itemfiles import NOT_ITEMS, lang_of_file, records, release_ids, seed_id_of
from cruxforge.models import TypedSeed
from runtimes.spec import LANGUAGES
from transition_rules.parsing import FunctionNotFound, cut_function

_SAMPLE = re.compile(r"^(?:sample|cruxeval|CRUXEval)[_-]?(\d+)$")


class DraftsError(ValueError):
    """The drafts folder can't be read at all (missing, or no item files in it)."""


@dataclass(frozen=True)
class DraftProblem:
    where: str  # file:line, or file
    lang: str | None
    id: str | None
    reason: str  # unknown_id | duplicate_id | bad_line | unknown_language

    def describe(self) -> str:
        who = " ".join(x for x in (self.lang, self.id) if x)
        return f"{self.where}: {who + ': ' if who else ''}{self.reason}"


@dataclass
class Drafts:
    folder: Path
    code: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> code, where
    langs: set[str] = field(default_factory=set)
    problems: list[DraftProblem] = field(default_factory=list)

    def for_item(self, seed: TypedSeed, lang: str) -> tuple[str | None, str]:
        """The draft function for (seed, language), or None and why there is none."""
        if lang not in self.langs:
            return None, f"no_draft: no {lang} items in {self.folder}"
        got = self.code.get((seed.id, lang))
        if got is None:
            return None, f"no_draft: no {lang} item for seed {seed.id} in {self.folder}"
        code, where = got
        try:
            return cut_function(lang, code, seed.entry), ""
        except FunctionNotFound as e:
            return None, f"draft_unreadable: {where}: {e}"
        except Exception as e:  # noqa: BLE001 - a grammar failure is the draft's problem
            return None, f"draft_unreadable: {where}: {type(e).__name__}: {e}"

    def check_ids(self, seed_ids: set[str]) -> None:
        """List draft ids that name no seed (they can't become items)."""
        for (sid, lang), (_, where) in sorted(self.code.items()):
            if sid not in seed_ids:
                self.problems.append(
                    DraftProblem(where, lang, sid, "unknown_id: no seed with this id")
                )


def _lang_of(path: Path, rec: dict[str, Any]) -> str | None:
    named = rec.get("language")
    if isinstance(named, str):
        found = lang_of_file(Path(named + ".jsonl"))
        if found:
            return found
    found = lang_of_file(path)
    if found:
        return found
    for part in re.split(r"[-_.]", path.stem):  # humaneval-rs-... style names
        if part in LANGUAGES:
            return part
    return None


def _code_of(rec: dict[str, Any]) -> str | None:
    if isinstance(rec.get("code"), str):
        return str(rec["code"])
    if isinstance(rec.get("program"), str):
        return str(rec["program"])
    if isinstance(rec.get("prompt"), str):
        comp = rec.get("completion")
        if comp is None and isinstance(rec.get("completions"), list) and rec["completions"]:
            comp = rec["completions"][0]
        if isinstance(comp, str):
            return str(rec["prompt"]) + comp
    return None


def _seed_id(rec: dict[str, Any], ids: dict[str, str]) -> str | None:
    raw = rec.get("id", rec.get("name"))
    if raw is None or isinstance(raw, (dict, list)):
        return None
    m = _SAMPLE.match(str(raw))
    return f"sample_{int(m.group(1))}" if m else seed_id_of(raw, ids)


def read_drafts(folder: Path | str) -> Drafts:
    """Every usable item of a drafts folder; a bad line is a problem, not an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DraftsError(f"drafts folder not found: {folder}")
    files = sorted(folder.glob("*.jsonl")) + sorted((folder / "data").glob("*.jsonl"))
    files = [f for f in files if f.name not in NOT_ITEMS]
    if not files:
        raise DraftsError(f"no .jsonl item files in the drafts folder {folder}")
    out = Drafts(folder)
    ids = release_ids(folder)
    for path in files:
        rel = path.relative_to(folder).as_posix()
        for n, rec in records(path):
            where = f"{rel}:{n}"
            if isinstance(rec, ValueError):
                out.problems.append(DraftProblem(where, None, None, f"bad_line: {rec}"))
                continue
            lang, sid, code = _lang_of(path, rec), _seed_id(rec, ids), _code_of(rec)
            if lang is None:
                out.problems.append(
                    DraftProblem(where, None, sid, "unknown_language: no language id in the "
                                 "file name or the record")
                )  # fmt: skip
                continue
            if sid is None or code is None:
                what = "an id (id or name)" if sid is None else "code (code, program or prompt)"
                out.problems.append(DraftProblem(where, lang, sid, f"bad_line: no {what}"))
                continue
            out.langs.add(lang)
            if (sid, lang) in out.code:
                first = out.code[(sid, lang)][1]
                out.problems.append(
                    DraftProblem(where, lang, sid, f"duplicate_id: first at {first}; kept that")
                )
                continue
            out.code[(sid, lang)] = (code, where)
    return out
