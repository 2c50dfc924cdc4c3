"""Conformance suite: the same sandbox checks against any backend, for every language.

Each check is a small program in the language (built from the language's snippets in
``runtimes/<lang>/conformance.toml``) that reports through the verdict protocol; the
check then judges the :class:`RunResult` the backend returned, plus what the host can
see (files that must not exist, processes that must not survive, a listener that must
not be reached, how fast the host still spawns a process during a fork bomb).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from runtimes.backend import Backend, Program, RunResult, Verdict
from runtimes.spec import LANGUAGES, RUNTIMES_DIR, RuntimeSpec, get_spec

SECRET_PROBE = Path("/root/.cruxforge-secret-probe")
UNICODE_TEXT = '"\U0001f600\u3000\u00e9\u4e2d"'  # canonical text of a str with non-BMP + CJK
CHECKS: tuple[str, ...] = (
    "pass",
    "wrong_answer",
    "unicode",
    "syntax_error",
    "timeout",
    "memory",
    "fork_bomb",
    "output_flood",
    "write_outside",
    "network",
    "read_secret",
)

Status = Literal["ok", "fail", "skipped"]


class CheckResult(BaseModel):
    lang: str
    check: str
    status: Status
    detail: str = ""
    verdict: str | None = None
    seconds: float = 0.0


class ConformanceReport(BaseModel):
    backend: str
    results: list[CheckResult]
    # languages whose toolchain was available (and verified) on this backend
    available: dict[str, bool] = {}
    verified: dict[str, bool] = {}

    @property
    def ok(self) -> bool:
        return not self.failures()

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    def by_lang(self) -> dict[str, dict[str, CheckResult]]:
        out: dict[str, dict[str, CheckResult]] = {}
        for r in self.results:
            out.setdefault(r.lang, {})[r.check] = r
        return out


class ConformanceDataError(ValueError):
    pass


def quote(text: str) -> str:
    """A double-quoted string literal valid in every language here (escapes \\ and ")."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Snippets:
    lang: str
    template: str
    report: str
    expect_fail: str
    shell: str
    loop: str
    memory: str
    flood: str
    syntax_error: str

    def program(self, *statements: str) -> str:
        return self.template.replace("{body}", "\n".join(s.rstrip("\n") for s in statements))

    def rep(self, text: str) -> str:
        return self.report.replace("{text}", quote(text))

    def fail_expected(self, cmd: str) -> str:
        return self.expect_fail.replace("{cmd}", quote(cmd))

    def sh(self, cmd: str) -> str:
        return self.shell.replace("{cmd}", quote(cmd))


def load_snippets(lang: str, directory: Path = RUNTIMES_DIR) -> Snippets:
    path = directory / lang / "conformance.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConformanceDataError(f"{path}: {e}") from None
    keys = ("template", "report", "expect_fail", "shell", "loop", "memory", "flood", "syntax_error")
    missing = [k for k in keys if not isinstance(data.get(k), str)]
    if missing:
        raise ConformanceDataError(f"{path}: missing string keys {missing}")
    if "{body}" not in data["template"]:
        raise ConformanceDataError(f"{path}: template has no {{body}} placeholder")
    return Snippets(lang=lang, **{k: data[k] for k in keys})


# ------------------------------------------------------------------ host-side probes


def _processes_with(token: str) -> list[int]:
    """Host pids whose command line mentions ``token`` (processes a check left behind)."""
    found = []
    me = os.getpid()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        with contextlib.suppress(OSError):
            if token.encode() in (d / "cmdline").read_bytes():
                found.append(int(d.name))
    return found


def _wait_gone(token: str, timeout: float = 3.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = _processes_with(token)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


class Listener:
    """A host TCP listener on 127.0.0.1 that counts connections (must stay at 0)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=2)
        self.sock.close()


class _Responsiveness:
    """Spawns /bin/true on the host every 0.2 s; records the slowest spawn."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.failures = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                subprocess.run(["/bin/true"], timeout=10, check=False)
            except (OSError, subprocess.TimeoutExpired):
                self.failures += 1
            self.worst = max(self.worst, time.monotonic() - t)
            self._stop.wait(0.2)

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=12)


def _spawn_baseline(n: int = 5) -> float:
    """The slowest of ``n`` host spawns of /bin/true right now (how busy the host is)."""
    worst = 0.0
    for _ in range(n):
        t = time.monotonic()
        subprocess.run(["/bin/true"], timeout=30, check=False)
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.1)
    return worst


