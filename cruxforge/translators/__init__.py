"""Translators: where a seed's function in a target language comes from.

One small interface (:class:`Translator`), one module per implementation, registered by
name. ``reference`` reads an existing benchmark; ``llm`` and ``replay`` (the LLM loop)
plug in here too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from cruxforge.models import TypedSeed


class TranslationUnavailable(LookupError):
    """The translator has nothing for this seed and language; the message says why."""


class Translator(ABC):
    name: ClassVar[str]

    @abstractmethod
    def translate(self, seed: TypedSeed, lang: str, stub: str) -> str:
        """The function ``seed.entry`` in ``lang``; raises TranslationUnavailable."""


_TRANSLATORS: dict[str, type[Translator]] = {}


def register_translator(cls: type[Translator]) -> type[Translator]:
    _TRANSLATORS[cls.name] = cls
    return cls


class UnknownTranslatorError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_translator(name: str, **options: Any) -> Translator:
    import cruxforge.translators.reference  # noqa: F401 - registers itself

    try:
        cls = _TRANSLATORS[name]
    except KeyError:
        raise UnknownTranslatorError(
            f"unknown translator {name!r}; known translators: {', '.join(sorted(_TRANSLATORS))}"
        ) from None
    return cls(**options)
