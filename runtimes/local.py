"""The ``local`` backend: host toolchains under bubblewrap.

Each program gets a fresh work dir (on /dev/shm when possible, so everything it writes
is charged to its memory cgroup), bound read-write at ``/work`` inside a bubblewrap
sandbox that sees only the system directories (``/usr``, ``/etc``, the ``/lib*``,
``/bin``, ``/sbin`` links) plus the spec's ``local.binds`` read-only; ``/tmp`` is a
private tmpfs; no network, own pid/ipc/uts/user namespaces, no further user
namespaces, a new session, ``--die-with-parent``. When run as root the sandbox runs as
``nobody`` (uid 65534), so even the bound system files are only readable as a normal
user.

Limits per process (compile and run separately): wall time (the whole process tree is
killed and the kill verified), memory and pids through a child cgroup per process
(cgroup v1 ``memory``/``pids`` hierarchies or cgroup v2; at most one CPU where the
``cpu`` controller is available), stdout/stderr caps (the
process is killed when one is exceeded), file size (RLIMIT_FSIZE), no core files.

What each process did is reported as a :class:`~runtimes.verdicts.ProcessOutcome`;
:func:`~runtimes.verdicts.assemble_result` turns them into verdicts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from runtimes import supervisor
from runtimes.backend import (
    Backend,
    Program,
    RunResult,
    ToolchainStatus,
    register_backend,
)
from runtimes.compiled import CompileCache, compile_key
from runtimes.pool import run_programs
from runtimes.slots import HostSlots
from runtimes.spec import RuntimeSpec, RuntimeSpecError, get_spec
from runtimes.verdicts import ProcessOutcome, assemble_result, infra_result, signal_of_status

SANDBOX_UID = 65534  # nobody
INSIDE_WORKDIR = "/work"
INSIDE_CACHE = "/cache"
INSIDE_OOM_EVENTS = "/.cruxforge-oom-events"  # the run's cgroup OOM-kill counter, read-only
VERDICT_FILE = ".cruxforge-verdicts"
MAX_VERDICT_BYTES = 4 * 1024 * 1024
CPU_PERIOD_US = 100_000  # each sandbox gets at most one CPU (quota = period)
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
BASE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
BASE_ENV = {
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}


class SandboxUnavailableError(RuntimeError):
    """bubblewrap is missing and the backend was not told to run unsandboxed."""


# ------------------------------------------------------------------ cgroups


class _Group:
    """One child cgroup (memory + pids) holding one sandboxed process tree."""

    def __init__(self, dirs: list[Path], version: int) -> None:
        self.dirs = dirs
        self.version = version

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                out |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
        return out

    def events_file(self) -> Path | None:
        """The file whose ``oom_kill`` line counts this group's OOM kills."""
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):
                if (d / name).exists():
                    return d / name
        return None

    def oom_killed(self) -> bool:
        events = self.events_file()
        if events is None:
            return False
        with contextlib.suppress(OSError):
            for line in events.read_text().splitlines():
                key, _, val = line.partition(" ")
                if key == "oom_kill" and int(val or 0) > 0:
                    return True
        return False

    def cpu_seconds(self) -> float | None:
        """CPU time the group's processes used (cgroup v2 ``cpu.stat``, v1 ``cpuacct``)."""
        for d in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                if (d / "cpuacct.usage").exists():
                    return int((d / "cpuacct.usage").read_text()) / 1e9
                if (d / "cpu.stat").exists():
                    for line in (d / "cpu.stat").read_text().splitlines():
                        key, _, val = line.partition(" ")
                        if key == "usage_usec":
                            return int(val) / 1e6
        return None

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL everything in the group; True when it is verified empty."""
        deadline = time.monotonic() + timeout
        while True:
            if self.version == 2:
                with contextlib.suppress(OSError):
                    (self.dirs[0] / "cgroup.kill").write_text("1")
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


class _Cgroups:
    """Finds a writable place for child cgroups (v2 unified, or v1 memory + pids)."""

    def __init__(self) -> None:
        self.version = 0
        self.reason = ""
        self._roots: dict[str, Path] = {}
        try:
            self._detect()
        except OSError as e:  # pragma: no cover - depends on the host
            self.version, self.reason = 0, f"cgroups unusable: {e}"

    @staticmethod
    def _own_paths() -> dict[str, str]:
        paths: dict[str, str] = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path
        return paths

    def _try_make(self, root: Path) -> bool:
        probe = root / f"cruxforge-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        try:
            probe.mkdir()
        except OSError:
            return False
        probe.rmdir()
        return True

    def _detect(self) -> None:
        own = self._own_paths()
        v1_mem, v1_pids = Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/pids")
        if (v1_mem / "memory.limit_in_bytes").exists() and (v1_pids / "cgroup.procs").exists():
            mem_root = v1_mem / own.get("memory", "/").lstrip("/")
            pids_root = v1_pids / own.get("pids", "/").lstrip("/")
            if self._try_make(mem_root) and self._try_make(pids_root):
                self.version = 1
                self._roots = {"memory": mem_root, "pids": pids_root}
                # optional: cap each sandbox at one CPU so a fork bomb cannot starve the host
                cpu_root = Path("/sys/fs/cgroup/cpu") / own.get("cpu", "/").lstrip("/")
                if (cpu_root / "cpu.cfs_quota_us").exists() and self._try_make(cpu_root):
                    self._roots["cpu"] = cpu_root
                acct_root = Path("/sys/fs/cgroup/cpuacct") / own.get("cpuacct", "/").lstrip("/")
                if (
                    (acct_root / "cpuacct.usage").exists()
                    and acct_root.resolve() != cpu_root.resolve()
                    and self._try_make(acct_root)
                ):
                    self._roots["cpuacct"] = acct_root
                return
        unified = Path("/sys/fs/cgroup")
        if (unified / "cgroup.controllers").exists():
            # delegate a sub-tree of our own cgroup with memory + pids enabled; v2 allows
            # that only when our cgroup has no processes of its own, so use a sibling
            base = unified / own.get("", "/").lstrip("/")
            enabled = (base / "cgroup.subtree_control").read_text().split()
            if {"memory", "pids"} <= set(enabled) and self._try_make(base):
                self.version = 2
                self._roots = {"": base}
                return
            self.reason = f"cgroup v2 at {base} does not delegate memory+pids to children"
            return
        self.reason = "no writable cgroup (v1 memory+pids or v2) found"

    @property
    def available(self) -> bool:
        return self.version > 0

    def sweep_stale(self) -> None:
        """Remove empty groups left by cruxforge processes that died mid-run."""
        for root in self._roots.values():
            with contextlib.suppress(OSError):
                for d in root.glob("cruxforge-*-*"):
                    pid = d.name.split("-")[1]
                    if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                        with contextlib.suppress(OSError):
                            d.rmdir()  # fails (harmlessly) while processes remain

    def create(self, memory_mb: int, pids: int) -> _Group:
        name = f"cruxforge-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        limit = str(memory_mb * 1024 * 1024)
        if self.version == 1:
            mem = self._roots["memory"] / name
            pid = self._roots["pids"] / name
            mem.mkdir()
            pid.mkdir()
            (mem / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # only with swap accounting
                (mem / "memory.memsw.limit_in_bytes").write_text(limit)
            (pid / "pids.max").write_text(str(pids))
            dirs = [mem, pid]
            if "cpu" in self._roots:
                cpu = self._roots["cpu"] / name
                try:
                    cpu.mkdir()
                    (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                    (cpu / "cpu.cfs_quota_us").write_text(str(CPU_PERIOD_US))
                    dirs.append(cpu)
                except OSError:
                    with contextlib.suppress(OSError):
                        cpu.rmdir()
            if "cpuacct" in self._roots:  # CPU time used (where not co-mounted with cpu)
                acct = self._roots["cpuacct"] / name
                with contextlib.suppress(OSError):
                    acct.mkdir()
                    dirs.append(acct)
            return _Group(dirs, 1)
        d = self._roots[""] / name
        d.mkdir()
        (d / "memory.max").write_text(limit)
        with contextlib.suppress(OSError):
            (d / "memory.swap.max").write_text("0")
        (d / "pids.max").write_text(str(pids))
        with contextlib.suppress(OSError):  # only when the cpu controller is delegated
            (d / "cpu.max").write_text(f"{CPU_PERIOD_US} {CPU_PERIOD_US}")
        return _Group([d], 2)


# ------------------------------------------------------------------ process runner


def _reader(stream: IO[bytes], cap: int, sink: bytearray, over: threading.Event) -> None:
    try:
        while True:
            chunk = stream.read1(65536)  # type: ignore[attr-defined]
            if not chunk:
                return
            room = cap - len(sink)
            if room > 0:
                sink += chunk[:room]
            if len(chunk) > room:
                over.set()
                # keep draining so the process never blocks on a full pipe before the kill
    except (OSError, ValueError):
        return


def _decode(b: bytes | bytearray) -> str:
    return bytes(b).decode("utf-8", errors="replace")


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
        self.cgroups = _Cgroups()
        self.cgroups.sweep_stale()
        if work_root is None:
            shm = Path("/dev/shm")
            base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
            work_root = base / "cruxforge-local"
        self.work_root = Path(work_root)
        if cache_root is None:
            cache_root = os.environ.get("CRUXFORGE_CACHE_DIR") or (
                "/var/cache/cruxforge/local"
                if self.is_root
                else Path(tempfile.gettempdir()) / f"cruxforge-cache-{os.getuid()}"
            )
        self.cache_root = Path(cache_root)
        # CRUXFORGE_COMPILE_CACHE=0 compiles every program afresh (runtimes/compiled.py)
        self.compiled = CompileCache(
            self.cache_root / "compiled",
            enabled=os.environ.get("CRUXFORGE_COMPILE_CACHE", "1") != "0",
        )

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
            return _decode(f.read(MAX_VERDICT_BYTES))

    # ---------------------------------------------------------------- sandbox

    def _env(self, spec: RuntimeSpec, workdir: str, with_caches: bool) -> dict[str, str]:
        env = dict(BASE_ENV)
        env["PATH"] = self._host_path(spec)
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

        group: _Group | None = None
        try:
            if self.cgroups.available:
                group = self.cgroups.create(memory_mb, spec.limits.pids)
        except OSError as e:
            return ProcessOutcome(exit_code=None, infra_error=f"cannot create cgroup: {e}")

        limits = [
            "prlimit",
            f"--fsize={spec.limits.file_mb * 1024 * 1024}",
            "--core=0",
        ]
        if group is None and not (self.is_root and not sandboxed):
            # no pids cgroup: RLIMIT_NPROC (per real uid; ignored for root)
            limits.append(f"--nproc={spec.limits.pids}")
        limits.append("--")
        drop: list[str] = []
        if sandboxed and self.is_root:
            # bwrap runs as root (so it can bind e.g. /root/.cargo, which `nobody` could
            # not reach) without a user namespace; inside, setpriv drops to nobody with
            # no capabilities before the program starts
            drop = [
                "setpriv",
                f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_UID}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
        status_r, status_w = os.pipe()
        events = group.events_file() if group is not None else None
        if sandboxed:
            inner = self._bwrap_args(spec, wd, env, with_caches, memory_mb, events)
            inner += ["--json-status-fd", str(status_w), "--", *drop, *argv]
            popen_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            cwd = str(wd)
        else:
            inner = argv
            popen_env = dict(env)
            if events is not None:
                popen_env["CRUXFORGE_OOM_EVENTS"] = str(events)
            cwd = str(wd)
        # join the cgroup(s) first, then rlimits, then the sandbox (which drops privileges)
        join = (
            'for f in $CRUXFORGE_CGROUP_PROCS; do echo $$ > "$f" || '
            '{ echo "cruxforge-sandbox: cannot join cgroup $f" >&2; exit 125; }; done; '
            'exec "$@"'
        )
        full = ["/bin/sh", "-c", join, "cruxforge-wrap", *limits, *inner]
        popen_env = dict(popen_env)
        popen_env["CRUXFORGE_CGROUP_PROCS"] = " ".join(group.procs_files) if group else ""
        out_buf, err_buf = bytearray(), bytearray()
        over = threading.Event()
        cap = spec.limits.output_kb * 1024
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
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
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=_reader, args=(proc.stdout, cap, out_buf, over), daemon=True),
            threading.Thread(target=_reader, args=(proc.stderr, cap, err_buf, over), daemon=True),
        ]
        for t in readers:
            t.start()
        deadline = start + seconds
        timed_out = False
        while True:
            try:
                proc.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                pass
            if over.is_set():
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
        elapsed = time.monotonic() - start
        rc = proc.poll()
        survivors = False
        if rc is None or group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if group is not None and not group.kill_all():
                survivors = True
            rc = proc.wait()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for t in readers:
            t.join(timeout=5)
        with os.fdopen(status_r, "rb") as f:
            status_text = f.read().decode(errors="replace")
        oom = group.oom_killed() if group else False
        cpu = group.cpu_seconds() if group else None
        if group is not None:
            group.remove()

        stderr = _decode(err_buf)
        outcome = ProcessOutcome(
            exit_code=None,
            stdout=_decode(out_buf),
            stderr=stderr,
            timed_out=timed_out,
            memory_exceeded=oom,
            output_exceeded=over.is_set() and not timed_out,
            seconds=round(elapsed, 3),
            cpu_seconds=None if cpu is None else round(cpu, 3),
        )
        if rc < 0:
            outcome.signal = -rc
        else:
            outcome.exit_code = rc
            outcome.signal = signal_of_status(rc)
        if survivors:
            outcome.infra_error = "processes survived the sandbox kill"
        elif sandboxed and '"child-pid"' not in status_text and not (timed_out or over.is_set()):
            outcome.infra_error = (
                f"sandbox setup failed (exit {rc}): {stderr.strip()[:500] or 'no message'}"
            )
        elif rc == 125 and stderr.startswith("cruxforge-sandbox: cannot join cgroup"):
            outcome.infra_error = stderr.strip()
        return outcome

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
