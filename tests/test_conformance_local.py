"""The conformance suite on the local backend, one test per language (real toolchains)."""

from __future__ import annotations

import shutil

import pytest

from runtimes.backend import get_backend
from runtimes.conformance import run_conformance
from runtimes.local import LocalBackend
from runtimes.spec import LANGUAGES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.toolchains,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) not installed"),
]


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    b = get_backend("local")
    assert isinstance(b, LocalBackend)
    return b


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_conformance(backend: LocalBackend, lang: str) -> None:
    status = backend.doctor(lang)
    if not status.available:
        print(f"{lang}: no host toolchain: {status.reason}")
        pytest.skip(f"{lang} not available on the local backend: {status.reason}")
    report = run_conformance(backend, [lang])
    failures = [f"{r.check}: {r.detail}" for r in report.failures()]
    assert not failures, "\n".join(failures)
    assert all(r.status == "ok" for r in report.results), report.results
