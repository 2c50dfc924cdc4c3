"""Shared fixtures: sandbox backends, the demo seed report, language availability."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SEEDS = ROOT.parent / "shared" / "data" / "cruxeval-seeds-0-399.jsonl"
DEMO_SEEDS = ROOT / "seeds" / "demo.jsonl"
DEMO_REFS = ROOT / "seeds" / "demo_reference"

# Languages whose toolchain cannot be had on this kind of machine at all.
JULIA_REASON = (
    "Julia: no toolchain route offline here (not in Debian, PyPI wheels download at run "
    "time, the official image can't be pulled); runtime and rules exist but are unverified"
)
DOCKER_ONLY = {"swift": "Swift has no host toolchain on Debian 12; it runs in the docker backend"}


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo seeds, checked and typed once per test session (the real CLI)."""
    out = tmp_path_factory.mktemp("demo") / "report.json"
    subprocess.run(
        ["cruxforge", "seeds", "check", str(DEMO_SEEDS), "--report", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return out


@pytest.fixture(scope="session")
def local_backend():  # type: ignore[no-untyped-def]
    from runtimes.backend import get_backend

    b = get_backend("local")
    yield b
    b.close()


def docker_available() -> str | None:
    """None when a Docker engine answers, else the reason it doesn't."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as e:  # noqa: BLE001 - any failure means "not available", with its text
        return f"Docker engine not reachable: {e}"
    return None


def backend_for(lang: str) -> str:
    return "docker" if lang in DOCKER_ONLY else "local"


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
