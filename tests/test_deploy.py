"""`prefect deploy --all` against a process work pool, as docs/flows.md says to run it:
a real Prefect server, the repository's prefect.yaml, a worker that runs one build."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.release_helpers import small_seeds
from tests.test_ui import api, free_port, stop_group

pytestmark = [pytest.mark.slow]

WAIT_S = 600


def test_prefect_deploy_all_and_a_worker_runs_a_build(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")  # fmt: skip
    log = tmp_path / "server.log"
    server = subprocess.Popen(
        ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    env["PREFECT_API_URL"] = f"{base}/api"

    def prefect(*args: str, timeout: float = 300) -> str:
        r = subprocess.run(["prefect", *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=timeout)  # fmt: skip
        assert r.returncode == 0, (args, r.stdout[-3000:], r.stderr[-3000:])
        return r.stdout

    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                api(base, "deployments/filter", {"limit": 1})
                break
            except OSError:
                time.sleep(0.5)
        prefect("work-pool", "create", "cruxforge", "--type", "process")
        prefect("--no-prompt", "deploy", "--all")
        deployments = api(base, "deployments/filter", {"limit": 50})
        names = {d["name"] for d in deployments}
        assert names == {"demo-build", "llm-build", "demo-audit", "demo-evaluate",
                         "demo-analyse"}, names  # fmt: skip
        flows = {f["name"] for f in api(base, "flows/filter", {"limit": 50})}
        assert flows == {"cruxforge-build", "cruxforge-audit", "cruxforge-evaluate",
                         "cruxforge-analyse"}, flows  # fmt: skip
        assert all(d["work_pool_name"] == "cruxforge" for d in deployments)

        seeds = small_seeds(tmp_path, 2)
        spec = {"seeds": str(seeds), "languages": ["py"], "agreement": 2,
                "release_name": "deployed", "out_root": str(tmp_path / "art")}  # fmt: skip
        prefect("deployment", "run", "cruxforge-build/demo-build",
                "--params", json.dumps({"spec": spec}))  # fmt: skip
        # the worker picks the scheduled run up, runs it from the repository, and exits
        prefect("worker", "start", "--pool", "cruxforge", "--run-once", timeout=WAIT_S)
        runs = api(base, "flow_runs/filter", {"limit": 5})
        [run] = [r for r in runs if r["parameters"].get("spec", {}).get("release_name")
                 == "deployed"]  # fmt: skip
        assert run["state_type"] == "COMPLETED", run
        m = json.loads((tmp_path / "art" / "deployed" / "1" / "manifest.json").read_text())
        assert m["counts"]["py"]["validated"] == 2, m["counts"]
    finally:
        stop_group(server)
