"""Where the loop's answers come from: a reference benchmark, a live LLM, or a replay.

Three translators, one interface (:class:`~cruxforge.translate.loop.Drafter`), chosen by
name with :func:`make_drafter`; an unknown name raises a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cruxforge.models import TypedSeed
from cruxforge.translate.loop import Answer, DraftUnavailable
from cruxforge.translate.prompts import fence
from cruxforge.translators import TranslationUnavailable
from cruxforge.translators.reference import ReferenceTranslator
from transition_rules.engine import render_stub, rules_for

TRANSLATORS = ("llm", "replay", "reference", "none")


class ReferenceDrafter:
    """Answers with the benchmark's function; a repair request gets the same answer."""

    name = "reference"

    def __init__(self, folder: Path | str) -> None:
        self.translator = ReferenceTranslator(folder)

    def answer(self, seed: TypedSeed, lang: str, messages: list[dict[str, str]]) -> Answer:
        try:
            code = self.translator.translate(seed, lang, render_stub(rules_for(lang), seed))
        except TranslationUnavailable as e:
            raise DraftUnavailable(str(e)) from None
        return Answer(text=f"```{fence(lang)}\n{code}\n```")


class ChatDrafter:
    """Answers from a chat-completions client (live, or replaying a transcript)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def answer(self, seed: TypedSeed, lang: str, messages: list[dict[str, str]]) -> Answer:
        from cruxforge.llm.client import LLMRequestError, LLMUnavailable, ReplayMiss

        try:
            r = self.client.complete(messages, purpose=f"translate {seed.id} {lang}")
        except (LLMUnavailable, LLMRequestError, ReplayMiss) as e:
            raise DraftUnavailable(f"{type(e).__name__}: {e}") from None
        return Answer(
            text=r.text or "",
            finish_reason=r.finish_reason,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            cached=r.cached,
            request_key=r.request_key,
        )


class UnknownTranslatorError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def make_drafter(
    spec: str,
    *,
    references: Path | None = None,
    llm_config: Any = None,
    transcript: Path | None = None,
) -> Any:
    """``reference`` (needs ``references``), ``llm``, ``replay:DIR`` / ``replay``, or
    ``none`` (no translator: drafts are validated, not repaired; returns None)."""
    name, _, arg = spec.partition(":")
    if name == "reference":
        if references is None and not arg:
            raise ValueError("the reference translator needs --references DIR")
        return ReferenceDrafter(Path(arg) if arg else references)  # type: ignore[arg-type]
    if name in ("llm", "replay"):
        from cruxforge.llm.client import ChatClient, Mode, shared_client
        from cruxforge.llm.transcript import TranscriptCache

        directory = Path(arg) if arg else transcript
        if name == "replay" and directory is None:
            raise ValueError("the replay translator needs a transcript: replay:DIR")
        cache = TranscriptCache(directory) if directory is not None else None
        mode: Mode = "live" if name == "llm" else "replay"
        ChatClient(llm_config, cache=cache, mode=mode)  # a bad setting fails here, clearly
        return ChatDrafter(shared_client(llm_config, cache, mode), name)
    if name == "none":
        return None
    raise UnknownTranslatorError(
        f"unknown translator {name!r}; known translators: {', '.join(TRANSLATORS)}"
    )
