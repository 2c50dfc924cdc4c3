"""Backend ``auto``: each language on the host's toolchain where there is one, else in Docker.

A host rarely has every toolchain (Debian 12 has no Swift); Docker runs what the host
can't, and the host runs the rest without container start-up. The choice is made once
per language, from the backends' own ``doctor``, and shown in ``doctor``'s result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtimes.backend import (
    Backend,
    Program,
    RunResult,
    ToolchainStatus,
    get_backend,
    register_backend,
)
from runtimes.verdicts import infra_result

PREFERENCE = ("local", "docker")


@register_backend
class AutoBackend(Backend):
    name = "auto"

    def __init__(self, prefer: Sequence[str] = PREFERENCE, **options: Any) -> None:
        self.prefer = tuple(prefer)
        self.options = options
        self._backends: dict[str, Backend] = {}
        self._choice: dict[str, tuple[str | None, ToolchainStatus]] = {}

    def _backend(self, name: str) -> Backend:
        if name not in self._backends:
            self._backends[name] = get_backend(name, **self.options)
        return self._backends[name]

    def _choose(self, lang: str) -> tuple[str | None, ToolchainStatus]:
        if lang not in self._choice:
            reasons = []
            chosen: tuple[str | None, ToolchainStatus] | None = None
            for name in self.prefer:
                try:
                    st = self._backend(name).doctor(lang)
                except Exception as e:  # a backend that can't start here (no engine)
                    reasons.append(f"{name}: {e}")
                    continue
                if st.available:
                    chosen = (name, st.model_copy(update={"backend": f"{self.name}/{name}"}))
                    break
                reasons.append(f"{name}: {st.reason}")
            if chosen is None:
                chosen = (
                    None,
                    ToolchainStatus(
                        lang=lang, backend=self.name, available=False, reason="; ".join(reasons)
                    ),
                )
            self._choice[lang] = chosen
        return self._choice[lang]

    def doctor(self, lang: str) -> ToolchainStatus:
        return self._choose(lang)[1]

    def execute(self, programs: Sequence[Program]) -> list[RunResult]:
        results: list[RunResult | None] = [None] * len(programs)
        by_backend: dict[str, list[int]] = {}
        for i, p in enumerate(programs):
            name, status = self._choose(p.lang)
            if name is None:
                results[i] = infra_result(p, f"{p.lang} can't run here: {status.reason}")
            else:
                by_backend.setdefault(name, []).append(i)
        for name, idxs in by_backend.items():
            got = self._backend(name).execute([programs[i] for i in idxs])
            for i, r in zip(idxs, got):
                results[i] = r
        return [r for r in results if r is not None]

    def close(self) -> None:
        for b in self._backends.values():
            b.close()
        self._backends.clear()
