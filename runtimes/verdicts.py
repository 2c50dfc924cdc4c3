"""Verdict assembly: what a backend observed -> one :class:`CaseVerdict` per case.

Implements the verdict protocol of docs/architecture.md. Backends (local, docker) only
*observe* processes and describe each one as a :class:`ProcessOutcome`; the decision of
which verdict each case gets is made here, once, by :func:`assemble_result`. Pure
functions only: no process, file or clock access.

Rules, in order:

1. the sandbox itself failed (``infra_error`` on the compile or run outcome) ->
   ``infra_error`` for every case, with the message; never counted against a program;
2. the compile step did not succeed (non-zero exit, signal, timeout, memory, output) ->
   ``compile_error`` for every case, message = trimmed diagnostics (stderr + stdout);
3. otherwise the verdict file is parsed: ``CASE n PASS`` -> passed, ``CASE n FAIL x`` ->
   wrong_answer (actual ``x``, expected from the program), ``CASE n ERROR m`` ->
   runtime_error (message ``m``); the first line for a case wins;
4. cases without a line get a verdict from how the run process ended: memory_exceeded
   (an OOM kill happened, even if the program then ran out of time), timeout,
   output_exceeded, else runtime_error (with the exit status / signal
   and trimmed stderr as the message).
"""

from __future__ import annotations

import re
import signal as _signal

from pydantic import BaseModel

from runtimes.backend import CaseVerdict, Program, RunResult, Verdict

MAX_DIAGNOSTIC_CHARS = 4000
MAX_DIAGNOSTIC_LINES = 40
MAX_STREAM_CHARS = 16_000  # stdout/stderr kept on RunResult for debugging
BATCH_DIAGNOSTIC_CHARS = 2_000_000
BATCH_DIAGNOSTIC_LINES = 50_000

_CASE_RE = re.compile(r"^CASE[ \t]+(\d+)[ \t]+(PASS|FAIL|ERROR)(?:[ \t](.*))?$")


class ProcessOutcome(BaseModel):
    """What a backend observed for one process (compile or run step)."""

    exit_code: int | None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    memory_exceeded: bool = False
    output_exceeded: bool = False
    infra_error: str | None = None  # the sandbox failed (not the program)
    seconds: float = 0.0
    cpu_seconds: float | None = None  # CPU time, where the sandbox's cgroup tells it

    @property
    def succeeded(self) -> bool:
        return (
            self.infra_error is None
            and not self.timed_out
            and not self.memory_exceeded
            and not self.output_exceeded
            and self.signal is None
            and self.exit_code == 0
        )

    def describe_end(self) -> str:
        """A short phrase for how the process ended, e.g. 'killed by SIGKILL'."""
        if self.timed_out:
            return "timed out"
        if self.memory_exceeded:
            return "exceeded the memory limit"
        if self.output_exceeded:
            return "exceeded the output limit"
        if self.signal is not None:
            try:
                name = _signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        if self.exit_code is None:
            return "ended with an unknown status"
        return f"exited with status {self.exit_code}"


def trim_diagnostics(
    text: str, *, max_chars: int = MAX_DIAGNOSTIC_CHARS, max_lines: int = MAX_DIAGNOSTIC_LINES
) -> str:
    """Trim compiler/runtime diagnostics for storage and for a repair prompt.

    Strips ANSI colour codes and trailing whitespace, drops blank lines at both ends,
    keeps the first ``max_lines`` lines and ``max_chars`` characters (the first errors
    are the useful ones) and says how much was cut.
    """
    text = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", text).replace("\r\n", "\n")
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    cut_lines = 0
    if len(lines) > max_lines:
        cut_lines = len(lines) - max_lines
        lines = lines[:max_lines]
    out = "\n".join(lines)
    cut_chars = 0
    if len(out) > max_chars:
        cut_chars = len(out) - max_chars
        out = out[:max_chars]
    if cut_lines or cut_chars:
        what = []
        if cut_lines:
            what.append(f"{cut_lines} more lines")
        if cut_chars:
            what.append(f"{cut_chars} more characters")
        out += f"\n[... trimmed: {', '.join(what)}]"
    return out


def parse_verdict_text(text: str) -> tuple[dict[int, tuple[str, str | None]], bool]:
    """Parse verdict-file text -> ({case: (kind, payload)}, saw DONE). First line per case wins."""
    found: dict[int, tuple[str, str | None]] = {}
    done = False
    for raw in text.split("\n"):  # not splitlines(): U+2028 may sit inside a value
        line = raw.rstrip("\r")
        if line.strip() == "DONE":
            done = True
            continue
        m = _CASE_RE.match(line)
        if not m:
            continue
        n = int(m.group(1))
        if n not in found:
            found[n] = (m.group(2), m.group(3))
    return found, done


def _combined(outcome: ProcessOutcome) -> str:
    parts = [p for p in (outcome.stderr, outcome.stdout) if p.strip()]
    return "\n".join(parts)


def _missing_case_verdict(run: ProcessOutcome | None, done: bool) -> tuple[Verdict, str]:
    if run is None:
        return Verdict.runtime_error, "program was not run"
    if run.memory_exceeded:  # an OOM kill explains a later timeout too
        return Verdict.memory_exceeded, "no verdict for this case: memory limit exceeded"
    if run.timed_out:
        return (
            Verdict.timeout,
            f"no verdict for this case: the program timed out after {run.seconds:.1f}s",
        )
    if run.output_exceeded:
        return Verdict.output_exceeded, "no verdict for this case: output limit exceeded"
    detail = trim_diagnostics(run.stderr, max_chars=1000, max_lines=12)
    how = run.describe_end()
    msg = f"no verdict for this case: the program {how}"
    if done:
        msg += " (harness wrote DONE without this case)"
    if detail:
        msg += f"\n{detail}"
    return Verdict.runtime_error, msg


