"""The flows through the REAL Prefect engine (test harness server), the real local
sandbox and a real local HTTP 'LLM': a small release end to end, kill -9 and resume,
a Dask cluster, and `cruxforge serve` + `prefect deployment run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from cruxforge.llm.testserver import ScriptedChatServer  # noqa: E402
from cruxforge.release import BuildSpec, build_release, verify_release  # noqa: E402
from cruxforge.store import ItemStore  # noqa: E402
from tests.conftest import DEMO_REFS, ROOT  # noqa: E402
from tests.release_helpers import (  # noqa: E402
    PythonTranslator,
    request_id,
    seed_codes,
    small_seeds,
)

pytestmark = pytest.mark.slow
WAIT_S = 900  # the machine may be very busy; nothing here is judged by time


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect test-harness server for the module; its API URL (subprocesses use it)."""
    import prefect.settings as ps
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-results")
    with (
        prefect_test_harness(server_startup_timeout=180),
        ps.temporary_settings({ps.PREFECT_LOCAL_STORAGE_PATH: storage}),
    ):
        yield str(ps.PREFECT_API_URL.value())


def sub_env(api: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PREFECT_API_URL=api, PREFECT_HOME=str(tmp / "prefect-home"),
               PREFECT_LOGGING_LEVEL="WARNING")  # fmt: skip
    return env


def read_jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_build_flow_end_to_end(api: str, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    from flows.build import artifact_key, build

    seeds = small_seeds(tmp_path, 2)
    out = build(
        seeds=str(seeds), languages="py,js", references=str(DEMO_REFS),
        out_root=str(tmp_path / "art"), agreement=1, max_repairs=1, release_name="e2e",
        version="2",
    )  # fmt: skip
    rel = Path(out)
    assert rel == tmp_path / "art" / "e2e" / "2"
    for name in (
        "py.jsonl",
        "js.jsonl",
        "benchmark.parquet",
        "README.md",
        "manifest.json",
        "report.jsonl",
        "cases.jsonl",
        "typed_seeds.jsonl",
        "seeds.jsonl",
    ):
        assert (rel / name).is_file(), name
    m = json.loads((rel / "manifest.json").read_text())
    assert {k: v["validated"] for k, v in m["counts"].items()} == {"py": 2, "js": 2}
    assert len(read_jsonl(rel / "report.jsonl")) == 4
    assert verify_release(rel).problems == []
    with get_client(sync_client=True) as c:
        art = c.read_latest_artifacts()
    keyed = {a.key: a for a in art}
    table = keyed[artifact_key("e2e")]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {r["language"]: (r["validated"], r["failed"], r["skipped"]) for r in rows} == {
        "py": (2, 0, 0), "js": (2, 0, 0)}  # fmt: skip
    assert str(rel) in str(keyed[artifact_key("e2e") + "-card"].data)


def test_kill_9_and_resume_repeats_nothing(api: str, tmp_path: Path) -> None:
    seeds = small_seeds(tmp_path, 3)
    codes = seed_codes(seeds)
    script = PythonTranslator(gate_on=codes[1])  # blocks the answer for the 2nd seed
    with ScriptedChatServer(script) as srv:
        cmd = ["cruxforge", "build", "--seeds", str(seeds), "--languages", "py",
               "--translator", "llm", "--model", "scripted", "--base-url", srv.base_url,
               "--out-root", str(tmp_path / "art"), "--release-name", "kill", "--version", "1",
               "--agreement", "1", "--max-repairs", "1"]  # fmt: skip
        env = sub_env(api, tmp_path)
        p1 = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        store = ItemStore(tmp_path / "art" / "kill" / ".work" / "store")
        deadline = time.monotonic() + WAIT_S
        while not (script.blocked.is_set() and store.item_keys()):
            assert p1.poll() is None, p1.communicate()[0].decode()[-3000:]
            assert time.monotonic() < deadline, "the build never reached the 2nd item"
            time.sleep(0.2)
        assert len(store.item_keys()) == 1
        os.killpg(p1.pid, signal.SIGKILL)  # kill -9, mid-item
        p1.wait()
        script.release()
        run1 = list(srv.requests)
        answered1 = {request_id(b) for b in run1[:-1]}  # the last one never got its answer
        assert len(run1) == 2 and codes[1] in run1[-1]["messages"][1]["content"]

        p2 = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=WAIT_S)  # fmt: skip
        assert p2.returncode == 0, p2.stdout[-3000:] + p2.stderr[-3000:]
        assert "release:" in p2.stdout and "report:" in p2.stdout
        run2 = srv.requests[len(run1) :]
        n_requests = len(srv.requests)
        # no request answered before the kill was sent again: the transcript answered it
        assert not answered1 & {request_id(b) for b in run2}
        assert len(run2) == 2  # the interrupted item's request, then the 3rd seed's

        ev = store.events()
        computed = Counter(e["key"] for e in ev if e["event"] == "computed")
        assert len(computed) == 3 and set(computed.values()) == {1}, "an item ran twice"
        first = next(e["key"] for e in ev if e["event"] == "computed")
        assert any(e["event"] == "reused" and e["key"] == first for e in ev)
        assert set(Counter(e["id"] for e in ev if e["event"] == "cases_computed").values()) == {1}

        rel = tmp_path / "art" / "kill" / "1"
        # the same build uninterrupted (library, fresh store, the same transcript):
        fresh = tmp_path / "fresh"
        (fresh / "work").mkdir(parents=True)
        import shutil

        shutil.copytree(tmp_path / "art" / "kill" / ".work" / "transcript",
                        fresh / "work" / "transcript")  # fmt: skip
        spec = BuildSpec(
            seeds=str(seeds), languages=["py"], translator="llm", model="scripted",
            base_url=srv.base_url, out_root=str(fresh / "art"), work_dir=str(fresh / "work"),
            release_name="kill", version="1", agreement=1, max_repairs=1,
        )  # fmt: skip
        rel2 = build_release(spec)
        assert len(srv.requests) == n_requests  # every answer came from the transcript
    files = sorted(p.relative_to(rel).as_posix() for p in rel.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(rel2).as_posix() for p in rel2.rglob("*") if p.is_file())
    m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (rel, rel2))
    for m in (m1, m2):
        m["cruxforge"].pop("git_dirty")  # other work may touch the tree between the builds
    assert m1 == m2
    for f in files:
        if f != "manifest.json":
            assert (rel / f).read_bytes() == (rel2 / f).read_bytes(), f
    assert m1["counts"]["py"]["validated"] == 3


