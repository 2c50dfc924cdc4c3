"""The docker sandbox backend: image tags, verdicts, limits and isolation in real containers.

Needs a running Docker engine (``bash scripts/docker-engine.sh``) and the language images
(``cruxforge runtimes bootstrap-base && cruxforge runtimes build``); each test skips with
the reason when what it needs is missing.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtimes.backend import Program, RunResult, Verdict, get_backend
from runtimes.docker_worker import WORKER_UID_BASE, WORKER_UIDS
from runtimes.images import image_tag
from runtimes.spec import get_spec
from tests.conftest import docker_available

pytestmark = pytest.mark.docker


def _need_engine() -> None:
    why = docker_available()
    if why:
        print(f"SKIP docker tests: {why}")
        pytest.skip(why)


def _need_image(lang: str) -> None:
    _need_engine()
    from runtimes.images import docker_client, image_exists

    tag = image_tag(get_spec(lang))
    if not image_exists(docker_client(), tag):
        why = f"image {tag} not built (cruxforge runtimes build --lang {lang})"
        print(f"SKIP: {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def backend() -> Iterator:  # type: ignore[type-arg]
    _need_engine()
    b = get_backend("docker", parallel=2)
    yield b
    b.close()


def _prog(lang: str, source: str, n: int = 1, expected: list[str] | None = None) -> Program:
    return Program(
        id=f"t-{uuid.uuid4().hex[:6]}", lang=lang, source=source, n_cases=n, expected=expected
    )


def _host_pids_with(token: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if token.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


# --------------------------------------------------------------------------- image tags


def test_image_tag_is_stable_and_follows_the_spec() -> None:
    spec = get_spec("py")
    assert image_tag(spec) == image_tag(get_spec("py"))
    assert image_tag(spec).startswith("cruxforge/rt-py:")
    changed = spec.model_copy(
        update={"limits": spec.limits.model_copy(update={"run_seconds": 77.0})}
    )
    assert image_tag(changed) != image_tag(spec)
    other_cmd = spec.model_copy(update={"run": ["python3", "-X", "utf8", "{file}"]})
    assert image_tag(other_cmd) != image_tag(spec)


def test_dockerfile_bases_are_the_bootstrapped_ones() -> None:
    from runtimes.images import dockerfile_bases
    from runtimes.spec import LANGUAGES

    for lang in LANGUAGES:
        bases = dockerfile_bases(get_spec(lang))
        if lang == "jl":
            assert bases == ["julia:1.11-bookworm"]
        elif lang == "swift":
            assert bases == ["cruxforge/base:trixie"]
        else:
            assert bases == ["cruxforge/base:bookworm"], lang


def test_build_skips_unverified_julia_and_reports_missing_base(tmp_path: Path) -> None:
    _need_engine()
    from runtimes.images import build_images

    spec = get_spec("jl")
    if spec.docker.verified_offline:
        pytest.skip("jl spec is marked verified offline here")
    res = build_images(["jl"])
    assert res[0].status in ("skipped", "present") and res[0].lang == "jl"
    if res[0].status == "skipped":
        assert res[0].reason


def test_present_image_is_not_rebuilt() -> None:
    _need_image("sh")
    from runtimes.images import build_images

    t0 = time.monotonic()
    res = build_images(["sh"])
    assert [r.status for r in res] == ["present"]
    assert time.monotonic() - t0 < 10


# --------------------------------------------------------------------------- verdicts


PASS_WRONG = {
    "py": "import os\nwith open(os.environ['CRUXFORGE_VERDICTS'], 'a') as f:\n"
    "    f.write('CASE 0 PASS\\nCASE 1 FAIL 42\\nDONE\\n')\n",
    "sh": "printf 'CASE 0 PASS\\nCASE 1 FAIL 42\\nDONE\\n' >> \"$CRUXFORGE_VERDICTS\"\n",
    "cpp": "#include <cstdio>\n#include <cstdlib>\nint main(){FILE*f=fopen(getenv("
    '"CRUXFORGE_VERDICTS"),"a");fputs("CASE 0 PASS\\nCASE 1 FAIL 42\\nDONE\\n",f);'
    "fclose(f);return 0;}\n",
    "js": "require('fs').appendFileSync(process.env.CRUXFORGE_VERDICTS, "
    "'CASE 0 PASS\\nCASE 1 FAIL 42\\nDONE\\n');\n",
    "go": 'package main\nimport "os"\nfunc main(){f,_:=os.OpenFile(os.Getenv('
    '"CRUXFORGE_VERDICTS"),os.O_APPEND|os.O_CREATE|os.O_WRONLY,0o644);'
    'f.WriteString("CASE 0 PASS\\nCASE 1 FAIL 42\\nDONE\\n");f.Close()}\n',
}


@pytest.mark.parametrize("lang", sorted(PASS_WRONG))
def test_pass_and_wrong_answer(backend, lang: str) -> None:  # type: ignore[no-untyped-def]
    _need_image(lang)
    [r] = backend.execute([_prog(lang, PASS_WRONG[lang], n=2, expected=["1", "2"])])
    assert [c.verdict for c in r.cases] == [Verdict.passed, Verdict.wrong_answer], r
    assert r.cases[1].actual == "42" and r.cases[1].expected == "2"


def test_compile_error_is_reported(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("cpp")
    [r] = backend.execute([_prog("cpp", "int main( { return 0; }\n")])
    assert r.verdict is Verdict.compile_error, r
    assert "error" in r.cases[0].message.lower()


def test_batch_keeps_order_and_reuses_workers(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    progs = [
        _prog("sh", f"printf 'CASE 0 {'PASS' if i % 2 else 'FAIL 0'}\\n' >> $CRUXFORGE_VERDICTS")
        for i in range(6)
    ]
    t0 = time.monotonic()
    rs: list[RunResult] = backend.execute(progs)
    assert [r.id for r in rs] == [p.id for p in progs]
    assert [r.verdict for r in rs] == [
        Verdict.wrong_answer if i % 2 == 0 else Verdict.passed for i in range(6)
    ]
    assert time.monotonic() - t0 < 30


# --------------------------------------------------------------------------- limits


def test_timeout_kills_everything(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    tok = f"cfdocker-{uuid.uuid4().hex[:8]}"
    src = (
        f"sh -c 'sleep 300; :' {tok} &\n"
        f"setsid sh -c 'sleep 300; :' {tok}-b &\n"
        "while :; do :; done\n"
    )
    t0 = time.monotonic()
    [r] = backend.execute([_prog("sh", src)])
    took = time.monotonic() - t0
    assert r.verdict is Verdict.timeout, r
    assert took < get_spec("sh").limits.run_seconds + 5
    deadline = time.monotonic() + 3
    while _host_pids_with(tok) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _host_pids_with(tok) == []


def test_memory_bomb_is_memory_exceeded(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("py")
    # bytes made by repetition are written (touched), so they count as resident memory
    src = "a = []\nwhile True:\n    a.append(b'x' * 10**7)\n"
    [r] = backend.execute([_prog("py", src)])
    assert r.verdict is Verdict.memory_exceeded, r


def test_memory_within_limit_passes(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("py")
    mb = get_spec("py").limits.memory_mb // 2
    src = (
        f"a = bytearray({mb} * 2**20)\nfor i in range(0, len(a), 4096): a[i] = 1\n"
        "import os\nopen(os.environ['CRUXFORGE_VERDICTS'], 'a').write('CASE 0 PASS\\n')\n"
    )
    [r] = backend.execute([_prog("py", src)])
    assert r.verdict is Verdict.passed, r


def test_memory_limit_applies_to_compiled_run(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("cpp")
    src = (
        "#include <cstdlib>\n#include <cstring>\n"
        "int main(){ for(;;){ char*p=(char*)malloc(1<<20); memset(p,1,1<<20);} }\n"
    )
    [r] = backend.execute([_prog("cpp", src)])
    assert r.verdict is Verdict.memory_exceeded, r


def test_the_same_source_is_compiled_once_in_docker(tmp_path: Path) -> None:
    """A program compiled again in a worker (a repeat run) unpacks the kept compile: no
    compiler run, the same verdicts and compiler output, in a fresh work dir; a compile
    error is not kept; another source compiles afresh."""
    _need_engine()
    _need_image("cpp")
    src = (
        "#include <cstdlib>\n#include <fstream>\n"
        'int main() { std::ofstream f(std::getenv("CRUXFORGE_VERDICTS"), std::ios::app);'
        ' f << "CASE 0 FAIL 7\\nDONE\\n"; int unused; }\n'
    )
    b = get_backend("docker", parallel=1, cache_root=tmp_path)
    try:
        first, again = (b.execute([_prog("cpp", src, expected=["3"])])[0] for _ in "ab")
        assert first.compile_seconds > 0.05 and again.compile_seconds == 0.0
        assert [c.verdict for c in again.cases] == [c.verdict for c in first.cases]
        assert again.cases[0].actual == "7" and again.compile_output == first.compile_output
        assert len(list((tmp_path / "docker-compiled").iterdir())) == 1
        broken = [b.execute([_prog("cpp", "int main( {")])[0] for _ in "ab"]
        assert [r.verdict for r in broken] == [Verdict.compile_error] * 2
        assert all(r.compile_seconds > 0 for r in broken)  # compiled each time
        other = b.execute([_prog("cpp", src + "\n")])[0]
        assert other.compile_seconds > 0.05 and other.cases[0].actual == "7"
        assert len(list((tmp_path / "docker-compiled").iterdir())) == 2
    finally:
        b.close()


def test_output_flood_is_output_exceeded(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    [r] = backend.execute([_prog("sh", "yes 0123456789012345678901234567890123456789\n")])
    assert r.verdict is Verdict.output_exceeded, r
    assert len(r.stdout) <= get_spec("sh").limits.output_kb * 1024


def test_fork_bomb_is_contained(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    [r] = backend.execute([_prog("sh", "f(){ f|f& }; f\nwhile :; do :; done\n")])
    assert r.verdict not in (Verdict.passed, Verdict.infra_error), r
    # the worker still works afterwards
    [ok] = backend.execute([_prog("sh", "echo 'CASE 0 PASS' >> $CRUXFORGE_VERDICTS\n")])
    assert ok.verdict is Verdict.passed, ok


# --------------------------------------------------------------------------- isolation


def test_no_network(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                hits.append(1)
                c.close()
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    port = srv.getsockname()[1]
    src = (
        f"if bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null"
        " || timeout 3 bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>/dev/null; then\n"
        "  echo 'CASE 0 FAIL \"connected\"' >> $CRUXFORGE_VERDICTS\n"
        "else echo 'CASE 0 PASS' >> $CRUXFORGE_VERDICTS; fi\n"
        "ls /sys/class/net > /dev/stderr\n"
    )
    try:
        [r] = backend.execute([_prog("sh", src)])
    finally:
        stop.set()
        t.join(2)
        srv.close()
    assert r.verdict is Verdict.passed, r
    assert hits == []
    assert r.stderr.split() == ["lo"]


def test_read_only_root_non_root_user(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    src = (
        'r() { echo "$1" >> $CRUXFORGE_VERDICTS; }\n'
        "if (echo x > /etc/cf-probe) 2>/dev/null || (echo x > /usr/cf-probe) 2>/dev/null"
        " || (echo x > /var/tmp/cf) 2>/dev/null; then r 'CASE 0 FAIL \"wrote\"'; "
        "else r 'CASE 0 PASS'; fi\n"
        # a worker uid of its own (WORKER_UID_BASE + its lease): not root, not the image's
        # shared sandbox user
        f'u=$(id -u); if [ "$u" -ge {WORKER_UID_BASE} ] &&'
        f' [ "$u" -lt {WORKER_UID_BASE + WORKER_UIDS} ];'
        " then r 'CASE 1 PASS'; else r \"CASE 1 FAIL $u\"; fi\n"
        "if echo x > ./here && echo y > /tmp/t && [ -w \"$HOME\" ]; then r 'CASE 2 PASS';"
        " else r 'CASE 2 FAIL \"no write\"'; fi\n"
        "if grep -q '^CapEff:\\s*0*$' /proc/self/status; then r 'CASE 3 PASS';"
        " else r 'CASE 3 FAIL \"caps\"'; fi\n"
    )
    [r] = backend.execute([_prog("sh", src, n=4)])
    assert [c.verdict for c in r.cases] == [Verdict.passed] * 4, r


def test_each_program_gets_a_fresh_work_dir(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("sh")
    leave = (
        "echo junk > ./left-behind; echo junk > /tmp/left-behind; echo junk > $HOME/left\n"
        "echo CASE 0 PASS >> $CRUXFORGE_VERDICTS\n"
    )
    check = (
        'if [ -e ./left-behind ] || [ -e /tmp/left-behind ] || [ -e "$HOME/left" ]; then '
        "echo 'CASE 0 FAIL \"dirty\"' >> $CRUXFORGE_VERDICTS; else "
        "echo 'CASE 0 PASS' >> $CRUXFORGE_VERDICTS; fi\n"
    )
    b = get_backend("docker", parallel=1)
    try:
        r1, r2 = b.execute([_prog("sh", leave), _prog("sh", check)])
    finally:
        b.close()
    assert r1.verdict is Verdict.passed and r2.verdict is Verdict.passed, (r1, r2)


def test_dead_worker_is_infra_error_then_replaced() -> None:
    _need_image("sh")
    b = get_backend("docker", parallel=1)
    try:
        [warm] = b.execute([_prog("sh", "echo 'CASE 0 PASS' >> $CRUXFORGE_VERDICTS\n")])
        assert warm.verdict is Verdict.passed
        [w] = b._all  # type: ignore[attr-defined]
        cont = w.container

        def kill_soon() -> None:
            time.sleep(1.0)
            cont.kill()

        threading.Thread(target=kill_soon, daemon=True).start()
        [r] = b.execute([_prog("sh", "sleep 4; echo 'CASE 0 PASS' >> $CRUXFORGE_VERDICTS\n")])
        assert r.verdict is Verdict.infra_error, r
        [again] = b.execute([_prog("sh", "echo 'CASE 0 PASS' >> $CRUXFORGE_VERDICTS\n")])
        assert again.verdict is Verdict.passed, again
    finally:
        b.close()


def test_driver_killed_while_the_oom_killer_works_is_memory_exceeded() -> None:
    """On a loaded host the container's OOM killer can take the step's driver along with
    the memory bomb. Here the program plays both parts (a child fills the memory and is
    OOM-killed, then the program SIGKILLs the driver): that is the program's
    memory_exceeded. The same kill without an OOM stays an infra_error; either way the
    worker is replaced and the next program passes."""
    _need_image("py")
    kill_driver = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    bomb = (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', "
        "'a = []\\nwhile True: a.append(bytes(10**7))'])\n"
    )
    ok = "import os\nopen(os.environ['CRUXFORGE_VERDICTS'], 'a').write('CASE 0 PASS\\n')\n"
    b = get_backend("docker", parallel=1)
    try:
        [plain] = b.execute([_prog("py", kill_driver)])
        assert plain.verdict is Verdict.infra_error, plain
        [oom] = b.execute([_prog("py", bomb + kill_driver)])
        assert oom.verdict is Verdict.memory_exceeded, oom
        assert "OOM killer" in oom.stderr, oom
        [after] = b.execute([_prog("py", ok)])
        assert after.verdict is Verdict.passed, after
    finally:
        b.close()


def test_close_removes_workers() -> None:
    _need_image("sh")
    from runtimes.images import docker_client

    b = get_backend("docker", parallel=1)
    b.execute([_prog("sh", "true\n", n=0)])
    ids = [w.container.id for w in b._all]  # type: ignore[attr-defined]
    assert ids
    b.close()
    client = docker_client()
    left = [c for c in client.containers.list(all=True) if c.id in ids]
    assert left == []


def test_doctor(backend) -> None:  # type: ignore[no-untyped-def]
    _need_image("py")
    st = backend.doctor("py")
    assert st.available and st.version and "Python" in st.version, st
    jl = backend.doctor("jl")
    if not get_spec("jl").docker.verified_offline:
        assert jl.verified is False
        assert jl.reason
