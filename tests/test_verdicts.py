"""Verdict assembly (runtimes/verdicts.py): the protocol of docs/architecture.md."""

from __future__ import annotations

import signal

from runtimes.backend import Program, Verdict
from runtimes.verdicts import (
    ProcessOutcome,
    assemble_result,
    parse_verdict_text,
    trim_diagnostics,
)


def prog(n: int = 3, expected: list[str] | None = None) -> Program:
    return Program(id="p1", lang="py", source="", n_cases=n, expected=expected)


OK = ProcessOutcome(exit_code=0, seconds=0.5)


def test_all_pass() -> None:
    r = assemble_result(
        prog(), compile=None, run=OK, verdict_text="CASE 0 PASS\nCASE 1 PASS\nCASE 2 PASS\nDONE\n"
    )
    assert [c.verdict for c in r.cases] == [Verdict.passed] * 3
    assert r.passed and r.verdict is Verdict.passed
    assert r.id == "p1" and r.exit_code == 0


def test_fail_and_error_lines() -> None:
    text = (
        'CASE 0 PASS\nCASE 1 FAIL [1, "\U0001f600\u3000"]\n'
        "CASE 2 ERROR ZeroDivisionError: x\nDONE\n"
    )
    r = assemble_result(prog(expected=["1", "[2]", "3"]), compile=None, run=OK, verdict_text=text)
    c0, c1, c2 = r.cases
    assert c0.verdict is Verdict.passed
    assert c1.verdict is Verdict.wrong_answer
    assert c1.actual == '[1, "\U0001f600\u3000"]' and c1.expected == "[2]"
    assert c2.verdict is Verdict.runtime_error and c2.message == "ZeroDivisionError: x"
    assert r.verdict is Verdict.wrong_answer


def test_first_line_per_case_wins_and_junk_ignored() -> None:
    text = "hello\nCASE 0 PASS\nCASE 0 FAIL 3\nCASE  x PASS\nCASE 1 PASSED\n"
    r = assemble_result(prog(2), compile=None, run=OK, verdict_text=text)
    assert r.cases[0].verdict is Verdict.passed
    # "PASSED" is not a protocol line -> case 1 has no line, process exited 0
    assert r.cases[1].verdict is Verdict.runtime_error


def test_compile_error_for_every_case() -> None:
    comp = ProcessOutcome(exit_code=1, stderr="\x1b[31mmain.cpp:1:1: error: boom\x1b[0m\n\n")
    r = assemble_result(prog(), compile=comp, run=None, verdict_text="CASE 0 PASS\n")
    assert [c.verdict for c in r.cases] == [Verdict.compile_error] * 3
    assert "main.cpp:1:1: error: boom" in (r.cases[0].message or "")
    assert "\x1b" not in r.compile_output
    assert r.compile_output == "main.cpp:1:1: error: boom"


def test_compile_timeout_is_compile_error() -> None:
    comp = ProcessOutcome(exit_code=None, signal=9, timed_out=True)
    r = assemble_result(prog(1), compile=comp, run=None, verdict_text="")
    assert r.cases[0].verdict is Verdict.compile_error
    assert "timed out" in (r.cases[0].message or "")


def test_successful_compile_then_run() -> None:
    comp = ProcessOutcome(exit_code=0, stderr="warning: unused", seconds=1.0)
    r = assemble_result(prog(1), compile=comp, run=OK, verdict_text="CASE 0 PASS\nDONE\n")
    assert r.passed
    assert r.compile_output == "warning: unused"
    assert r.seconds == 1.5


def test_missing_cases_from_process_end() -> None:
    text = "CASE 0 PASS\n"
    for flag, verdict in [
        ("timed_out", Verdict.timeout),
        ("memory_exceeded", Verdict.memory_exceeded),
        ("output_exceeded", Verdict.output_exceeded),
    ]:
        run = ProcessOutcome(exit_code=None, signal=signal.SIGKILL, **{flag: True})
        r = assemble_result(prog(3), compile=None, run=run, verdict_text=text)
        assert [c.verdict for c in r.cases] == [Verdict.passed, verdict, verdict], flag
        assert r.verdict is verdict


