"""Prompt templates kept as text files: one loader for the translator's and the
evaluator's folders, and one hash of a folder (recorded in manifests and transcripts, so
a prompt change is never silent)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path


class TemplateDir:
    """The ``*.txt`` templates of one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @cache  # noqa: B019 - one instance per folder, for the process's life
    def template(self, name: str) -> str:
        return (self.directory / f"{name}.txt").read_text(encoding="utf-8")

    def hash(self) -> str:
        """sha256 (16 hex digits) over every template's name and text."""
        h = hashlib.sha256()
        for p in sorted(self.directory.glob("*.txt")):
            h.update(p.name.encode() + b"\0" + p.read_bytes())
        return h.hexdigest()[:16]
