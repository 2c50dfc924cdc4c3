"""What ``cruxforge audit`` writes: one record per item read, whatever became of it.

A record keeps every verdict the audit reached for the item (own harness on the seed's
example, agreement cases, repeats, the published test and its planted mutant) and one
headline ``status`` for tables. Format 2 (format 1 had the two verdicts only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

FORMAT = 2

# the headline of an item, worst first: a table counts each item under one of these
Status = Literal["skipped", "flaky", "untestable", "fails", "diverges", "published_fails", "ok"]
STATUS_ORDER: tuple[Status, ...] = (
    "skipped", "flaky", "untestable", "fails", "diverges", "published_fails", "ok",
)  # fmt: skip

# why an item was skipped (``reason_code``); ``reason`` says it in words
SKIP_CODES = {
    "malformed_line": "the line is not a JSON object with an id and a code",
    "duplicate_id": "an earlier line of the same file has this id",
    "unknown_language": "the file's name names no language cruxforge knows",
    "no_runtime": "the language has no runtime on this backend here",
    "no_seed": "the item's id names no seed of the seed file",
    "seed_rejected": "the seed exists but was rejected when it was validated",
    "function_not_found": "tree-sitter finds no function of the seed's name in the code",
    "unsupported": "the seed's types or values can't be written in the language",
}


class Divergence(BaseModel):
    """The first agreement case on which the item's function and Python disagree."""

    case: int  # 1.. (0 is the seed's example)
    input: str  # the arguments, as Python literals
    expected: str  # Python's result (canonical text)
    actual: str | None = None  # the function's, as the harness reported it
    verdict: str
    message: str = ""


class AuditRecord(BaseModel):
    format: int = FORMAT
    id: object
    lang: str
    file: str = ""  # the item file, and the item's line in it
    line: int = 0
    status: Status = "ok"
    reason_code: str = ""  # a SKIP_CODES key when skipped
    reason: str = ""
    # the conventions the item was read in: "cruxforge" (ours) or a rule-file dialect
    dialect: str = ""
    # our harness, on the seed's example: a verdict, or "skipped"
    own_harness: str = "skipped"
    own_detail: str = ""
    # agreement: the example plus generated cases, with Python as the oracle
    cases: int = 0
    agreement: Literal["agrees", "diverges", "not_run"] = "not_run"
    divergence: Divergence | None = None
    # repeats of our harness in fresh processes (hash seeds, map order vary per process)
    repeats: int = 0
    flaky: bool = False
    flaky_detail: str = ""
    # the item's code as published, and the same with a wrong expected value planted
    published_code: str = "not_run"  # a verdict, or "not_run"
    published_detail: str = ""
    published_mutant: Literal["caught", "passes", "not_run"] = "not_run"
    mutant_detail: str = ""
    untestable: bool = False

    def settle(self) -> AuditRecord:
        """Set the headline ``status`` from the verdicts (the worst applies)."""
        flags: dict[Status, bool] = {
            "skipped": self.own_harness == "skipped" and not self.untestable,
            "flaky": self.flaky,
            "untestable": self.untestable,
            "fails": self.own_harness not in ("passed", "skipped"),
            "diverges": self.agreement == "diverges",
            "published_fails": self.published_code not in ("passed", "not_run"),
        }
        self.status = next((s for s in STATUS_ORDER if flags.get(s)), "ok")
        return self


def write_audit(records: list[AuditRecord], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "audit.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n")
    return path
