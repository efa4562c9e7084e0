"""Dependencies point one way (docs/style.md): the import-linter contracts of pyproject.toml
hold on the code, and each catches an import the wrong way."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> tuple[int, str]:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_the_contracts_hold() -> None:
    code, output = lint_imports(ROOT)
    assert code == 0, output
    assert "4 kept, 0 broken" in output


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("menus/engine.py", "import flask", "Menus know nothing"),
        ("menus/paging.py", "from models import Artisan", "Menus know nothing"),
        ("models/base.py", "from menus import engine", "Models know nothing"),
        ("gateway/payments/service.py", "from gateway.web import api", "Domain services know nothing"),
        ("gateway/registration/service.py", "from flask import request", "Domain services know nothing"),
        ("gateway/ussd/service.py", "import gateway.web.ussd", "USSD adapters know nothing"),
    ],
)
def test_an_import_the_wrong_way_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    for package in ("gateway", "menus", "models"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{line}\n")
    code, output = lint_imports(tmp_path)
    assert code == 1, output
    # Others may break too: whatever imports the offender now reaches what it imports.
    assert any(row.startswith(contract) and " BROKEN" in row for row in output.splitlines()), output
