"""The ``auto`` backend: each language on the host's toolchain, else in Docker."""

from __future__ import annotations

import pytest

from runtimes.backend import Program, Verdict, get_backend
from tests.conftest import docker_available


def test_auto_prefers_the_host_toolchain() -> None:
    with get_backend("auto") as b:
        st = b.doctor("py")
        assert st.available and st.backend == "auto/local"


def test_auto_says_why_a_language_cant_run() -> None:
    with get_backend("auto", prefer=("local",)) as b:
        st = b.doctor("swift")  # no host toolchain on Debian 12
        assert not st.available and st.reason and st.reason.startswith("local: ")
        prog = Program(id="x", lang="swift", source="print(1)", n_cases=2)
        res = b.execute([prog])[0]
        assert [c.verdict for c in res.cases] == [Verdict.infra_error] * 2
        assert "swift can't run here" in (res.cases[0].message or "")


@pytest.mark.docker
def test_auto_runs_swift_in_docker() -> None:
    why = docker_available()
    if why:
        pytest.skip(why)
    src = (
        'import Foundation\nlet p = ProcessInfo.processInfo.environment["CRUXFORGE_VERDICTS"]!\n'
        'try! "CASE 0 PASS\\nDONE\\n".write(toFile: p, atomically: false, encoding: .utf8)\n'
    )
    with get_backend("auto") as b:
        st = b.doctor("swift")
        if not st.available:
            pytest.fail(f"swift image missing: {st.reason}")
        assert st.backend == "auto/docker"
        res = b.execute([Program(id="s", lang="swift", source=src, n_cases=1)])[0]
        assert res.passed, res