def test_missing_cases_crash_message() -> None:
    run = ProcessOutcome(exit_code=None, signal=signal.SIGSEGV, stderr="Segmentation fault\n")
    r = assemble_result(prog(2), compile=None, run=run, verdict_text="")
    assert all(c.verdict is Verdict.runtime_error for c in r.cases)
    assert "SIGSEGV" in (r.cases[0].message or "")
    assert "Segmentation fault" in (r.cases[0].message or "")
    run2 = ProcessOutcome(exit_code=3, stderr="Traceback ...\nValueError: bad")
    r2 = assemble_result(prog(1), compile=None, run=run2, verdict_text="")
    assert "exited with status 3" in (r2.cases[0].message or "")
    assert "ValueError: bad" in (r2.cases[0].message or "")


def test_infra_error_wins() -> None:
    run = ProcessOutcome(exit_code=None, infra_error="bwrap: cannot create namespace")
    r = assemble_result(prog(2), compile=None, run=run, verdict_text="CASE 0 PASS\n")
    assert [c.verdict for c in r.cases] == [Verdict.infra_error] * 2
    assert r.cases[0].message == "bwrap: cannot create namespace"
    comp = ProcessOutcome(exit_code=None, infra_error="sandbox died")
    r2 = assemble_result(prog(1), compile=comp, run=None, verdict_text="")
    assert r2.cases[0].verdict is Verdict.infra_error


def test_zero_cases() -> None:
    r = assemble_result(prog(0), compile=None, run=OK, verdict_text="DONE\n")
    assert r.cases == [] and r.passed


def test_crlf_lines() -> None:
    found, done = parse_verdict_text("CASE 0 FAIL 1.5\r\nDONE\r\n")
    assert found == {0: ("FAIL", "1.5")} and done


def test_trim_diagnostics() -> None:
    text = "\n\n" + "\n".join(f"line {i}   " for i in range(100)) + "\n\n"
    out = trim_diagnostics(text, max_lines=5)
    assert out.splitlines()[:5] == [f"line {i}" for i in range(5)]
    assert "95 more lines" in out
    long = "x" * 10_000
    out2 = trim_diagnostics(long, max_chars=100)
    assert out2.startswith("x" * 100) and "9900 more characters" in out2
    assert trim_diagnostics("  ok  ") == "  ok"


def test_oom_kill_beats_timeout() -> None:
    run = ProcessOutcome(exit_code=None, signal=9, timed_out=True, memory_exceeded=True)
    r = assemble_result(prog(1), compile=None, run=run, verdict_text="")
    assert r.cases[0].verdict is Verdict.memory_exceeded


def test_timeout_message_has_run_seconds() -> None:
    run = ProcessOutcome(exit_code=None, signal=9, timed_out=True, seconds=5.02)
    r = assemble_result(prog(1), compile=None, run=run, verdict_text="")
    assert "timed out after 5.0s" in (r.cases[0].message or "")


def _published() -> Program:
    return Program(id="pub", lang="py", source="", n_cases=1, judge="exit_status")


def test_exit_status_judge_passes_only_on_clean_exit() -> None:
    ok = assemble_result(_published(), compile=None, run=OK, verdict_text="")
    assert ok.passed and len(ok.cases) == 1
    failed = ProcessOutcome(exit_code=1, stderr="AssertionError")
    bad = assemble_result(_published(), compile=None, run=failed, verdict_text="CASE 0 PASS\n")
    assert bad.verdict is Verdict.wrong_answer and "AssertionError" in (bad.cases[0].message or "")


def test_exit_status_judge_keeps_limit_verdicts() -> None:
    slow = ProcessOutcome(exit_code=None, signal=signal.SIGKILL, timed_out=True)
    assert assemble_result(_published(), compile=None, run=slow, verdict_text="").verdict is (
        Verdict.timeout
    )
    broken = ProcessOutcome(exit_code=1, stderr="error: expected ;")
    r = assemble_result(_published(), compile=broken, run=None, verdict_text="")
    assert r.verdict is Verdict.compile_error


def test_line_separators_inside_a_value_do_not_split_lines() -> None:
    text = 'CASE 0 FAIL "a\u2028b\u2029c\x85d"\nDONE\n'
    r = assemble_result(prog(1, ['"x"']), compile=None, run=OK, verdict_text=text)
    assert r.cases[0].actual == '"a\u2028b\u2029c\x85d"'
