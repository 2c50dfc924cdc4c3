"""kill -9 and resume through the real CLI, Prefect's real engine and the default Prefect
home, twice in a row: a slot leaked by the first kill would block the second rerun.

The "LLM" is a real local chat-completions server answering with the demo reference
translations (one planted fault, repaired in round 1); it counts every request.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from cruxforge.llm.testserver import ScriptedChatServer
from cruxforge.store import ItemStore
from runtimes.slots import HostSlots
from tests.conftest import ROOT
from tests.release_helpers import ReferenceChat, small_seeds

pytestmark = pytest.mark.slow

LANGS = ("py", "js", "rb")
N_SEEDS = 4
FAULTY = {("py", "demo_1")}  # its first answer is wrong: validated after one repair
GATED = {("py", "demo_2"), ("js", "demo_2")}  # answers held back until the kill
RERUN_LIMIT_S = 600  # a rerun that waits on a leaked slot never finishes: fail, don't hang
WAIT_S = 900


def user_env() -> dict[str, str]:
    """The environment of a user's shell: no Prefect settings, so the CLI starts its own
    ephemeral server on the default Prefect home (~/.prefect), shared by every run here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def build_cmd(base_url: str, out_root: Path) -> list[str]:
    return ["cruxforge", "build", "--seeds", str(out_root.parent / "seeds.jsonl"),
            "--languages", ",".join(LANGS), "--translator", "llm", "--model", "scripted",
            "--base-url", base_url, "--out-root", str(out_root), "--release-name", "kill",
            "--version", "1", "--agreement", "2", "--max-repairs", "1"]  # fmt: skip


def run_build(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a build to its end; one that hangs is killed with its whole process group (its
    ephemeral Prefect server included) and fails the test."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=user_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=RERUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the build did not finish within {RERUN_LIMIT_S} s: {out[-3000:]}")
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def release_rows(rel: Path) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    out = {}
    for name in [*(f"data/{x}.jsonl" for x in LANGS), "report.jsonl"]:
        rows = [json.loads(x) for x in (rel / name).read_text().splitlines() if x.strip()]
        out[name] = sorted(rows, key=lambda r: (str(r["id"]), r.get("lang", "")))
    return out


def test_kill_9_twice_and_resume_on_the_default_prefect_home(tmp_path: Path) -> None:
    small_seeds(tmp_path, N_SEEDS)
    # the same build, uninterrupted: what every resumed build must equal
    with ScriptedChatServer(ReferenceChat(faulty=FAULTY)) as srv:
        run_build(build_cmd(srv.base_url, tmp_path / "whole"))
        n_whole = len(srv.requests)
    whole = release_rows(tmp_path / "whole" / "kill" / "1")
    assert n_whole == len(LANGS) * N_SEEDS + len(FAULTY)
    assert sum(r["status"] == "validated" for r in whole["report.jsonl"]) == len(LANGS) * N_SEEDS

    for trial in (1, 2):
        out_root = tmp_path / f"killed-{trial}"
        script = ReferenceChat(faulty=FAULTY, gate=GATED)
        with ScriptedChatServer(script) as srv:
            cmd = build_cmd(srv.base_url, out_root)
            p1 = subprocess.Popen(cmd, cwd=ROOT, env=user_env(), start_new_session=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
            store = ItemStore(out_root / "kill" / ".work" / "store")
            deadline = time.monotonic() + WAIT_S
            seen, quiet_since = -1, time.monotonic()
            while True:  # both gated answers are waited for, an item is stored, all quiet
                assert p1.poll() is None, p1.communicate()[0].decode()[-3000:]
                assert time.monotonic() < deadline, "the build never reached the gates"
                if len(srv.requests) != seen:
                    seen, quiet_since = len(srv.requests), time.monotonic()
                elif (
                    script.blocked == len(GATED)
                    and store.item_keys()
                    and time.monotonic() - quiet_since > 2
                ):
                    break
                time.sleep(0.2)
            in_flight = len(srv.requests) - script.answered
            assert in_flight == len(GATED)
            os.killpg(p1.pid, signal.SIGKILL)  # kill -9, the whole process group
            p1.wait()
            script.release()
            n_killed = len(srv.requests)

            p2 = run_build(cmd)  # must finish: nothing the killed run held may block it
            assert "release:" in p2.stdout
            n_total = len(srv.requests)
        assert n_total <= n_whole + in_flight, (n_killed, n_total, n_whole, in_flight)
        assert release_rows(out_root / "kill" / "1") == whole, f"trial {trial}"
        assert "reused" in p2.stdout and "items from cache" in p2.stdout, p2.stdout[-2000:]
        ev = store.events()
        computed = Counter(e["key"] for e in ev if e["event"] == "computed")
        assert set(computed.values()) == {1}, "an item was computed twice"
        assert len(computed) == len(LANGS) * N_SEEDS
        # items finished before the kill were read back (from the item store or Prefect's
        # task cache, both this release's), never computed again
        assert any(e["event"] == "computed" and e["pid"] == p1.pid for e in ev)
        cases = Counter(e["id"] for e in ev if e["event"] == "cases_computed")
        assert set(cases.values()) == {1} and len(cases) == N_SEEDS


def test_a_waiting_build_says_who_holds_the_slots(tmp_path: Path) -> None:
    """Every host slot held by another process: the build says so, then runs when freed."""
    slots_dir = tmp_path / "slots"
    holder = subprocess.Popen(
        ["python", "-c", (
            "import sys, time\n"
            "from runtimes.slots import HostSlots, set_holder_label\n"
            "set_holder_label('test holder')\n"
            "s = HostSlots(2, sys.argv[1])\n"
            "with s.hold(), s.hold():\n"
            "    print('held', flush=True); time.sleep(3600)\n"
        ), str(slots_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        held = HostSlots(2, slots_dir).holders()
        assert [(h.slot, h.label) for h in held] == [(0, "test holder"), (1, "test holder")]
        small_seeds(tmp_path, 1)
        env = user_env() | {"CRUXFORGE_SLOTS_DIR": str(slots_dir), "CRUXFORGE_SANDBOX_SLOTS": "2"}
        refs = str(ROOT / "seeds" / "demo_reference")
        cmd = ["cruxforge", "build", "--seeds", str(tmp_path / "seeds.jsonl"), "--languages",
               "py", "--translator", "reference", "--references", refs,
               "--out-root", str(tmp_path / "art"), "--agreement", "1"]  # fmt: skip
        log = (tmp_path / "build.log").open("w")
        build = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 text=True, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + WAIT_S
        while "waiting" not in (text := (tmp_path / "build.log").read_text()):
            assert build.poll() is None, text[-3000:]
            assert time.monotonic() < deadline, text[-3000:]
            time.sleep(0.5)
        time.sleep(1)
        text = (tmp_path / "build.log").read_text()
        assert "2 of 2 host sandbox slots held" in text, text[-3000:]
        assert f"test holder (pid {holder.pid}" in text, text[-3000:]
        assert not (tmp_path / "art" / "demo" / "1").exists()
        os.killpg(holder.pid, signal.SIGKILL)  # the kernel frees its slots at once
        holder.wait()
        assert build.wait(timeout=RERUN_LIMIT_S) == 0, (tmp_path / "build.log").read_text()
        assert (tmp_path / "art" / "demo" / "1" / "data" / "py.jsonl").read_text().strip()
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
