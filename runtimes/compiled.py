"""Compiled programs kept for the same source compiled again (the local backend).

A build runs every program that passes a second time (the flakiness check), and the
batched engine composes the same batch source again for it: compiling it again costs a
second, or ten for Scala, and changes nothing. After a successful compile step the work
dir's new files (the binary, classes, ...) and the compiler's output are kept under a key
made of everything the compile depends on (spec hash, variant, compile command and
source); a later program with the same key gets a copy instead of a compile. Entries are
written to a temp dir and renamed into place (a kill leaves none half-written); the
oldest go once there are more than ``keep``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from runtimes.backend import Program
from runtimes.spec import RuntimeSpec
from runtimes.verdicts import ProcessOutcome

KEEP = 64


def compile_key(spec: RuntimeSpec, program: Program) -> str:
    h = hashlib.sha256()
    for part in (spec.spec_hash(), program.variant or "", json.dumps(spec.compile),
                 program.source):  # fmt: skip
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()


class CompileCache:
    def __init__(self, root: Path, keep: int = KEEP, enabled: bool = True) -> None:
        self.root = root
        self.keep = keep
        self.enabled = enabled
        self._lock = threading.Lock()

    def restore(self, key: str, wd: Path, owner: tuple[int, int] | None) -> ProcessOutcome | None:
        """Copy a kept compile into ``wd``; its outcome (compiler output), or None."""
        if not self.enabled:
            return None
        entry = self.root / key
        try:
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            files = entry / "files"
            for p in files.rglob("*"):
                dest = wd / p.relative_to(files)
                if p.is_dir():
                    dest.mkdir(exist_ok=True)
                else:
                    shutil.copy2(p, dest)
                if owner is not None:
                    os.chown(dest, *owner)
            os.utime(entry)
        except (OSError, ValueError):
            return None
        return ProcessOutcome(exit_code=0, stdout=meta.get("stdout", ""),
                              stderr=meta.get("stderr", ""), seconds=0.0)  # fmt: skip

    def save(self, key: str, wd: Path, skip: set[str], outcome: ProcessOutcome) -> None:
        """Keep what a successful compile made in ``wd`` (all but the names in ``skip``)."""
        if not self.enabled:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            for p in wd.iterdir():
                if p.name in skip:
                    continue
                if p.is_dir() and not p.is_symlink():
                    shutil.copytree(p, tmp / "files" / p.name, symlinks=True)
                else:
                    (tmp / "files").mkdir(exist_ok=True)
                    shutil.copy2(p, tmp / "files" / p.name, follow_symlinks=False)
            (tmp / "files").mkdir(exist_ok=True)
            (tmp / "meta.json").write_text(
                json.dumps({"stdout": outcome.stdout, "stderr": outcome.stderr}), encoding="utf-8"
            )
            os.replace(tmp, self.root / key)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries beyond ``keep``. Other processes share the folder and
        evict too: an entry gone between listing and use is simply gone (the lock only
        orders this process's threads)."""
        with self._lock:
            aged: list[tuple[float, Path]] = []
            for p in self.root.iterdir():
                if p.name.startswith(".tmp-"):
                    continue
                with contextlib.suppress(OSError):
                    aged.append((p.stat().st_mtime, p))
            if len(aged) <= self.keep:
                return
            aged.sort()
            for _, p in aged[: len(aged) - self.keep]:
                with contextlib.suppress(OSError):
                    shutil.rmtree(p)
