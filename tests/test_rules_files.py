"""Rule files load, validate, and fail loudly when broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.spec import LANGUAGES
from transition_rules.engine import RuleError, available_languages, load_rules, rules_hash


def test_every_language_has_a_valid_rule_file() -> None:
    assert sorted(available_languages()) == sorted(LANGUAGES)
    for lang in LANGUAGES:
        rules = load_rules(lang)
        assert rules.lang == lang
        assert "crux_" in rules.prelude or "crux-" in rules.prelude, f"{lang}: no crux helpers"
        assert len(rules_hash(lang)) == 16


def test_broken_rule_file_names_file_and_field(tmp_path: Path) -> None:
    src = (Path(load_rules.__code__.co_filename).parent / "rules" / "py.toml").read_text()
    (tmp_path / "_base.toml").write_text(
        (Path(load_rules.__code__.co_filename).parent / "rules" / "_base.toml").read_text()
    )
    (tmp_path / "py.toml").write_text(src.replace("[stub]", "[stubb]"))
    with pytest.raises(RuleError) as e:
        load_rules("py", tmp_path)
    assert "py.toml" in str(e.value) and "stub" in str(e.value)


def test_missing_rule_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="rule file missing"):
        load_rules("py", tmp_path)


def test_unknown_hook_is_an_error(tmp_path: Path) -> None:
    here = Path(load_rules.__code__.co_filename).parent / "rules"
    (tmp_path / "_base.toml").write_text((here / "_base.toml").read_text())
    text = (
        (here / "py.toml")
        .read_text()
        .replace('extends = "_base"', 'extends = "_base"\nhooks = ["no_such_hook"]')
    )
    (tmp_path / "py.toml").write_text(text)
    with pytest.raises(RuleError, match="unknown hook 'no_such_hook'"):
        load_rules("py", tmp_path)


def test_a_pattern_that_is_not_a_regular_expression_names_file_and_field(
    tmp_path: Path,
) -> None:
    """Every regex field (schema ``_Regex``) is checked when its file loads: here the
    [batch] refuse pattern, which was only compiled when a batch was composed."""
    rules_dir = Path(load_rules.__code__.co_filename).parent / "rules"
    (tmp_path / "_base.toml").write_text((rules_dir / "_base.toml").read_text())
    src = (rules_dir / "py.toml").read_text()
    line = next(x for x in src.splitlines() if x.startswith("refuse = "))
    (tmp_path / "py.toml").write_text(src.replace(line, 'refuse = "([a-z"', 1))
    with pytest.raises(RuleError) as e:
        load_rules("py", tmp_path)
    msg = str(e.value)
    assert "py.toml" in msg and "refuse" in msg and "not a regular expression" in msg, msg
