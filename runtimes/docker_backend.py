"""The ``docker`` backend: each language's toolchain image, one long-lived worker per language.

Worker containers (``cruxforge/rt-<lang>:<spec hash>``, see :mod:`runtimes.images`) are
started lazily on first use and kept for the backend's life (``docker exec`` costs
~0.1 s, ``docker run`` ~0.45 s). Each is created with: no network, a memory limit
(memory+swap = memory), a pids limit, a read-only root file system, tmpfs ``/work`` and
``/tmp`` (exec allowed), all capabilities dropped, ``no-new-privileges``, and
``docker-init`` as PID 1 reaping orphans. The container's own idle process runs as uid
10002; every program step runs through ``docker exec`` as the worker's own uid
(``WORKER_UID_BASE`` + a host-wide lease, :func:`worker_uids`), so a program can never
signal the container's keeper, and the per-uid process limit (``RLIMIT_NPROC``) is this
worker's alone: a fork bomb in one worker cannot starve another worker's programs.

One program at a time per worker (``parallel`` workers per language):

1. ``exec`` #1 makes a fresh work dir ``/work/run/<n>`` ({workdir}), writes the source
   from stdin, then runs the compile step (compiled languages) or the run step.
2. compiled languages only: ``docker update`` lowers the container's memory limit from
   the compile limit to the run limit, then ``exec`` #2 runs the program.

Each step runs under a small bash driver (``runtimes/docker_driver.sh``) in its own
session and process group, under ``prlimit`` (file size = ``limits.file_mb``, no core
files, processes = ``limits.pids``); a fork-free watchdog kills the group at the time
limit or as soon as stdout or stderr passes ``limits.output_kb``. After every step the
driver SIGKILLs every process of the worker's uid (``kill -9 -1``; the keeper is another
uid), loops until ``/proc`` shows none left, for up to 20 s (a process in uninterruptible
sleep dies late), and reports the count (a step that leaves one behind is an infra_error).

Memory: ``docker exec`` cannot get a cgroup of its own, so the *container* cgroup is the
limit: before each step it is set to the step's limit (``compile_memory_mb`` /
``memory_mb``) plus what the tmpfs already holds plus a small allowance for the driver
(``DRIVER_MB``). The step's processes get ``oom_score_adj`` 1000, so the kernel's OOM
killer picks them; the driver reads the cgroup's ``oom_kill`` counter
(``memory.events`` on cgroup v2, ``memory.oom_control`` on v1) before and after the
step: a rise means memory_exceeded, whatever exit status the kill produced.

A container that dies or stops answering is removed and replaced; the program in flight
gets infra_error (never counted against it). :meth:`DockerBackend.close` (and an
``atexit`` safety net) removes the workers.

Compiles kept: a successful compile step sends its work dir back as a tar, kept on the
host under the program's compile key and the image's tag (:mod:`runtimes.compiled`); the
same program compiled again (a repeat run, a rebuild) unpacks it into a fresh work dir
and goes straight to the run step. ``CRUXFORGE_COMPILE_CACHE=0`` turns it off.

Caches: ``HOME`` is ``/work/home`` for the worker's life (so e.g. Swift's module cache
and Go's build cache are built once per worker, not once per program); after each
program everything in it but ``.cache`` is removed, as are ``/tmp`` and the work dir.
The spec's ``local.caches`` variables point into ``/work/cache`` during the compile step,
as the local backend does with its kept cache dirs.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runtimes import supervisor
from runtimes.backend import (
    Backend,
    Program,
    RunResult,
    ToolchainStatus,
    register_backend,
)
from runtimes.compiled import CompileCache, cache_enabled, compile_key
from runtimes.compiled import cache_root as default_cache_root
from runtimes.docker_worker import (
    CACHE_ROOT,
    HOME,
    Worker,
    WorkerError,
    _decode,
    _reap_orphans,
    _subst,
)
from runtimes.images import DockerUnavailableError, docker_client, image_exists, image_tag
from runtimes.sandbox import VERDICT_FILE, base_env, run_programs
from runtimes.slots import HostSlots
from runtimes.spec import RuntimeSpec, RuntimeSpecError, get_spec
from runtimes.verdicts import ProcessOutcome, assemble_result, infra_result

_LIVE: weakref.WeakSet[DockerBackend] = weakref.WeakSet()


def _close_all() -> None:  # atexit safety net
    for b in list(_LIVE):
        with contextlib.suppress(Exception):
            b.close()


atexit.register(_close_all)


@register_backend
class DockerBackend(Backend):
    name = "docker"

    def __init__(
        self,
        *,
        parallel: int = 2,
        client: Any = None,
        slots: HostSlots | None = None,
        cache_root: str | Path | None = None,
    ) -> None:
        self.parallel = max(1, int(parallel))
        self.slots = slots
        self._client = client
        self._client_error: str | None = None
        self._lock = threading.Condition()
        self._idle: dict[str, list[Worker]] = {}
        self._count: dict[str, int] = {}
        self._all: list[Worker] = []
        self._closed = False
        # compiles kept for the same source again (runtimes/compiled.py), as tars
        root = Path(cache_root) if cache_root is not None else default_cache_root(os.geteuid() == 0)
        self.compiled = CompileCache(root / "docker-compiled", enabled=cache_enabled())
        _LIVE.add(self)

    # ---------------------------------------------------------------- engine

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client(timeout=300)
            _reap_orphans(self._client)
        return self._client

    def _engine_error(self) -> str | None:
        try:
            _ = self.client
        except DockerUnavailableError as e:
            return str(e)
        return None

    # ---------------------------------------------------------------- doctor

    def doctor(self, lang: str) -> ToolchainStatus:
        try:
            spec = get_spec(lang)
        except RuntimeSpecError as e:
            return ToolchainStatus(lang=lang, backend=self.name, available=False, reason=str(e))
        st = ToolchainStatus(
            lang=lang, backend=self.name, available=False,
            verified=spec.docker.verified_offline,
        )  # fmt: skip
        unverified = (
            f"unverified offline: {spec.docker.unverified_reason or 'not proven on this host'}"
            if not spec.docker.verified_offline
            else None
        )
        err = self._engine_error()
        if err:
            st.reason = err
            return st
        tag = image_tag(spec)
        if not image_exists(self.client, tag):
            st.reason = f"image not built: run cruxforge runtimes build --lang {lang}"
            if unverified:
                st.reason += f" --force ({unverified})"
            return st
        try:
            worker = self._acquire(spec, tag)
        except Exception as e:
            st.reason = f"cannot start a worker container from {tag}: {e}"
            return st
        try:
            code, out, errb = worker.exec_raw(
                ["timeout", "-s", "KILL", "60", *spec.version],
                stdin=None,
                env=self._env(spec, "/work", compile_step=False),
                timeout=90,
            )
        except WorkerError as e:
            self._discard(worker)
            st.reason = f"version command failed: {e}"
            return st
        self._release(worker)
        text = (_decode(out) + "\n" + _decode(errb)).strip()
        if code != 0:
            st.reason = f"version command {' '.join(spec.version)} exited {code}: {text[:300]}"
            return st
        st.available = True
        st.version = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        if unverified:
            st.reason = unverified
        return st

    # ---------------------------------------------------------------- workers

    def _acquire(self, spec: RuntimeSpec, tag: str) -> Worker:
        with self._lock:
            while True:
                if self._closed:
                    raise WorkerError("backend closed")
                idle = self._idle.setdefault(spec.lang, [])
                if idle:
                    w = idle.pop()
                    break
                if self._count.get(spec.lang, 0) < self.parallel:
                    self._count[spec.lang] = self._count.get(spec.lang, 0) + 1
                    w = Worker(self, spec, tag)
                    self._all.append(w)
                    break
                self._lock.wait()
        try:
            w.ensure()
        except Exception:
            self._discard(w)
            raise
        return w

    def _release(self, w: Worker) -> None:
        with self._lock:
            if self._closed:
                w.remove()
                return
            self._idle.setdefault(w.spec.lang, []).append(w)
            self._lock.notify_all()

    def _discard(self, w: Worker) -> None:
        """Remove a failed worker; the next program of its language starts a new one."""
        w.remove()
        with self._lock:
            self._count[w.spec.lang] = max(0, self._count.get(w.spec.lang, 1) - 1)
            if w in self._all:
                self._all.remove(w)
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
            self._idle.clear()
            self._count.clear()
            self._lock.notify_all()
        for w in workers:
            w.remove()

    # ---------------------------------------------------------------- execution

    def execute(self, programs: Sequence[Program]) -> list[RunResult]:
        if self._closed:  # a closed backend can be used again: it restarts workers
            self._closed = False
        return run_programs(programs, self._execute_one, self.parallel, self.slots)

    def _env(self, spec: RuntimeSpec, workdir: str, *, compile_step: bool) -> dict[str, str]:
        env = base_env(HOME)
        env.update({k: _subst(v, spec, workdir) for k, v in spec.env.items()})
        if compile_step:
            for var, name in spec.local.caches.items():
                env[var] = f"{CACHE_ROOT}/{name}"
        env["CRUXFORGE_VERDICTS"] = f"{workdir}/{VERDICT_FILE}"
        return env

    def _execute_one(self, program: Program) -> RunResult:
        try:
            base = get_spec(program.lang)
        except RuntimeSpecError as e:
            return infra_result(program, str(e))
        spec = base.for_variant(program.variant)
        err = self._engine_error()
        if err:
            return infra_result(program, err)
        tag = image_tag(base)  # a variant runs in the language's one image
        try:
            present = image_exists(self.client, tag)
        except Exception as e:
            return infra_result(program, f"Docker engine error: {e}")
        if not present:
            msg = f"image {tag} not built: run cruxforge runtimes build --lang {spec.lang}"
            if not spec.docker.verified_offline:
                msg += f" --force (unverified offline: {spec.docker.unverified_reason or '?'})"
            return infra_result(program, msg)
        try:
            worker = self._acquire(base, tag)
        except Exception as e:
            return infra_result(program, f"cannot start a worker container from {tag}: {e}")
        worker.counter += 1
        run_id = f"{worker.counter}-{uuid.uuid4().hex[:8]}"
        workdir = f"/work/run/{run_id}"
        source: bytes | None = program.source.encode("utf-8")
        try:
            compile_out: ProcessOutcome | None = None
            run_out: ProcessOutcome | None = None
            verdicts = ""
            lim = spec.limits
            mode, stdin = "new", source  # the first step's: a fresh work dir from source
            if spec.compile:
                key = compile_key(spec, program, extra=tag)
                kept = self.compiled.restore_blob(key)
                if kept is not None:  # the same compile ran before: unpack its files
                    (mode, stdin), compile_out = ("unpack", kept[0]), kept[1]
                else:
                    worker.set_memory(lim.compile_memory_mb)
                    compile_out, _, files = worker.step(
                        mode="new",
                        run_id=run_id,
                        final="keep" if self.compiled.enabled else "onfail",
                        tag="compile",
                        argv=[_subst(a, spec, workdir) for a in spec.compile],
                        seconds=supervisor.compile_seconds(spec, program),
                        env=self._env(spec, workdir, compile_step=True),
                        stdin=source,
                        source_file=spec.source_file,
                    )
                    if compile_out.succeeded:
                        self.compiled.save_blob(key, files, compile_out)
                    mode, stdin = "cont", None
            if compile_out is None or compile_out.succeeded:
                worker.set_memory(lim.memory_mb)
                run_out, verdicts, _ = worker.step(
                    mode=mode,
                    run_id=run_id,
                    final="1",
                    tag="run",
                    argv=[_subst(a, spec, workdir) for a in supervisor.run_argv(spec, program)],
                    seconds=supervisor.run_seconds(spec, program),
                    env=self._env(spec, workdir, compile_step=False),
                    stdin=stdin,
                    source_file=spec.source_file,
                )
        except WorkerError as e:
            self._discard(worker)
            return infra_result(program, f"docker sandbox failure (worker replaced): {e}")
        except Exception as e:  # engine errors mid-program
            self._discard(worker)
            return infra_result(program, f"docker engine error (worker replaced): {e}")
        if worker.spoiled:
            self._discard(worker)
        else:
            self._release(worker)
        return assemble_result(
            program,
            compile=compile_out,
            run=run_out,
            verdict_text=verdicts,
            stderr_fails=spec.stderr_fails,
        )
