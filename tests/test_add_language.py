"""A new language is data: copied under a new id, an existing language's files (and only
those) make a language that passes the rules proof and the conformance suite, without a
change to any Python file (docs/architecture.md, "Adding a language")."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.toolchains]

SOURCE, NEW = "lua", "lux"
# exactly the files a language is made of (the list docs/architecture.md gives)
LANGUAGE_FILES = (
    "runtimes/{lang}/runtime.toml",
    "runtimes/{lang}/Dockerfile",
    "runtimes/{lang}/conformance.toml",
    "transition_rules/rules/{lang}.toml",
    "transition_rules/parsing_rules/{lang}.toml",
    "seeds/demo_reference/{lang}.jsonl",
)
TREES = ("cruxforge", "runtimes", "transition_rules", "flows", "analysis", "seeds")


def python_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for tree in TREES
        for p in (root / tree).rglob("*.py")
        if "__pycache__" not in p.parts
    }


def test_a_language_from_data_alone(tmp_path: Path, demo_report: Path) -> None:
    if shutil.which("lua5.4") is None:
        pytest.skip("lua5.4 is not installed here (scripts/setup.sh installs it)")
    copy = tmp_path / "tree"
    for tree in TREES:
        shutil.copytree(ROOT / tree, copy / tree, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    before = python_files(copy)
    written = []
    for pattern in LANGUAGE_FILES:
        src, dst = copy / pattern.format(lang=SOURCE), copy / pattern.format(lang=NEW)
        dst.parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text(encoding="utf-8")
        if dst.suffix == ".toml" and dst.name != "conformance.toml":
            text = text.replace(f'lang = "{SOURCE}"', f'lang = "{NEW}"')
            text = text.replace('name = "Lua"', 'name = "Lux"').replace(
                'cruxeval_x = "Lua"', 'cruxeval_x = "Lux"'
            )
        dst.write_text(text, encoding="utf-8")
        written.append(dst.relative_to(copy).as_posix())
    env = {**os.environ, "PYTHONPATH": str(copy), "CRUXFORGE_SLOTS_DIR": str(tmp_path / "slots")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True,
                              text=True, timeout=900)  # fmt: skip

    listed = run("-c", "from runtimes.spec import LANGUAGES; print(' '.join(LANGUAGES))")
    assert NEW in listed.stdout.split(), listed.stdout + listed.stderr
    proof = run("-m", "transition_rules.selfcheck", NEW, "--report", str(demo_report))
    assert proof.returncode == 0, proof.stdout[-3000:] + proof.stderr[-3000:]
    assert f"roundtrip {NEW}: ok" in proof.stdout and "demo_0: ok" in proof.stdout
    conformance = run("-c", "from cruxforge.cli import app; app()", "runtimes", "selftest",
                      "--lang", NEW, "--backend", "local", "--json")  # fmt: skip
    assert conformance.returncode == 0, conformance.stdout[-3000:] + conformance.stderr[-3000:]
    assert '"ok": true' in conformance.stdout and f'"lang": "{NEW}"' in conformance.stdout
    assert python_files(copy) == before, "adding a language changed a Python file"
    assert sorted(written) == sorted(p.format(lang=NEW) for p in LANGUAGE_FILES)
