"""The batched engine: many programs of one language, one compilation, one process.

Registered as backend ``batched``; it wraps another backend (``local`` or ``docker``)
and gives the same verdicts as running each program on that backend alone, while paying
for one compiler invocation and one runtime start per batch instead of per program.

How it keeps the verdicts identical:

* programs are composed into one source by the *composer* the engine is given (the
  rules' ``transition_rules.batch``, registered when the rules are loaded), each item in
  its own namespace; the batch supervisor (``batch_supervisor.sh``) runs it and keeps
  per-item time and output limits;
* a function tree-sitter finds a syntax error in runs alone before the batch compiles;
* a compile error is charged to the items on the lines the compiler names; they are run
  alone (so their verdict and message are their own) and the rest is compiled again;
  when no item can be named, the batch is split in two (bisection);
* an item that stalls for its own time limit (counted as its share of the CPU while
  other segments run) times out, as it would alone, unless it holds over half the memory
  limit then (memory pressure may have slowed it: it is re-run alone); an item that
  writes more than the output cap itself gets ``output_exceeded``, as alone; an item that
  ends the process some other way (crash, memory, ``exit``) or runs close to its
  limit is re-run alone for its exact verdict; the items after it go on in a restarted
  process without recompiling;
* where the language's ``[batch] rerun_in_process`` allows it, that re-run is a fresh
  process of the already compiled batch, started at the item and stopped when the next
  begins, with the item's own limits and nothing else running (the supervisor does it
  after the batch); otherwise the item runs as its own program on the inner backend;
* a whole published program (``ProgramParts.whole``, judged by its exit status) is an
  item where the language's rules say how to hold one (``[batch.published]``): it passes
  when it finishes, fails with the status of an ``EXIT n`` line it writes (a failed
  assertion its item caught; ``EXIT SIGn``: the signal that would end it alone); one
  that ends the process, or stalls where its runtime variant allows it longer than the
  batch does, is re-run alone;
* programs the engine can't batch (no parts; a runtime variant or ``exit_status``
  judging without whole-program parts) run on the inner backend as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtimes.backend import (
    Backend,
    BatchRun,
    Program,
    ProgramParts,
    RunResult,
    ToolchainStatus,
    Verdict,
    get_backend,
    register_backend,
)
from runtimes.spec import RuntimeSpec, RuntimeSpecError, get_spec
from runtimes.verdicts import (
    ProcessOutcome,
    assemble_result,
    infra_result,
    signal_of_status,
    trim_diagnostics,
)

# an item still running after this long is left to run in the background while the batch
# goes on; if it finishes before its limit it is re-run alone for its exact verdict
SUSPECT_SECONDS = 1.0
COMPILE_ALLOWANCE_PER_ITEM = 0.05  # the batch compile limit grows by 5 % per item
MIN_SPLIT = 16  # a group is split over the inner backend's parallel slots only if each
# part gets at least this many programs

_ITEM_RE = re.compile(r"^ITEM (\d+)$")
_NOTE_RE = re.compile(r"^BATCH (END|NOSTART|SLOW) (\d+)(?: (\S+))?(?: (-?\d+))?$")
_ALONE_RE = re.compile(r"^BATCH ALONE (\d+) (DONE|EXIT|TIMEOUT|FLOODED) (-?\d+) ([01]) (\d+)$")
_ALONE_END_RE = re.compile(r"^BATCH ALONE-END (\d+)$")
# a whole published program's item caught its failed assertion: its exit status, or the
# signal that would have ended it alone (``EXIT SIG6``: C++'s assert aborts)
_EXIT_RE = re.compile(r"^EXIT (?:(\d+)|SIG(\d+))(?: (.*))?$")
_ALONE_ERR_RE = re.compile(r"=== crux alone (\d+) ===\n(.*?)\n=== crux alone end ===\n", re.S)


@dataclass(frozen=True)
class ComposedBatch:
    source: str
    # item position -> (first line, last line), 1-based, in ``source``
    lines: dict[int, tuple[int, int]]


@dataclass(frozen=True)
class BatchSettings:
    max_items: int
    rerun_in_process: bool


class Composer(Protocol):
    """Puts programs of one language into one source: the rules layer's job (it knows
    the language's namespaces), handed to the engine so that runtimes import no rules."""

    def settings(self, lang: str) -> BatchSettings | None:
        """The language's batch settings; None when its programs can't be batched."""

    def why_alone(self, program: Program) -> str | None:
        """Why ``program`` can't share a source (None: it can)."""

    def compose(self, lang: str, parts: list[ProgramParts]) -> ComposedBatch: ...

    def has_syntax_error(self, lang: str, function: str) -> bool:
        """A parse of the function alone finds an error (it would fail the batch)."""


