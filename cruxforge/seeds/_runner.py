"""The seed-runner child process: executes a batch of seeds and streams one JSON line each.

Why a separate, stdlib-only script: the parent (``validate.py``) starts it as
``python -s -S -P -B _runner.py JOB`` with a minimal environment, so it cannot import
cruxforge (nor anything outside the standard library). Its wire encoder therefore
duplicates :func:`cruxforge.values.to_wire`; ``tests/test_seed_validation.py`` checks the
two agree. The parent also imports :func:`strict_key` from here so that "same value"
means exactly one thing in both processes.

Protocol: ``JOB`` is a JSON file ``{"timeout": s, "memory_mb": m, "seeds": [...]}``; each
seed is ``{"id", "code", "entry", "input", "output"}``. For every seed, in order, one line
``{"id", "ok", "code", "field", "message", "params", "args", "result", "expected",
"printed"}`` is written to the original stdout and flushed, so a parent that has to kill
the child (timeout, memory) knows exactly which seed was running.
"""

from __future__ import annotations

import builtins
import inspect
import io
import json
import os
import resource
import signal
import sys
from typing import Any


class UnsupportedValue(ValueError):
    """A value outside the type language."""


class SeedTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that ``except Exception`` in seeds can't eat it."""


def to_wire(v: Any) -> Any:
    """Lossless JSON of a type-language value; same output as cruxforge.values.to_wire."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, list):
        return {"l": [to_wire(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": [to_wire(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"s": [to_wire(x) for x in v]}
    if isinstance(v, dict):
        return {"d": [[to_wire(k), to_wire(x)] for k, x in v.items()]}
    raise UnsupportedValue(
        f"value of Python type {type(v).__name__!r} is outside the type language"
    )


def _norm(w: Any) -> Any:
    """Order-free form of a wire value: set elements and dict items sorted by their JSON."""
    if isinstance(w, dict):
        ((tag, body),) = w.items()
        if tag == "s":
            return {"s": sorted((_norm(x) for x in body), key=_dump)}
        if tag == "d":
            return {"d": sorted(([_norm(k), _norm(x)] for k, x in body), key=_dump)}
        if tag in ("l", "t"):
            return {tag: [_norm(x) for x in body]}
    return w


def _dump(x: Any) -> str:
    return json.dumps(x, sort_keys=True, ensure_ascii=True)


def strict_key(wire: Any) -> str:
    """Text that is equal for two wire values iff they are the same value.

    Types are strict (True vs 1, 1 vs 1.0, tuple vs list all differ) because the wire
    form tags them and JSON text is compared, not decoded objects; sets and dicts compare
    by value, ignoring iteration order.
    """
    return _dump(_norm(wire))


def _short(v: Any, limit: int = 120) -> str:
    try:
        text = repr(v)
    except Exception:  # noqa: BLE001 - a seed's __repr__ may fail; we only describe it
        text = f"<{type(v).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(e: BaseException) -> str:
    msg = str(e)
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _pack(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def run_seed(seed: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one seed with a wall-time alarm; never raises (except for SeedTimeout escapes)."""
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return _run_seed(seed)
    except SeedTimeout:
        return _err("timeout", "call", f"did not finish within {timeout:g} s")
    except MemoryError:
        return _err("memory_limit", "call", "ran out of memory (address-space limit)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _err(code: str, field: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "code": code, "field": field, "message": message, **extra}


def _run_seed(seed: dict[str, Any]) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__seed__", "__builtins__": dict(builtins.__dict__)}
    try:
        exec(compile(seed["code"], "<seed>", "exec"), ns)  # noqa: S102 - the point of this child
    except SyntaxError as e:
        return _err("syntax_error", "code", f"line {e.lineno}: {e.msg}")
    except (SeedTimeout, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001 - SystemExit etc. from seed code is a seed fault
        return _err("raises", "code", f"module code raised {_describe(e)}")
    fn = ns.get(seed["entry"])
    if not callable(fn):
        return _err("no_entry_function", "code", f"no function named {seed['entry']!r}")
    try:
        args, kwargs = eval(f"__cf_pack__({seed['input']})", ns, {"__cf_pack__": _pack})  # noqa: S307
    except (SeedTimeout, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001
        return _err("bad_input", "input", f"cannot evaluate the input: {_describe(e)}")
    try:
        sig = inspect.signature(fn)
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
    except (TypeError, ValueError) as e:
        return _err("bad_input", "input", f"arguments do not fit the parameters: {e}")
    params = list(sig.parameters)
    call_args = [bound.arguments[p] for p in params]
    call_pos, call_kw = bound.args, bound.kwargs
    try:
        expected = eval(seed["output"], ns)  # noqa: S307
    except (SeedTimeout, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001
        return _err("bad_output", "output", f"cannot evaluate the output: {_describe(e)}")
    try:
        wire_args = [to_wire(a) for a in call_args]
    except UnsupportedValue as e:
        bad = next(p for p, a in zip(params, call_args, strict=False) if not _encodable(a))
        return _err("unsupported_value", "input", f"argument {bad!r}: {e}")
    try:
        wire_expected = to_wire(expected)
    except UnsupportedValue as e:
        return _err("unsupported_value", "output", f"expected output: {e}")
    captured = io.StringIO()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = captured
    try:
        result = fn(*call_pos, **call_kw)
    except (SeedTimeout, MemoryError):
        raise
    except BaseException as e:  # noqa: BLE001
        printed = captured.getvalue()
        return _err("raises", "call", f"the call raised {_describe(e)}", printed=printed)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    printed = captured.getvalue()
    try:
        wire_result = to_wire(result)
    except UnsupportedValue as e:
        return _err("unsupported_value", "result", f"result {_short(result)}: {e}")
    base = {
        "params": params,
        "args": wire_args,
        "result": wire_result,
        "expected": wire_expected,
        "printed": printed,
    }
    if strict_key(wire_result) != strict_key(wire_expected):
        return _err(
            "output_mismatch",
            "output",
            f"returned {_short(result)}, expected {_short(expected)}",
            **base,
        )
    if printed:
        return _err("prints", "call", f"wrote to stdout/stderr: {_short(printed, 80)}", **base)
    return {"ok": True, "code": None, "field": None, "message": None, **base}


def _encodable(v: Any) -> bool:
    try:
        to_wire(v)
    except UnsupportedValue:
        return False
    return True


def _on_alarm(signum: int, frame: Any) -> None:
    raise SeedTimeout()


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    # Keep a private handle on the real stdout; point fd 1 and 2 at /dev/null so nothing a
    # seed does at the C level can corrupt the protocol stream.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    limit = int(job["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(1000)
    for seed in job["seeds"]:
        out.write(json.dumps({"id": seed["id"], "start": True}) + "\n")
        out.flush()
        rec = run_seed(seed, float(job["timeout"]))
        rec["id"] = seed["id"]
        try:
            line = json.dumps(rec, ensure_ascii=True)
        except (TypeError, ValueError) as e:  # e.g. a str with lone surrogates is fine; others
            line = json.dumps(_err("unsupported_value", "result", str(e)) | {"id": seed["id"]})
        out.write(line + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
