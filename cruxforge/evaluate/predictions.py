"""Importing predictions in CRUXEval-X's submission format.

Either a folder of ``<lang>_<task>.json`` files (``task`` = ``input`` or ``output``; the
language as a cruxforge id such as ``py`` or a CRUXEval-X name such as ``Python``), each
a JSON list of ``{"id", "answer"}``, or one JSONL file whose lines carry ``lang``,
``task``, ``id`` and ``answer``. Ids are compared as text (``3`` and ``"3"`` match).
"""

from __future__ import annotations

import json
from pathlib import Path

from cruxforge.evaluate.items import TASKS, ReleaseError, item_key
from cruxforge.itemfiles import lang_of_file

Predictions = dict[tuple[str, str, str], str]  # (lang, task, id) -> answer


class PredictionsError(ReleaseError):
    pass


def _lang(name: str, where: str) -> str:
    lang = lang_of_file(Path(name + ".jsonl"))
    if lang is None:
        raise PredictionsError(f"{where}: unknown language {name!r}")
    return lang


def _answer(rec: object, where: str) -> tuple[str, str]:
    if not isinstance(rec, dict) or "id" not in rec or "answer" not in rec:
        raise PredictionsError(f"{where}: expected an object with 'id' and 'answer'")
    ans = rec["answer"]
    if isinstance(ans, list):  # several samples: pass@1 takes the first
        ans = ans[0] if ans else ""
    return item_key(rec["id"]), "" if ans is None else str(ans)


def read_predictions(path: Path) -> Predictions:
    out: Predictions = {}
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise PredictionsError(f"{path}: no <lang>_<task>.json files")
        for f in files:
            name, _, task = f.stem.rpartition("_")
            if task not in TASKS or not name:
                raise PredictionsError(f"{f}: file name must be <lang>_<input|output>.json")
            lang = _lang(name, str(f))
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise PredictionsError(f"{f}: not JSON ({e})") from None
            if not isinstance(data, list):
                raise PredictionsError(f"{f}: expected a JSON list of {{id, answer}}")
            for n, rec in enumerate(data):
                key, ans = _answer(rec, f"{f}[{n}]")
                out[(lang, task, key)] = ans
        return out
    if not path.is_file():
        raise PredictionsError(f"predictions not found: {path}")
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as e:
            raise PredictionsError(f"{where}: not JSON ({e})") from None
        if not isinstance(rec, dict) or rec.get("task") not in TASKS or "lang" not in rec:
            raise PredictionsError(f"{where}: expected lang, task (input/output), id, answer")
        key, ans = _answer(rec, where)
        out[(_lang(str(rec["lang"]), where), rec["task"], key)] = ans
    return out
