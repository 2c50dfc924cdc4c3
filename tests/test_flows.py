"""The flows through the REAL Prefect engine (test harness server), the real local
sandbox and a real local HTTP 'LLM': a small release end to end, a Dask cluster, and
`cruxforge serve` + `prefect deployment run` (a served run killed with SIGKILL included).
kill -9 and resume through the CLI: tests/test_kill_resume.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from cruxforge.llm.testserver import ScriptedChatServer  # noqa: E402
from cruxforge.release import BuildSpec, verify_release  # noqa: E402
from cruxforge.store import ItemStore  # noqa: E402
from tests.conftest import DEMO_REFS, ROOT  # noqa: E402
from tests.release_helpers import (  # noqa: E402
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
    spec = BuildSpec(
        seeds=str(seeds), languages=["py", "js"], references=str(DEMO_REFS),
        out_root=str(tmp_path / "art"), agreement=1, max_repairs=1, release_name="e2e",
        version="2",
    )  # fmt: skip
    out = build(spec)
    rel = Path(out)
    assert rel == tmp_path / "art" / "e2e" / "2"
    for name in (
        "data/py.jsonl",
        "data/js.jsonl",
        "data/all.jsonl",
        "cruxeval-x/JavaScript.jsonl",
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
    table = keyed[artifact_key(spec)]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {r["language"]: (r["validated"], r["failed"], r["skipped"]) for r in rows} == {
        "py": (2, 0, 0), "js": (2, 0, 0)}  # fmt: skip
    assert str(rel) in str(keyed[artifact_key(spec) + "-card"].data)
    assert float(keyed[artifact_key(spec) + "-progress"].data) == 100.0  # type: ignore[arg-type]
    with get_client(sync_client=True) as c:
        names = {r.name for r in c.read_flow_runs()}
    assert "build-e2e-2" in names  # the run's name says what it builds
    assert artifact_key(spec) == "build-e2e-2-reference"


def test_prefect_cache_never_answers_another_release(api: str, tmp_path: Path) -> None:
    """The same seeds, model and endpoint into two out-roots: Prefect's cache is global,
    yet the second release is built (asked and run), not read from the first's results;
    the same build again into the same out-root is read back, and says so."""
    from flows.build import build
    from tests.release_helpers import ReferenceChat

    seeds = small_seeds(tmp_path, 2)
    with ScriptedChatServer(ReferenceChat()) as srv:
        spec = BuildSpec(seeds=str(seeds), languages=["py"], translator="llm", model="scripted",
                         base_url=srv.base_url, agreement=1, max_repairs=1, release_name="c",
                         out_root=str(tmp_path / "a"))  # fmt: skip
        build(spec)
        assert len(srv.requests) == 2
        in_b = spec.model_copy(update={"out_root": str(tmp_path / "b")})
        build(in_b)
        assert len(srv.requests) == 4
        build(in_b)
        assert len(srv.requests) == 4
        build(in_b.model_copy(update={"refresh": True}))
    events = ItemStore(tmp_path / "b" / "c" / ".work" / "store").events()
    computed = [e["key"] for e in events if e["event"] == "computed"]
    assert len(computed) == 4 and len(set(computed)) == 2  # --refresh ran both again


def test_same_flow_on_a_local_dask_cluster(api: str, tmp_path: Path) -> None:
    from prefect_dask import DaskTaskRunner

    from flows.build import build

    runner = DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": False},
    )
    seeds = small_seeds(tmp_path, 1)
    out = build.with_options(task_runner=runner)(
        BuildSpec(
            seeds=str(seeds), languages=["py"], references=str(DEMO_REFS),
            out_root=str(tmp_path / "art"), agreement=1, max_repairs=1, release_name="dask",
        )
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
        params = {"seeds": str(seeds), "languages": ["py"], "out_root": str(tmp_path / "art"),
                  "agreement": 1, "max_repairs": 1, "release_name": "served"}  # fmt: skip
        deadline = time.monotonic() + WAIT_S
        while "Prefect UI:" not in (tmp_path / "serve.log").read_text(errors="replace"):
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.5)
        cmd = ["prefect", "deployment", "run", "cruxforge-build/demo-build", "--watch",
               "--params", json.dumps({"spec": params})]  # fmt: skip
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
            params = {"seeds": str(seeds), "languages": ["py", "js"], "translator": "llm",
                      "model": "scripted", "base_url": srv.base_url,
                      "out_root": str(tmp_path / "art"), "agreement": 1, "max_repairs": 1,
                      "release_name": "served-kill"}  # fmt: skip
            cmd = ["prefect", "deployment", "run", "cruxforge-build/demo-build",
                   "--params", json.dumps({"spec": params})]  # fmt: skip
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