_composer: Composer | None = None


def register_composer(composer: Composer) -> None:
    """Make ``composer`` the default of every batched engine (the rules do, on import)."""
    global _composer
    _composer = composer


@dataclass
class _Alone:
    """An item the supervisor ran again by itself (see batch_supervisor.sh)."""

    why: str  # DONE, EXIT, TIMEOUT or FLOODED
    rc: int
    oom: bool
    seconds: float
    lines: list[str] = field(default_factory=list)


@dataclass
class BatchStats:
    """What the engine did, for benchmarks and tests."""

    batches: int = 0  # batch programs run on the inner backend
    compile_failures: int = 0
    bisections: int = 0
    alone: int = 0  # programs run on their own (unbatchable or confirmed)
    rerun_in_batch: int = 0  # items the supervisor ran again by themselves, not recompiled
    confirmed: dict[str, int] = field(default_factory=dict)  # why items were re-run alone


@dataclass
class _Segmented:
    """A batch's verdict file, cut per item."""

    text: dict[int, list[str]] = field(default_factory=dict)  # item -> its lines
    finished: set[int] = field(default_factory=set)  # the next marker or DONE followed
    ended: dict[int, tuple[str, int]] = field(default_factory=dict)  # item -> (why, rc)
    slow: set[int] = field(default_factory=set)
    nostart: tuple[int, str, int] | None = None
    done: bool = False
    alone: dict[int, _Alone] = field(default_factory=dict)  # items re-run by themselves


def segment(verdict_text: str, n: int) -> _Segmented:
    """Cut a batch's verdict file into items (see batch_supervisor.sh for the notes)."""
    seg = _Segmented()
    cur: int | None = None
    alone: tuple[int, _Alone] | None = None
    for raw in verdict_text.split("\n"):
        line = raw.rstrip("\r")
        a = _ALONE_RE.match(line)
        if a:  # an item's own re-run: it counts only once its end note is there
            k = int(a.group(1))
            rc, oom, us = int(a.group(3)), a.group(4) == "1", int(a.group(5))
            alone = (k, _Alone(a.group(2), rc, oom, us / 1e6))
            cur = None
            continue
        if alone is not None:
            end = _ALONE_END_RE.match(line)
            if end and int(end.group(1)) == alone[0]:
                if 0 <= alone[0] < n:
                    seg.alone[alone[0]] = alone[1]
                alone = None
            else:
                alone[1].lines.append(line)
            continue
        m = _ITEM_RE.match(line)
        if m:
            k = int(m.group(1))
            if cur is not None and cur not in seg.ended:
                seg.finished.add(cur)
            cur = k if 0 <= k < n else None
            if cur is not None:
                seg.text.setdefault(cur, [])
            continue
        note = _NOTE_RE.match(line)
        if note:
            kind, k = note.group(1), int(note.group(2))
            why, rc = note.group(3) or "", int(note.group(4) or 0)
            if kind == "SLOW":
                seg.slow.add(k)
            elif kind == "END":
                seg.ended[k] = (why, rc)
                seg.finished.discard(k)
                cur = None
            else:
                seg.nostart = (k, why, rc)
            continue
        if line.strip() == "DONE":
            if cur is not None and cur not in seg.ended:
                seg.finished.add(cur)
            cur = None
            seg.done = True
            continue
        if cur is not None:
            seg.text[cur].append(line)
    return seg


# a diagnostic's severity: at the start of its line (rustc's blocks, whose location
# follows on a "-->" line), or after the location (gcc, swiftc, javac, mcs: "f:3:1: warning")
_SEVERITY_HEAD = re.compile(r"^\s*(warning|error|fatal)\b", re.I)
_SEVERITY_AFTER = re.compile(r"[:)]\s*(warning|error|fatal)\b", re.I)


