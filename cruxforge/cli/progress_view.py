"""Progress bars in the terminal for a running command (drawn from :mod:`cruxforge.progress`).

One bar per language (items finished, the current round and what it is doing), and a
line with the LLM requests in flight; rich estimates the time left from the rate so far.
Drawn from a background thread twice a second, so the library never waits on the screen.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cruxforge.progress import Snapshot, reset

REFRESH_S = 0.5


def _describe(lang: str, snap: Snapshot) -> str:
    p = snap.langs[lang]
    if p.phase in ("asking", "running") and p.active:
        what = "asking the model" if p.phase == "asking" else "running programs"
        return f"{lang:<6} round {p.round}: {what} ({p.active} items)"
    extra = f", {p.reused} reused" if p.reused else ""
    return f"{lang:<6} {p.validated} ok, {p.failed} failed, {p.skipped} skipped{extra}"


@contextlib.contextmanager
def show_progress(console: Console, title: str) -> Iterator[None]:
    """Bars for the command run inside the ``with``; they stay on screen at the end."""
    tracker = reset(title)
    if not console.is_terminal and not console.is_jupyter:
        # not a terminal (a log file, CI): one line per finished language instead of bars
        printed: set[str] = set()
        lock = threading.Lock()

        def line() -> None:
            snap = tracker.snapshot()
            for lang, p in snap.langs.items():
                if p.total and p.done >= p.total and lang not in printed:
                    with lock:
                        if lang in printed:
                            continue
                        printed.add(lang)
                    console.print(f"{title}: {_describe(lang, snap)}", soft_wrap=True)

        tracker.listen(line)
        try:
            yield
        finally:
            tracker.unlisten(line)
            snap = tracker.snapshot()
            if snap.most_in_flight:
                console.print(f"LLM requests in flight: at most {snap.most_in_flight} at once")
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    ids: dict[str, TaskID] = {}
    head = bars.add_task(title, total=None)
    stop = threading.Event()

    def draw() -> None:
        snap = tracker.snapshot()
        for lang, p in snap.langs.items():
            if lang not in ids:
                ids[lang] = bars.add_task(lang, total=p.total)
            bars.update(ids[lang], total=p.total, completed=p.done,
                        description=_describe(lang, snap))  # fmt: skip
        bars.update(head, total=snap.total or None, completed=snap.done,
                    description=f"{title}: LLM requests in flight {snap.in_flight} "
                    f"(most {snap.most_in_flight})")  # fmt: skip

    def loop() -> None:
        while not stop.wait(REFRESH_S):
            draw()

    thread = threading.Thread(target=loop, name="progress-view", daemon=True)
    with bars:
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(2)
            draw()
