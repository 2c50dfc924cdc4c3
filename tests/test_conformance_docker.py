"""The same conformance suite on the docker backend, one test per language."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtimes.backend import Backend, get_backend
from runtimes.conformance import run_conformance
from runtimes.spec import LANGUAGES, get_spec
from tests.conftest import docker_available

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    why = docker_available()
    if why:
        print(why)
        pytest.skip(why)
    b = get_backend("docker")
    yield b
    b.close()


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_conformance(backend: Backend, lang: str) -> None:
    spec = get_spec(lang)
    if not spec.docker.verified_offline:
        print(f"{lang}: {spec.docker.unverified_reason}")
        pytest.skip(f"{lang} unverified offline: {spec.docker.unverified_reason}")
    status = backend.doctor(lang)
    assert status.available, f"{lang} image not available: {status.reason}"
    report = run_conformance(backend, [lang])
    failures = [f"{r.check}: {r.detail}" for r in report.failures()]
    assert not failures, "\n".join(failures)
    assert all(r.status == "ok" for r in report.results), report.results
