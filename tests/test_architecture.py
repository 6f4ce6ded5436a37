"""The import contracts in pyproject.toml: kept by the tree as it is, and broken, with the offending
import named, by a tree that imports the wrong way. `scripts/test` runs `lint-imports` on the real
tree; these tests make sure the contracts are not vacuous."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "pantau", "nlp", "detectors", "storage", "alerts", "streams", "api", "service")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages and pyproject.toml, to plant imports in."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _planted() -> None:\n    {line}\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "named"),
    [
        # The ground floor imports nothing above it.
        ("pantau.domain", "from service import cli", "pantau.domain -> service.cli"),
        ("config.settings", "import pantau.domain", "config.settings -> pantau.domain"),
        # Siblings on one floor are independent.
        ("streams.sources", "from api import app", "streams.sources -> api.app"),
        ("api.routes.ingest", "from streams import sources", "api.routes.ingest -> streams.sources"),
        ("detectors.volume", "from nlp import text", "detectors.volume -> nlp.text"),
        ("storage.repository", "from detectors import base", "storage.repository -> detectors.base"),
        # Lower floors never reach up, even through a function-level import.
        ("alerts.state", "from streams import app", "alerts.state -> streams.app"),
        ("nlp.classifier", "from alerts import state", "nlp.classifier -> alerts.state"),
    ],
)
def test_an_import_against_the_layers_breaks_a_contract_and_is_named(
    tree: Path, module: str, line: str, named: str
) -> None:
    plant(tree, module, line)

    result = lint_imports(tree)

    assert result.returncode == 1
    assert named in result.stdout


def test_a_cycle_inside_a_package_breaks_a_contract_and_is_named(tree: Path) -> None:
    # cli mounts keys_cli; keys_cli importing cli back was the cycle this layout removed.
    plant(tree, "service.keys_cli", "from service.cli import app")

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "No cycles are allowed in service" in result.stdout
    assert ".keys_cli -> .cli" in result.stdout
