"""Prefect artifact keys that say what they show: the release (or benchmark) and the
model, so two runs on different releases or models keep their own artifacts in the UI
instead of overwriting one shared key. Keys are lower-case letters, digits and dashes,
as Prefect requires."""

from __future__ import annotations

from pathlib import Path

from cruxforge.itemfiles import read_manifest


def artifact_key(*parts: str | None) -> str:
    """``part-part-...`` with every character Prefect refuses turned into a dash."""
    raw = "-".join(p for p in parts if p)
    safe = "".join(c if c.isalnum() else "-" for c in raw.lower())
    return "-".join(part for part in safe.split("-") if part)


def release_label(folder: str | Path | None) -> str | None:
    """``<name>-<version>`` from a release's manifest; a folder without one (a
    CRUXEval-X-format benchmark) is named by its last two path parts."""
    if folder is None:
        return None
    path = Path(folder)
    manifest = read_manifest(path)
    if "name" in manifest and "version" in manifest:
        return f"{manifest['name']}-{manifest['version']}"
    return "-".join(path.resolve().parts[-2:])