_TIMED_OUT_AFTER = re.compile(r"timed out after ([0-9.]+)s")

# ------------------------------------------------------------------ checks


@dataclass
class Case:
    check: str
    program: Program
    judge: Callable[[RunResult], tuple[bool, str]]
    token: str = ""
    host_files: list[Path] = field(default_factory=list)


def _v(r: RunResult) -> str:
    c = r.cases[0] if r.cases else None
    if c is None:
        return "no cases"
    bits = [c.verdict.value]
    if c.actual is not None:
        bits.append(f"actual={c.actual!r}")
    if c.message:
        bits.append(f"message={c.message[:300]!r}")
    return " ".join(bits)


def _is(r: RunResult, verdict: Verdict) -> tuple[bool, str]:
    return (bool(r.cases) and r.cases[0].verdict is verdict), _v(r)


def _build_cases(spec: RuntimeSpec, sn: Snippets, run_id: str, port: int) -> list[Case]:
    lang = spec.lang

    def prog(check: str, source: str, n: int = 1, expected: list[str] | None = None) -> Program:
        return Program(
            id=f"conformance-{lang}-{check}-{run_id}",
            lang=lang,
            source=source,
            n_cases=n,
            expected=expected,
        )

    cases: list[Case] = []
    cases.append(
        Case(
            "pass",
            prog("pass", sn.program(sn.rep("CASE 0 PASS"), sn.rep("DONE"))),
            lambda r: _is(r, Verdict.passed),
        )
    )

    def wrong(r: RunResult) -> tuple[bool, str]:
        ok = bool(r.cases) and r.cases[0].verdict is Verdict.wrong_answer
        return ok and r.cases[0].actual == "[1, 2]" and r.cases[0].expected == "[3]", _v(r)

    cases.append(
        Case(
            "wrong_answer",
            prog(
                "wrong_answer",
                sn.program(sn.rep("CASE 0 FAIL [1, 2]"), sn.rep("DONE")),
                expected=["[3]"],
            ),
            wrong,
        )
    )

    def uni(r: RunResult) -> tuple[bool, str]:
        ok = bool(r.cases) and r.cases[0].verdict is Verdict.wrong_answer
        return ok and r.cases[0].actual == UNICODE_TEXT, _v(r)

    cases.append(
        Case(
            "unicode",
            prog("unicode", sn.program(sn.rep(f"CASE 0 FAIL {UNICODE_TEXT}"), sn.rep("DONE"))),
            uni,
        )
    )

    def syntax(r: RunResult) -> tuple[bool, str]:
        want = Verdict.compile_error if spec.compile else Verdict.runtime_error
        if not r.cases or r.cases[0].verdict is not want:
            return False, f"expected {want.value}: {_v(r)}"
        diag = r.compile_output if spec.compile else r.stderr
        if not diag.strip():
            return False, f"{want.value} without diagnostics: {_v(r)}"
        return True, _v(r)

    cases.append(Case("syntax_error", prog("syntax_error", sn.syntax_error), syntax))

    tok = f"cfprobe-{run_id}-{lang}-timeout"
    cases.append(
        Case(
            "timeout",
            prog(
                "timeout",
                sn.program(sn.sh(f"sh -c 'sleep 300; :' {tok} &"), sn.loop),
            ),
            lambda r: _is(r, Verdict.timeout),
            token=tok,
        )
    )
    cases.append(
        Case(
            "memory",
            prog("memory", sn.program(sn.memory)),
            lambda r: _is(r, Verdict.memory_exceeded),
        )
    )
    tok = f"cfprobe-{run_id}-{lang}-forkbomb"

    def not_passed(r: RunResult) -> tuple[bool, str]:
        ok = bool(r.cases) and r.cases[0].verdict not in (Verdict.passed, Verdict.infra_error)
        return ok, _v(r)

    cases.append(
        Case(
            "fork_bomb",
            prog(
                "fork_bomb",
                sn.program(sn.sh(f"sh -c 'f(){{ f|f& }}; f' {tok}"), sn.loop),
            ),
            not_passed,
            token=tok,
        )
    )
    cases.append(
        Case(
            "output_flood",
            prog("output_flood", sn.program(sn.flood)),
            lambda r: _is(r, Verdict.output_exceeded),
        )
    )
    name = f"cfprobe-{run_id}-{lang}-write"
    targets = [f"/etc/{name}", f"/usr/{name}", f"/{name}", f"/var/tmp/{name}"]
    cmd = " || ".join(f"(echo x > {t}) 2>/dev/null" for t in targets)
    cases.append(
        Case(
            "write_outside",
            prog("write_outside", sn.program(sn.fail_expected(cmd), sn.rep("DONE"))),
            lambda r: _is(r, Verdict.passed),
            host_files=[Path(t) for t in targets],
        )
    )
    net = (
        f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null || "
        "timeout 3 bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>/dev/null"
    )
    cases.append(
        Case(
            "network",
            prog("network", sn.program(sn.fail_expected(net), sn.rep("DONE"))),
            lambda r: _is(r, Verdict.passed),
        )
    )
    cases.append(
        Case(
            "read_secret",
            prog(
                "read_secret",
                sn.program(sn.fail_expected(f"cat {SECRET_PROBE} >/dev/null 2>&1"), sn.rep("DONE")),
            ),
            lambda r: _is(r, Verdict.passed),
        )
    )
    return cases


