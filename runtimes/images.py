"""Docker images for the ``docker`` backend: the Debian base images and one image per language.

Every language image is ``FROM cruxforge/base:<suite>`` (``bookworm``; Swift uses
``trixie``). On a host that can pull from a registry that tag can simply be
``debian:<suite>-slim`` re-tagged (``docker tag debian:bookworm-slim
cruxforge/base:bookworm``); on air-gapped hosts :func:`bootstrap_base` makes it from
Debian's mirror with ``debootstrap --variant=minbase`` + ``docker import``
(``cruxforge runtimes bootstrap-base``). Builds themselves only need Debian's mirror
(and, for TypeScript, the npm registry).

A language image is tagged :func:`image_tag` = ``cruxforge/rt-<lang>:<spec_hash>``; the
hash covers the runtime spec and its Dockerfile, so an unchanged spec is never rebuilt and
a changed one always is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runtimes.spec import LANGUAGES, RuntimeSpec, get_spec

BASE_REPO = "cruxforge/base"
IMAGE_REPO = "cruxforge/rt-"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
BASE_SUITES: tuple[str, ...] = ("bookworm", "trixie")
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# label on every image we build: lets `docker image ls --filter label=...` find them
LABEL = "org.cruxforge.runtime"


class DockerUnavailableError(RuntimeError):
    """dockerd cannot be reached (not installed, not running, no permission)."""


class ImageBuildError(RuntimeError):
    """An image could not be built; the message says why and what to do."""


class BaseImageResult(BaseModel):
    suite: str
    tag: str
    status: str  # "built" | "present"
    seconds: float = 0.0


class ImageBuildResult(BaseModel):
    lang: str
    tag: str
    status: str  # "built" | "present" | "skipped" | "failed"
    seconds: float = 0.0
    reason: str | None = None
    size_mb: float | None = None


# --------------------------------------------------------------------------- engine


def docker_client(timeout: int = 600) -> Any:
    """A docker SDK client that answers, or DockerUnavailableError saying what to do."""
    try:
        import docker
    except ImportError as e:  # pragma: no cover - docker is a project dependency
        raise DockerUnavailableError(f"the docker Python package is missing: {e}") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as e:
        raise DockerUnavailableError(
            f"Docker engine not reachable ({_short(e)}); start it with "
            "`bash scripts/docker-engine.sh` (installs docker.io and starts dockerd)"
        ) from None
    return client


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:300] if text else type(e).__name__


def image_exists(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


# --------------------------------------------------------------------------- base images


def base_tag(suite: str) -> str:
    return f"{BASE_REPO}:{suite}"


def _sources_list(suite: str, mirror: str, security_mirror: str) -> str:
    lines = [
        f"deb {mirror} {suite} main",
        f"deb {mirror} {suite}-updates main",
        f"deb {security_mirror} {suite}-security main",
    ]
    return "\n".join(lines) + "\n"


def bootstrap_base(
    suites: Sequence[str] = BASE_SUITES,
    force: bool = False,
    mirror: str = DEFAULT_MIRROR,
    security_mirror: str = DEFAULT_SECURITY_MIRROR,
    log: Callable[[str], None] | None = None,
) -> list[BaseImageResult]:
    """Make ``cruxforge/base:SUITE`` for each suite from Debian's mirror, without a registry.

    ``debootstrap --variant=minbase SUITE ROOT MIRROR``, trimmed like Debian's ``-slim``
    images, then ``docker import``. A suite whose tag exists is skipped unless ``force``.
    Needs root and the ``debootstrap`` command (Debian package ``debootstrap``).
    """
    say = log or (lambda _m: None)
    client = docker_client()
    results: list[BaseImageResult] = []
    for suite in suites:
        tag = base_tag(suite)
        if not force and image_exists(client, tag):
            say(f"{tag}: present")
            results.append(BaseImageResult(suite=suite, tag=tag, status="present"))
            continue
        if shutil.which("debootstrap") is None:
            raise ImageBuildError(
                "debootstrap not found: `apt-get install debootstrap` (or run "
                "scripts/docker-engine.sh), or on a host with a registry: "
                f"`docker pull debian:{suite}-slim && docker tag debian:{suite}-slim {tag}`"
            )
        if os.geteuid() != 0:
            raise ImageBuildError("bootstrapping a base image needs root (debootstrap)")
        t0 = time.monotonic()
        say(f"{tag}: debootstrap --variant=minbase {suite} from {mirror}")
        with tempfile.TemporaryDirectory(prefix=f"cruxforge-base-{suite}-") as tmp:
            root = Path(tmp) / "root"
            proc = subprocess.run(
                ["debootstrap", "--variant=minbase", suite, str(root), mirror],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise ImageBuildError(f"debootstrap {suite} failed:\n{tail}")
            _slim_root(root, suite, mirror, security_mirror)
            say(f"{tag}: docker import")
            tar = subprocess.Popen(
                ["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                stdout=subprocess.PIPE,
            )
            imp = subprocess.run(
                [
                    "docker",
                    "import",
                    "--change",
                    'CMD ["bash"]',
                    "--change",
                    "ENV LANG=C.UTF-8",
                    "--change",
                    f"ENV PATH={_PATH}",
                    "--change",
                    f"LABEL {LABEL}.base={suite}",
                    "-",
                    tag,
                ],  # fmt: skip
                stdin=tar.stdout,
                capture_output=True,
                text=True,
            )
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
            if imp.returncode != 0 or tar.returncode != 0:
                raise ImageBuildError(f"docker import of {suite} failed: {imp.stderr.strip()}")
        seconds = time.monotonic() - t0
        say(f"{tag}: built in {seconds:.0f}s")
        results.append(BaseImageResult(suite=suite, tag=tag, status="built", seconds=seconds))
    return results


def _slim_root(root: Path, suite: str, mirror: str, security_mirror: str) -> None:
    """Trim a debootstrapped root the way Debian's -slim images are, and set apt up."""
    (root / "etc/apt/sources.list").write_text(_sources_list(suite, mirror, security_mirror))
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "var/log", "tmp"):
        d = root / sub
        if d.is_dir():
            for child in d.iterdir():
                if child.is_dir() and not child.is_symlink():
                    if child.name != "partial":
                        shutil.rmtree(child)
                else:
                    child.unlink()
    # docs/man pages are never needed in a sandbox image (as in debian:*-slim)
    dpkg_cfg = root / "etc/dpkg/dpkg.cfg.d"
    dpkg_cfg.mkdir(parents=True, exist_ok=True)
    (dpkg_cfg / "docker-slim").write_text(
        "path-exclude /usr/share/doc/*\n"
        "path-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\n"
        "path-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/locale/*\n"
        "path-include /usr/share/locale/locale.alias\n"
    )
    apt_cfg = root / "etc/apt/apt.conf.d"
    apt_cfg.mkdir(parents=True, exist_ok=True)
    (apt_cfg / "docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    )
    (apt_cfg / "docker-no-languages").write_text('Acquire::Languages "none";\n')
    (apt_cfg / "docker-gzip-indexes").write_text('Acquire::GzipIndexes "true";\n')
    for sub in ("usr/share/doc", "usr/share/man", "usr/share/info"):
        d = root / sub
        if d.is_dir():
            for child in d.iterdir():
                if child.is_dir() and not child.is_symlink():
                    # keep copyright files
                    for f in child.iterdir():
                        if f.name != "copyright":
                            if f.is_dir() and not f.is_symlink():
                                shutil.rmtree(f)
                            else:
                                f.unlink()
                else:
                    child.unlink()
    (root / "etc/hostname").write_text("sandbox\n")


# --------------------------------------------------------------------------- language images


def image_tag(spec: RuntimeSpec) -> str:
    """``cruxforge/rt-<lang>:<spec_hash>``: same spec (and Dockerfile) -> same tag."""
    return f"{IMAGE_REPO}{spec.lang}:{spec.spec_hash()}"


def dockerfile_bases(spec: RuntimeSpec) -> list[str]:
    """The images a spec's Dockerfile builds FROM (stage names excluded)."""
    text = (spec.directory / spec.docker.dockerfile).read_text(encoding="utf-8")
    stages: set[str] = set()
    bases: list[str] = []
    for m in re.finditer(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", text, re.I | re.M):
        image, stage = m.group(1), m.group(2)
        if image not in stages and image not in bases:
            bases.append(image)
        if stage:
            stages.add(stage)
    return bases


def build_images(
    langs: Iterable[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    specs: dict[str, RuntimeSpec] | None = None,
    jobs: int = 2,
) -> list[ImageBuildResult]:
    """Build the image of each language (all when ``langs`` is None) through the docker SDK.

    A language whose tag exists is skipped ("present") unless ``force``; a spec marked
    ``verified_offline = false`` (Julia) is "skipped" with its reason unless it is named
    explicitly in ``langs`` with ``force``. A build failure is reported ("failed" + the
    build log's tail) and the other languages still build. A missing
    ``cruxforge/base:*`` raises :class:`ImageBuildError` before anything is built.
    ``jobs`` images build at once (downloads and unpacking overlap; 2 suits 2 cores).
    """
    say = log or (lambda _m: None)
    explicit = langs is not None
    wanted = list(langs) if langs is not None else list(LANGUAGES)
    unknown = [lang for lang in wanted if lang not in LANGUAGES]
    if unknown:
        raise ImageBuildError(f"unknown language(s) {unknown}; known: {' '.join(LANGUAGES)}")
    spec_of = specs or {}
    chosen = {lang: spec_of.get(lang) or get_spec(lang) for lang in wanted}
    client = docker_client()

    # every cruxforge/base:* that some chosen (and not skipped) Dockerfile needs must exist
    missing: set[str] = set()
    for spec in chosen.values():
        if not spec.docker.verified_offline and not (explicit and force):
            continue
        for base in dockerfile_bases(spec):
            if base.startswith(BASE_REPO + ":") and not image_exists(client, base):
                missing.add(base)
    if missing:
        raise ImageBuildError(
            f"base image(s) {', '.join(sorted(missing))} missing: run "
            "`cruxforge runtimes bootstrap-base` (debootstrap from Debian's mirror; no "
            "registry needed), or on a host with a registry "
            "`docker tag debian:bookworm-slim cruxforge/base:bookworm` (and trixie)"
        )

    def one(lang: str, spec: RuntimeSpec) -> ImageBuildResult:
        tag = image_tag(spec)
        if not spec.docker.verified_offline and not (explicit and force):
            reason = spec.docker.unverified_reason or "not verified offline"
            say(
                f"{lang}: skipped (unverified offline: {reason}; build with --lang {lang} "
                "--force where a registry is reachable)"
            )
            return ImageBuildResult(lang=lang, tag=tag, status="skipped", reason=reason)
        if not force and image_exists(client, tag):
            say(f"{lang}: {tag} present")
            return ImageBuildResult(lang=lang, tag=tag, status="present")
        say(f"{lang}: building {tag}")
        t0 = time.monotonic()
        try:
            _build_one(client, spec, tag, say)
        except ImageBuildError as e:
            seconds = time.monotonic() - t0
            say(f"{lang}: FAILED after {seconds:.0f}s: {e}")
            return ImageBuildResult(
                lang=lang, tag=tag, status="failed", seconds=round(seconds, 1), reason=str(e)
            )
        seconds = time.monotonic() - t0
        size = client.images.get(tag).attrs.get("Size", 0) / 1e6
        say(f"{lang}: built {tag} in {seconds:.0f}s ({size:.0f} MB)")
        return ImageBuildResult(
            lang=lang, tag=tag, status="built", seconds=round(seconds, 1), size_mb=round(size, 1)
        )

    # the largest image first, so a parallel build ends sooner
    order = sorted(chosen, key=lambda lang: not chosen[lang].docker.large_image)
    if jobs <= 1 or len(order) <= 1:
        done = {lang: one(lang, chosen[lang]) for lang in order}
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {lang: pool.submit(one, lang, chosen[lang]) for lang in order}
            done = {lang: f.result() for lang, f in futures.items()}
    return [done[lang] for lang in chosen]


_FETCH_RE = re.compile(r"^#\s*cruxforge-fetch:\s*(\S+)\s+(\S+)\s+(sha512-\S+)\s*$", re.M)
NPM_REGISTRY = "https://registry.npmjs.org"


def fetch_list(spec: RuntimeSpec) -> list[tuple[str, str, str]]:
    """The Dockerfile's ``# cruxforge-fetch: DEST URL sha512-...`` lines."""
    text = (spec.directory / spec.docker.dockerfile).read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), m.group(3)) for m in _FETCH_RE.finditer(text)]