def test_same_flow_on_a_local_dask_cluster(api: str, tmp_path: Path) -> None:
    from prefect_dask import DaskTaskRunner

    from flows.build import build

    runner = DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": False},
    )
    seeds = small_seeds(tmp_path, 1)
    out = build.with_options(task_runner=runner)(
        seeds=str(seeds), languages="py", references=str(DEMO_REFS),
        out_root=str(tmp_path / "art"), agreement=1, max_repairs=1, release_name="dask",
    )  # fmt: skip
    m = json.loads((Path(out) / "manifest.json").read_text())
    assert m["counts"]["py"]["validated"] == 1
    events = ItemStore(tmp_path / "art" / "dask" / ".work" / "store").events()
    assert [e["event"] for e in events] == ["cases_computed", "computed"]


def test_serve_and_run_a_deployment(api: str, tmp_path: Path) -> None:
    """`cruxforge serve` (against the harness server) + `prefect deployment run ... --watch`."""
    env = sub_env(api, tmp_path)
    seeds = small_seeds(tmp_path, 1)
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(["cruxforge", "serve"], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        params = {"seeds": str(seeds), "languages": "py", "out_root": str(tmp_path / "art"),
                  "agreement": 1, "max_repairs": 1, "release_name": "served"}  # fmt: skip
        deadline = time.monotonic() + WAIT_S
        while "Prefect UI:" not in (tmp_path / "serve.log").read_text(errors="replace"):
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.5)
        cmd = ["prefect", "deployment", "run", "build/demo", "--watch"]
        for k, v in params.items():
            cmd += ["--param", f"{k}={v}"]
        run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=WAIT_S)  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        rel = tmp_path / "art" / "served" / "1"
        m = json.loads((rel / "manifest.json").read_text())
        assert m["counts"]["py"]["validated"] == 1
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=60)


def _run_process_talking_to(root_pid: int, port: int) -> int:
    """The descendant of ``root_pid`` with a TCP connection to ``port`` on loopback."""
    import psutil

    for p in psutil.Process(root_pid).children(recursive=True):
        try:
            if any(c.raddr and c.raddr.port == port for c in p.net_connections("tcp")):
                return p.pid
        except psutil.Error:
            continue
    raise AssertionError(f"no process under {root_pid} talks to port {port}")


def test_a_served_run_killed_with_sigkill_does_not_block_the_next(
    api: str, tmp_path: Path
) -> None:
    """`cruxforge serve`: a flow run killed with SIGKILL mid-build; the next run finishes."""
    from tests.release_helpers import ReferenceChat

    env = sub_env(api, tmp_path)
    seeds = small_seeds(tmp_path, 3)
    script = ReferenceChat(gate={("py", "demo_1"), ("js", "demo_1")})
    log_path = tmp_path / "serve.log"
    serve = subprocess.Popen(["cruxforge", "serve"], cwd=ROOT, env=env, stdout=log_path.open("wb"),
                             stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        with ScriptedChatServer(script) as srv:
            params = {"seeds": str(seeds), "languages": "py,js", "translator": "llm",
                      "model": "scripted", "base_url": srv.base_url,
                      "out_root": str(tmp_path / "art"), "agreement": 1, "max_repairs": 1,
                      "release_name": "served-kill"}  # fmt: skip
            cmd = ["prefect", "deployment", "run", "build/demo"]
            for k, v in params.items():
                cmd += ["--param", f"{k}={v}"]
            deadline = time.monotonic() + WAIT_S
            while "Prefect UI:" not in log_path.read_text(errors="replace"):
                assert serve.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline
                time.sleep(0.5)
            first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=WAIT_S)  # fmt: skip
            assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
            while script.blocked < 2:  # both languages wait for an answer held back
                assert serve.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.2)
            victim = _run_process_talking_to(serve.pid, srv.port)
            os.kill(victim, signal.SIGKILL)
            script.release()
            # well under the 300 s lease of a Prefect concurrency slot, which is what a
            # killed run used to leave held
            second = subprocess.run([*cmd, "--watch"], cwd=ROOT, env=env, capture_output=True,
                                    text=True, timeout=240)  # fmt: skip
            assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        m = json.loads((tmp_path / "art" / "served-kill" / "1" / "manifest.json").read_text())
        assert {k: v["validated"] for k, v in m["counts"].items()} == {"py": 3, "js": 3}
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=60)