HOSTILE = ("timeout", "memory", "fork_bomb", "output_flood", "write_outside", "network")


def hostile_cases(lang: str, run_id: str, port: int) -> list[Case]:
    """The conformance programs that attack the sandbox (loop, memory and fork bombs,
    output flood, writes outside, network), for running beside innocent ones."""
    cases = _build_cases(get_spec(lang), load_snippets(lang), run_id, port)
    return [c for c in cases if c.check in HOSTILE]


def _within(took: float, cpu: float | None, limit: float) -> bool:
    """Stopped in time: by the wall clock, or, on a busy machine where the wall clock ran
    on while the program waited for a core, by the CPU time it had (the kernel's count)."""
    return took <= limit or (cpu is not None and cpu <= limit)


def judge(
    c: Case, r: RunResult, spec: RuntimeSpec, base: float, listener: Listener
) -> tuple[bool, str]:
    """One check's verdict on a run: the case's own judge, then what the host sees (time
    taken, processes left, files written, connections made)."""
    ok, detail = c.judge(r)
    if ok and c.check == "timeout":
        # the run step's own time, when the verdict says it (assemble_result does); else
        # the whole program's time less a compile estimate
        m = _TIMED_OUT_AFTER.search(r.cases[0].message or "")
        if m:
            took, limit = float(m.group(1)), spec.limits.run_seconds + 1.0
        else:
            took = r.seconds
            limit = spec.limits.run_seconds + 1.0 + (base + 2.0 if spec.compile else 0)
        if not _within(took, r.run_cpu_seconds, limit):
            ok, detail = False, f"took {took:.1f}s > {limit:.1f}s: {detail}"
    if ok and c.check == "fork_bomb":
        limit = spec.limits.run_seconds + 3.0 + (base + 1.0 if spec.compile else 0.0)
        if not _within(r.seconds, r.run_cpu_seconds, limit):
            ok, detail = False, f"took {r.seconds:.1f}s > {limit:.1f}s: {detail}"
    if c.token:
        left = _wait_gone(c.token)
        if left:
            ok = False
            detail = f"{len(left)} processes left behind (pids {left[:5]}): {detail}"
            for pid in left:  # clean up what the backend failed to
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
    leaked = [str(p) for p in c.host_files if p.exists()]
    if leaked:
        ok = False
        detail = f"wrote host files {leaked}: {detail}"
        for p in leaked:
            with contextlib.suppress(OSError):
                os.unlink(p)
    if c.check == "network" and listener.accepted:
        ok = False
        detail = f"host listener accepted {listener.accepted} connection(s): {detail}"
    return ok, detail


