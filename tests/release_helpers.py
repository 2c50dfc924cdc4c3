"""Shared by the release and flow tests: small seed files and a scripted 'LLM' that
translates demo seeds into Python (the seed's own code, fenced)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from cruxforge.llm.testserver import Reply
from tests.conftest import DEMO_REFS, DEMO_SEEDS


def small_seeds(tmp: Path, n: int, name: str = "seeds.jsonl") -> Path:
    """The first ``n`` demo seeds as a seed file of their own."""
    lines = DEMO_SEEDS.read_text(encoding="utf-8").splitlines()[:n]
    path = tmp / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export_demo(out: Path, languages: str) -> Path:
    """The demo seeds with their reference translations as CRUXEval-X items (the real CLI)."""
    subprocess.run(
        ["cruxforge", "export", "--seeds", str(DEMO_SEEDS), "--references", str(DEMO_REFS),
         "--out", str(out), "--languages", languages],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return out


def python_of(body: dict[str, Any]) -> str:
    """The Python function a translate request asks about (its first ```python block)."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return user.split("```python\n", 1)[1].split("\n```", 1)[0].strip()


class PythonTranslator:
    """Script for ScriptedChatServer: answers with the seed's own code as a Python block."""

    def __call__(self, body: dict[str, Any]) -> Reply:
        code = python_of(body)
        return Reply.answer(f"```python\n{code}\n```", prompt_tokens=50, completion_tokens=20)


class ReferenceChat:
    """Script for ScriptedChatServer: answers a translate request with the demo reference
    translation of that seed into the asked language, deterministically.

    ``faulty``: (lang, seed id) pairs whose *first* answer (a conversation of one user
    message) is a wrong function; the repair request gets the reference, so those items
    are validated after one repair round. ``gate``: (lang, seed id) pairs whose answer
    blocks until :meth:`release`; ``blocked`` counts requests waiting at a gate.
    ``answered`` counts the replies handed back to the server.
    """

    def __init__(
        self,
        faulty: set[tuple[str, str]] | None = None,
        gate: set[tuple[str, str]] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        from cruxforge.translators.reference import read_benchmark
        from runtimes.spec import LANGUAGES
        from transition_rules.engine import rules_for

        self.refs = {
            (it.seed_id, lang): it.code
            for lang, items in read_benchmark(DEMO_REFS).items()
            for it in items
        }
        self.lang_of = {rules_for(x).name: x for x in LANGUAGES}
        seeds = [json.loads(x) for x in DEMO_SEEDS.read_text().splitlines() if x.strip()]
        self.id_of = {s["code"].strip(): s["id"] for s in seeds}
        self.faulty = faulty or set()
        self.delay_s = delay_s
        self.gate = gate or set()
        self._open = threading.Event()
        self._lock = threading.Lock()
        self.blocked = 0
        self.answered = 0

    def release(self) -> None:
        self.gate = set()
        self._open.set()

    def which(self, body: dict[str, Any]) -> tuple[str, str]:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        name = user.split("Translate this Python function into ", 1)[1].split(".\n", 1)[0]
        return self.lang_of[name], self.id_of[python_of(body)]

    def __call__(self, body: dict[str, Any]) -> Reply:
        lang, sid = self.which(body)
        if (lang, sid) in self.gate:
            with self._lock:
                self.blocked += 1
            self._open.wait(900)
        users = sum(m["role"] == "user" for m in body["messages"])
        code = self.refs[(sid, lang)]
        if (lang, sid) in self.faulty and users == 1:
            code = self.refs[("demo_0" if sid != "demo_0" else "demo_3", lang)]
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.answered += 1
        return Reply.answer(f"```\n{code}\n```", prompt_tokens=50, completion_tokens=20)


def typed_seeds(path: Path) -> list[Any]:
    """The typed seeds of a seed file (validated by the real seed checker)."""
    from cruxforge.seeds.check import check_file

    return [c.typed for c in check_file(path) if c.typed is not None]