def assemble_result(
    program: Program,
    *,
    compile: ProcessOutcome | None,
    run: ProcessOutcome | None,
    verdict_text: str,
    stderr_fails: bool = False,
) -> RunResult:
    """Turn observed process outcomes plus the verdict file's text into a RunResult."""
    n = 1 if program.batch is not None else program.n_cases
    seconds = (compile.seconds if compile else 0.0) + (run.seconds if run else 0.0)
    if compile is None:
        compile_output = ""
    elif program.batch is not None:
        # a batch's diagnostics name the items that failed it: keep every line, so one
        # compile charges every failing item, not only the first few the trim would keep
        compile_output = trim_diagnostics(
            _combined(compile), max_chars=BATCH_DIAGNOSTIC_CHARS, max_lines=BATCH_DIAGNOSTIC_LINES
        )
    else:
        compile_output = trim_diagnostics(_combined(compile))
    result = RunResult(
        id=program.id,
        lang=program.lang,
        cases=[],
        compile_output=compile_output,
        stdout=run.stdout[:MAX_STREAM_CHARS] if run else "",
        stderr=run.stderr[:MAX_STREAM_CHARS] if run else "",
        exit_code=run.exit_code if run else (compile.exit_code if compile else None),
        seconds=round(seconds, 3),
        compile_seconds=round(compile.seconds, 3) if compile else 0.0,
        run_cpu_seconds=run.cpu_seconds if run else None,
    )

    infra = (compile.infra_error if compile else None) or (run.infra_error if run else None)
    if infra is not None:
        result.cases = [
            CaseVerdict(case=i, verdict=Verdict.infra_error, message=infra) for i in range(n)
        ]
        return result

    if compile is not None and not compile.succeeded:
        if compile.timed_out:
            head = "compilation timed out"
        elif compile.memory_exceeded:
            head = "compilation exceeded the memory limit"
        elif compile.output_exceeded:
            head = "compilation exceeded the output limit"
        else:
            head = f"compilation failed: compiler {compile.describe_end()}"
        msg = head + (f"\n{compile_output}" if compile_output else "")
        result.cases = [
            CaseVerdict(case=i, verdict=Verdict.compile_error, message=msg) for i in range(n)
        ]
        return result

    if program.batch is not None:  # compiled and ran: runtimes.batched judges each item
        result.verdict_text = verdict_text
        result.cases = [CaseVerdict(case=0, verdict=Verdict.passed)]
        return result

    if program.judge == "exit_status":
        result.cases = [_exit_status_verdict(run, stderr_fails)]
        return result

    found, done = parse_verdict_text(verdict_text)
    cases: list[CaseVerdict] = []
    for i in range(n):
        expected = program.expected[i] if program.expected and i < len(program.expected) else None
        if i in found:
            kind, payload = found[i]
            if kind == "PASS":
                cases.append(CaseVerdict(case=i, verdict=Verdict.passed))
            elif kind == "FAIL":
                cases.append(
                    CaseVerdict(
                        case=i,
                        verdict=Verdict.wrong_answer,
                        expected=expected,
                        actual=(payload or "").strip(),
                    )
                )
            else:
                cases.append(
                    CaseVerdict(
                        case=i,
                        verdict=Verdict.runtime_error,
                        message=(payload or "").strip() or "error",
                    )
                )
        else:
            verdict, message = _missing_case_verdict(run, done)
            cases.append(CaseVerdict(case=i, verdict=verdict, expected=expected, message=message))
    result.cases = cases
    return result


def signal_of_status(status: int) -> int | None:
    """The signal a shell-style exit status 128+N reports (None for a plain exit)."""
    return status - 128 if 128 < status < 128 + 65 else None


def infra_result(program: Program, message: str) -> RunResult:
    """Every case ``infra_error``: the sandbox (not the program) failed or is missing."""
    return assemble_result(
        program,
        compile=None,
        run=ProcessOutcome(exit_code=None, infra_error=message),
        verdict_text="",
    )


__all__ = [
    "ProcessOutcome",
    "assemble_result",
    "infra_result",
    "parse_verdict_text",
    "signal_of_status",
    "trim_diagnostics",
]


def _exit_status_verdict(run: ProcessOutcome | None, stderr_fails: bool = False) -> CaseVerdict:
    """Code run as another benchmark published it: its harness asserts, so exit 0 passes.

    A non-zero exit is a ``wrong_answer`` when nothing tells it apart from a failed
    assertion; time, memory and output limits keep their own verdicts.
    """
    if run is not None and run.succeeded and not (stderr_fails and run.stderr.strip()):
        return CaseVerdict(case=0, verdict=Verdict.passed)
    if run is not None and run.succeeded:  # e.g. rackunit: reports failures, exits 0
        msg = "the published harness wrote to stderr: " + trim_diagnostics(
            run.stderr, max_chars=1000, max_lines=12
        )
        return CaseVerdict(case=0, verdict=Verdict.wrong_answer, message=msg)
    verdict, msg = _missing_case_verdict(run, False)
    if verdict is Verdict.runtime_error and run is not None and run.signal is None:
        verdict = Verdict.wrong_answer
        msg = f"the published harness {run.describe_end()}: " + trim_diagnostics(
            run.stderr or run.stdout, max_chars=1000, max_lines=12
        )
    return CaseVerdict(case=0, verdict=verdict, message=msg)