def attribute(diagnostics: str, source_file: str, lines: dict[int, tuple[int, int]]) -> set[int]:
    """Items whose lines a compiler or interpreter message names; a warning's lines
    don't count (a batch that fails to compile also warns about items that are fine)."""
    nums: set[int] = set()
    f = re.escape(source_file)
    pats = [re.compile(p) for p in (rf"{f}[:(](\d+)", r"\bline (\d+)", rf"{f}\", line (\d+)")]
    block = ""  # the severity of the diagnostic the line belongs to
    for line in diagnostics.split("\n"):
        head = _SEVERITY_HEAD.match(line)
        after = _SEVERITY_AFTER.search(line)
        if head:
            block = head.group(1).lower()
        elif after:
            block = after.group(1).lower()
        if block == "warning":
            continue
        for pat in pats:
            nums.update(int(x) for x in pat.findall(line))
    found = set()
    for n in nums:
        for k, (a, b) in lines.items():
            if a <= n <= b:
                found.add(k)
    return found


def _alone_outcome(a: _Alone, stderr: str) -> ProcessOutcome:
    """How an item's run by itself ended, as the sandbox backends report a process."""
    out = ProcessOutcome(exit_code=a.rc, seconds=a.seconds, stderr=stderr, memory_exceeded=a.oom)
    if a.why == "TIMEOUT":
        out.exit_code, out.signal, out.timed_out = None, 9, True
    elif a.why == "FLOODED":
        out.exit_code, out.signal, out.output_exceeded = None, 9, True
    else:
        out.signal = signal_of_status(a.rc)
    return out


@register_backend
class BatchedBackend(Backend):
    name = "batched"

    def __init__(
        self,
        inner: str = "auto",
        max_items: int | None = None,
        composer: Composer | None = None,
        **options: Any,
    ):
        if inner == self.name:
            raise ValueError("the batched engine needs another backend inside it")
        self.inner_name = inner
        self.inner = get_backend(inner, **options)
        self.max_items = max_items
        self._composer = composer
        self.stats = BatchStats()

    @property
    def composer(self) -> Composer | None:
        """The composer given, else the one registered by the rules (looked up when used:
        the rules may be loaded after the engine is made)."""
        return self._composer or _composer

    def doctor(self, lang: str) -> ToolchainStatus:
        st = self.inner.doctor(lang)
        return st.model_copy(update={"backend": f"{self.name}/{self.inner_name}"})

    def close(self) -> None:
        self.inner.close()

    # ------------------------------------------------------------------ planning

    def _batch_rules(self, program: Program) -> BatchSettings | None:
        """The language's batch settings when ``program`` can share a source, else None."""
        if self.composer is None:  # nothing rendered from rules was loaded: no parts
            return None
        if program.parts is None or program.batch is not None:
            return None
        # a whole published program (judged by its exit status, maybe run as a variant)
        # shares a batch where the composer says how; a harness program must be plain
        whole = program.parts.whole and program.judge == "exit_status"
        if not whole and (program.judge != "protocol" or program.variant):
            return None
        if program.n_cases == 0:
            return None
        if program.compile_seconds is not None:
            return None
        try:
            settings = self.composer.settings(program.lang)
        except Exception:  # no rules for the language: the inner backend says why
            return None
        if settings is None or self.composer.why_alone(program) is not None:
            return None
        return settings

    def execute(self, programs: Sequence[Program]) -> list[RunResult]:
        results: list[RunResult | None] = [None] * len(programs)
        groups: dict[str, list[int]] = {}
        alone: list[int] = []
        rules_of: dict[str, BatchSettings] = {}
        for i, p in enumerate(programs):
            rules = self._batch_rules(p)
            if rules is None:
                alone.append(i)
            else:
                rules_of[p.lang] = rules
                groups.setdefault(p.lang, []).append(i)
        for lang, idxs in groups.items():
            if len(idxs) == 1:
                alone.extend(idxs)
                continue
            got = self._run_group(rules_of[lang], [programs[i] for i in idxs])
            for i, r in zip(idxs, got):
                results[i] = r
        if alone:
            got = self._alone([programs[i] for i in alone], ["not batchable"] * len(alone))
            for i, r in zip(alone, got):
                results[i] = r
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _count_alone(self, whys: list[str]) -> None:
        """Count programs that run one per process, and why."""
        self.stats.alone += len(whys)
        for why, n in Counter(whys).items():
            self.stats.confirmed[why] = self.stats.confirmed.get(why, 0) + n

    def _alone(self, programs: list[Program], whys: list[str]) -> list[RunResult]:
        """Run programs one per process on the inner backend, counting why."""
        self._count_alone(whys)
        return self.inner.execute(programs)

    def _run_group(self, rules: BatchSettings, progs: list[Program]) -> list[RunResult]:
        try:
            spec = get_spec(progs[0].lang)
        except RuntimeSpecError:
            return self._alone(progs, ["no runtime spec"] * len(progs))
        return _Group(self, rules, spec, progs).run()


