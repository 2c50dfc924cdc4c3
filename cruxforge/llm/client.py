"""Chat client: transcript cache first, then the endpoint with bounded, jittered retries.

Transient failures (429, 5xx, timeouts, connection errors) are retried because long builds
must survive a flaky local server; other 4xx mean the request itself is wrong and retrying
cannot help. Empty and truncated answers are returned, not raised, so the repair loop can
turn them into diagnostics; they are not cached, so a rerun asks again.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import openai
from pydantic import BaseModel

from cruxforge.llm.config import LLMConfig
from cruxforge.llm.transcript import ChatRequest, ChatResponse, TranscriptCache, request_key
from cruxforge.progress import tracker

log = logging.getLogger(__name__)

Mode = Literal["live", "replay"]


class LLMError(RuntimeError):
    """Base of everything the client raises on purpose."""


class ReplayMiss(LLMError):
    """Replay mode met a request that the transcript does not hold."""

    def __init__(self, key: str, last_message: str, purpose: str = "") -> None:
        self.key = key
        super().__init__(
            f"replay: no transcript entry for request {key}"
            + (f" (purpose {purpose!r})" if purpose else "")
            + f"; last message begins: {last_message[:200]!r}"
        )


class LLMUnavailable(LLMError):
    """The endpoint kept failing transiently; ``attempts`` calls were made."""

    def __init__(self, message: str, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(message)


class LLMRequestError(LLMError):
    """The endpoint rejected the request (4xx other than 429); retrying would not help."""

    def __init__(self, message: str, status: int | None) -> None:
        self.status = status
        super().__init__(message)


class ChatResult(BaseModel):
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    request_key: str
    seconds: float
    attempts: int  # HTTP calls made for this result; 0 when answered from the transcript


@dataclass(frozen=True)
class Usage:
    """Totals since the client was made: tokens actually spent, not those replayed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0  # live answers received (retries not counted)
    cache_hits: int = 0
    retries: int = 0
    in_flight: int = 0  # HTTP requests under way now
    most_in_flight: int = 0  # the most ever under way at once


