"""One model's evaluation of a release: ask (or import), check by execution, score."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cruxforge.evaluate.check import BAD_ITEM, CheckOutcome, check_answers
from cruxforge.evaluate.items import TASKS, EvalItem, MaskNotFound, Task, read_release
from cruxforge.evaluate.predictions import Predictions
from cruxforge.evaluate.prompts import build_prompt, extract_answer, pick_shots, prompts_hash
from cruxforge.evaluate.score import score, scores_markdown, scores_table
from cruxforge.progress import tracker
from runtimes.backend import Backend


@dataclass(frozen=True)
class Asked:
    answer: str | None
    response: str | None = None  # the model's whole reply
    error: str | None = None  # why there is no reply (endpoint failure)


Answerer = Callable[[EvalItem, Task, list[EvalItem]], Asked]


def predictions_answerer(preds: Predictions) -> Answerer:
    def answer(item: EvalItem, task: Task, pool: list[EvalItem]) -> Asked:
        ans = preds.get((item.lang, task, item.id))
        return Asked(answer=ans, error=None if ans is not None else "no prediction")

    return answer


def model_answerer(client: Any, shots: int = 1) -> Answerer:
    """Ask a :class:`~cruxforge.llm.client.ChatClient`; endpoint failures become no answer."""
    from cruxforge.llm.client import LLMError

    def answer(item: EvalItem, task: Task, pool: list[EvalItem]) -> Asked:
        try:
            prompt = build_prompt(item, task, pick_shots(item, pool, shots))
        except MaskNotFound as e:
            return Asked(answer=None, error=f"{BAD_ITEM}: {e}")
        try:
            res = client.complete([{"role": "user", "content": prompt}], purpose=f"eval-{task}")
        except LLMError as e:
            return Asked(answer=None, error=f"{type(e).__name__}: {e}")
        return Asked(answer=extract_answer(res.text, item.masked(task)), response=res.text)

    return answer


def evaluate_release(
    release: Path,
    out: Path,
    *,
    model: str,
    answerer: Answerer,
    backend: Backend,
    languages: list[str] | None = None,
    tasks: Sequence[Task] = TASKS,
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Ask/import, check and score; write ``results.jsonl`` and ``scores.{json,csv,md}``."""
    items = read_release(release, languages)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(it, task, pool) for pool in items.values() for it in pool for task in tasks]

    prog = tracker()
    for lang, pool in items.items():
        prog.start(lang, len(pool) * len(tasks))
        prog.phase(lang, "asking", 0, len(pool) * len(tasks))

    def ask(job: tuple[EvalItem, Task, list[EvalItem]]) -> Asked:
        a = answerer(*job)
        prog.item(job[0].lang, "validated" if a.answer is not None else "failed")
        if on_progress:
            on_progress(1)
        return a

    with ThreadPoolExecutor(max(1, concurrency)) as ex:
        asked = list(ex.map(ask, jobs))
    for lang, pool in items.items():
        prog.phase(lang, "running", 0, len(pool) * len(tasks))
    outcomes = check_answers(
        backend, [(it, task, a.answer) for (it, task, _), a in zip(jobs, asked)]
    )
    for lang in items:
        prog.phase(lang, "done", 0, 0)
    records = [_record(model, o, a) for o, a in zip(outcomes, asked)]
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    ids = {lang: [it.id for it in pool] for lang, pool in items.items()}
    scores = score(records, ids)
    scores["release"] = str(release)
    scores["prompts_hash"] = prompts_hash()
    (out / "scores.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    rows = scores_table(scores)
    with (out / "scores.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(
            f, fieldnames=["model", "lang", "task", "subset", "n", "passed", "pass@1", "excluded"]
        )
        w.writeheader()
        w.writerows(rows)
    (out / "scores.md").write_text(scores_markdown(scores), encoding="utf-8")
    return scores


def _record(model: str, o: CheckOutcome, a: Asked) -> dict[str, Any]:
    verdict, detail = o.verdict, o.detail
    if a.error and a.error.startswith(BAD_ITEM):
        verdict, detail = BAD_ITEM, a.error
    elif a.error and o.answer is None:
        detail = a.error
    rec = {
        "model": model,
        "lang": o.lang,
        "task": o.task,
        "id": o.id,
        "passed": o.passed,
        "verdict": verdict,
        "answer": o.answer,
        "detail": detail,
        "sentinel": o.sentinel,
        "structure_checked": o.structure_checked,
    }
    if o.submitted is not None:  # fitted to the mask's shape: the answer as written
        rec["submitted"] = o.submitted
    if a.response is not None:
        rec["response"] = a.response
    return rec