def _responsive(mon: _Responsiveness, baseline: float, detail: str) -> tuple[bool, str]:
    """The host still spawned processes promptly during the fork bomb: no spawn failed,
    and the slowest is within 2 s or 4x the slowest just before it (busy hosts)."""
    allowed = max(2.0, 4 * baseline)
    if mon.worst > allowed and not mon.failures:
        # slow during the bomb: the bomb's fault only if the host is fast again once it
        # is gone (else other load on the host is to blame)
        after = _spawn_baseline(10)
        if mon.worst <= max(allowed, 4 * after):
            allowed = max(allowed, 4 * after)
            detail += f"; host busy anyway (slowest spawn after: {after:.2f}s)"
    if mon.worst > allowed or mon.failures:
        return False, (
            f"host unresponsive during the bomb (slowest spawn {mon.worst:.2f}s > "
            f"{allowed:.2f}s, {mon.failures} failures): {detail}"
        )
    return True, detail + f"; host spawn worst {mon.worst:.2f}s (before: {baseline:.2f}s)"


def _ensure_secret() -> str | None:
    """Create the host secret the read_secret check must not be able to read."""
    if SECRET_PROBE.is_file():
        return None
    try:
        SECRET_PROBE.write_text("cruxforge secret probe: a sandbox must not read this\n")
        SECRET_PROBE.chmod(0o600)
    except OSError as e:
        return f"cannot create host secret {SECRET_PROBE}: {e}"
    return None


def run_conformance(
    backend: Backend,
    langs: Iterable[str] | None = None,
    checks: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ConformanceReport:
    """Run the conformance checks for ``langs`` (default all) on ``backend``."""
    wanted = list(checks or CHECKS)
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown conformance checks {unknown}; known: {', '.join(CHECKS)}")
    report = ConformanceReport(backend=backend.name, results=[])
    secret_problem = _ensure_secret() if "read_secret" in wanted else None
    for lang in langs or LANGUAGES:
        spec = get_spec(lang)
        status = backend.doctor(lang)
        report.available[lang] = status.available
        report.verified[lang] = status.verified
        if not status.available:
            why = status.reason or "not available"
            report.results += [
                CheckResult(lang=lang, check=c, status="skipped", detail=why) for c in wanted
            ]
            if progress:
                progress(f"{lang}: skipped ({why})")
            continue
        sn = load_snippets(lang)
        run_id = uuid.uuid4().hex[:8]
        listener = Listener()
        try:
            cases = [c for c in _build_cases(spec, sn, run_id, listener.port) if c.check in wanted]
            if secret_problem:
                report.results.append(
                    CheckResult(
                        lang=lang, check="read_secret", status="skipped", detail=secret_problem
                    )
                )
                cases = [c for c in cases if c.check != "read_secret"]
            bomb = [c for c in cases if c.check == "fork_bomb"]
            rest = [c for c in cases if c.check != "fork_bomb"]
            t0 = time.monotonic()
            results = dict(
                zip(
                    [c.check for c in rest], backend.execute([c.program for c in rest]), strict=True
                )
            )
            mon: _Responsiveness | None = None
            baseline = 0.0
            if bomb:
                baseline = _spawn_baseline()
                mon = _Responsiveness()
                try:
                    results["fork_bomb"] = backend.execute([bomb[0].program])[0]
                finally:
                    mon.close()
            base = results["pass"].seconds if "pass" in results else 0.0
            for c in cases:
                r = results[c.check]
                ok, detail = judge(c, r, spec, base, listener)
                if ok and c.check == "fork_bomb":
                    assert mon is not None
                    ok, detail = _responsive(mon, baseline, detail)
                report.results.append(
                    CheckResult(
                        lang=lang,
                        check=c.check,
                        status="ok" if ok else "fail",
                        detail=detail,
                        verdict=r.verdict.value if r.cases else None,
                        seconds=r.seconds,
                    )
                )
            if progress:
                n_ok = sum(1 for x in report.results if x.lang == lang and x.status == "ok")
                progress(f"{lang}: {n_ok}/{len(cases)} ok in {time.monotonic() - t0:.1f}s")
        finally:
            listener.close()
    order = {c: i for i, c in enumerate(CHECKS)}
    report.results.sort(key=lambda r: (LANGUAGES.index(r.lang), order[r.check]))
    return report
