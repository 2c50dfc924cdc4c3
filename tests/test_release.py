"""Releases through the library (no orchestrator): files, manifest, verify, replay."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cruxforge.llm.testserver import ScriptedChatServer
from cruxforge.release import (
    DEMO_LICENCE,
    BuildSpec,
    build_release,
    item_hash,
    sha256_file,
    verify_release,
)
from tests.conftest import DEMO_REFS, DEMO_SEEDS, ROOT
from tests.release_helpers import PythonTranslator, small_seeds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("rel")
    # the demo seed file itself (licence detection), but only two seeds are kept per run:
    seeds = small_seeds(tmp, 2)
    spec = BuildSpec(
        seeds=str(seeds), languages=["py"], references=str(DEMO_REFS),
        out_root=str(tmp / "art"), agreement=2, max_repairs=1, release_name="t", version="0.1",
        seeds_licence=DEMO_LICENCE,
    )  # fmt: skip
    return build_release(spec)


def test_release_files(release: Path) -> None:
    names = sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file())
    assert names == sorted(
        ["README.md", "data/all.jsonl", "cases.jsonl", "manifest.json", "data/py.jsonl",
         "cruxeval-x/Python.jsonl", "report.jsonl", "seeds.jsonl", "typed_seeds.jsonl"]
    )  # fmt: skip
    assert release == release.parent / "0.1" and release.parent.name == "t"
    items = [json.loads(x) for x in (release / "data" / "py.jsonl").read_text().splitlines()]
    assert [it["id"] for it in items] == [0, 1]  # integers, as CRUXEval-X's
    assert (release / "cruxeval-x" / "Python.jsonl").read_text() == (
        release / "data" / "py.jsonl"
    ).read_text()
    for it in items:
        assert set(it) == {"id", "code", "input_reasoning", "output_reasoning"}
        assert "def f(" in it["code"] and "assert" in it["code"]
    report = [json.loads(x) for x in (release / "report.jsonl").read_text().splitlines()]
    fields = ("id", "lang", "status", "reason", "rounds", "tokens", "origin", "draft_note")
    assert [tuple(r) for r in report] == [fields] * 2
    assert [(r["id"], r["status"]) for r in report] == [
        ("demo_0", "validated"),
        ("demo_1", "validated"),
    ]
    everything = [json.loads(x) for x in (release / "data" / "all.jsonl").read_text().splitlines()]
    assert [list(r) for r in everything] == [
        ["lang", "id", "code", "input_reasoning", "output_reasoning"]] * 2  # fmt: skip
    assert [r["code"] for r in everything] == [it["code"] for it in items]
    card = (release / "README.md").read_text()
    assert "| py | 2 | 0 | 0 |" in card and DEMO_LICENCE in card and "verify" in card
    cases = [json.loads(x) for x in (release / "cases.jsonl").read_text().splitlines()]
    assert [len(c["cases"]) for c in cases] == [3, 3]  # the example + 2 agreed inputs


def test_manifest(release: Path) -> None:
    from cruxforge.translate.prompts import prompts_hash
    from runtimes.spec import get_spec
    from transition_rules.engine import rules_hash

    m = json.loads((release / "manifest.json").read_text())
    assert m["kind"] == "cruxforge.release" and m["format"] == 3
    assert m["ids"] == {"0": "demo_0", "1": "demo_1"}
    assert m["cruxforge"]["version"] == "0.1.0"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert m["cruxforge"]["git_commit"] == (head.stdout.strip() or None)
    assert m["seeds"]["sha256"] == sha256_file(release / "seeds.jsonl")
    assert m["rules"] == {"py": rules_hash("py")}
    assert m["runtimes"]["py"]["spec_hash"] == get_spec("py").spec_hash()
    assert m["runtimes"]["py"]["toolchain"].startswith("Python 3")
    assert m["translator"]["name"] == "reference"
    assert m["translator"]["prompts_hash"] == prompts_hash()
    assert m["translator"]["reference_files"]["py.jsonl"] == sha256_file(DEMO_REFS / "py.jsonl")
    assert m["counts"]["py"] == {
        "validated": 2, "failed": 0, "skipped": 0, "rounds": 0, "helper_tests": 0
    }  # fmt: skip
    items = [json.loads(x) for x in (release / "data" / "py.jsonl").read_text().splitlines()]
    assert m["items"]["py"] == {str(it["id"]): item_hash(it) for it in items}
    for rel, h in m["files"].items():
        assert sha256_file(release / rel) == h
    assert m["transcript"] is None


def test_verify_passes_then_fails_after_tampering(release: Path, tmp_path: Path) -> None:
    ok = verify_release(release)
    assert ok.problems == [] and ok.items_run == ok.items_passed == 2
    bad = tmp_path / "bad"
    shutil.copytree(release, bad)
    lines = (bad / "data" / "py.jsonl").read_text().splitlines()
    it = json.loads(lines[0])
    it["code"] = it["code"].replace("return total", "return total + 1", 1)
    lines[0] = json.dumps(it)
    (bad / "data" / "py.jsonl").write_text("\n".join(lines) + "\n")
    res = verify_release(bad)
    msgs = "\n".join(res.problems)
    assert "data/py.jsonl: sha256" in msgs
    assert "py 0: item hash" in msgs
    assert "py 0: re-run wrong_answer on case 0: expected 19, actual 20" in msgs
    assert "py 0: the code as published fails:" in msgs  # its own assert fails too
    assert res.items_passed == 1 and not any(p.startswith("py 1:") for p in res.problems)
    # the CLI says the same and exits non-zero
    cli = subprocess.run(["cruxforge", "release", "verify", str(bad)], capture_output=True,
                         text=True, cwd=ROOT)  # fmt: skip
    assert cli.returncode == 1 and "py 0: re-run wrong_answer" in cli.stdout
    assert subprocess.run(["cruxforge", "release", "verify", "--no-rerun", str(release)],
                          capture_output=True, cwd=ROOT).returncode == 0  # fmt: skip


def test_llm_release_replays_offline_with_the_same_item_hashes(tmp_path: Path) -> None:
    seeds = small_seeds(tmp_path, 2)
    script = PythonTranslator()
    with ScriptedChatServer(script) as srv:
        spec = BuildSpec(
            seeds=str(seeds), languages=["py"], translator="llm", model="scripted",
            base_url=srv.base_url, out_root=str(tmp_path / "a"), agreement=1, max_repairs=1,
            release_name="llm", version="1",
        )  # fmt: skip
        rel = build_release(spec)
        n_requests = len(srv.requests)
    assert n_requests == 2
    m = json.loads((rel / "manifest.json").read_text())
    assert m["translator"]["model"] == "scripted" and m["transcript"]["entries"] == 2
    assert m["counts"]["py"]["validated"] == 2
    report = [json.loads(x) for x in (rel / "report.jsonl").read_text().splitlines()]
    assert [r["tokens"] for r in report] == [70, 70]
    assert verify_release(rel).problems == []
    # the server is gone: the replay must be answered by the release's transcript alone
    replay = BuildSpec(
        seeds=str(rel / "seeds.jsonl"), languages=["py"], translator=f"replay:{rel}/transcript",
        out_root=str(tmp_path / "b"), agreement=1, max_repairs=1, release_name="llm",
    )  # fmt: skip
    rel2 = build_release(replay)
    m2 = json.loads((rel2 / "manifest.json").read_text())
    assert m2["items"] == m["items"] and m2["counts"] == m["counts"]
    assert (rel2 / "data" / "py.jsonl").read_bytes() == (rel / "data" / "py.jsonl").read_bytes()


def test_demo_seed_file_gets_the_demo_licence(tmp_path: Path) -> None:
    from cruxforge.release import _licence

    assert _licence(BuildSpec(seeds=str(DEMO_SEEDS), languages=[])) == DEMO_LICENCE
    assert "not stated" in _licence(BuildSpec(seeds=str(tmp_path / "x.jsonl"), languages=[]))


def test_cli_options_are_the_build_spec() -> None:
    """One description of a build: every BuildSpec field is a `cruxforge build` option with
    the field's description as its help, and the flow takes the BuildSpec itself."""
    import inspect
    import typing

    from cruxforge.cli.build import build_command
    from cruxforge.release.spec import field_help
    from flows.build import build

    hints = typing.get_type_hints(build_command, include_extras=True)
    missing = [f for f in BuildSpec.model_fields if f not in hints]
    assert missing == [], f"BuildSpec fields without a CLI option: {missing}"
    for name in BuildSpec.model_fields:
        if name == "languages":  # the CLI takes "all" or a comma list
            continue
        (option,) = hints[name].__metadata__
        assert field_help(name) and option.help.startswith(field_help(name)), name
    assert list(inspect.signature(build.fn).parameters) == ["spec"]
    schema = BuildSpec.model_json_schema()["properties"]
    assert schema["backend"]["enum"] == ["batched", "auto", "local", "docker"]
    assert "py" in schema["languages"]["items"]["enum"]
    assert all(p.get("description") for p in schema.values())


def test_a_release_loads_with_datasets(release: Path) -> None:
    """The real `datasets` package reads a release: each language's config, and `all`."""
    import datasets

    m = json.loads((release / "manifest.json").read_text())
    card = (release / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "size_categories" in card
    py = datasets.load_dataset(str(release), "py", split="test")
    assert py.num_rows == m["counts"]["py"]["validated"] == 2
    assert py.column_names == ["id", "code", "input_reasoning", "output_reasoning"]
    assert py.features["id"].dtype == "int64"
    whole = datasets.load_dataset(str(release), split="test")  # the default config: all
    assert whole.num_rows == sum(len(v) for v in m["items"].values())
    assert set(whole["lang"]) == {"py"}
