"""Every runtime spec loads and validates; broken specs fail clearly, naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtimes.conformance import load_snippets
from runtimes.spec import LANGUAGES, RUNTIMES_DIR, RuntimeSpecError, load_all, load_spec


def test_all_specs_load() -> None:
    specs = load_all()
    assert sorted(specs) == sorted(LANGUAGES)
    for lang, spec in specs.items():
        assert spec.lang == lang
        assert spec.run, lang
        assert spec.limits.run_seconds > 0
        # the source file reaches the toolchain through the {file} placeholder
        first = spec.compile if spec.compile else spec.run
        assert "{file}" in first, lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_conformance_snippets_present(lang: str) -> None:
    sn = load_snippets(lang)
    prog = sn.program(sn.rep("CASE 0 PASS"))
    assert '"CASE 0 PASS"' in prog and "{body}" not in prog


def test_host_less_languages_say_why() -> None:
    specs = load_all()
    for lang in ("jl", "swift"):
        assert specs[lang].local.unavailable, lang
    assert all(specs[x].local.unavailable is None for x in LANGUAGES if x not in ("jl", "swift"))


def _copy(tmp_path: Path, lang: str) -> Path:
    d = tmp_path / lang
    shutil.copytree(RUNTIMES_DIR / lang, d)
    return d


def test_missing_spec_names_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeSpecError, match=r"missing: .*/nope/runtime.toml"):
        load_spec("nope", tmp_path)


def test_bad_toml_names_file(tmp_path: Path) -> None:
    d = _copy(tmp_path, "py")
    (d / "runtime.toml").write_text("lang = \n")
    with pytest.raises(RuntimeSpecError, match=r"py/runtime.toml: not valid TOML"):
        load_spec("py", tmp_path)


def test_invalid_field_names_file_and_field(tmp_path: Path) -> None:
    d = _copy(tmp_path, "go")
    text = (d / "runtime.toml").read_text().replace("run_seconds = 5", "run_seconds = -1")
    (d / "runtime.toml").write_text(text)
    with pytest.raises(
        RuntimeSpecError, match=r"(?s)go/runtime.toml: invalid runtime spec.*run_seconds"
    ):
        load_spec("go", tmp_path)


def test_unknown_key_rejected(tmp_path: Path) -> None:
    d = _copy(tmp_path, "rb")
    (d / "runtime.toml").write_text((d / "runtime.toml").read_text() + "\nbogus = 1\n")
    with pytest.raises(RuntimeSpecError, match=r"(?s)rb/runtime.toml: invalid runtime spec.*bogus"):
        load_spec("rb", tmp_path)


def test_lang_mismatch(tmp_path: Path) -> None:
    d = _copy(tmp_path, "lua")
    (d / "runtime.toml").write_text(
        (d / "runtime.toml").read_text().replace('lang = "lua"', 'lang = "py"')
    )
    with pytest.raises(RuntimeSpecError, match=r"lua/runtime.toml: lang is 'py'"):
        load_spec("lua", tmp_path)


def test_missing_dockerfile(tmp_path: Path) -> None:
    d = _copy(tmp_path, "pl")
    (d / "Dockerfile").unlink()
    with pytest.raises(RuntimeSpecError, match=r"pl/runtime.toml: Dockerfile"):
        load_spec("pl", tmp_path)
