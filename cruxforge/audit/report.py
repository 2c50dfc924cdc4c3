"""What a benchmark author reads after an audit: ``summary.json`` and ``report.md``.

The summary counts, per language, the items, how many pass as published and under our
harness, and how many diverge, are flaky, untestable or skipped (by reason). The report
adds the most common divergence causes, each with an example, and the ids to fix.
Causes are read from the first failing agreement case: what kind of difference lies
between Python's value and the item's (letter case, order, off by one ...), or the
error's first line with its particulars blanked out.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cruxforge.audit.records import STATUS_ORDER, AuditRecord, Divergence

SUMMARY_FORMAT = 1
TOP_CAUSES = 10
COLUMNS = ("items", "published pass", "own pass", "diverges", "flaky", "untestable",
           "fails", "published fails", "skipped")  # fmt: skip


def language_counts(records: Sequence[AuditRecord]) -> dict[str, dict[str, Any]]:
    """Per language: the report's columns, skipped items by reason code, and statuses."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        c = out.setdefault(r.lang, {k: 0 for k in COLUMNS} | {"skipped_by_reason": Counter(),
                                                              "status": Counter()})  # fmt: skip
        c["items"] += 1
        c["published pass"] += r.published_code == "passed"
        c["own pass"] += r.own_harness == "passed"
        c["diverges"] += r.agreement == "diverges"
        c["flaky"] += r.flaky
        c["untestable"] += r.untestable
        c["fails"] += r.own_harness not in ("passed", "skipped")
        c["published fails"] += r.published_code not in ("passed", "not_run")
        c["skipped"] += r.status == "skipped"
        if r.reason_code:
            c["skipped_by_reason"][r.reason_code] += 1
        c["status"][r.status] += 1
    return {k: {**v, "skipped_by_reason": dict(v["skipped_by_reason"]),
                "status": dict(v["status"])} for k, v in sorted(out.items())}  # fmt: skip


def _blank(text: str) -> str:
    """An error line with its particulars (numbers, quoted text, paths) blanked out."""
    text = re.sub(r"(['\"`]).*?\1", r"\1…\1", text)
    text = re.sub(r"(/[\w.\-]+)+", "/…", text)
    text = re.sub(r"\d+", "N", text)
    return text.strip()[:100]


def _number(t: str) -> float | None:
    try:
        return float(t)
    except ValueError:
        return None


def cause(d: Divergence) -> str:
    """A short name for the kind of difference on the first failing agreement case."""
    if d.verdict != "wrong_answer":
        line = next((ln for ln in d.message.splitlines() if ln.strip()), "")
        return f"{d.verdict}: {_blank(line)}" if line else d.verdict
    e, a = d.expected, d.actual
    if a is None:
        return "wrong answer (no value reported)"
    x, y = _number(e), _number(a)
    if x is not None and y is not None:
        if abs(x - y) == 1:
            return "number off by one"
        if x == -y:
            return "number with the wrong sign"
        if y == int(x) or (x != 0 and abs(y - x) < 1):
            return "number rounded or truncated differently"
        return "other number"
    if {e, a} == {"True", "False"}:
        return "boolean the other way round"
    if a in ("None", "''", "[]", "{}", "()", "set()") and e != a:
        return "empty or None where Python has a value"
    if e.lower() == a.lower():
        return "letter case differs"
    if re.sub(r"\s", "", e) == re.sub(r"\s", "", a):
        return "whitespace differs"
    if sorted(e) == sorted(a):
        return "same parts, other order"
    if len(a) < len(e) and (a[:-1] in e):
        return "part of Python's value missing"
    if len(a) > len(e) and (e[:-1] in a):
        return "more than Python's value"
    return "other wrong answer"


def summarize(records: Sequence[AuditRecord]) -> dict[str, Any]:
    langs = language_counts(records)
    total = Counter(r.status for r in records)
    causes = Counter(cause(r.divergence) for r in records if r.divergence is not None)
    return {
        "format": SUMMARY_FORMAT,
        "items": len(records),
        "status": {s: total.get(s, 0) for s in STATUS_ORDER},
        "languages": langs,
        "causes": dict(causes.most_common()),
    }


def write_summary(records: Sequence[AuditRecord], out: Path) -> Path:
    path = out / "summary.json"
    path.write_text(json.dumps(summarize(records), indent=2, ensure_ascii=False) + "\n")
    return path


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:120]


def render_report(records: Sequence[AuditRecord], title: str) -> str:
    """``report.md``: the per-language table, the top causes, the ids to fix."""
    langs = language_counts(records)
    total = Counter(r.status for r in records)
    lines = [f"# Audit of {title}", "",
             f"{len(records)} items. Statuses: " + ", ".join(
                 f"{s} {total[s]}" for s in STATUS_ORDER if total[s]), "",
             "| language | " + " | ".join(COLUMNS) + " | skipped reasons |",
             "| --- |" + " ---: |" * len(COLUMNS) + " --- |"]  # fmt: skip
    for lang, c in langs.items():
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(c["skipped_by_reason"].items()))
        lines.append(f"| {lang} | " + " | ".join(str(c[k]) for k in COLUMNS) + f" | {reasons} |")
    examples: dict[str, AuditRecord] = {}
    counts: Counter[str] = Counter()
    for r in records:
        if r.divergence is not None:
            k = cause(r.divergence)
            counts[k] += 1
            examples.setdefault(k, r)
    lines += ["", f"## Most common divergence causes (top {TOP_CAUSES})", ""]
    if not counts:
        lines.append("No item diverges from Python on its agreement cases.")
    else:
        lines += ["| cause | items | example | input | Python | item |",
                  "| --- | ---: | --- | --- | --- | --- |"]  # fmt: skip
        for k, n in counts.most_common(TOP_CAUSES):
            r = examples[k]
            d = r.divergence
            assert d is not None
            lines.append(f"| {_cell(k)} | {n} | {r.lang} {_cell(r.id)} | `{_cell(d.input)}` | "
                         f"`{_cell(d.expected)}` | `{_cell(d.actual)}` |")  # fmt: skip
    lines += ["", "## Items to fix", ""]
    found = False
    for status in STATUS_ORDER:
        if status in ("ok", "skipped"):
            continue
        bad = [r for r in records if r.status == status]
        if not bad:
            continue
        found = True
        lines.append(f"- **{status}** ({len(bad)}): " + ", ".join(
            f"{r.lang}:{r.id}" for r in bad))  # fmt: skip
    if not found:
        lines.append("None.")
    skipped = [r for r in records if r.status == "skipped"]
    if skipped:
        lines += ["", "## Skipped items", ""]
        groups: dict[tuple[str, str], list[AuditRecord]] = {}
        for r in skipped:
            groups.setdefault((r.lang, r.reason_code), []).append(r)
        for (lang, code), rs in groups.items():
            if len(rs) == 1:
                r = rs[0]
                lines.append(f"- {lang}:{r.id} ({r.file}:{r.line}) {code}: {_cell(r.reason)}")
                continue
            ids = ", ".join(str(r.id) for r in rs[:20]) + (", ..." if len(rs) > 20 else "")
            lines.append(f"- {lang}, {len(rs)} items, {code} (first: {_cell(rs[0].reason)}): {ids}")
    return "\n".join(lines) + "\n"


def write_report(records: Sequence[AuditRecord], out: Path, title: str) -> Path:
    path = out / "report.md"
    path.write_text(render_report(records, title), encoding="utf-8")
    return path
