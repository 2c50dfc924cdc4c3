"""The sandbox seam: what a backend is given (programs) and what it returns (verdicts).

Every backend (``local``, ``docker``, and later the batched engine) implements
:class:`Backend` in its own module and registers itself by name with
:func:`register_backend`; callers only ever see :func:`get_backend`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field


class Verdict(enum.StrEnum):
    passed = "passed"
    wrong_answer = "wrong_answer"
    runtime_error = "runtime_error"
    compile_error = "compile_error"
    timeout = "timeout"
    memory_exceeded = "memory_exceeded"
    output_exceeded = "output_exceeded"
    infra_error = "infra_error"  # the sandbox failed; never counted against a program


class ProgramParts(BaseModel):
    """What a harness program was rendered from, so the batched engine can put many
    programs of one language into one source (transition_rules/batch.py)."""

    function: str  # the translated function, as it stands in the program
    body: str  # the rendered cases; each call names the function as ENTRY_TOKEN
    entry: str  # the function's name
    # the "function" is a whole published program (judged by its exit status); the body
    # runs its entry point, or is empty where its top-level code is the program
    whole: bool = False


ENTRY_TOKEN = "CRUXENTRYNAME"  # stands for the entry name in ProgramParts.body


class BatchRun(BaseModel):
    """Marks a program that holds ``items`` programs and runs under the batch supervisor
    (runtimes/batch_supervisor.sh): each item may run ``item_seconds`` before it is
    stopped as timed out, and the process restarts after the item that ended it."""

    items: int = Field(ge=1)
    item_seconds: float = Field(gt=0)
    suspect_seconds: float = Field(gt=0)  # an item still running after this goes to the background
    rerun_in_process: bool = False  # items that end the process run again alone in it


class Program(BaseModel):
    """One whole source file to compile and run; its harness reports ``n_cases`` cases."""

    id: str
    lang: str
    source: str
    n_cases: int = Field(1, ge=0)
    # canonical text (cruxforge.values.canonical) of each case's expected value, if known;
    # used only to fill `expected` in wrong_answer verdicts
    expected: list[str] | None = None
    # "protocol": cases are read from the verdict file (our harnesses);
    # "exit_status": one case, passed iff the program compiles and exits 0 - for code run
    # as another benchmark published it, whose harness asserts
    judge: Literal["protocol", "exit_status"] = "protocol"
    # a named variant of the language's runtime spec (runtime.toml [variants.NAME]), e.g.
    # "published" for CRUXEval-X's conventions; None, or a language without that variant,
    # runs with the spec's main commands
    variant: str | None = None
    parts: ProgramParts | None = None  # set by transition_rules.engine.harness_program
    batch: BatchRun | None = None  # set by the batched engine on the programs it composes
    # a compile limit that replaces the runtime spec's (a batch's source is larger)
    compile_seconds: float | None = Field(default=None, gt=0)


class CaseVerdict(BaseModel):
    case: int
    verdict: Verdict
    expected: str | None = None
    actual: str | None = None
    message: str | None = None


class RunResult(BaseModel):
    id: str
    lang: str
    cases: list[CaseVerdict]
    compile_output: str = ""
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    seconds: float = 0.0
    # the verdict file as written, for a batch program only (Program.batch)
    verdict_text: str = ""
    compile_seconds: float = 0.0
    # CPU time of the run step, where the sandbox can tell it (a cgroup's counter): how a
    # busy machine is told from a slow program
    run_cpu_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return all(c.verdict is Verdict.passed for c in self.cases)

    @property
    def verdict(self) -> Verdict:
        """The program's overall verdict: passed, or its first non-passing case's."""
        for c in self.cases:
            if c.verdict is not Verdict.passed:
                return c.verdict
        return Verdict.passed


class ToolchainStatus(BaseModel):
    lang: str
    backend: str
    available: bool
    version: str | None = None
    reason: str | None = None  # why not available
    verified: bool = True  # False for runtimes that could not be proven here (Julia)


class Backend(ABC):
    """Runs batches of programs in a sandbox and returns one RunResult per program."""

    name: ClassVar[str]

    @abstractmethod
    def execute(self, programs: Sequence[Program]) -> list[RunResult]:
        """Run every program; results are in the same order as ``programs``."""

    @abstractmethod
    def doctor(self, lang: str) -> ToolchainStatus:
        """Whether ``lang`` can run on this backend here, and why not."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release long-lived resources (containers, caches)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BACKEND_HELP = (
    "sandbox backend: local, docker, auto (the host's toolchain, else docker) "
    "or batched (many programs per process, over auto)"
)


class UnknownBackendError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


_BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    _BACKENDS[cls.name] = cls
    return cls


def backend_names() -> list[str]:
    _load_builtin()
    return sorted(_BACKENDS)


def get_backend(name: str, **options: Any) -> Backend:
    """Instantiate the backend registered as ``name``; unknown names raise clearly."""
    _load_builtin()
    try:
        cls = _BACKENDS[name]
    except KeyError:
        raise UnknownBackendError(
            f"unknown sandbox backend {name!r}; known backends: {', '.join(sorted(_BACKENDS))}"
        ) from None
    return cls(**options)


def _load_builtin() -> None:
    import importlib

    for mod in ("runtimes.local", "runtimes.docker_backend", "runtimes.auto", "runtimes.batched"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a backend module not written yet
            if e.name != mod:
                raise
