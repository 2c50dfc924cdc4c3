"""The docker step driver's sweep, run directly in a container of a runtime image.

After every step the driver SIGKILLs every process of the worker's uid and waits for them
to go; one still there when the wait ends is reported (the backend calls it infra_error).
A process that takes a while to go (in uninterruptible sleep on a loaded host) must be
waited for, not reported: CI once scored a JavaScript fork bomb infra_error because the
wait was no wait at all (its sleep read from a file descriptor already closed).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from runtimes.docker_worker import _parse_frames, driver
from runtimes.images import image_tag
from runtimes.spec import get_spec
from tests.conftest import docker_available

pytestmark = pytest.mark.docker

UID = 10099  # the driver's uid here; no worker lease uses it
# Owned (in /proc) by UID but with real and saved uid 0: UID's `kill -9 -1` cannot kill
# it, as if it were stuck in the kernel; root kills it when the test says so.
STUCK = (
    "import ctypes, os, time\n"
    "open('/work/stuck.pid', 'w').write(str(os.getpid()))\n"
    f"os.setresuid(0, {UID}, 0)\n"
    "ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc shows the euid\n"
    "time.sleep(300)\n"
)


@pytest.fixture()
def container() -> Iterator[Any]:
    why = docker_available()
    if why:
        print(f"SKIP: {why}")
        pytest.skip(why)
    from runtimes.images import docker_client, image_exists

    client = docker_client()
    tag = image_tag(get_spec("py"))
    if not image_exists(client, tag):
        why = f"image {tag} not built (cruxforge runtimes build --lang py)"
        print(f"SKIP: {why}")
        pytest.skip(why)
    c = client.containers.run(
        tag,
        ["sleep", "600"],
        detach=True,
        init=True,
        network_disabled=True,
        tmpfs={"/work": "exec,mode=1777", "/tmp": "exec,mode=1777"},
        name=f"cruxforge-drivertest-{uuid.uuid4().hex[:8]}",
    )
    try:
        c.exec_run(
            [
                "bash",
                "-c",
                f"mkdir -p /work/run /work/meta /work/home && "
                f"chown {UID} /work/run /work/meta /work/home",
            ],
            user="0",
        )
        yield c
    finally:
        c.remove(force=True)


def _stuck_pid(c: Any) -> int:
    c.exec_run(["python3", "-c", STUCK], user="0", detach=True)
    for _ in range(100):
        code, out = c.exec_run(["bash", "-c", "stat -c %u /proc/$(cat /work/stuck.pid)"])
        if code == 0 and out.split() == [str(UID).encode()]:
            return int(c.exec_run(["cat", "/work/stuck.pid"]).output)
        time.sleep(0.05)
    raise AssertionError("the stuck process did not start")


def _step(c: Any, sweep_seconds: int) -> tuple[dict[str, str], float]:
    args = ["new", "t1", "a.txt", "1", "run", "5000000", "15000000", "1048576", "65536",
            "64", "verdicts.txt", "4096", "--", "true"]  # fmt: skip
    t0 = time.monotonic()
    code, out = c.exec_run(
        ["bash", "-c", driver(), "cruxforge-driver", *args],
        user=str(UID),
        environment={"HOME": "/work/home", "CRUXFORGE_SWEEP_SECONDS": str(sweep_seconds)},
    )
    took = time.monotonic() - t0
    assert code == 0, out[-500:]
    meta = dict(
        line.partition("=")[::2] for line in _parse_frames(out)["meta"].decode().splitlines()
    )
    return meta, took


def test_sweep_waits_for_a_process_that_goes_late(container: Any) -> None:
    pid = _stuck_pid(container)
    # root kills it 1.5 s into the step: the sweep must still be waiting then
    container.exec_run(["bash", "-c", f"sleep 1.5; kill -9 {pid}"], user="0", detach=True)
    meta, took = _step(container, sweep_seconds=20)
    print(f"driver sweep: left={meta['left']} after {took:.1f}s")
    assert meta["left"] == "0", meta
    assert took >= 1.4


def test_sweep_reports_a_process_that_stays(container: Any) -> None:
    _stuck_pid(container)
    meta, took = _step(container, sweep_seconds=2)
    assert meta["left"] == "1", meta
    assert took >= 2.0, f"gave up after {took:.1f}s, before its 2 s wait"


def test_sweep_is_quick_when_nothing_is_left(container: Any) -> None:
    meta, took = _step(container, sweep_seconds=20)
    assert meta["left"] == "0", meta
    assert meta["rc"] == "0", meta
    assert took < 10, f"{took:.1f}s for a step that left nothing"
