"""Hostile and innocent programs at the same moment (``cruxforge runtimes selftest --crossfire``).

A sandbox must keep each program's verdict its own while a hostile program runs next to
it. Languages go in waves; in a wave, for every language at once: the conformance suite's
hostile programs (infinite loop, memory bomb, fork bomb, output flood, writes outside the
work dir, network), the language's correct demo programs one program per process, the
same language's demo programs through the batched engine, and a Java compile. Then:

- every correct program has exactly the case verdicts it had alone (run first, quietly);
- every hostile program is contained and classified (the conformance suite's judges; a
  time check passes by the wall clock or, on a busy machine, by the CPU time the kernel
  counted);
- no sandbox process is left on the host afterwards (found in ``/proc`` by its sandbox
  cgroup or container, and reported with its name, state and parent).

The waves run more programs at once than the host has cores (``PROGRAMS_PER_CORE`` per
core), on purpose: the backends get a private pool of sandbox slots for it. ``hog`` adds
one busy process per core.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from runtimes.backend import Backend, Program, RunResult, get_backend
from runtimes.conformance import Case, Listener, hostile_cases, judge
from runtimes.slots import HostSlots
from runtimes.spec import get_spec

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "seeds" / "demo.jsonl"
REFS = ROOT / "seeds" / "demo_reference"
PER_ITEM = 2  # correct programs run one per process, per language
BATCHED = 6  # correct programs through the batched engine, per language
WAVE = 6  # languages at once
# programs at once, per core: more than the host's cores (so hostile and innocent ones
# share them), not so many that the wait for a core dwarfs every limit (a starved program
# keeps its verdict up to the wall cap, runtimes/time_limit.py). At 4 per core with a hog
# a network probe took 79 s on a 2-core host and the check failed now and then (probably
# memory bombs at their limits reclaiming shared file pages); at 2 per core it passes
PROGRAMS_PER_CORE = 2
LEFTOVER_WAIT_S = 30.0


class CrossfireCheck(BaseModel):
    lang: str
    check: str  # hostile:<name> | per-item | batched | java-compile | leftover
    ok: bool
    detail: str = ""


class CrossfireReport(BaseModel):
    backend: str
    hog: bool
    checks: list[CrossfireCheck]
    skipped: dict[str, str] = {}
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[CrossfireCheck]:
        return [c for c in self.checks if not c.ok]


def _verdicts(r: RunResult) -> list[str]:
    return [c.verdict.value for c in r.cases]


def innocent_programs(lang: str, n: int, offset: int = 0, tag: str = "") -> list[Program]:
    """``n`` correct harness programs of ``lang`` (demo seeds + reference translations)."""
    from cruxforge.seeds.check import check_file
    from transition_rules.engine import Unsupported, check_seed, harness_program, rules_for
    from transition_rules.proof import load_references

    rules = rules_for(lang)
    refs = load_references(REFS / f"{lang}.jsonl")
    out: list[Program] = []
    for c in check_file(DEMO):
        if c.typed is None or c.id not in refs:
            continue
        try:
            check_seed(rules, c.typed)
        except Unsupported:
            continue
        out.append(harness_program(rules, c.typed, refs[c.id], program_id=f"{tag}{c.id}:{lang}"))
    return out[offset : offset + n]


def sandbox_processes(containers: set[str]) -> list[int]:
    """Host pids still inside a sandbox this process made: a local-backend cgroup
    (``cruxforge-<our pid>-...``) or one of ``containers`` (docker ids); zombies aside."""
    mine = f"cruxforge-{os.getpid()}-"
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or d.name == str(os.getpid()):
            continue
        try:
            groups = (d / "cgroup").read_text()
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (mine in groups or any(c in groups for c in containers)):
            found.append(int(d.name))
    return found


def describe(pid: int) -> str:
    """A leftover process as a reader needs it to find the cause: pid, name, state (D is
    uninterruptible sleep), parent and the sandbox cgroup it sits in."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        where = sorted(
            {ln.rsplit("/", 1)[-1] for ln in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
             if "cruxforge-" in ln or "docker" in ln}  # fmt: skip
        )
    except (OSError, ValueError, IndexError):
        return f"{pid} (gone)"
    return f"{pid} {name} state {state} ppid {ppid} in {','.join(where) or '?'}"


