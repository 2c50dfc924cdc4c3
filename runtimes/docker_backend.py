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

Each step runs under a small bash driver (:data:`DRIVER`) in its own session and process
group, under ``prlimit`` (file size = ``limits.file_mb``, no core files, processes =
``limits.pids``); a fork-free watchdog kills the group at the time limit or as soon as
stdout or stderr passes ``limits.output_kb``. After every step the driver SIGKILLs every
process of the worker's uid (``kill -9 -1``; the keeper is another uid), loops until ``/proc``
shows none left and reports the count (a step that leaves one behind is an infra_error).

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

Caches: ``HOME`` is ``/work/home`` for the worker's life (so e.g. Swift's module cache
and Go's build cache are built once per worker, not once per program); after each
program everything in it but ``.cache`` is removed, as are ``/tmp`` and the work dir.
The spec's ``local.caches`` variables point into ``/work/cache`` during the compile step,
as the local backend does with its kept cache dirs.
"""

from __future__ import annotations

import atexit
import contextlib
import socket
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from runtimes import supervisor
from runtimes.backend import (
    Backend,
    Program,
    RunResult,
    ToolchainStatus,
    register_backend,
)
from runtimes.images import DockerUnavailableError, docker_client, image_exists, image_tag
from runtimes.pool import run_programs
from runtimes.slots import HostSlots
from runtimes.spec import RuntimeSpec, RuntimeSpecError, get_spec
from runtimes.verdicts import ProcessOutcome, assemble_result, infra_result, signal_of_status

SANDBOX_UID = 10001  # the images' `sandbox` user (owns /work in the image)
KEEPER_UID = 10002  # the container's idle main process; programs cannot signal it
# Each worker runs its programs as a uid of its own, leased host-wide: RLIMIT_NPROC (the
# driver's `prlimit --nproc`, which keeps the container's pids headroom for the driver)
# counts a uid's processes across the whole host, so a fork bomb filling it in one worker
# would starve a JVM starting in another worker if they shared a uid.
WORKER_UID_BASE = 20000
WORKER_UIDS = 4096
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOME = "/work/home"
CACHE_ROOT = "/work/cache"
VERDICT_FILE = ".cruxforge-verdicts"
MAX_VERDICT_BYTES = 4 * 1024 * 1024
DRIVER_MB = 48  # memory allowed on top of a step's limit: driver, watchdog, init
PIDS_HEADROOM = 32  # container pids on top of limits.pids: driver, watchdog, init
WORK_TMPFS_MB = 2048  # /work: run dirs, HOME caches (tmpfs pages count as memory anyway)
TMP_TMPFS_MB = 1024
EXEC_GRACE_SECONDS = 60.0  # on top of a step's limit before the exec itself is abandoned
LABEL = "org.cruxforge.worker"

# The driver runs inside the container as the worker's uid:
#   bash -c DRIVER cruxforge-driver MODE ID FILE FINAL TAG USECS FSIZE CAP NPROC -- CMD...
# MODE "new": make /work/run/ID afresh, source from stdin into FILE; "cont": reuse it.
# FINAL "1": clean up after the step; "onfail": only if the step did not succeed.
# It prints framed blobs: "@@NAME SIZE\n" SIZE bytes "\n" (meta, out, err, verdicts).
DRIVER = r"""
set -u
umask 022
mode=$1 id=$2 file=$3 final=$4 tag=$5 usecs=$6 fsize=$7 cap=$8 nproc=$9
shift 9
[ "${1:-}" = "--" ] && shift
W=/work/run/$id M=/work/meta/$id
declare -A META=()

