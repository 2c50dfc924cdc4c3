"""Code as other benchmarks publish it runs under their conventions (`variant="published"`):
`go test` harnesses, D `unittest` blocks, C# `Debug.Assert`, rackunit (stderr fails),
a Java/Scala `Problem` class with `assert`, PHP without its `<?php` tag. Each harness
passes when right and fails when its expected value is wrong."""

from __future__ import annotations

import pytest

from runtimes.backend import Program, Verdict

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]

# (lang, source with EXPECTED standing for the expected value 2)
PUBLISHED = {
    "go": 'package main\n\nimport "testing"\n\nfunc f(x int) int { return x + 1 }\n\n'
    "func TestProblem(t *testing.T) {\n\tcandidate := f\n"
    '\tif candidate(1) != EXPECTED {\n\t\tt.Fatal("wrong")\n\t}\n}\n',
    "d": "long f(long x) { return x + 1; }\n\nunittest\n{\n    alias candidate = f;\n"
    "    assert(candidate(1L) == EXPECTEDL);\n}\n\nvoid main(){}\n",
    "cs": "using System;\nusing System.Diagnostics;\n\nclass Problem {\n"
    "    public static long f(long x) { return x + 1; }\n"
    "    public static void Main(string[] args) {\n"
    "        Debug.Assert(f(1L) == EXPECTEDL);\n    }\n}\n",
    "rkt": "#lang racket\n(require rackunit)\n\n(define (f x) (+ x 1))\n\n"
    "(define (test-humaneval)\n  (let ((candidate f))\n"
    "    (check-equal? (candidate 1) EXPECTED)))\n\n"
    "(test-humaneval)\n",
    "java": "import java.util.*;\n\nclass Problem {\n"
    "    public static long f(long x) { return x + 1; }\n"
    "    public static void main(String[] args) {\n    assert(f((1l)) == (EXPECTEDl));\n    }\n}\n",
    "scala": "object Problem {\n    def f(x : Long) : Long = { x + 1 }\n"
    "    def main(args: Array[String]) = {\n    assert(f((1l)) == (EXPECTEDl));\n    }\n}\n",
    "php": "function f($x) {\n    return $x + 1;\n}\n\nfunction candidate(...$args) {\n"
    "    return f(...$args);\n}\n\nfunction test(): void {\n"
    '    if (candidate(1) !== EXPECTED) { throw new Exception("Test failed!"); }\n}\n\ntest();\n',
}


def _check(backend, lang: str) -> None:  # type: ignore[no-untyped-def]
    status = backend.doctor(lang)
    if not status.available:
        pytest.skip(f"{lang} not available on {backend.name}: {status.reason}")
    src = PUBLISHED[lang]

    def prog(expected: str) -> Program:
        return Program(
            id=f"{lang}:{expected}",
            lang=lang,
            source=src.replace("EXPECTED", expected),
            judge="exit_status",
            variant="published",
        )

    right, wrong = backend.execute([prog("2"), prog("3")])
    assert right.verdict is Verdict.passed, (right.compile_output, right.stderr, right.cases)
    assert not wrong.passed, (lang, wrong.stdout, wrong.stderr)
    assert wrong.verdict in (Verdict.wrong_answer, Verdict.runtime_error), wrong.verdict


@pytest.mark.parametrize("lang", sorted(PUBLISHED))
def test_published_conventions_on_local(lang, local_backend) -> None:  # type: ignore[no-untyped-def]
    _check(local_backend, lang)


@pytest.fixture(scope="module")
def docker_backend():  # type: ignore[no-untyped-def]
    from runtimes.backend import get_backend
    from tests.conftest import docker_available

    why = docker_available()
    if why:
        pytest.skip(why)
    b = get_backend("docker")
    yield b
    b.close()


@pytest.mark.docker
@pytest.mark.parametrize("lang", sorted(PUBLISHED))
def test_published_conventions_on_docker(lang, docker_backend) -> None:  # type: ignore[no-untyped-def]
    _check(docker_backend, lang)


def test_a_spec_without_the_variant_runs_its_main_commands() -> None:
    from runtimes.spec import get_spec

    py = get_spec("py")
    assert py.for_variant("published") is py
    go = get_spec("go").for_variant("published")
    assert go.compile != get_spec("go").compile and go.run == get_spec("go").run
    assert get_spec("rkt").for_variant("published").stderr_fails
