"""Runtime specs: one ``runtimes/<lang>/runtime.toml`` per language, validated on load.

A spec says how to compile and run one source file of its language. Commands are
argument lists with ``{file}`` (the source file name), ``{stem}`` (its name without
extension) and ``{workdir}`` placeholders; they run with the work dir as cwd.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RUNTIMES_DIR = Path(__file__).resolve().parent

# The languages are the folders holding a runtime spec: a new language is new data files
# (docs/architecture.md, "adding a language"), never a Python table.
LANGUAGES: tuple[str, ...] = tuple(
    sorted(p.parent.name for p in RUNTIMES_DIR.glob("*/runtime.toml"))
)


class UnknownLanguageError(ValueError):
    """A language id that no runtime spec defines; names the known ones."""


def parse_languages(text: str | Sequence[str] | None) -> list[str]:
    """The one reading of a language list: "all" (or nothing) is every language, else a
    comma list (or a sequence) of ids, checked against the specs."""
    if text is None:
        return list(LANGUAGES)
    if isinstance(text, str):
        if text.strip() in ("", "all"):
            return list(LANGUAGES)
        langs = [x.strip() for x in text.split(",") if x.strip()]
    else:
        langs = [x.strip() for x in text if x.strip()]
        if langs == ["all"] or not langs:
            return list(LANGUAGES)
    unknown = [x for x in langs if x not in LANGUAGES]
    if unknown:
        raise UnknownLanguageError(f"unknown languages {unknown}; known: {' '.join(LANGUAGES)}")
    return list(dict.fromkeys(langs))


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compile_seconds: float = Field(gt=0)
    run_seconds: float = Field(gt=0)
    memory_mb: int = Field(gt=0)
    output_kb: int = Field(1024, gt=0)  # stdout + stderr of one process, each
    pids: int = Field(256, gt=0)  # processes + threads
    compile_memory_mb: int = Field(2048, gt=0)  # memory for the compile step
    file_mb: int = Field(64, gt=0)  # largest file a process may write


class LocalSpec(BaseModel):
    """How the local backend finds the toolchain on the host."""

    model_config = ConfigDict(extra="forbid")
    requires: list[str] = Field(min_length=1)  # executables that must be on PATH
    # Debian 12 packages that provide them (and what the published variant needs):
    # scripts/setup.sh installs the union of every spec's list
    debian: list[str] = []
    # extra host paths to bind read-only into the sandbox besides the defaults
    binds: list[str] = []
    # directories prepended to PATH (host and sandbox), e.g. /root/.cargo/bin
    path: list[str] = []
    # extra environment for the local backend only (after RuntimeSpec.env)
    env: dict[str, str] = {}
    # kept caches: env var -> cache name; the cache dir is bound read-write into the
    # sandbox and the variable set to its path there (e.g. GOCACHE = "go-build")
    caches: dict[str, str] = {}
    # set when the language has no host route at all (e.g. Julia, Swift): the reason
    unavailable: str | None = None


class DockerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dockerfile: str = "Dockerfile"
    base: str = "debian:bookworm-slim"  # the FROM image; air-gapped hosts bootstrap it
    verified_offline: bool = True  # False: could not be built and proven on this host
    unverified_reason: str | None = None
    large_image: bool = False  # built first when images build in parallel (ends sooner)


class VariantSpec(BaseModel):
    """Another way to run the language's programs, e.g. "published": the conventions of
    CRUXEval-X's own harnesses (``go test`` on a ``*_test.go`` file, D ``unittest``
    blocks, C# ``Debug.Assert`` with DEBUG defined, a ``Problem`` class)."""

    model_config = ConfigDict(extra="forbid")
    source_file: str | None = None
    compile: list[str] | None = None
    run: list[str] | None = None
    env: dict[str, str] = {}
    run_seconds: float | None = None
    stderr_fails: bool = False  # anything on stderr fails the program (rackunit exits 0)


class RuntimeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: str
    name: str  # human name, e.g. "C++"
    source_file: str  # e.g. "main.cpp", "Main.java", "main_test.go"
    compile: list[str] | None = None  # None for interpreted languages
    run: list[str] = Field(min_length=1)
    version: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    limits: Limits
    local: LocalSpec
    docker: DockerSpec = DockerSpec()
    variants: dict[str, VariantSpec] = {}
    stderr_fails: bool = False  # set by a variant; the main commands never need it

    def for_variant(self, name: str | None) -> RuntimeSpec:
        """This spec with a variant's overrides; the spec itself when it has none."""
        v = self.variants.get(name) if name else None
        if v is None:
            return self
        limits = self.limits
        if v.run_seconds is not None:
            limits = limits.model_copy(update={"run_seconds": v.run_seconds})
        return self.model_copy(
            update={
                "source_file": v.source_file or self.source_file,
                "compile": v.compile if v.compile is not None else self.compile,
                "run": v.run or self.run,
                "env": {**self.env, **v.env},
                "limits": limits,
                "stderr_fails": v.stderr_fails,
            }
        )

    @property
    def directory(self) -> Path:
        return RUNTIMES_DIR / self.lang

    def spec_hash(self) -> str:
        """Hash of the spec and its Dockerfile: the docker image tag."""
        h = hashlib.sha256(self.model_dump_json().encode())
        dockerfile = self.directory / self.docker.dockerfile
        if dockerfile.exists():
            h.update(dockerfile.read_bytes())
        return h.hexdigest()[:16]


class RuntimeSpecError(ValueError):
    """A runtime spec is missing or invalid; raised at start-up, not mid-run."""


def load_spec(lang: str, directory: Path = RUNTIMES_DIR) -> RuntimeSpec:
    path = directory / lang / "runtime.toml"
    if not path.is_file():
        raise RuntimeSpecError(f"runtime spec for language {lang!r} missing: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise RuntimeSpecError(f"{path}: not valid TOML: {e}") from None
    try:
        spec = RuntimeSpec.model_validate(data)
    except ValidationError as e:
        raise RuntimeSpecError(f"{path}: invalid runtime spec:\n{e}") from None
    if spec.lang != lang:
        raise RuntimeSpecError(f"{path}: lang is {spec.lang!r}, expected {lang!r}")
    if not (directory / lang / spec.docker.dockerfile).is_file():
        raise RuntimeSpecError(f"{path}: Dockerfile {spec.docker.dockerfile!r} missing")
    return spec


@cache
def load_all() -> dict[str, RuntimeSpec]:
    """Load and validate every language's spec; any fault raises RuntimeSpecError."""
    return {lang: load_spec(lang) for lang in LANGUAGES}


def get_spec(lang: str) -> RuntimeSpec:
    specs = load_all()
    if lang not in specs:
        raise RuntimeSpecError(f"unknown language {lang!r}; known: {' '.join(LANGUAGES)}")
    return specs[lang]
