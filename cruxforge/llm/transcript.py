"""Content-addressed transcript of LLM exchanges: the thing a release ships and replay reads.

One JSON file per exchange at ``<dir>/<key[:2]>/<key>.json``; the key is the sha256 of
the canonical request, so identical requests share one file and a rerun finds it.
Writes go to a temp file in the same directory and are renamed into place, so a crash
(even ``kill -9``) leaves either the old file, the new file, or nothing — never half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class ChatRequest(BaseModel):
    """Exactly what determines the answer; endpoint, key and timeout deliberately excluded."""

    model: str
    messages: list[dict[str, Any]]
    temperature: float
    max_tokens: int


class ChatResponse(BaseModel):
    text: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class TranscriptRecord(BaseModel):
    key: str
    request: ChatRequest
    response: ChatResponse
    timestamp: str
    purpose: str = ""
    # the endpoint that answered (None in transcripts written before it was recorded): a
    # live client takes only its own endpoint's answers, a replay takes any
    endpoint: str | None = None


class TranscriptError(RuntimeError):
    """A transcript file exists but cannot be read; names the file."""


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: ChatRequest) -> str:
    """sha256 of the canonical JSON of {model, messages, temperature, max_tokens}."""
    return hashlib.sha256(canonical_json(request.model_dump()).encode("utf-8")).hexdigest()


class TranscriptCache:
    """Directory of exchanges keyed by request hash; safe for concurrent threads and processes."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        if not KEY_RE.match(key):  # keeps odd strings from escaping the directory
            raise ValueError(f"not a transcript key (64 lowercase hex chars): {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> TranscriptRecord | None:
        path = self.path_for(key)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            record = TranscriptRecord.model_validate_json(raw)
        except ValidationError as e:
            raise TranscriptError(f"unreadable transcript file {path}: {e}") from e
        if record.key != key:
            raise TranscriptError(f"transcript file {path} holds key {record.key}, not {key}")
        return record

    def put(
        self,
        request: ChatRequest,
        response: ChatResponse,
        *,
        purpose: str = "",
        endpoint: str | None = None,
    ) -> Path:
        """Store one exchange atomically under its request key and return the file path."""
        key = request_key(request)
        record = TranscriptRecord(
            key=key,
            request=request,
            response=response,
            timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
            purpose=purpose,
            endpoint=endpoint,
        )
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(record.model_dump_json(indent=2))
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def keys(self) -> Iterator[str]:
        """Stored keys in sorted order; leftover temp files from a crash are ignored."""
        for path in sorted(self.directory.glob("??/*.json")):
            if KEY_RE.match(path.stem) and path.parent.name == path.stem[:2]:
                yield path.stem

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(KEY_RE.match(key)) and self.path_for(key).is_file()

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())
