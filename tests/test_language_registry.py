"""The language registry is read from the data files: no Python table lists languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.spec import LANGUAGES, RUNTIMES_DIR, UnknownLanguageError, get_spec, parse_languages
from transition_rules.engine import rules_for


def test_languages_are_the_runtime_spec_folders() -> None:
    assert tuple(sorted(p.parent.name for p in RUNTIMES_DIR.glob("*/runtime.toml"))) == LANGUAGES
    assert len(LANGUAGES) == 19 and "swift" in LANGUAGES


def test_one_language_list_parser() -> None:
    assert parse_languages("all") == list(LANGUAGES) == parse_languages(None)
    assert parse_languages(" py, js ,py") == ["py", "js"]
    assert parse_languages(["rb"]) == ["rb"]
    with pytest.raises(UnknownLanguageError, match=r"unknown languages \['cobol'\]; known: cpp"):
        parse_languages("py,cobol")


def test_names_come_from_the_rule_files() -> None:
    from cruxforge.evaluate.prompts import language_name
    from cruxforge.itemfiles import lang_of_file
    from cruxforge.translate.loop import interpreted_languages
    from cruxforge.translate.prompts import fence
    from cruxforge.translate.response import fence_tags

    assert fence("cs") == "csharp" and "c#" in fence_tags("cs")
    assert lang_of_file(Path("JavaScript.jsonl")) == "js" == lang_of_file(Path("js.jsonl"))
    assert lang_of_file(Path("CS.jsonl")) == "cs" and lang_of_file(Path("report.jsonl")) is None
    assert language_name("rkt") == "Racket" == rules_for("rkt").name
    assert interpreted_languages() == {x for x in LANGUAGES if not get_spec(x).compile}
    assert {"py", "sh", "lua"} <= interpreted_languages() and "java" not in interpreted_languages()


def test_every_language_names_its_debian_packages_or_why_not() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "packages.py")],
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert {"ldc", "racket", "mono-mcs", "lua-unit"} <= set(out)
    for lang in LANGUAGES:
        spec = get_spec(lang)
        # a host route needs packages, unless it comes from elsewhere (rustup) or is absent
        assert spec.local.debian or spec.local.unavailable or lang == "rs", lang
