"""The seed-check pipeline: intake -> validation -> type inference -> ``SeedCheck`` records.

Kept apart from the CLI so flows and tests can call it directly; the report helpers here
are what later stages (the rules engine) use to read ``TypedSeed``s back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cruxforge.models import FORMAT_VERSION, Reason, SeedCheck, Signature, TypedSeed
from cruxforge.seed_report import REPORT_KIND
from cruxforge.seeds.infer import infer_signature
from cruxforge.seeds.intake import Intake, read_seeds
from cruxforge.seeds.validate import RunOptions, RunOutcome, validate_seeds
from cruxforge.values import from_wire


def check_intake(
    intake: Intake,
    options: RunOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SeedCheck]:
    """Validate and type every seed of ``intake``; intake rejections come first."""
    records = list(intake.rejected)
    for outcome in validate_seeds(intake.seeds, options, progress):
        records.append(_type_outcome(outcome))
    return records


def _type_outcome(o: RunOutcome) -> SeedCheck:
    s = o.seed
    if o.reason is not None:
        return SeedCheck(id=s.id, status="rejected", reason=o.reason, typed=None)
    args = [from_wire(a) for a in o.args]
    sig = infer_signature(s.code, s.entry, o.params, args, from_wire(o.result), s.id)
    if isinstance(sig, Reason):
        return SeedCheck(id=s.id, status="rejected", reason=sig, typed=None)
    return SeedCheck(id=s.id, status="ok", signature=sig, typed=_typed(o, sig))


def _typed(o: RunOutcome, sig: Signature) -> TypedSeed:
    s = o.seed
    return TypedSeed(id=s.id, code=s.code, entry=s.entry, signature=sig, args=o.args,
                     result=o.result, input_text=s.input, output_text=s.output)


def check_file(
    path: Path | str,
    options: RunOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SeedCheck]:
    """Read (raises ``SeedFileError`` if unreadable), validate and type a seed file."""
    return check_intake(read_seeds(path), options, progress)


def summarize(records: list[SeedCheck]) -> dict[str, Any]:
    by_status = Counter(r.status for r in records)
    by_reason = Counter(r.reason.code for r in records if r.reason is not None)
    return {"total": len(records), "by_status": dict(by_status), "by_reason": dict(by_reason)}


def write_report(path: Path | str, source: str, records: list[SeedCheck],
                 seconds: float | None = None) -> None:
    """Write the versioned report: ``{format, kind, source, seconds, summary, records}``.

    ``records`` are ``SeedCheck`` dumps; ok ones carry ``signature`` and ``typed`` (the
    ``TypedSeed`` with wire-encoded args/result) so later stages need not re-run seeds.
    """
    doc = {
        "format": FORMAT_VERSION,
        "kind": REPORT_KIND,
        "source": source,
        "seconds": seconds,
        "summary": summarize(records),
        "records": [r.model_dump(mode="json") for r in records],
    }
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
