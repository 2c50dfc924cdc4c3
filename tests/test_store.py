"""The item store: round trips, atomic writes, content keys, and resume in translate_language."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cruxforge import store as store_mod
from cruxforge.models import TypedSeed
from cruxforge.seeds.check import check_file
from cruxforge.store import ItemStore, atomic_write_text, cases_key, item_key
from cruxforge.translate.drafters import ReferenceDrafter
from cruxforge.translate.loop import Answer, ItemReport
from cruxforge.translate.run import seed_cases, translate_language
from tests.conftest import DEMO_REFS
from tests.release_helpers import small_seeds
from transition_rules.engine import Case


@pytest.fixture(scope="module")
def typed(tmp_path_factory: pytest.TempPathFactory) -> list[TypedSeed]:
    seeds = small_seeds(tmp_path_factory.mktemp("seeds"), 2)
    return [c.typed for c in check_file(seeds) if c.typed is not None]


def test_item_and_cases_round_trip(tmp_path: Path) -> None:
    st = ItemStore(tmp_path)
    rep = ItemReport(id="demo_0", lang="py", status="validated", rounds=1, tokens=7, code="x")
    key = "ab" * 32
    assert st.get_item(key) is None
    st.put_item(key, rep)
    assert st.get_item(key) == rep
    assert st.item_keys() == [key]
    cases = [Case((1, "a", (2.5, None)), {"k": [1, 2]}), Case(((),), {1, 2})]
    st.put_cases(key, cases)
    assert st.get_cases(key) == cases
    with pytest.raises(ValueError, match="not a store key"):
        st.get_item("../etc/passwd")


def test_write_is_atomic_when_the_rename_never_happens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "items" / "x.json"
    atomic_write_text(path, "old\n")

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt("killed between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new " * 1000)
    assert path.read_text() == "old\n"
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temp file left


def test_a_half_written_temp_file_is_invisible(tmp_path: Path) -> None:
    st = ItemStore(tmp_path)
    key = "cd" * 32
    d = tmp_path / "items" / key[:2]
    d.mkdir(parents=True)
    (d / f".{key}.json.123.tmp").write_text('{"store_format": 1, "rep')  # a kill -9 mid-write
    assert st.get_item(key) is None and st.item_keys() == []


def test_key_changes_when_any_input_changes(
    typed: list[TypedSeed], monkeypatch: pytest.MonkeyPatch
) -> None:
    s0, s1 = typed
    cases = [Case((1,), 1)]
    tr = {"name": "llm", "model": "m", "temperature": 0.0}
    base = item_key(s0, "py", cases, tr, 3, "local")
    assert base == item_key(s0, "py", list(cases), dict(tr), 3, "local")  # deterministic
    variants = [
        item_key(s1, "py", cases, tr, 3, "local"),
        item_key(s0.model_copy(update={"code": s0.code + "\n"}), "py", cases, tr, 3, "local"),
        item_key(s0, "js", cases, tr, 3, "local"),
        item_key(s0, "py", [Case((2,), 1)], tr, 3, "local"),
        item_key(s0, "py", [*cases, Case((2,), 2)], tr, 3, "local"),
        item_key(s0, "py", cases, {**tr, "model": "m2"}, 3, "local"),
        item_key(s0, "py", cases, {**tr, "temperature": 0.5}, 3, "local"),
        item_key(s0, "py", cases, tr, 2, "local"),
        item_key(s0, "py", cases, tr, 3, "docker"),
    ]
    monkeypatch.setattr(store_mod, "rules_hash", lambda lang: "other-rules")
    variants.append(item_key(s0, "py", cases, tr, 3, "local"))
    monkeypatch.undo()

    class Spec:
        def spec_hash(self) -> str:
            return "other-spec"

    monkeypatch.setattr(store_mod, "get_spec", lambda lang: Spec())
    variants.append(item_key(s0, "py", cases, tr, 3, "local"))
    assert len({base, *variants}) == len(variants) + 1
    assert cases_key(s0, 3) != cases_key(s0, 4) != cases_key(s1, 4)


class CountingDrafter(ReferenceDrafter):
    def __init__(self) -> None:
        super().__init__(DEMO_REFS)
        self.calls = 0

    def answer(self, seed: TypedSeed, lang: str, messages: list[dict[str, str]]) -> Answer:
        self.calls += 1
        return super().answer(seed, lang, messages)


def test_translate_language_reads_finished_items_back(
    typed: list[TypedSeed], tmp_path: Path, local_backend
) -> None:  # type: ignore[no-untyped-def]
    st = ItemStore(tmp_path)
    cases = seed_cases(typed, 2, st)
    assert seed_cases(typed, 2, st) == cases  # second time from the store
    assert [e["event"] for e in st.events()] == ["cases_computed"] * 2
    d = CountingDrafter()
    reps1, items1 = translate_language(typed, "py", cases, d, local_backend, 1, store=st)
    assert d.calls == 2 and [r.status for r in reps1] == ["validated"] * 2
    d2 = CountingDrafter()
    reps2, items2 = translate_language(typed, "py", cases, d2, local_backend, 1, store=st)
    assert d2.calls == 0, "finished items must be read back, not executed"
    assert all(r.reused for r in reps2) and not any(r.reused for r in reps1)
    assert [r.model_copy(update={"reused": False}) for r in reps2] == reps1 and items2 == items1
    ev = [e["event"] for e in st.events()]
    assert ev.count("computed") == 2 and ev.count("reused") == 2
    # a different repair budget is a different item: executed again
    d3 = CountingDrafter()
    translate_language(typed[:1], "py", cases, d3, local_backend, 2, store=st)
    assert d3.calls == 1