oomcount() {  # -> OOM (the container cgroup's oom_kill counter, -1 if unknown)
    local k v f
    OOM=-1
    for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
        [ -r "$f" ] || continue
        while read -r k v; do
            if [ "$k" = oom_kill ]; then OOM=$v; return; fi
        done < "$f"
    done
}
cpuusage() {  # -> CPU (the container cgroup's CPU time in microseconds, -1 if unknown)
    local k v f
    CPU=-1
    for f in /sys/fs/cgroup/cpuacct/cpuacct.usage /sys/fs/cgroup/cpu,cpuacct/cpuacct.usage; do
        if [ -r "$f" ] && read -r v < "$f"; then CPU=$((v / 1000)); return; fi
    done
    if [ -r /sys/fs/cgroup/cpu.stat ]; then
        while read -r k v; do
            if [ "$k" = usage_usec ]; then CPU=$v; return; fi
        done < /sys/fs/cgroup/cpu.stat
    fi
}
nap() { read -r -t "$1" -u 7 _ 2>/dev/null; }  # sleep without forking
now_us() { NOW=${EPOCHREALTIME/./}; NOW=$((10#$NOW)); }
emit() {  # NAME FILE CAP
    local n=0
    if [ -f "$2" ]; then n=$(stat -c %s -- "$2" 2>/dev/null || echo 0); fi
    (( n > $3 )) && n=$3
    printf '@@%s %d\n' "$1" "$n"
    if (( n > 0 )); then head -c "$n" -- "$2"; fi
    printf '\n'
}
sweep() {  # SIGKILL every process of ours but this shell; LEFT = how many remain
    local i p
    for ((i = 0; i < 250; i++)); do
        kill -KILL -1 2>/dev/null
        LEFT=0
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            [ "$p" = "$$" ] && continue
            [ -O "/proc/$p" ] || continue
            # a zombie waiting for init to reap it holds nothing
            read -r _ _ st _ < "/proc/$p/stat" 2>/dev/null || continue
            [ "$st" = Z ] && continue
            LEFT=$((LEFT + 1))
        done
        (( LEFT == 0 )) && return
        nap 0.02
    done
}
cleanup() {
    cd /work
    rm -rf -- "$W" "$M" 2>/dev/null
    find /tmp -mindepth 1 -delete 2>/dev/null
    find "$HOME" -mindepth 1 -maxdepth 1 ! -name .cache -exec rm -rf -- {} + 2>/dev/null
    true
}

if [ "$mode" = new ]; then
    rm -rf -- "$W" "$M"
    mkdir -p -- "$W" "$M" "$HOME" || { echo "cannot make $W" >&2; exit 90; }
    cat > "$W/$file" || { echo "cannot write the source" >&2; exit 91; }
else
    [ -d "$W" ] && [ -d "$M" ] || { echo "no work dir $W" >&2; exit 92; }
fi
rm -f -- "$M/.tick" "$M/$tag".* "$W/.cruxforge-verdicts"
mkfifo -- "$M/.tick" && exec 7<>"$M/.tick" || { echo "no fifo" >&2; exit 93; }

oomcount; oom0=$OOM
cpuusage; cpu0=$CPU
now_us; t0=$NOW
( exec 7>&-
  cd "$W" || exit 126
  echo 1000 > /proc/self/oom_score_adj 2>/dev/null
  exec setsid prlimit --fsize="$fsize" --core=0 --nproc="$nproc" -- "$@"
) < /dev/null > "$M/$tag.out" 2> "$M/$tag.err" &
pid=$!
( # watchdog: time limit first (fork-free), output caps every 2nd tick
  deadline=$((t0 + usecs)) k=0
  while kill -0 "$pid" 2>/dev/null; do
      nap 0.05
      now_us
      if (( NOW >= deadline )); then
          : > "$M/$tag.timeout"; kill -KILL -- "-$pid" "$pid"; exit 0
      fi
      k=$((k + 1))
      if (( k % 2 == 0 )) && sz=$(stat -c %s -- "$M/$tag.out" "$M/$tag.err"); then
          set -- $sz
          if (( ${1:-0} > cap || ${2:-0} > cap )); then
              : > "$M/$tag.outx"; kill -KILL -- "-$pid" "$pid"; exit 0
          fi
      fi
  done
) 2>/dev/null &
wdog=$!
wait "$pid"; rc=$?
now_us; t1=$NOW
kill -KILL "$wdog" 2>/dev/null; wait "$wdog" 2>/dev/null
kill -KILL -- "-$pid" 2>/dev/null
oomcount; oom1=$OOM
cpuusage; cpu1=$CPU
exec 7>&-
sweep
timed=0 outx=0
[ -e "$M/$tag.timeout" ] && timed=1
[ -e "$M/$tag.outx" ] && outx=1
osz=$(stat -c %s -- "$M/$tag.out" 2>/dev/null || echo 0)
esz=$(stat -c %s -- "$M/$tag.err" 2>/dev/null || echo 0)
(( osz > cap || esz > cap )) && outx=1
{
    echo "rc=$rc"; echo "us=$((t1 - t0))"; echo "timeout=$timed"; echo "outx=$outx"
    echo "oom0=$oom0"; echo "oom1=$oom1"; echo "left=$LEFT"
    (( cpu0 >= 0 && cpu1 >= 0 )) && echo "cpu_us=$((cpu1 - cpu0))"
} > "$M/meta"
emit meta "$M/meta" 4096
emit out "$M/$tag.out" "$cap"
emit err "$M/$tag.err" "$cap"
emit verdicts "$W/.cruxforge-verdicts" 4194304
ok=0
(( rc == 0 && timed == 0 && outx == 0 && oom1 == oom0 )) && ok=1
if [ "$final" = 1 ] || { [ "$final" = onfail ] && (( ok == 0 )); }; then
    cleanup
fi
used=$(df -k --output=used /work /tmp 2>/dev/null | tail -n +2 | tr '\n' ' ')
printf '@@tmpfs %d\n%s\n' "${#used}" "$used"
exit 0
"""


class WorkerError(RuntimeError):
    """The worker container failed (died, stopped answering): infra_error, replace it."""


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def _parse_frames(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0 or not data.startswith(b"@@", i):
            break
        name, _, size = data[i + 2 : nl].decode("ascii", "replace").partition(" ")
        try:
            n = int(size)
        except ValueError:
            break
        out[name] = data[nl + 1 : nl + 1 + n]
        i = nl + 1 + n + 1
    return out


class _Worker:
    """One long-lived container for one language; runs one step at a time."""

    def __init__(self, backend: DockerBackend, spec: RuntimeSpec, image: str) -> None:
        self.backend = backend
        self.spec = spec
        self.image = image
        self.container: Any = None
        self.mem_mb: int | None = None
        self.tmpfs_mb = 0
        self.counter = 0
        self.uid = SANDBOX_UID
        self._lease: int | None = None  # fd holding this worker's uid lease

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        client = self.backend.client
        spec = self.spec
        mem = spec.limits.memory_mb + DRIVER_MB
        name = f"cruxforge-{spec.lang}-{uuid.uuid4().hex[:10]}"
        slot, self._lease = worker_uids().acquire()
        self.uid = WORKER_UID_BASE + slot
        try:
            self._run(client, name, mem)
        except BaseException:
            self._drop_lease()
            raise
        self.mem_mb = mem
        self.tmpfs_mb = 0

    def _drop_lease(self) -> None:
        fd, self._lease = self._lease, None
        if fd is not None:
            worker_uids().release(fd)

    def _run(self, client: Any, name: str, mem: int) -> None:
        spec = self.spec
        self.container = client.containers.run(
            self.image,
            command=["sleep", "infinity"],
            name=name,
            detach=True,
            init=True,
            user=f"{KEEPER_UID}:{KEEPER_UID}",
            network_mode="none",
            mem_limit=f"{mem}m",
            memswap_limit=f"{mem}m",
            pids_limit=spec.limits.pids + PIDS_HEADROOM,
            read_only=True,
            tmpfs={
                "/work": f"rw,exec,nosuid,nodev,size={WORK_TMPFS_MB}m,mode=0755,"
                f"uid={self.uid},gid={self.uid}",
                "/tmp": f"rw,exec,nosuid,nodev,size={TMP_TMPFS_MB}m,mode=1777",
            },
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ipc_mode="private",
            working_dir="/work",
            environment={"PATH": PATH, "HOME": HOME, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
            labels={
                LABEL: spec.lang,
                f"{LABEL}.owner-pid": str(_pid()),
                f"{LABEL}.owner-host": socket.gethostname(),
                f"{LABEL}.uid": str(self.uid),
            },
            stdin_open=False,
            tty=False,
        )

    def remove(self) -> None:
        c, self.container = self.container, None
        if c is not None:
            with contextlib.suppress(Exception):
                c.remove(force=True)
        self._drop_lease()  # only once the container (and its processes) is gone

    def alive(self) -> bool:
        if self.container is None:
            return False
        try:
            self.container.reload()
        except Exception:
            return False
        return bool(self.container.attrs.get("State", {}).get("Running"))

    def ensure(self) -> None:
        if self.container is None:
            self.start()

    # ------------------------------------------------------------ memory

    def set_memory(self, step_mb: int) -> None:
        want = step_mb + DRIVER_MB + self.tmpfs_mb
        if want == self.mem_mb:
            return
        try:
            self.container.update(mem_limit=f"{want}m", memswap_limit=f"{want}m")
        except Exception as e:
            raise WorkerError(f"cannot set the worker's memory limit to {want} MB: {e}") from e
        self.mem_mb = want

    # ------------------------------------------------------------ exec

    def exec_raw(
        self,
        cmd: list[str],
        *,
        stdin: bytes | None,
        env: dict[str, str],
        timeout: float,
    ) -> tuple[int | None, bytes, bytes]:
        """Run ``cmd`` in the container as the worker's uid; (exit code, stdout, stderr)."""
        from docker.utils.socket import frames_iter

        api = self.backend.client.api
        try:
            exec_id = api.exec_create(
                self.container.id,
                cmd,
                stdout=True,
                stderr=True,
                stdin=stdin is not None,
                tty=False,
                environment=env,
                workdir="/work",
                user=f"{self.uid}:{self.uid}",
            )["Id"]
            sock = api.exec_start(exec_id, socket=True)
        except Exception as e:
            raise WorkerError(f"docker exec failed: {e}") from e
        raw = getattr(sock, "_sock", sock)
        out = bytearray()
        err = bytearray()
        try:
            raw.settimeout(timeout)
            if stdin is not None:
                raw.sendall(stdin)
            # EOF on the program's stdin even without data
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_WR)
            for stream, chunk in frames_iter(sock, tty=False):
                if stream == 2:
                    err += chunk
                else:
                    out += chunk
        except (TimeoutError, OSError) as e:
            raise WorkerError(f"docker exec did not finish within {timeout:.0f}s: {e}") from e
        finally:
            with contextlib.suppress(Exception):
                sock.close()
        code: int | None = None
        for _ in range(50):
            try:
                info = api.exec_inspect(exec_id)
            except Exception as e:
                raise WorkerError(f"docker exec inspect failed: {e}") from e
            if not info.get("Running"):
                code = info.get("ExitCode")
                break
            time.sleep(0.02)
        return code, bytes(out), bytes(err)

    def step(
        self,
        *,
        mode: str,
        run_id: str,
        final: str,
        tag: str,
        argv: list[str],
        seconds: float,
        env: dict[str, str],
        stdin: bytes | None,
        source_file: str | None = None,
    ) -> tuple[ProcessOutcome, str]:
        """Run one step through the driver -> (outcome, verdict file text)."""
        lim = self.spec.limits
        cap = lim.output_kb * 1024
        cmd = [
            "bash", "-c", DRIVER, "cruxforge-driver",
            mode, run_id, source_file or self.spec.source_file, final, tag,
            str(int(seconds * 1_000_000)),
            str(lim.file_mb * 1024 * 1024),
            str(cap),
            str(lim.pids),
            "--", *argv,
        ]  # fmt: skip
        code, out, err = self.exec_raw(
            cmd, stdin=stdin, env=env, timeout=seconds + EXEC_GRACE_SECONDS
        )
        frames = _parse_frames(out)
        if code != 0 or "meta" not in frames or "tmpfs" not in frames:
            if not self.alive():
                raise WorkerError(f"the worker container died during the {tag} step (exit {code})")
            raise WorkerError(
                f"the sandbox driver failed in the {tag} step (exit {code}): "
                f"{_decode(err).strip()[-500:]}"
            )
        meta: dict[str, str] = {}
        for line in _decode(frames["meta"]).splitlines():
            k, _, v = line.partition("=")
            meta[k.strip()] = v.strip()
        with contextlib.suppress(ValueError):
            used_kb = sum(int(x) for x in _decode(frames["tmpfs"]).split())
            self.tmpfs_mb = (used_kb + 1023) // 1024
        left = int(meta.get("left", "0") or 0)
        if left:
            raise WorkerError(f"{left} process(es) survived the {tag} step's kill")
        rc = int(meta.get("rc", "0"))
        oom0, oom1 = int(meta.get("oom0", "-1")), int(meta.get("oom1", "-1"))
        sig = signal_of_status(rc)
        exit_code = None if sig is not None else rc
        timed_out = meta.get("timeout") == "1" and sig == 9
        if oom0 >= 0:
            memory = oom1 > oom0
        else:  # no counter readable: a SIGKILL that was not ours
            memory = sig == 9 and not timed_out and meta.get("outx") != "1"
        outcome = ProcessOutcome(
            exit_code=exit_code,
            signal=sig,
            stdout=_decode(frames.get("out", b"")),
            stderr=_decode(frames.get("err", b"")),
            timed_out=timed_out and not memory,
            memory_exceeded=memory,
            output_exceeded=meta.get("outx") == "1" and not memory,
            seconds=int(meta.get("us", "0")) / 1e6,
            cpu_seconds=int(meta["cpu_us"]) / 1e6 if meta.get("cpu_us") else None,
        )
        return outcome, _decode(frames.get("verdicts", b""))

    def cleanup(self, run_id: str) -> None:
        """Remove a run's leftovers after a failure mid-way (best effort)."""
        if self.container is None:
            return
        with contextlib.suppress(Exception):
            self.exec_raw(
                [
                    "bash",
                    "-c",
                    'kill -KILL -1 2>/dev/null; rm -rf -- "$1" "$2"; true',
                    "x",
                    f"/work/run/{run_id}",
                    f"/work/meta/{run_id}",
                ],
                stdin=None,
                env={"PATH": PATH},
                timeout=30,
            )


def _pid() -> int:
    import os

    return os.getpid()


def _subst(text: str, spec: RuntimeSpec, workdir: str) -> str:
    return (
        text.replace("{file}", spec.source_file)
        .replace("{stem}", PurePosixPath(spec.source_file).stem)
        .replace("{workdir}", workdir)
    )


def _reap_orphans(client: Any) -> None:
    """Remove worker containers whose owning process is gone (e.g. it was SIGKILLed)."""
    import os

    try:
        found = client.containers.list(all=True, filters={"label": LABEL})
    except Exception:
        return
    for c in found:
        try:
            owner = int(c.labels.get(f"{LABEL}.owner-pid", "0"))
        except ValueError:
            owner = 0
        if owner == os.getpid() or c.labels.get(f"{LABEL}.owner-host") != socket.gethostname():
            continue
        alive = owner > 0
        if alive:
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                alive = False
            except PermissionError:
                pass
        if not alive:
            with contextlib.suppress(Exception):
                c.remove(force=True)


_uids: HostSlots | None = None
_uids_lock = threading.Lock()


def worker_uids() -> HostSlots:
    """Host-wide leases of worker uids (``WORKER_UID_BASE + n``), as flock'd files: a
    lease dies with its process, whose containers the next backend reaps first."""
    global _uids
    with _uids_lock:
        if _uids is None:
            _uids = HostSlots(WORKER_UIDS, Path(tempfile.gettempdir()) / "cruxforge-docker-uids")
        return _uids


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
        self, *, parallel: int = 2, client: Any = None, slots: HostSlots | None = None
    ) -> None:
        self.parallel = max(1, int(parallel))
        self.slots = slots
        self._client = client
        self._client_error: str | None = None
        self._lock = threading.Condition()
        self._idle: dict[str, list[_Worker]] = {}
        self._count: dict[str, int] = {}
        self._all: list[_Worker] = []
        self._closed = False
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

    def _acquire(self, spec: RuntimeSpec, tag: str) -> _Worker:
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
                    w = _Worker(self, spec, tag)
                    self._all.append(w)
                    break
                self._lock.wait()
        try:
            w.ensure()
        except Exception:
            self._discard(w)
            raise
        return w

    def _release(self, w: _Worker) -> None:
        with self._lock:
            if self._closed:
                w.remove()
                return
            self._idle.setdefault(w.spec.lang, []).append(w)
            self._lock.notify_all()

    def _discard(self, w: _Worker) -> None:
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
        env = {
            "PATH": PATH,
            "HOME": HOME,
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
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
        source = program.source.encode("utf-8")
        try:
            compile_out: ProcessOutcome | None = None
            run_out: ProcessOutcome | None = None
            verdicts = ""
            lim = spec.limits
            if spec.compile:
                worker.set_memory(lim.compile_memory_mb)
                compile_out, _ = worker.step(
                    mode="new",
                    run_id=run_id,
                    final="onfail",
                    tag="compile",
                    argv=[_subst(a, spec, workdir) for a in spec.compile],
                    seconds=supervisor.compile_seconds(spec, program),
                    env=self._env(spec, workdir, compile_step=True),
                    stdin=source,
                    source_file=spec.source_file,
                )
            if compile_out is None or compile_out.succeeded:
                worker.set_memory(lim.memory_mb)
                run_out, verdicts = worker.step(
                    mode="cont" if compile_out is not None else "new",
                    run_id=run_id,
                    final="1",
                    tag="run",
                    argv=[_subst(a, spec, workdir) for a in supervisor.run_argv(spec, program)],
                    seconds=supervisor.run_seconds(spec, program),
                    env=self._env(spec, workdir, compile_step=False),
                    stdin=None if compile_out is not None else source,
                    source_file=spec.source_file,
                )
        except WorkerError as e:
            self._discard(worker)
            return infra_result(program, f"docker sandbox failure (worker replaced): {e}")
        except Exception as e:  # engine errors mid-program
            self._discard(worker)
            return infra_result(program, f"docker engine error (worker replaced): {e}")
        self._release(worker)
        return assemble_result(
            program,
            compile=compile_out,
            run=run_out,
            verdict_text=verdicts,
            stderr_fails=spec.stderr_fails,
        )