def _our_containers() -> set[str]:
    """Ids of the docker worker containers this process owns now."""
    try:
        from runtimes.docker_worker import LABEL
        from runtimes.images import docker_client

        found = docker_client(timeout=30).containers.list(
            all=True, filters={"label": f"{LABEL}.owner-pid={os.getpid()}"}
        )
    except Exception:  # noqa: BLE001 - no engine: no containers to look into
        return set()
    return {c.id for c in found}


@contextlib.contextmanager
def cpu_hog(on: bool, per_core: int = 1):  # type: ignore[no-untyped-def]
    """``per_core`` busy processes per core while the ``with`` body runs (a loaded machine)."""
    procs: list[subprocess.Popen[bytes]] = []
    if on:
        for _ in range(per_core * (os.cpu_count() or 2)):
            procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


class _Lang:
    """One language's share of a wave: its programs, and what it got alone."""

    def __init__(self, lang: str, java: bool) -> None:
        self.lang = lang
        self.per_item = innocent_programs(lang, PER_ITEM, tag="cf-item-")
        self.batched = innocent_programs(lang, BATCHED, offset=PER_ITEM, tag="cf-batch-")
        self.java = innocent_programs("java", 1, tag=f"cf-javac-{lang}-") if java else []
        self.alone: dict[str, list[str]] = {}
        self.listener = Listener()
        self.hostile: list[Case] = hostile_cases(lang, uuid.uuid4().hex[:8], self.listener.port)
        self.got: dict[str, list[RunResult]] = {}
        self.containers: set[str] = set()


def crossfire(
    backend_name: str,
    langs: Sequence[str],
    *,
    hog: bool = False,
    wave: int = WAVE,
    progress: Callable[[str], None] | None = None,
) -> CrossfireReport:
    """Run the crossfire for ``langs`` on ``backend_name`` (``local`` or ``docker``)."""
    t0 = time.monotonic()
    # every compile happens in the crossfire itself, never served from the compiles kept
    # by the quiet run before it (runtimes/compiled.py)
    os.environ["CRUXFORGE_COMPILE_CACHE"] = "0"
    try:
        return _crossfire(backend_name, langs, hog, wave, progress, t0)
    finally:
        os.environ.pop("CRUXFORGE_COMPILE_CACHE", None)


def _crossfire(
    backend_name: str,
    langs: Sequence[str],
    hog: bool,
    wave: int,
    progress: Callable[[str], None] | None,
    t0: float,
) -> CrossfireReport:
    report = CrossfireReport(backend=backend_name, hog=hog, checks=[])
    width = PROGRAMS_PER_CORE * (os.cpu_count() or 2)
    slots = HostSlots(width, Path(tempfile.mkdtemp(prefix="cruxforge-crossfire-slots-")))
    many = {"parallel": width, "slots": slots}
    with get_backend(backend_name) as quiet:
        ready = []
        for lang in langs:
            st = quiet.doctor(lang)
            if st.available:
                ready.append(lang)
            else:
                report.skipped[lang] = st.reason or "not available"
    if not ready:
        return report
    for i in range(0, len(ready), wave):
        group = [_Lang(x, java=(k == 0)) for k, x in enumerate(ready[i : i + wave])]
        try:
            _alone(backend_name, group)
            with cpu_hog(hog):
                _together(backend_name, many, group)
            _judge(group, report)
            _leftover(group, report)
        finally:
            for g in group:
                g.listener.close()
        if progress:
            bad = [c for c in report.checks if not c.ok and c.lang in {g.lang for g in group}]
            progress(f"{' '.join(g.lang for g in group)}: {len(bad)} failing checks")
    report.seconds = round(time.monotonic() - t0, 1)
    return report