def _fetch(url: str, integrity: str, say: Callable[[str], None]) -> bytes:
    """Download ``url`` on the host (its CA store, proxy settings), cached, checked."""
    import base64
    import hashlib
    import urllib.request

    registry = os.environ.get("CRUXFORGE_NPM_REGISTRY", "").rstrip("/")
    if registry and url.startswith(NPM_REGISTRY + "/"):
        url = registry + url[len(NPM_REGISTRY) :]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cruxforge"
    cached = cache / "fetch" / hashlib.sha256(integrity.encode()).hexdigest()

    def digest(body: bytes) -> str:
        return "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()

    if cached.is_file():
        body = cached.read_bytes()
        if digest(body) == integrity:
            return body
    say(f"  fetching {url}")
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            body = r.read()
    except OSError as e:
        raise ImageBuildError(f"cannot fetch {url} on the build host: {e}") from None
    if digest(body) != integrity:
        raise ImageBuildError(f"{url}: integrity mismatch (got {digest(body)}, want {integrity})")
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(body)
    return body


@contextlib.contextmanager
def _build_context(spec: RuntimeSpec, say: Callable[[str], None]) -> Iterator[Path]:
    """The runtime dir itself, or a temporary copy of it plus the fetched files."""
    fetches = fetch_list(spec)
    if not fetches:
        yield spec.directory
        return
    with tempfile.TemporaryDirectory(prefix=f"cruxforge-ctx-{spec.lang}-") as tmp:
        ctx = Path(tmp) / "ctx"
        shutil.copytree(spec.directory, ctx)
        for dest, url, integrity in fetches:
            target = (ctx / dest).resolve()
            if ctx.resolve() not in target.parents:
                raise ImageBuildError(f"cruxforge-fetch destination outside the context: {dest}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_fetch(url, integrity, say))
        yield ctx


def _build_one(client: Any, spec: RuntimeSpec, tag: str, say: Callable[[str], None]) -> None:
    with _build_context(spec, say) as ctx:
        _build_in(client, spec, tag, say, ctx)


def _build_in(
    client: Any, spec: RuntimeSpec, tag: str, say: Callable[[str], None], ctx: Path
) -> None:
    import docker.errors

    lines: list[str] = []
    try:
        stream = client.api.build(
            path=str(ctx),
            dockerfile=spec.docker.dockerfile,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={LABEL: spec.lang, f"{LABEL}.spec-hash": spec.spec_hash()},
        )
        for chunk in stream:
            if "stream" in chunk:
                for line in str(chunk["stream"]).splitlines():
                    if line.strip():
                        lines.append(line)
                        if line.startswith("Step "):
                            say(f"{spec.lang}:   {line[:160]}")
            if "error" in chunk:
                detail = chunk.get("errorDetail") or {}
                msg = detail.get("message") or chunk["error"]
                tail = "\n".join(lines[-25:])
                raise ImageBuildError(f"{msg}\n--- build log tail ---\n{tail}")
    except docker.errors.APIError as e:
        raise ImageBuildError(f"docker build failed: {_short(e)}") from None
    if not image_exists(client, tag):
        raise ImageBuildError("docker build finished without producing " + tag)


def image_report(results: Sequence[ImageBuildResult | BaseImageResult]) -> str:
    return json.dumps([r.model_dump() for r in results], indent=2)


def remove_stale_images(langs: Iterable[str] | None = None) -> list[str]:
    """Remove ``cruxforge/rt-<lang>`` tags that no current spec uses; returns them."""
    client = docker_client()
    wanted = list(langs) if langs is not None else list(LANGUAGES)
    removed: list[str] = []
    for lang in wanted:
        current = image_tag(get_spec(lang))
        for img in client.images.list(name=f"{IMAGE_REPO}{lang}"):
            for t in img.tags:
                if t != current:
                    client.images.remove(t, noprune=False)
                    removed.append(t)
    return removed
