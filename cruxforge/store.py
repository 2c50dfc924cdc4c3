"""A per-item result store on disk: what makes a killed build resumable at no cost.

Every finished (seed, language) item is written here, atomically (temp file in the same
directory + ``os.replace``), right after it finishes, under a key that is the sha256 of
everything that determines it: the library's code, the typed seed, the language, the
language's rules hash,
the runtime spec hash, the backend, the translator and its model settings, the repair
budget and the test cases. A rerun computes the same key and reads the result back
instead of executing anything; with the LLM transcript cache underneath, a ``kill -9``
at any point costs nothing already finished. Agreement cases (which cost Python runs)
are kept per seed the same way.

Layout: ``<root>/items/<k[:2]>/<k>.json``, ``<root>/cases/<k[:2]>/<k>.json`` and an
append-only ``<root>/events.jsonl`` (``computed`` / ``reused``) that tells how often
each key was actually executed. No Prefect here: the flows and the plain library share it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cruxforge.models import TypedSeed
from cruxforge.translate.loop import FORMAT as LOOP_FORMAT
from cruxforge.translate.loop import ItemReport
from cruxforge.values import from_wire, to_wire
from runtimes.spec import get_spec
from transition_rules.engine import Case, rules_hash

STORE_FORMAT = 1
KEY_RE = re.compile(r"^[0-9a-f]{64}$")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cases_to_wire(cases: Sequence[Case]) -> list[dict[str, Any]]:
    return [{"args": [to_wire(a) for a in c.args], "expected": to_wire(c.expected)} for c in cases]


def cases_from_wire(data: Sequence[Mapping[str, Any]]) -> list[Case]:
    return [Case(tuple(from_wire(a) for a in d["args"]), from_wire(d["expected"])) for d in data]


def seed_json(seed: TypedSeed) -> str:
    return canonical_json(seed.model_dump(mode="json"))


def item_key_inputs(
    seed: TypedSeed,
    lang: str,
    cases: Sequence[Case],
    translator: Mapping[str, Any],
    max_repairs: int,
    backend: str,
) -> dict[str, Any]:
    """Everything that determines one item's result (what :func:`item_key` hashes)."""
    from cruxforge.fingerprint import library_hash

    return {
        "store_format": STORE_FORMAT,
        "loop_format": LOOP_FORMAT,
        "library": library_hash(),
        "seed": seed_json(seed),
        "lang": lang,
        "rules": rules_hash(lang),
        "runtime": get_spec(lang).spec_hash(),
        "backend": backend,
        "translator": dict(translator),
        "max_repairs": max_repairs,
        "cases": cases_to_wire(cases),
    }


def item_key(
    seed: TypedSeed,
    lang: str,
    cases: Sequence[Case],
    translator: Mapping[str, Any],
    max_repairs: int,
    backend: str,
) -> str:
    inputs = item_key_inputs(seed, lang, cases, translator, max_repairs, backend)
    return sha256_text(canonical_json(inputs))


def cases_key(seed: TypedSeed, n_agreement: int) -> str:
    """Agreement cases depend on the seed and how many were asked for (and the generator)."""
    from cruxforge import agreement

    gen = hashlib.sha256(Path(agreement.__file__).read_bytes()).hexdigest()[:16]
    return sha256_text(
        canonical_json(
            {"store_format": STORE_FORMAT, "seed": seed_json(seed), "n": n_agreement, "gen": gen}
        )
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Temp file in the same directory, fsync, ``os.replace``: whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StoreError(RuntimeError):
    """A store file exists but cannot be read; names the file."""


class ItemStore:
    """Directory of finished items and agreement cases; safe for threads and processes."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ paths

    def _path(self, kind: str, key: str) -> Path:
        if not KEY_RE.match(key):
            raise ValueError(f"not a store key (64 lowercase hex chars): {key!r}")
        return self.root / kind / key[:2] / f"{key}.json"

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as e:
            raise StoreError(f"{path}: not JSON ({e}); delete it to recompute") from None
        if not isinstance(doc, dict) or doc.get("store_format") != STORE_FORMAT:
            return None  # another format: recompute rather than misread
        return doc

    def event(self, kind: str, key: str, **fields: Any) -> None:
        """Append one line to ``events.jsonl`` (O_APPEND: whole lines across processes)."""
        line = canonical_json({"event": kind, "key": key, "pid": os.getpid(), **fields}) + "\n"
        with self._lock:
            fd = os.open(self.root / "events.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        path = self.root / "events.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by kill -9 mid-write carries no finished work
        return out

    # ------------------------------------------------------------ items

    def get_item(self, key: str) -> ItemReport | None:
        doc = self._read(self._path("items", key))
        return None if doc is None else ItemReport.model_validate(doc["report"])

    def put_item(self, key: str, report: ItemReport) -> Path:
        path = self._path("items", key)
        doc = {
            "store_format": STORE_FORMAT,
            "key": key,
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
            "report": report.model_dump(mode="json"),
        }
        atomic_write_text(path, json.dumps(doc, ensure_ascii=False) + "\n")
        return path

    def item_keys(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "items").glob("*/*.json"))

    # ------------------------------------------------------------ agreement cases

    def get_cases(self, key: str) -> list[Case] | None:
        doc = self._read(self._path("cases", key))
        return None if doc is None else cases_from_wire(doc["cases"])

    def put_cases(self, key: str, cases: Sequence[Case]) -> Path:
        path = self._path("cases", key)
        doc = {"store_format": STORE_FORMAT, "key": key, "cases": cases_to_wire(cases)}
        atomic_write_text(path, json.dumps(doc, ensure_ascii=False) + "\n")
        return path
