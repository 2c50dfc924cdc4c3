"""Rounds across items: how a language's items go through the repair loop together.

Round k of a language: every pending item's answer is requested at once (up to the
drafter's concurrency; an OpenAI-compatible server is fast only with many requests in
flight), then every round-k program of the language goes to the backend in one
``execute`` call (the batched engine compiles them together), then every program that
passed runs again, in one more call (the flakiness check). Items that failed get their
repair message in round k+1. Each item's own steps are :class:`~cruxforge.translate.loop.ItemRun`'s,
so an item's result never depends on which items share its rounds, or on the concurrency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from cruxforge.progress import tracker
from cruxforge.translate.loop import Answer, Drafter, DraftUnavailable, ItemRun
from runtimes.backend import Backend, Program

DEFAULT_CONCURRENCY = 16


def drafter_concurrency(drafter: Drafter | None) -> int:
    """How many answers to ask for at once: the LLM config's ``concurrency``."""
    client = getattr(drafter, "client", None)
    config = getattr(client, "config", None)
    return int(getattr(config, "concurrency", DEFAULT_CONCURRENCY))


def ask_all(
    runs: Sequence[ItemRun], drafter: Drafter | None, concurrency: int
) -> list[Answer | DraftUnavailable]:
    """Every run's answer for its current round, asked concurrently, in the runs' order."""
    ask = [r for r in runs if r.needs_drafter()]
    got: dict[int, Answer | DraftUnavailable] = {}
    if ask and concurrency > 1 and len(ask) > 1:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(ask))) as pool:
            for r, a in zip(ask, pool.map(lambda r: r.answer(drafter), ask)):
                got[id(r)] = a
    else:
        for r in ask:
            got[id(r)] = r.answer(drafter)
    return [got[id(r)] if id(r) in got else r.answer(drafter) for r in runs]


def run_rounds(
    runs: Sequence[ItemRun],
    drafter: Drafter | None,
    backend: Backend,
    *,
    concurrency: int | None = None,
    on_done: Callable[[ItemRun], None] | None = None,
) -> None:
    """Drive ``runs`` (one language) round by round until every one is done."""
    width = concurrency or drafter_concurrency(drafter)
    prog = tracker()
    lang = runs[0].lang if runs else ""
    finished: set[int] = set()

    def settle() -> None:
        for r in runs:
            if r.done and id(r) not in finished:
                finished.add(id(r))
                if on_done:
                    on_done(r)

    settle()
    rnd = 0
    while active := [r for r in runs if not r.done]:
        prog.phase(lang, "asking", rnd, len(active))
        answers = ask_all(active, drafter, width)
        programs: list[tuple[ItemRun, Program]] = []
        for r, a in zip(active, answers):
            p = r.take_answer(a)
            if p is not None:
                programs.append((r, p))
        prog.phase(lang, "running", rnd, len(active))
        results = backend.execute([p for _, p in programs]) if programs else []
        again = [(r, p) for (r, p), res in zip(programs, results) if r.take_result(res)]
        reruns = backend.execute([p for _, p in again]) if again else []
        for (r, _), res in zip(again, reruns):
            r.take_rerun(res)
        for r in active:
            r.end_round()
        settle()
        rnd += 1
    prog.phase(lang, "done", rnd, 0)
