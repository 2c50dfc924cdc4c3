"""``cruxforge audit``: what a single published test hides in a multilingual benchmark.

:mod:`.inputs` reads the benchmark (every line an item or a record of why not),
:mod:`.run` runs the items (our harness with agreement cases and repeats, the published
code and its planted mutant), :mod:`.records` holds what lands in ``audit.jsonl``,
:mod:`.report` writes ``summary.json`` and ``report.md``.
"""

from cruxforge.audit.records import AuditRecord, Divergence, write_audit
from cruxforge.audit.report import summarize, write_report, write_summary
from cruxforge.audit.run import DEFAULT_REPEAT, AuditOptions, audit, audit_cases, audit_language

__all__ = [
    "DEFAULT_REPEAT",
    "AuditOptions",
    "AuditRecord",
    "Divergence",
    "audit",
    "audit_cases",
    "audit_language",
    "summarize",
    "write_audit",
    "write_report",
    "write_summary",
]