def _norm(url: str | None) -> str | None:
    return url.rstrip("/") if url else url


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (number or HTTP date), None when absent or unparsable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ChatClient:
    """Thread-safe; at most ``config.concurrency`` HTTP requests are in flight at once."""

    def __init__(
        self,
        config: LLMConfig,
        cache: TranscriptCache | None = None,
        mode: Mode = "live",
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mode not in ("live", "replay"):
            raise ValueError(f"mode must be 'live' or 'replay', not {mode!r}")
        if mode == "replay" and cache is None:
            raise ValueError("replay mode needs a transcript cache to read from")
        if mode == "live" and not config.base_url:
            raise ValueError(
                "live mode needs base_url (config file, CRUXFORGE_LLM_BASE_URL or OPENAI_BASE_URL)"
            )
        self.config = config
        self.cache = cache
        self.mode = mode
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._lock = threading.Lock()
        self._usage = Usage()
        self._sdk: openai.OpenAI | None = None

    @property
    def usage(self) -> Usage:
        with self._lock:
            return self._usage

    def _count(self, **inc: int) -> None:
        with self._lock:
            u = self._usage
            self._usage = replace(u, **{k: getattr(u, k) + v for k, v in inc.items()})

    def request_for(self, messages: list[dict[str, Any]]) -> ChatRequest:
        c = self.config
        return ChatRequest(
            model=c.model, messages=messages, temperature=c.temperature, max_tokens=c.max_tokens
        )

    def complete(self, messages: list[dict[str, Any]], *, purpose: str = "") -> ChatResult:
        """Answer from the transcript if possible, else (live mode) from the endpoint."""
        if not messages:
            raise ValueError("messages must not be empty")
        start = time.monotonic()
        request = self.request_for(messages)
        key = request_key(request)
        if self.cache is not None:
            record = self.cache.get(key)
            if record is not None and not self._same_endpoint(record.endpoint):
                record = None  # another endpoint's answer: ask this one (and keep its answer)
            if record is not None:
                self._count(cache_hits=1)
                return self._result(record.response, key, True, start, 0)
        if self.mode == "replay":
            raise ReplayMiss(key, str(messages[-1].get("content", "")), purpose)
        response, attempts = self._call(request)
        self._count(
            requests=1,
            prompt_tokens=response.prompt_tokens,
            completion_tokens=response.completion_tokens,
        )
        # every answer is recorded, empty and truncated ones included: the repair loop turns
        # them into diagnostics, and a resumed or replayed build must see the same answer
        if self.cache is not None:
            self.cache.put(request, response, purpose=purpose, endpoint=_norm(self.config.base_url))
        return self._result(response, key, False, start, attempts)

    def _same_endpoint(self, endpoint: str | None) -> bool:
        """A live client answers from the transcript only what its own endpoint said; a
        replay (and a record from before endpoints were recorded) takes any."""
        return self.mode == "replay" or endpoint is None or endpoint == _norm(self.config.base_url)

    @staticmethod
    def _result(r: ChatResponse, key: str, cached: bool, start: float, attempts: int) -> ChatResult:
        return ChatResult(
            text=r.text,
            finish_reason=r.finish_reason,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            cached=cached,
            request_key=key,
            seconds=time.monotonic() - start,
            attempts=attempts,
        )

    def _client(self) -> openai.OpenAI:
        with self._lock:
            if self._sdk is None:
                self._sdk = openai.OpenAI(
                    base_url=self.config.base_url,
                    api_key=self.config.api_key(),
                    timeout=self.config.timeout_s,
                    max_retries=0,  # retries are ours: one policy, counted and logged
                )
            return self._sdk

    def _backoff(self, retry: int, retry_after: float | None) -> float:
        c = self.config
        if retry_after is not None:
            return min(retry_after, c.backoff_max_s)
        delay = min(c.backoff_max_s, c.backoff_base_s * 2 ** (retry - 1))
        return delay / 2 + random.uniform(0.0, delay / 2)  # jitter spreads parallel workers

    def _call(self, request: ChatRequest) -> tuple[ChatResponse, int]:
        sdk = self._client()
        total = self.config.max_retries + 1
        for attempt in range(1, total + 1):
            retry_after: float | None = None
            try:
                with self._slots, self._flying():
                    resp = sdk.chat.completions.create(
                        model=request.model,
                        messages=cast(Any, request.messages),
                        temperature=request.temperature,
                        max_tokens=request.max_tokens,
                    )
            except openai.APIStatusError as e:
                status = e.status_code
                if status != 429 and status < 500:
                    raise LLMRequestError(
                        f"{self.config.base_url} rejected the request with HTTP {status}: "
                        f"{e.message}",
                        status,
                    ) from e
                retry_after = retry_after_seconds(e.response.headers.get("retry-after"))
                cause: Exception = e
                why = f"HTTP {status}"
            except openai.APIConnectionError as e:  # includes APITimeoutError
                cause = e
                why = "timeout" if isinstance(e, openai.APITimeoutError) else f"connection: {e}"
            else:
                return self._parse(resp), attempt
            if attempt == total:
                raise LLMUnavailable(
                    f"{self.config.base_url} still failing after {attempt} attempts "
                    f"(max_retries={self.config.max_retries}); last: {why}",
                    attempt,
                ) from cause
            delay = self._backoff(attempt, retry_after)
            log.warning(
                "LLM call failed (%s), attempt %d/%d; retry in %.2fs", why, attempt, total, delay
            )
            self._count(retries=1)
            self._sleep(delay)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _flying(self) -> Iterator[None]:
        """Count a request in flight (the client's usage and the progress display)."""
        with self._lock:
            u = self._usage
            self._usage = replace(
                u, in_flight=u.in_flight + 1, most_in_flight=max(u.most_in_flight, u.in_flight + 1)
            )
        tracker().request(+1)
        try:
            yield
        finally:
            tracker().request(-1)
            with self._lock:
                self._usage = replace(self._usage, in_flight=self._usage.in_flight - 1)

    @staticmethod
    def _parse(resp: Any) -> ChatResponse:
        choice = resp.choices[0] if resp.choices else None
        usage = resp.usage
        return ChatResponse(
            text=(choice.message.content if choice and choice.message else None) or "",
            finish_reason=choice.finish_reason if choice else None,
            prompt_tokens=(usage.prompt_tokens if usage else 0) or 0,
            completion_tokens=(usage.completion_tokens if usage else 0) or 0,
        )

    def close(self) -> None:
        """Close the connection pool; a later request opens a new one."""
        with self._lock:
            sdk, self._sdk = self._sdk, None
        if sdk is not None:
            sdk.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: dict[tuple[str, str, str], ChatClient] = {}
_shared_lock = threading.Lock()


def shared_client(config: LLMConfig, cache: TranscriptCache | None, mode: Mode) -> ChatClient:
    """One client per (settings, transcript, mode) in this process, so every language of a
    build shares one bound on requests in flight (``config.concurrency``)."""
    where = str(cache.directory.resolve()) if cache is not None else ""
    key = (config.model_dump_json(), where, mode)
    with _shared_lock:
        client = _shared.get(key)
        if client is None:
            client = _shared[key] = ChatClient(config, cache=cache, mode=mode)
        return client


def close_shared() -> None:
    """Close every shared client's connections (they reopen if used again)."""
    with _shared_lock:
        clients = list(_shared.values())
    for c in clients:
        c.close()
