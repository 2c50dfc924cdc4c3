"""Hashes of release files, items and folders (the manifest's and ``verify``'s)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cruxforge.store import canonical_json


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def item_hash(item: Mapping[str, Any]) -> str:
    """sha256 of the published item's canonical JSON (``id code input_reasoning ...``)."""
    return hashlib.sha256(canonical_json(dict(item)).encode("utf-8")).hexdigest()


def tree_hash(directory: Path) -> tuple[str, int]:
    """sha256 over (relative path, file sha256) of every file under ``directory``; count."""
    h = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
    for p in files:
        h.update(f"{p.relative_to(directory).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest(), len(files)