class _Group:
    """One language's programs through batches: what is settled, what runs alone (and
    why), what is still to batch."""

    def __init__(
        self,
        engine: BatchedBackend,
        rules: BatchSettings,
        spec: RuntimeSpec,
        progs: list[Program],
    ) -> None:
        self.engine, self.rules, self.spec, self.progs = engine, rules, spec, progs
        self.stats = engine.stats
        self.out: dict[int, RunResult] = {}
        self.confirm: dict[int, str] = {}  # program -> why it runs alone
        self.todo: list[list[int]] = []
        # each program's runtime variant (a published program's), once per variant name
        self.variants = {p.variant: spec.for_variant(p.variant) for p in progs}

    def run(self) -> list[RunResult]:
        composer = self.engine.composer
        assert composer is not None
        lang, limits = self.spec.lang, self.spec.limits
        # a function tree-sitter can't parse would fail the whole batch's compile: it runs
        # alone (exactly as before) and the batch compiles once
        for i, p in enumerate(self.progs):
            try:
                # (a whole program's screen is its rules' choice: Composer.why_alone)
                broken = bool(
                    p.parts
                    and not p.parts.whole
                    and composer.has_syntax_error(lang, p.parts.function)
                )
            except Exception:  # no grammar: leave it to the compiler
                broken = False
            if broken:
                self.confirm[i] = "syntax error seen before compiling"
        rest = [i for i in range(len(self.progs)) if i not in self.confirm]
        # batches of at most max_items programs, all of about the same size, as many as
        # the inner backend runs at once (or a multiple), so no slot idles on the last
        width = max(1, int(getattr(self.engine.inner, "parallel", 2)))
        size = self.engine.max_items or self.rules.max_items
        parts = max(-(-len(rest) // size), min(width, len(rest) // MIN_SPLIT), 1)
        if parts > width and len(rest) // (-(-parts // width) * width) >= MIN_SPLIT:
            parts = -(-parts // width) * width
        self.todo = [rest[j::parts] for j in range(parts) if rest]
        while self.todo:
            # every batch ready goes to the inner backend at once: its slots take the
            # next as one ends, so a batch held up by a loop holds up no other
            wave: list[list[int]] = []
            while self.todo:
                idxs = self.todo.pop()
                if len(idxs) == 1:
                    self.confirm.setdefault(idxs[0], "left alone by bisection")
                else:
                    wave.append(idxs)
            if not wave:
                continue
            composed = [
                composer.compose(lang, [self.progs[i].parts for i in w])  # type: ignore[misc]
                for w in wave
            ]
            bprogs = [
                Program(
                    id=f"batch:{lang}:{self.progs[idxs[0]].id}+{len(idxs) - 1}",
                    lang=lang,
                    source=c.source,
                    n_cases=0,
                    batch=BatchRun(
                        items=len(idxs),
                        item_seconds=limits.run_seconds,
                        suspect_seconds=min(SUSPECT_SECONDS, limits.run_seconds / 4),
                        rerun_in_process=self.rules.rerun_in_process,
                    ),
                    compile_seconds=limits.compile_seconds
                    * (1 + COMPILE_ALLOWANCE_PER_ITEM * len(idxs)),
                )
                for idxs, c in zip(wave, composed)
            ]
            self.stats.batches += len(bprogs)
            # programs already known to run alone go along, after the batches, so they
            # take a slot a batch leaves free instead of waiting for every batch to end
            ready = sorted(i for i in self.confirm if i not in self.out)
            self.engine._count_alone([self.confirm[i] for i in ready])
            got = self.engine.inner.execute(bprogs + [self.progs[i] for i in ready])
            self.out.update(zip(ready, got[len(bprogs) :]))
            for idxs, c, res in zip(wave, composed, got):
                self._settle(idxs, res, c)
        order = sorted(i for i in self.confirm if i not in self.out)
        if order:
            got = self.engine._alone(
                [self.progs[i] for i in order], [self.confirm[i] for i in order]
            )
            self.out.update(zip(order, got))
        return [self.out[i] for i in range(len(self.progs))]

    def _settle(self, idxs: list[int], res: RunResult, composed: ComposedBatch) -> None:
        """One batch's result: infra fault, compile error (charged or bisected), or run."""
        head = res.cases[0] if res.cases else None
        if head is not None and head.verdict is Verdict.infra_error:
            for i in idxs:
                self.out[i] = infra_result(self.progs[i], head.message or "sandbox failure")
            return
        if head is not None and head.verdict is Verdict.compile_error:
            self.stats.compile_failures += 1
            # the whole compiler output (the case message is trimmed for people)
            diagnostics = res.compile_output or head.message or ""
            named = attribute(diagnostics, self.spec.source_file, composed.lines)
            if named and len(named) < len(idxs):
                for k in named:
                    self.confirm[idxs[k]] = "compile error charged to it"
                self.todo.append([i for k, i in enumerate(idxs) if k not in named])
            else:
                self._bisect(idxs)
            return
        self._judge(idxs, res, composed)

    def _bisect(self, idxs: list[int]) -> None:
        self.stats.bisections += 1
        half = len(idxs) // 2
        self.todo.append(idxs[half:])
        self.todo.append(idxs[:half])

    def _judge(self, idxs: list[int], res: RunResult, composed: ComposedBatch) -> None:
        """Each item's verdict from the batch's verdict file and the supervisor's notes."""
        seg = segment(res.verdict_text, len(idxs))
        per_item = res.seconds / max(1, len(idxs))
        ended = {  # how the supervisor's stop of an item reads alone, where it is exact
            "STALL": ProcessOutcome(
                exit_code=None, signal=9, timed_out=True, seconds=self.spec.limits.run_seconds
            ),
            "FLOODED": ProcessOutcome(
                exit_code=None, signal=9, output_exceeded=True, seconds=per_item
            ),
        }
        errs = {int(k): text for k, text in _ALONE_ERR_RE.findall(res.stderr)}
        unreached: list[int] = []
        for k, i in enumerate(idxs):
            lines = "\n".join(seg.text.get(k, []))
            run: ProcessOutcome | None = None
            if k in seg.alone:  # the supervisor ran it by itself: that is its verdict
                run = _alone_outcome(seg.alone[k], errs.get(k, ""))
                lines = "\n".join(seg.alone[k].lines)
                self.stats.rerun_in_batch += 1
            elif k in seg.ended:
                why = seg.ended[k][0]
                run = ended.get(why)
                own = self.variants[self.progs[i].variant].limits.run_seconds
                if why == "STALL" and own > self.spec.limits.run_seconds:
                    run = None  # its runtime variant allows it longer: run it alone
                if run is None:
                    self.confirm[i] = (
                        "stalled near the memory limit"
                        if why == "STALLMEM"
                        else f"ended the batch process ({why.lower()})"
                    )
            elif k in seg.slow:
                self.confirm[i] = "close to its time limit"
            elif k in seg.finished:
                run = ProcessOutcome(exit_code=0, seconds=per_item)
                if self.progs[i].judge == "exit_status":
                    ex = next(filter(None, map(_EXIT_RE.match, seg.text.get(k, []))), None)
                    if ex is not None:
                        run.stderr = ex.group(3) or ""
                        if ex.group(2) is not None:
                            run.exit_code, run.signal = None, int(ex.group(2))
                        else:
                            run.exit_code = int(ex.group(1))
            else:
                unreached.append(i)
            if run is not None:
                self.out[i] = assemble_result(
                    self.progs[i], compile=None, run=run, verdict_text=lines,
                    stderr_fails=self.variants[self.progs[i].variant].stderr_fails,
                )  # fmt: skip
                self.out[i].compile_output = trim_diagnostics(res.compile_output)
        if unreached:
            self._go_on(idxs, unreached, res, composed, seg.nostart is not None)

    def _go_on(
        self,
        idxs: list[int],
        unreached: list[int],
        res: RunResult,
        composed: ComposedBatch,
        nostart: bool,
    ) -> None:
        """Items the batch never reached: charge a start-up failure, split, or go on."""
        if nostart:
            where = {idxs.index(i) for i in unreached}
            named = attribute(res.stderr, self.spec.source_file, composed.lines) & where
            if named and len(named) < len(unreached):
                for k in named:
                    self.confirm[idxs[k]] = "failed the batch at start-up"
                self.todo.append([i for i in unreached if idxs.index(i) not in named])
                return
        if len(unreached) == len(idxs) or nostart:
            if len(unreached) > 1:
                self._bisect(unreached)
            else:
                self.confirm[unreached[0]] = "left alone by bisection"
        else:  # progress was made: the rest goes on in a new batch
            self.todo.append(unreached)
