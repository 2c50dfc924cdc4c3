"""The ``local`` backend: host toolchains under bubblewrap.

Each program gets a fresh work dir (on /dev/shm when possible, so everything it writes
is charged to its memory cgroup), bound read-write at ``/work`` inside a bubblewrap
sandbox that sees only the system directories (``/usr``, ``/etc``, the ``/lib*``,
``/bin``, ``/sbin`` links) plus the spec's ``local.binds`` read-only; ``/tmp`` is a
private tmpfs; no network, own pid/ipc/uts/user namespaces, no further user
namespaces, a new session, ``--die-with-parent``. When run as root the sandbox runs as
``nobody`` (uid 65534), so even the bound system files are only readable as a normal
user.

Limits per process (compile and run separately): time (the cgroup's CPU time once the
wall limit has passed, runtimes/time_limit.py; the whole process tree is killed and the
kill verified), memory and pids through a child cgroup per process
(cgroup v1 ``memory``/``pids`` hierarchies or cgroup v2; at most one CPU where the
``cpu`` controller is available), stdout/stderr caps (the
process is killed when one is exceeded), file size (RLIMIT_FSIZE), no core files.

What each process did is reported as a :class:`~runtimes.verdicts.ProcessOutcome`;
:func:`~runtimes.verdicts.assemble_result` turns them into verdicts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from runtimes import supervisor
from runtimes.backend import (
    Backend,
    Program,
    RunResult,
    ToolchainStatus,
    register_backend,
)
from runtimes.cgroups import Cgroups, Group
from runtimes.compiled import CompileCache, cache_enabled, compile_key
from runtimes.compiled import cache_root as default_cache_root
from runtimes.process import decode, outcome_of, reap, watch
from runtimes.sandbox import (
    BASE_PATH,
    MAX_VERDICT_BYTES,
    VERDICT_FILE,
    base_env,
    run_programs,
)
from runtimes.slots import HostSlots
from runtimes.spec import RuntimeSpec, RuntimeSpecError, get_spec
from runtimes.verdicts import ProcessOutcome, assemble_result, infra_result

SANDBOX_UID = 65534  # nobody
INSIDE_WORKDIR = "/work"
INSIDE_CACHE = "/cache"
INSIDE_OOM_EVENTS = "/.cruxforge-oom-events"  # the run's cgroup OOM-kill counter, read-only
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailableError(RuntimeError):
    """bubblewrap is missing and the backend was not told to run unsandboxed."""


@register_backend
class LocalBackend(Backend):
    name = "local"

    def __init__(
        self,
        *,
        parallel: int = 2,
        unsafe_no_sandbox: bool = False,
        work_root: str | Path | None = None,
        cache_root: str | Path | None = None,
        keep_workdirs: bool = False,
        bwrap: str | None = None,
        slots: HostSlots | None = None,
    ) -> None:
        self.parallel = max(1, int(parallel))
        self.slots = slots
        self.unsafe_no_sandbox = unsafe_no_sandbox
        self.keep_workdirs = keep_workdirs
        self.bwrap = bwrap or shutil.which("bwrap")
        self.is_root = os.geteuid() == 0
        self.cgroups = Cgroups()
        self.cgroups.sweep_stale()
        if work_root is None:
            shm = Path("/dev/shm")
            base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
            work_root = base / "cruxforge-local"
        self.work_root = Path(work_root)
        self.cache_root = (
            Path(cache_root) if cache_root is not None else default_cache_root(self.is_root)
        )
        self.compiled = CompileCache(self.cache_root / "compiled", enabled=cache_enabled())

    # ---------------------------------------------------------------- checks

    def _check_sandbox(self) -> None:
        if self.bwrap is None and not self.unsafe_no_sandbox:
            raise SandboxUnavailableError(
                "the local backend needs bubblewrap (`bwrap`, Debian package 'bubblewrap'; "
                "scripts/setup.sh installs it) to sandbox programs; install it, or construct "
                "LocalBackend(unsafe_no_sandbox=True) to run programs unsandboxed at your own risk"
            )

    @staticmethod
    def _host_path(spec: RuntimeSpec) -> str:
        return ":".join([*spec.local.path, *BASE_PATH])

    def _missing_tools(self, spec: RuntimeSpec) -> list[str]:
        path = self._host_path(spec)
        return [t for t in spec.local.requires if shutil.which(t, path=path) is None]

    def doctor(self, lang: str) -> ToolchainStatus:
        try:
            spec = get_spec(lang)
        except RuntimeSpecError as e:
            return ToolchainStatus(lang=lang, backend=self.name, available=False, reason=str(e))
        st = ToolchainStatus(lang=lang, backend=self.name, available=False)
        if spec.local.unavailable:
            st.reason = spec.local.unavailable
            return st
        if self.bwrap is None and not self.unsafe_no_sandbox:
            st.reason = "bubblewrap (bwrap) not installed: the local backend cannot sandbox"
            return st
        missing = self._missing_tools(spec)
        if missing:
            st.reason = (
                f"missing on the host: {', '.join(missing)} (run scripts/setup.sh, "
                "or use the docker backend)"
            )
            return st
        wd = self._prepare_workdir()
        try:
            out = self._run_in_sandbox(
                spec,
                wd,
                spec.version,
                seconds=60,
                memory_mb=max(spec.limits.compile_memory_mb, spec.limits.memory_mb),
                with_caches=False,
            )
        finally:
            shutil.rmtree(wd, ignore_errors=True)
        text = (out.stdout + "\n" + out.stderr).strip()
        if not out.succeeded:
            st.reason = (
                f"version command {' '.join(spec.version)} failed in the sandbox: "
                f"{out.infra_error or out.describe_end()}: {text[:300]}"
            )
            return st
        st.available = True
        st.version = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        if not self.cgroups.available:
            st.reason = f"memory and pids limits not enforced: {self.cgroups.reason}"
        return st

    # ---------------------------------------------------------------- execution

    def execute(self, programs: Sequence[Program]) -> list[RunResult]:
        self._check_sandbox()
        return run_programs(programs, self._execute_one, self.parallel, self.slots)

    def _prepare_workdir(self) -> Path:
        self.work_root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work_root, 0o711)
        wd = Path(tempfile.mkdtemp(prefix="run-", dir=self.work_root))
        if self.is_root and not self.unsafe_no_sandbox:
            os.chown(wd, SANDBOX_UID, SANDBOX_UID)
        os.chmod(wd, 0o755)
        return wd

    def _execute_one(self, program: Program) -> RunResult:
        try:
            spec = get_spec(program.lang).for_variant(program.variant)
        except RuntimeSpecError as e:
            return infra_result(program, str(e))
        if spec.local.unavailable or self._missing_tools(spec):
            why = spec.local.unavailable or f"missing tools: {self._missing_tools(spec)}"
            return infra_result(program, f"{spec.name} not available locally: {why}")
        wd = self._prepare_workdir()
        try:
            src = wd / spec.source_file
            src.write_text(program.source, encoding="utf-8")
            if self.is_root and not self.unsafe_no_sandbox:
                os.chown(src, SANDBOX_UID, SANDBOX_UID)
            compile_out: ProcessOutcome | None = None
            run_out: ProcessOutcome | None = None
            if spec.compile:
                key = compile_key(spec, program)
                owner = (
                    (SANDBOX_UID, SANDBOX_UID)
                    if self.is_root and not self.unsafe_no_sandbox
                    else None
                )
                compile_out = self.compiled.restore(key, wd, owner)
                if compile_out is None:
                    compile_out = self._run_in_sandbox(
                        spec,
                        wd,
                        spec.compile,
                        seconds=supervisor.compile_seconds(spec, program),
                        memory_mb=spec.limits.compile_memory_mb,
                        with_caches=True,
                    )
                    if compile_out.succeeded:
                        self.compiled.save(key, wd, {spec.source_file, VERDICT_FILE}, compile_out)
            if compile_out is None or compile_out.succeeded:
                vf = wd / VERDICT_FILE
                vf.unlink(missing_ok=True)  # never trust one the compiler step left
                run_out = self._run_in_sandbox(
                    spec,
                    wd,
                    supervisor.run_argv(spec, program),
                    seconds=supervisor.run_seconds(spec, program),
                    memory_mb=spec.limits.memory_mb,
                    with_caches=False,
                )
            verdict_text = self._read_verdicts(wd / VERDICT_FILE)
            return assemble_result(
                program,
                compile=compile_out,
                run=run_out,
                verdict_text=verdict_text,
                stderr_fails=spec.stderr_fails,
            )
        finally:
            if not self.keep_workdirs:
                shutil.rmtree(wd, ignore_errors=True)

    @staticmethod
    def _read_verdicts(path: Path) -> str:
        if path.is_symlink() or not path.is_file():
            return ""
        with open(path, "rb") as f:
            return decode(f.read(MAX_VERDICT_BYTES))

    # ---------------------------------------------------------------- sandbox

    def _env(self, spec: RuntimeSpec, workdir: str, with_caches: bool) -> dict[str, str]:
        env = base_env("/tmp", spec.local.path)
        env.update(spec.env)
        env.update(spec.local.env)
        env["CRUXFORGE_VERDICTS"] = f"{workdir}/{VERDICT_FILE}"
        if with_caches:
            inside = self.cache_root if self.unsafe_no_sandbox else Path(INSIDE_CACHE)
            for var, name in spec.local.caches.items():
                env[var] = str(inside / name)
        return env

    def _cache_dirs(self, spec: RuntimeSpec) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for name in spec.local.caches.values():
            d = self.cache_root / name
            d.mkdir(parents=True, exist_ok=True)
            if self.is_root and not self.unsafe_no_sandbox:
                os.chown(d, SANDBOX_UID, SANDBOX_UID)
            out[name] = d
        return out

    def _bwrap_args(
        self,
        spec: RuntimeSpec,
        wd: Path,
        env: dict[str, str],
        with_caches: bool,
        memory_mb: int,
        oom_events: Path | None = None,
    ) -> list[str]:
        assert self.bwrap is not None
        a = [self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        a += ["--unshare-cgroup-try"]
        if not self.is_root:  # unprivileged: bwrap needs a user namespace
            a += ["--unshare-user", "--disable-userns"]
        a += ["--die-with-parent", "--new-session", "--clearenv"]
        for p in SYSTEM_PATHS:
            if os.path.islink(p):
                a += ["--symlink", os.readlink(p), p]
            elif os.path.isdir(p):
                a += ["--ro-bind", p, p]
        made: set[str] = set()
        for p in spec.local.binds:
            if not os.path.exists(p):
                continue
            # bwrap copies the mode of missing parents (e.g. /root is 0700): make them
            # traversable, or the sandbox user could not reach the bound directory
            for parent in reversed(Path(p).parents[:-1]):
                sp = str(parent)
                if sp in made or any(sp == q or sp.startswith(q + "/") for q in SYSTEM_PATHS):
                    continue
                made.add(sp)
                a += ["--perms", "0755", "--dir", sp]
            a += ["--ro-bind", p, p]
        # nobody's files that would reveal host users' secrets are not bound anyway;
        # mask the password hashes too in case the sandbox runs as root (non-root caller)
        for secret in ("/etc/shadow", "/etc/gshadow"):
            if os.path.exists(secret):
                a += ["--ro-bind", "/dev/null", secret]
        a += ["--proc", "/proc", "--dev", "/dev"]
        a += ["--perms", "1777", "--size", str(memory_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        a += ["--bind", str(wd), INSIDE_WORKDIR]
        if with_caches and spec.local.caches:
            a += ["--perms", "0755", "--dir", INSIDE_CACHE]
            for name, d in self._cache_dirs(spec).items():
                a += ["--bind", str(d), f"{INSIDE_CACHE}/{name}"]
        if oom_events is not None:  # the batch supervisor tells a memory kill per item
            a += ["--ro-bind", str(oom_events), INSIDE_OOM_EVENTS]
            a += ["--setenv", "CRUXFORGE_OOM_EVENTS", INSIDE_OOM_EVENTS]
        a += ["--chdir", INSIDE_WORKDIR]
        for k, v in env.items():
            a += ["--setenv", k, v]
        return a

    def _run_in_sandbox(
        self,
        spec: RuntimeSpec,
        wd: Path,
        command: list[str],
        *,
        seconds: float,
        memory_mb: int,
        with_caches: bool,
    ) -> ProcessOutcome:
        """One step (compile or run) of a program, in its sandbox, watched to the end."""
        sandboxed = not self.unsafe_no_sandbox
        argv, env = self._command(spec, wd, command, with_caches)
        group: Group | None = None
        try:
            if self.cgroups.available:
                group = self.cgroups.create(memory_mb, spec.limits.pids)
        except OSError as e:
            return ProcessOutcome(exit_code=None, infra_error=f"cannot create cgroup: {e}")
        status_r, status_w = os.pipe()
        full, popen_env = self._wrapped(spec, wd, argv, env, group, with_caches, memory_mb,
                                        status_w)  # fmt: skip
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=str(wd),
                env=popen_env,
                start_new_session=True,
                pass_fds=(status_w,) if sandboxed else (),
            )
        except OSError as e:
            os.close(status_r)
            os.close(status_w)
            if group:
                group.remove()
            return ProcessOutcome(exit_code=None, infra_error=f"cannot start sandbox: {e}")
        os.close(status_w)
        cpu = group.cpu_for_time_limit if group is not None else None
        watched = watch(proc, start, seconds, spec.limits.output_kb * 1024, cpu)
        rc, survivors = reap(proc, group, watched)
        with os.fdopen(status_r, "rb") as f:
            status_text = f.read().decode(errors="replace")
        # killed by the OOM killer, or stopped for time while stuck at the memory limit
        oom = group is not None and (
            group.oom_killed() or (watched.timed_out and group.at_memory_limit())
        )
        used = group.cpu_seconds() if group else None
        if group is not None:
            group.remove()
        return outcome_of(rc, watched, time.monotonic() - start, oom, used, survivors,
                        sandboxed, status_text)  # fmt: skip

    def _command(
        self, spec: RuntimeSpec, wd: Path, command: list[str], with_caches: bool
    ) -> tuple[list[str], dict[str, str]]:
        """The step's argv (placeholders filled) and its environment."""
        sandboxed = not self.unsafe_no_sandbox
        inside_wd = INSIDE_WORKDIR if sandboxed else str(wd)
        argv = [
            c.replace("{file}", spec.source_file)
            .replace("{stem}", Path(spec.source_file).stem)
            .replace("{workdir}", inside_wd)
            for c in command
        ]
        env = self._env(spec, inside_wd, with_caches)
        if not sandboxed and with_caches:
            self._cache_dirs(spec)
        return argv, env

    def _wrapped(
        self,
        spec: RuntimeSpec,
        wd: Path,
        argv: list[str],
        env: dict[str, str],
        group: Group | None,
        with_caches: bool,
        memory_mb: int,
        status_w: int,
    ) -> tuple[list[str], dict[str, str]]:
        """The full command line: join the cgroup(s) first, then the rlimits, then the
        sandbox (which drops privileges), then the step; and the environment to start it."""
        sandboxed = not self.unsafe_no_sandbox
        limits = ["prlimit", f"--fsize={spec.limits.file_mb * 1024 * 1024}", "--core=0"]
        if group is None and not (self.is_root and not sandboxed):
            # no pids cgroup: RLIMIT_NPROC (per real uid; ignored for root)
            limits.append(f"--nproc={spec.limits.pids}")
        limits.append("--")
        events = group.events_file() if group is not None else None
        if sandboxed:
            inner = self._bwrap_args(spec, wd, env, with_caches, memory_mb, events)
            inner += ["--json-status-fd", str(status_w), "--", *self._drop_privileges(), *argv]
            popen_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        else:
            inner = argv
            popen_env = dict(env)
            if events is not None:
                popen_env["CRUXFORGE_OOM_EVENTS"] = str(events)
        join = (
            'for f in $CRUXFORGE_CGROUP_PROCS; do echo $$ > "$f" || '
            '{ echo "cruxforge-sandbox: cannot join cgroup $f" >&2; exit 125; }; done; '
            'exec "$@"'
        )
        popen_env["CRUXFORGE_CGROUP_PROCS"] = " ".join(group.procs_files) if group else ""
        return ["/bin/sh", "-c", join, "cruxforge-wrap", *limits, *inner], popen_env

    def _drop_privileges(self) -> list[str]:
        """As root, bwrap runs as root (so it can bind e.g. /root/.cargo, which `nobody`
        could not reach) without a user namespace; inside, setpriv drops to nobody with no
        capabilities before the program starts."""
        if self.unsafe_no_sandbox or not self.is_root:
            return []
        return [
            "setpriv",
            f"--reuid={SANDBOX_UID}",
            f"--regid={SANDBOX_UID}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]

    def sandbox_probe(self) -> dict[str, str]:
        """How this backend would sandbox here (for doctor output)."""
        return {
            "bwrap": self.bwrap or "missing",
            "cgroups": f"v{self.cgroups.version}"
            if self.cgroups.available
            else self.cgroups.reason,
            "uid": str(SANDBOX_UID) if self.is_root else str(os.getuid()),
            "work_root": str(self.work_root),
            "cache_root": str(self.cache_root),
        }
