"""Packages import one way (pyproject.toml [tool.importlinter]): core models and values
<- runtimes <- transition_rules <- the pipeline <- flows and analysis <- the command line."""

from __future__ import annotations

import subprocess
import tomllib

from tests.conftest import ROOT


def _layers() -> list[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = cfg["tool"]["importlinter"]["contracts"]
    return [m.strip() for layer in contract["layers"] for m in layer.replace("|", ":").split(":")]


def test_import_contracts_are_kept() -> None:
    run = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_every_cruxforge_module_has_a_layer() -> None:
    """A module outside every layer would be free to import anything: none may be."""
    listed = set(_layers())
    pkg = ROOT / "cruxforge"
    found = {
        f"cruxforge.{p.stem if p.is_file() else p.name}"
        for p in pkg.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert found - listed == set(), f"modules in no layer: {sorted(found - listed)}"
