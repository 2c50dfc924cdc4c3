"""Seed validation: static checks, then two isolated runs of every seed.

Why this shape:

* Seeds are arbitrary code, so they run in a child interpreter (``_runner.py``) started
  with ``-s -S -P -B`` (no site, no user site, no script dir on the path, no bytecode
  writes), a minimal environment we build ourselves (so ``-E``/``-I`` are not needed -
  and they would make Python ignore the ``PYTHONHASHSEED`` we set), cwd in a fresh temp
  dir, stdin on /dev/null, its own process group, ``RLIMIT_AS`` set by the child before
  any seed code runs and a per-seed ``SIGALRM``.
* Seeds are batched per child for speed (interpreter start-up dominates otherwise). The
  child announces each seed before running it; when it goes silent past the seed's
  deadline or dies, the parent kills the whole process group, blames exactly the
  announced seed and restarts a child for the rest of the batch, so one bad seed never
  costs another its result.
* Every batch runs twice, under two PYTHONHASHSEEDs; a seed whose outcome differs
  (results compared by value: sets and dicts unordered) is ``nondeterministic``.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cruxforge.models import Reason, Seed
from cruxforge.seeds._runner import strict_key
from cruxforge.seeds.reasons import make_reason
from cruxforge.seeds.static import static_check

RUNNER = Path(__file__).with_name("_runner.py")
HASH_SEEDS = (0, 97)
STARTUP_GRACE_S = 10.0
KILL_GRACE_S = 1.5


@dataclass(frozen=True)
class RunOptions:
    timeout: float = 5.0  # wall seconds per seed call
    memory_mb: int = 512  # RLIMIT_AS of the child
    jobs: int = 2  # children running at once
    # seeds per child at most: spawning an interpreter costs ~0.1 s of wall time here, so
    # batches are large; a seed that hangs or crashes costs one restart, not its batch
    batch_size: int = 100


@dataclass
class RunOutcome:
    """What validation concluded for one seed: values on success, a Reason otherwise."""

    seed: Seed
    reason: Reason | None = None
    params: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)  # wire-encoded, as passed before the call
    result: Any = None  # wire-encoded

    @property
    def ok(self) -> bool:
        return self.reason is None


def validate_seeds(
    seeds: Sequence[Seed],
    options: RunOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[RunOutcome]:
    """Validate ``seeds`` (in order); ``progress(n)`` is called as n more seeds finish."""
    opts = options or RunOptions()
    outcomes: dict[str, RunOutcome] = {}
    runnable: list[Seed] = []
    for s in seeds:
        reason = static_check(s)
        if reason is not None:
            outcomes[s.id] = RunOutcome(s, reason)
        else:
            runnable.append(s)
    if progress and outcomes:
        progress(len(outcomes))
    size = max(1, min(opts.batch_size, -(-len(runnable) // max(1, opts.jobs))))
    batches = [runnable[i : i + size] for i in range(0, len(runnable), size)]
    runs: dict[int, dict[str, dict[str, Any]]] = {h: {} for h in HASH_SEEDS}

    def work(batch: list[Seed], hash_seed: int) -> tuple[int, list[Seed], dict[str, Any]]:
        return hash_seed, batch, run_batch(batch, hash_seed, opts)

    done_count: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        futures = [pool.submit(work, b, h) for b in batches for h in HASH_SEEDS]
        for fut in futures:
            h, batch, recs = fut.result()
            runs[h].update(recs)
            finished = 0
            for s in batch:
                done_count[s.id] = done_count.get(s.id, 0) + 1
                if done_count[s.id] == len(HASH_SEEDS):
                    finished += 1
            if progress and finished:
                progress(finished)
    first, second = HASH_SEEDS
    for s in runnable:
        outcomes[s.id] = _combine(s, runs[first][s.id], runs[second][s.id], second)
    return [outcomes[s.id] for s in seeds]


def _combine(seed: Seed, a: dict[str, Any], b: dict[str, Any], second_hash: int) -> RunOutcome:
    """Merge the two runs of one seed into its outcome (see module docstring)."""
    key_a = strict_key(a["result"]) if "result" in a else None
    key_b = strict_key(b["result"]) if "result" in b else None
    differs = (
        a["ok"] != b["ok"]
        or key_a != key_b
        or a.get("args") != b.get("args")
        or (not a["ok"] and a["code"] != b["code"])
    )
    if differs:
        if key_a is not None and key_b is not None and key_a != key_b:
            what = "returned a different value"
        elif not b["ok"]:
            what = f"failed: {b['code']}: {b['message']}"
        else:
            what = "succeeded where the first run failed"
        reason = make_reason(
            "nondeterministic", seed.id, "call", f"under PYTHONHASHSEED={second_hash} it {what}"
        )
        return RunOutcome(seed, reason)
    if a["ok"]:
        return RunOutcome(seed, None, a["params"], a["args"], a["result"])
    return RunOutcome(seed, make_reason(a["code"], seed.id, a["field"], a["message"]))


def _child_env(tmp: str, hash_seed: int) -> dict[str, str]:
    return {
        "PATH": os.defpath,
        "HOME": tmp,
        "LC_ALL": "C.UTF-8",
        "PYTHONUTF8": "1",
        "PYTHONHASHSEED": str(hash_seed),
    }


def run_batch(seeds: Sequence[Seed], hash_seed: int, opts: RunOptions) -> dict[str, dict[str, Any]]:
    """Run ``seeds`` in as few children as possible; a record for every seed id."""
    results: dict[str, dict[str, Any]] = {}
    pending = list(seeds)
    while pending:
        got = _run_child(pending, hash_seed, opts)
        results.update(got)
        rest = [s for s in pending if s.id not in results]
        if len(rest) == len(pending):  # child made no progress at all: don't loop forever
            for s in rest:
                results[s.id] = _fail("crashed", "call", "the runner could not start")
            break
        pending = rest
    return results


def _fail(code: str, field: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "field": field, "message": message}


def _run_child(
    seeds: Sequence[Seed], hash_seed: int, opts: RunOptions
) -> dict[str, dict[str, Any]]:
    """One child over ``seeds``; stops at the first seed that hangs or kills it."""
    out: dict[str, dict[str, Any]] = {}
    job = {
        "timeout": opts.timeout,
        "memory_mb": opts.memory_mb,
        "seeds": [
            {"id": s.id, "code": s.code, "entry": s.entry, "input": s.input, "output": s.output}
            for s in seeds
        ],
    }
    with tempfile.TemporaryDirectory(prefix="cruxforge-seed-") as tmp:
        job_path = Path(tmp, "job.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        with open(Path(tmp, "stderr.txt"), "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-s", "-S", "-P", "-B", str(RUNNER), str(job_path)],
                cwd=tmp,
                env=_child_env(tmp, hash_seed),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        assert proc.stdout is not None
        current: str | None = None
        deadline = time.monotonic() + STARTUP_GRACE_S
        buf = b""
        timed_out = False
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            eof = False
            while not eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                if not sel.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    eof = True
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    rec = json.loads(line)
                    if rec.get("start"):
                        current = rec["id"]
                        deadline = time.monotonic() + opts.timeout + KILL_GRACE_S
                    else:
                        out[rec["id"]] = rec
                        current = None
                        deadline = time.monotonic() + STARTUP_GRACE_S
        _kill_group(proc)
        rc = proc.wait()
        proc.stdout.close()
        if current is not None:
            if timed_out:
                out[current] = _fail(
                    "timeout", "call", f"did not finish within {opts.timeout:g} s (killed)"
                )
            else:
                tail = Path(tmp, "stderr.txt").read_bytes()[-300:].decode("utf-8", "replace")
                if "MemoryError" in tail or rc == -signal.SIGKILL:
                    out[current] = _fail(
                        "memory_limit", "call", f"exceeded {opts.memory_mb} MiB of address space"
                    )
                else:
                    out[current] = _fail(
                        "crashed", "call", f"runner died with exit status {rc}: {tail.strip()}"
                    )
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
