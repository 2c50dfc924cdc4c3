"""Compiled programs kept for the same source compiled again (local and docker backends).

A build runs every program that passes a second time (the flakiness check), and the
batched engine composes the same batch source again for it: compiling it again costs a
second, or ten for Scala, and changes nothing. After a successful compile step the work
dir's new files (the binary, classes, ...) and the compiler's output are kept under a key
made of everything the compile depends on (spec hash, variant, compile command and
source); a later program with the same key gets a copy instead of a compile. Entries are
written to a temp dir and renamed into place (a kill leaves none half-written); the
oldest go once there are more than ``keep``. The docker backend keeps the same thing as
one tar of the container's work dir (``save_blob``), restored into a fresh work dir.
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
BLOB_MAX = 64 * 1024 * 1024  # a docker compile's files bigger than this are not kept


def cache_root(is_root: bool) -> Path:
    """Where a backend keeps its caches: ``CRUXFORGE_CACHE_DIR``, else a system dir for
    root, a per-user temp dir otherwise."""
    env = os.environ.get("CRUXFORGE_CACHE_DIR")
    if env:
        return Path(env)
    if is_root:
        return Path("/var/cache/cruxforge/local")
    return Path(tempfile.gettempdir()) / f"cruxforge-cache-{os.getuid()}"


def cache_enabled() -> bool:
    """CRUXFORGE_COMPILE_CACHE=0 compiles every program afresh."""
    return os.environ.get("CRUXFORGE_COMPILE_CACHE", "1") != "0"


def compile_key(spec: RuntimeSpec, program: Program, extra: str = "") -> str:
    """Everything a compile depends on; ``extra``: what else (the docker image's tag)."""
    h = hashlib.sha256()
    for part in (spec.spec_hash(), program.variant or "", json.dumps(spec.compile),
                 program.source, extra):  # fmt: skip
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

    def restore_blob(self, key: str) -> tuple[bytes, ProcessOutcome] | None:
        """A kept compile as one blob (the docker backend's tar of its work dir)."""
        if not self.enabled:
            return None
        entry = self.root / key
        try:
            meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
            blob = (entry / "files.tar").read_bytes()
            os.utime(entry)
        except (OSError, ValueError):
            return None
        out = ProcessOutcome(exit_code=0, stdout=meta.get("stdout", ""),
                             stderr=meta.get("stderr", ""), seconds=0.0)  # fmt: skip
        return blob, out

    def save_blob(self, key: str, blob: bytes, outcome: ProcessOutcome) -> None:
        if not self.enabled or not blob or len(blob) > BLOB_MAX:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            (tmp / "files.tar").write_bytes(blob)
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
