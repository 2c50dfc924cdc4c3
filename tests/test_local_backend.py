"""The local backend with real bubblewrap and real toolchains (no mocks)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from runtimes.backend import Program, Verdict, get_backend
from runtimes.local import LocalBackend, SandboxUnavailableError

pytestmark = [
    pytest.mark.toolchains,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) not installed"),
]

PY_HEAD = (
    "import os\n"
    "def report(s):\n"
    "    with open(os.environ['CRUXFORGE_VERDICTS'], 'a', encoding='utf-8') as f:\n"
    "        f.write(s + '\\n')\n"
)


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    b = get_backend("local")
    assert isinstance(b, LocalBackend)
    return b


def py(source: str, n: int = 1, expected: list[str] | None = None, pid: str = "t") -> Program:
    return Program(id=pid, lang="py", source=PY_HEAD + source, n_cases=n, expected=expected)


def test_registered() -> None:
    assert isinstance(get_backend("local"), LocalBackend)


def test_refuses_without_bwrap(tmp_path: Path) -> None:
    b = LocalBackend()
    b.bwrap = None
    with pytest.raises(SandboxUnavailableError, match="bubblewrap"):
        b.execute([py("report('CASE 0 PASS')")])
    assert not b.doctor("py").available


def test_unsafe_no_sandbox_runs(tmp_path: Path) -> None:
    b = LocalBackend(unsafe_no_sandbox=True, work_root=tmp_path / "w")
    b.bwrap = None
    r = b.execute([py("report('CASE 0 PASS')")])[0]
    assert r.passed, r


def test_cases_and_order(backend: LocalBackend) -> None:
    progs = [
        py(
            "report('CASE 0 PASS')\nreport('CASE 1 FAIL [3]')\nreport('DONE')", 2, ["0", "[4]"], "a"
        ),
        py("report('CASE 0 ERROR ValueError: x')", 1, None, "b"),
        py("raise SystemExit(3)", 2, None, "c"),
    ]
    a, b, c = backend.execute(progs)
    assert [a.id, b.id, c.id] == ["a", "b", "c"]
    assert [x.verdict for x in a.cases] == [Verdict.passed, Verdict.wrong_answer]
    assert a.cases[1].actual == "[3]" and a.cases[1].expected == "[4]"
    assert b.cases[0].verdict is Verdict.runtime_error and b.cases[0].message == "ValueError: x"
    assert [x.verdict for x in c.cases] == [Verdict.runtime_error] * 2
    assert "status 3" in (c.cases[0].message or "")


def test_stdout_is_not_a_verdict(backend: LocalBackend) -> None:
    r = backend.execute([py("print('CASE 0 PASS')")])[0]
    assert r.cases[0].verdict is Verdict.runtime_error
    assert "CASE 0 PASS" in r.stdout


def test_timeout_kills_everything(backend: LocalBackend) -> None:
    token = f"cftest-{os.getpid()}-{time.time_ns()}"
    src = (
        "import subprocess\n"
        f"subprocess.Popen(['sh', '-c', 'sleep 300; :', '{token}'])\n"
        "report('CASE 0 PASS')\n"
        "while True: pass\n"
    )
    t = time.monotonic()
    r = backend.execute([py(src, 2)])[0]
    took = time.monotonic() - t
    assert [c.verdict for c in r.cases] == [Verdict.passed, Verdict.timeout]
    assert took < 5 + 2
    time.sleep(0.2)
    left = [
        p.name
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and token.encode() in _cmdline(p)
    ]
    assert not left


def _cmdline(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes()
    except OSError:
        return b""


def test_memory_limit(backend: LocalBackend) -> None:
    src = "a = []\nwhile True:\n    a.append(b'x' * 10_000_000 + str(len(a)).encode())\n"
    r = backend.execute([py(src)])[0]
    assert r.cases[0].verdict is Verdict.memory_exceeded, r.cases[0]


def test_output_cap(backend: LocalBackend) -> None:
    r = backend.execute([py("while True: print('x' * 1000)")])[0]
    assert r.cases[0].verdict is Verdict.output_exceeded
    assert len(r.stdout) <= 1024 * 1024


def test_sandbox_isolation(backend: LocalBackend, tmp_path: Path) -> None:
    secret = Path("/root/.cruxforge-secret-probe")
    if not secret.exists():
        try:
            secret.write_text("secret\n")
        except OSError:
            pytest.skip("cannot create the host secret probe (not root)")
    src = (
        "import os, socket\n"
        "def fails(fn):\n"
        "    try:\n        fn()\n        return False\n"
        "    except OSError:\n        return True\n"
        "checks = [\n"
        f"    fails(lambda: open('{secret}').read()),\n"
        "    fails(lambda: open('/etc/cfprobe-x', 'w')),\n"
        "    fails(lambda: os.listdir('/work/main')),\n"
        "    fails(lambda: socket.create_connection(('1.1.1.1', 53), timeout=2)),\n"
        "    os.getuid() != 0,\n"
        "]\n"
        "open('inside.txt', 'w').write('ok')\n"
        "report('CASE 0 PASS' if all(checks) else 'CASE 0 FAIL ' + repr(checks))\n"
    )
    r = backend.execute([py(src)])[0]
    assert r.passed, r.cases
    assert not Path("/etc/cfprobe-x").exists()


def test_compiled_language_and_compile_error(backend: LocalBackend) -> None:
    ok = (
        "#include <cstdlib>\n#include <fstream>\n"
        'int main() { std::ofstream f(std::getenv("CRUXFORGE_VERDICTS"), std::ios::app);'
        ' f << "CASE 0 PASS\\nDONE\\n"; }\n'
    )
    bad = "int main() { return x; }\n"
    r1, r2 = backend.execute(
        [
            Program(id="ok", lang="cpp", source=ok),
            Program(id="bad", lang="cpp", source=bad, n_cases=2),
        ]
    )
    assert r1.passed, r1
    assert [c.verdict for c in r2.cases] == [Verdict.compile_error] * 2
    assert "was not declared" in r2.compile_output


def test_unavailable_language_is_infra_error(backend: LocalBackend) -> None:
    r = backend.execute([Program(id="j", lang="jl", source="println(1)")])[0]
    assert r.cases[0].verdict is Verdict.infra_error
    st = backend.doctor("jl")
    assert not st.available and "docker" in (st.reason or "")


def test_doctor_reports_version(backend: LocalBackend) -> None:
    st = backend.doctor("py")
    assert st.available and st.version and st.version.startswith("Python 3")


def test_the_same_source_is_compiled_once(tmp_path: Path) -> None:
    """A program compiled again (the flakiness re-run) takes the kept compile: no compiler
    run, the same verdicts and compiler output; another source is compiled afresh."""
    b = LocalBackend(cache_root=tmp_path / "cache")
    src = (
        "#include <cstdlib>\n#include <fstream>\n"
        'int main() { std::ofstream f(std::getenv("CRUXFORGE_VERDICTS"), std::ios::app);'
        ' f << "CASE 0 FAIL 7\\nDONE\\n"; int unused; }\n'
    )
    first, again = (b.execute([Program(id=k, lang="cpp", source=src, expected=["3"])])[0]
                    for k in ("a", "b"))  # fmt: skip
    assert first.compile_seconds > 0.05 and again.compile_seconds == 0.0
    assert [c.verdict for c in again.cases] == [c.verdict for c in first.cases]
    assert again.cases[0].actual == "7" and again.compile_output == first.compile_output
    other = b.execute([Program(id="c", lang="cpp", source=src + "\n")])[0]
    assert other.compile_seconds > 0.05
    assert len(list((tmp_path / "cache" / "compiled").iterdir())) == 2


_SAVER = """
import sys, tempfile
from pathlib import Path
from runtimes.compiled import CompileCache
from runtimes.verdicts import ProcessOutcome

cache = CompileCache(Path(sys.argv[1]), keep=3)
for i in range(int(sys.argv[3])):
    wd = Path(tempfile.mkdtemp())
    (wd / "a.out").write_text(str(i))
    cache.save(f"{sys.argv[2]}-{i}", wd, set(), ProcessOutcome(exit_code=0))
"""


def test_compile_caches_of_two_processes_evict_side_by_side(tmp_path: Path) -> None:
    """Two processes keep compiles in one folder and evict its oldest entries at once: an
    entry the other process removed between listing and use is not an error (it once
    ended a whole audit with FileNotFoundError)."""
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", _SAVER, str(tmp_path / "c"), tag, "400"],
                              stderr=subprocess.PIPE, text=True) for tag in ("x", "y")]  # fmt: skip
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert len([p for p in (tmp_path / "c").iterdir() if not p.name.startswith(".tmp-")]) <= 6
