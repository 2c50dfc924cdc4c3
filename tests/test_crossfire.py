"""Hostile and innocent programs at the same moment, in every language, on both backends,
one program per process and batched, with a Java compile and a CPU hog alongside:
correct programs keep the verdicts they get alone, hostile ones are contained and
classified, nothing is left running (cruxforge.crossfire)."""

from __future__ import annotations

import pytest

from cruxforge.crossfire import crossfire
from runtimes.spec import LANGUAGES
from tests.conftest import JULIA_REASON, docker_available

pytestmark = pytest.mark.slow


def _check(backend: str, langs: list[str]) -> None:
    report = crossfire(backend, langs, hog=True)
    for lang, why in report.skipped.items():
        print(f"crossfire {backend}: skipped {lang}: {why}")  # the reason, in the log
    ran = {c.lang for c in report.checks if c.check != "leftover"}
    assert ran, f"no language ran on {backend}: {report.skipped}"
    kinds = {c.check for c in report.checks}
    assert {"per-item", "batched", "java-compile", "leftover"} <= kinds
    assert {f"hostile:{h}" for h in ("timeout", "memory", "fork_bomb", "output_flood")} <= kinds
    bad = "\n".join(f"{c.lang} {c.check}: {c.detail}" for c in report.failures())
    assert report.ok, bad


@pytest.mark.toolchains
def test_crossfire_local_every_language() -> None:
    langs = [x for x in LANGUAGES if x != "jl"]
    _check("local", langs)


@pytest.mark.docker
def test_crossfire_docker_every_language() -> None:
    why = docker_available()
    if why:
        pytest.skip(why)
    print(f"crossfire docker: jl not run: {JULIA_REASON}")
    _check("docker", [x for x in LANGUAGES if x != "jl"])
