"""One docker worker: a long-lived container of one language that runs one program step
at a time through the step driver (``runtimes/docker_driver.sh``), as a uid of its own.
What the docker backend (``runtimes/docker_backend.py``) schedules programs onto."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
import uuid
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtimes.docker_backend import DockerBackend

from runtimes.sandbox import MAX_VERDICT_BYTES, VERDICT_FILE, base_env
from runtimes.slots import HostSlots
from runtimes.spec import RuntimeSpec
from runtimes.time_limit import wall_cap
from runtimes.verdicts import ProcessOutcome, signal_of_status

SANDBOX_UID = 10001  # the images' `sandbox` user (owns /work in the image)
KEEPER_UID = 10002  # the container's idle main process; programs cannot signal it
# Each worker runs its programs as a uid of its own, leased host-wide: RLIMIT_NPROC (the
# driver's `prlimit --nproc`, which keeps the container's pids headroom for the driver)
# counts a uid's processes across the whole host, so a fork bomb filling it in one worker
# would starve a JVM starting in another worker if they shared a uid.
WORKER_UID_BASE = 20000
WORKER_UIDS = 4096
HOME = "/work/home"
CACHE_ROOT = "/work/cache"
DRIVER_MB = 48  # memory allowed on top of a step's limit: driver, watchdog, init
PIDS_HEADROOM = 32  # container pids on top of limits.pids: driver, watchdog, init
WORK_TMPFS_MB = 2048  # /work: run dirs, HOME caches (tmpfs pages count as memory anyway)
TMP_TMPFS_MB = 1024
EXEC_GRACE_SECONDS = 60.0  # on top of a step's limit before the exec itself is abandoned
LABEL = "org.cruxforge.worker"

DRIVER_PATH = Path(__file__).resolve().parent / "docker_driver.sh"


@cache
def driver() -> str:
    """The step driver's text (runtimes/docker_driver.sh), passed to ``bash -c``."""
    return DRIVER_PATH.read_text(encoding="utf-8")


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


class Worker:
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
        self.ooms = 0  # the container's OOM-kill count after its last step
        self.spoiled = False  # a step ended abnormally: replace the worker, don't reuse it

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
        self.ooms = 0
        self.spoiled = False

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
            environment=base_env(HOME),
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
    ) -> tuple[ProcessOutcome, str, bytes]:
        """Run one step through the driver -> (outcome, verdict file text, the work dir
        as a tar where ``final`` is "keep" and the step succeeded, else b"")."""
        lim = self.spec.limits
        cap = lim.output_kb * 1024
        cmd = [
            "bash", "-c", driver(), "cruxforge-driver",
            mode, run_id, source_file or self.spec.source_file, final, tag,
            str(int(seconds * 1_000_000)),
            str(int(wall_cap(seconds) * 1_000_000)),
            str(lim.file_mb * 1024 * 1024),
            str(cap),
            str(lim.pids),
            VERDICT_FILE,
            str(MAX_VERDICT_BYTES),
            "--", *argv,
        ]  # fmt: skip
        code, out, err = self.exec_raw(
            cmd, stdin=stdin, env=env, timeout=wall_cap(seconds) + EXEC_GRACE_SECONDS
        )
        frames = _parse_frames(out)
        if code != 0 or "meta" not in frames or "tmpfs" not in frames:
            if signal_of_status(code or 0) == 9 and self.oom_count() > self.ooms:
                return self._killed_by_oom(tag), "", b""
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
        self.ooms = max(self.ooms, oom1)
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
        return outcome, _decode(frames.get("verdicts", b"")), frames.get("kept", b"")

    def oom_count(self) -> int:
        """The container's OOM-kill counter now (-1 when it cannot be read)."""
        code: int | None = None
        out = b""
        with contextlib.suppress(WorkerError):
            code, out, _ = self.exec_raw(
                ["bash", "-c", _READ_OOM], stdin=None, env={"PATH": base_env(HOME)["PATH"]},
                timeout=30,
            )  # fmt: skip
        text = _decode(out).strip()
        return int(text) if code == 0 and text.isdigit() else -1

    def _killed_by_oom(self, tag: str) -> ProcessOutcome:
        """The step's driver itself was SIGKILLed while the container's OOM killer was
        at work: the program filled the container's memory and, on a loaded host where its
        memory is freed slowly, the killer took the driver too. That is the program's
        memory_exceeded, not a sandbox failure; the worker is replaced all the same."""
        self.spoiled = True
        return ProcessOutcome(
            exit_code=None,
            signal=9,
            memory_exceeded=True,
            stderr=f"the container's OOM killer ended the {tag} step (its driver included)",
        )

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
                env={"PATH": base_env(HOME)["PATH"]},
                timeout=30,
            )


# the container cgroup's oom_kill counter (cgroup v2 memory.events, v1 memory.oom_control)
_READ_OOM = (
    "for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do "
    '[ -r "$f" ] || continue; while read -r k v; do '
    '[ "$k" = oom_kill ] && { echo "$v"; exit 0; }; done < "$f"; done; exit 1'
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


