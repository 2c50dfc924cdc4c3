"""What a running build, translation, audit or verification has done so far, per language.

The library reports into one process-wide :class:`Tracker` (items finished, the current
repair round, LLM requests in flight); the CLI draws it as progress bars, and the build
flow turns it into a Prefect progress artifact. Reporting is cheap and thread-safe, and
nothing depends on anyone watching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LangProgress:
    total: int = 0
    done: int = 0
    validated: int = 0
    failed: int = 0
    skipped: int = 0
    reused: int = 0
    round: int = 0
    active: int = 0  # items still in the loop
    phase: str = "waiting"  # waiting | asking | running | done


@dataclass
class Snapshot:
    langs: dict[str, LangProgress]
    in_flight: int
    most_in_flight: int
    started: float
    title: str = ""

    @property
    def total(self) -> int:
        return sum(p.total for p in self.langs.values())

    @property
    def done(self) -> int:
        return sum(p.done for p in self.langs.values())


@dataclass
class Tracker:
    title: str = ""
    langs: dict[str, LangProgress] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _in_flight: int = 0
    _most: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def _changed(self) -> None:
        for fn in list(self._listeners):
            fn()

    def listen(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def unlisten(self, fn: Callable[[], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def start(self, lang: str, total: int) -> None:
        """A language's items begin (again, after a retry: its counts restart)."""
        with self._lock:
            self.langs[lang] = LangProgress(total=total)
        self._changed()

    def item(self, lang: str, status: str, reused: bool = False) -> None:
        with self._lock:
            p = self.langs.setdefault(lang, LangProgress())
            p.done += 1
            if status in ("validated", "failed", "skipped"):
                setattr(p, status, getattr(p, status) + 1)
            p.reused += reused
        self._changed()

    def phase(
        self, lang: str, phase: str, rnd: int | None = None, active: int | None = None
    ) -> None:
        with self._lock:
            p = self.langs.setdefault(lang, LangProgress())
            p.phase = phase
            if rnd is not None:
                p.round = rnd
            if active is not None:
                p.active = active
        self._changed()

    def request(self, delta: int) -> None:
        """An LLM request starts (+1) or ends (-1)."""
        with self._lock:
            self._in_flight += delta
            self._most = max(self._most, self._in_flight)

    def snapshot(self) -> Snapshot:
        with self._lock:
            langs = {k: LangProgress(**vars(v)) for k, v in self.langs.items()}
            return Snapshot(langs, self._in_flight, self._most, self.started, self.title)


_current = Tracker()
_current_lock = threading.Lock()


def tracker() -> Tracker:
    """The process's tracker (what the CLI draws)."""
    return _current


def reset(title: str = "") -> Tracker:
    """Start counting afresh (a new command in this process); returns the new tracker.
    Listeners carry over, so a display attached before the reset keeps drawing."""
    global _current
    with _current_lock:
        listeners = list(_current._listeners)
        _current = Tracker(title=title)
        _current._listeners.extend(listeners)
        return _current
