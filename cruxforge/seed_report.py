"""Reading the seed report (``cruxforge seeds check --report``): the typed seeds every
later stage starts from. Core: it needs only the models, so the rules' self-check and the
pipeline read it alike."""

from __future__ import annotations

import json
from pathlib import Path

from cruxforge.models import FORMAT_VERSION, SeedCheck, TypedSeed

REPORT_KIND = "cruxforge.seeds.check"

__all__ = ["REPORT_KIND", "ReportError", "load_report", "typed_seeds"]


class ReportError(ValueError):
    """The file is not a seeds-check report this version can read."""


def load_report(path: Path | str) -> list[SeedCheck]:
    """Every record of a report written by :func:`write_report`."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: cannot read report: {e}") from None
    if not isinstance(doc, dict) or doc.get("kind") != REPORT_KIND:
        raise ReportError(f"{path}: not a {REPORT_KIND} report")
    if doc.get("format") != FORMAT_VERSION:
        raise ReportError(f"{path}: report format {doc.get('format')!r}, expected {FORMAT_VERSION}")
    return [SeedCheck.model_validate(r) for r in doc["records"]]


def typed_seeds(path: Path | str) -> list[TypedSeed]:
    """The ``TypedSeed`` of every ok record of a report, in file order."""
    return [r.typed for r in load_report(path) if r.status == "ok" and r.typed is not None]
