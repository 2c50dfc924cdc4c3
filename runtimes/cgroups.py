"""Child cgroups for the local backend: one per sandboxed process tree, with its memory,
pids and CPU limits, its OOM-kill counter and its CPU time; found where this host lets
cruxforge make them (cgroup v1 memory + pids, or a delegated v2 sub-tree)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

CPU_PERIOD_US = 100_000  # each sandbox gets at most one CPU (quota = period)


class Group:
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

    def _event(self, key: str) -> int:
        """A counter of the group's events file (``oom_kill``, ``max`` ...); 0 if unread."""
        events = self.events_file()
        if events is not None:
            with contextlib.suppress(OSError, ValueError):
                for line in events.read_text().splitlines():
                    k, _, val = line.partition(" ")
                    if k == key:
                        return int(val or 0)
        return 0

    def oom_killed(self) -> bool:
        return self._event("oom_kill") > 0

    def at_memory_limit(self) -> bool:
        """Whether the group has hit its memory limit (v1 ``memory.failcnt``, v2 the
        ``max`` count of ``memory.events``). A program there and out of wall time is
        stuck reclaiming memory, not waiting for a core."""
        for d in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                if (d / "memory.failcnt").exists():
                    return int((d / "memory.failcnt").read_text()) > 0
        return self._event("max") > 0

    def cpu_for_time_limit(self) -> float | None:
        """The CPU time that lets a step run past its wall limit (runtimes/time_limit.py):
        none at the memory limit, where the program is reclaiming, not waiting for a core."""
        return None if self.at_memory_limit() else self.cpu_seconds()

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

    def kill_all(self, timeout: float = 20.0) -> bool:
        """SIGKILL everything in the group; True when it is verified empty. A process in
        uninterruptible sleep (reclaiming memory on a loaded host) dies only when it leaves
        the kernel, so the wait is generous."""
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


class Cgroups:
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

    def create(self, memory_mb: int, pids: int) -> Group:
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
            return Group(dirs, 1)
        d = self._roots[""] / name
        d.mkdir()
        (d / "memory.max").write_text(limit)
        with contextlib.suppress(OSError):
            (d / "memory.swap.max").write_text("0")
        (d / "pids.max").write_text(str(pids))
        with contextlib.suppress(OSError):  # only when the cpu controller is delegated
            (d / "cpu.max").write_text(f"{CPU_PERIOD_US} {CPU_PERIOD_US}")
        return Group([d], 2)