def _alone(backend_name: str, group: list[_Lang]) -> None:
    """Each correct program's verdicts on a quiet machine, one program at a time."""
    with get_backend(backend_name, parallel=1) as b, get_backend(
        "batched", inner=backend_name, parallel=1
    ) as batched:
        for g in group:
            for p, r in zip(g.per_item + g.java, b.execute(g.per_item + g.java)):
                g.alone[p.id] = _verdicts(r)
            for p, r in zip(g.batched, batched.execute(g.batched)):
                g.alone[p.id] = _verdicts(r)


def _together(backend_name: str, many: dict[str, object], group: list[_Lang]) -> None:
    """Every program of the wave at the same moment."""
    before = _our_containers() if backend_name == "docker" else set()
    with get_backend(backend_name, **many) as b, get_backend(
        "batched", inner=backend_name, **many
    ) as batched:
        jobs: list[tuple[_Lang, str, Backend, list[Program]]] = []
        for g in group:
            jobs += [
                (g, "hostile", b, [c.program for c in g.hostile]),
                (g, "per-item", b, g.per_item),
                (g, "batched", batched, g.batched),
            ]
            if g.java:
                jobs.append((g, "java-compile", b, g.java))
        start = threading.Barrier(len(jobs))
        errors: list[BaseException] = []

        def run(g: _Lang, kind: str, backend: Backend, programs: list[Program]) -> None:
            start.wait()
            try:
                g.got[kind] = backend.execute(programs)
            except BaseException as e:  # noqa: BLE001 - reported as this check's failure
                errors.append(e)
                g.got[kind] = []

        threads = [threading.Thread(target=run, args=j) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # the wave's own worker containers: none on the local backend, and on docker not
        # the idle workers other backends of this process still keep
        ours = _our_containers() - before if backend_name == "docker" else set()
        for g in group:
            g.containers = ours
        if errors:
            raise errors[0]


def _judge(group: list[_Lang], report: CrossfireReport) -> None:
    for g in group:
        spec = get_spec(g.lang)
        for c, r in zip(g.hostile, g.got.get("hostile", [])):
            ok, detail = judge(c, r, spec, 0.0, g.listener)
            report.checks.append(
                CrossfireCheck(lang=g.lang, check=f"hostile:{c.check}", ok=ok, detail=detail)
            )
        for kind, programs in (
            ("per-item", g.per_item),
            ("batched", g.batched),
            ("java-compile", g.java),
        ):
            if not programs:
                continue
            got = g.got.get(kind, [])
            bad = [
                f"{p.id}: alone {g.alone[p.id]}, in crossfire {_verdicts(r)}"
                for p, r in zip(programs, got)
                if _verdicts(r) != g.alone[p.id]
            ]
            if len(got) != len(programs):
                bad.append(f"{len(got)} results for {len(programs)} programs")
            report.checks.append(
                CrossfireCheck(
                    lang=g.lang,
                    check=kind,
                    ok=not bad,
                    detail="; ".join(bad)[:2000] or f"{len(programs)} programs as alone",
                )
            )


def _leftover(group: list[_Lang], report: CrossfireReport) -> None:
    containers = set().union(*(g.containers for g in group))
    deadline = time.monotonic() + LEFTOVER_WAIT_S
    left = sandbox_processes(containers)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = sandbox_processes(containers)
    detail = (
        f"{len(left)} sandbox processes left: {'; '.join(map(describe, left[:6]))}"
        if left
        else "none left"
    )
    report.checks.append(
        CrossfireCheck(lang=",".join(g.lang for g in group), check="leftover", ok=not left,
                       detail=detail)  # fmt: skip
    )
    for pid in left:  # clean up what the backend failed to
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
