"""LLM client layer: config, retrying client, transcript cache and replay, test server."""

from cruxforge.llm.client import (
    ChatClient,
    ChatResult,
    LLMError,
    LLMRequestError,
    LLMUnavailable,
    ReplayMiss,
    Usage,
)
from cruxforge.llm.config import ConfigError, LLMConfig, load_config
from cruxforge.llm.transcript import (
    ChatRequest,
    ChatResponse,
    TranscriptCache,
    TranscriptError,
    TranscriptRecord,
    request_key,
)

__all__ = [
    "ChatClient",
    "ChatRequest",
    "ChatResponse",
    "ChatResult",
    "ConfigError",
    "LLMConfig",
    "LLMError",
    "LLMRequestError",
    "LLMUnavailable",
    "ReplayMiss",
    "TranscriptCache",
    "TranscriptError",
    "TranscriptRecord",
    "Usage",
    "load_config",
    "request_key",
]
