"""A hash of the library's own code, so caches never answer with results of other code.

Item store keys and the build flow's cache keys include it: after a change to any module
of ``cruxforge``, ``transition_rules`` or ``runtimes`` (or their data files), finished
items are recomputed instead of being read back from a build made by other code.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cruxforge", "transition_rules", "runtimes")
SUFFIXES = (".py", ".toml", ".txt", ".sh")


@cache
def library_hash() -> str:
    """sha256 (16 hex digits) over the path and bytes of every source and data file."""
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*")):
            if p.suffix in SUFFIXES and p.is_file() and "__pycache__" not in p.parts:
                h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]
