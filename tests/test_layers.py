"""The import contracts of pyproject.toml hold, and they do catch a violation.

``lint-imports`` checks the layers (ui -> reports -> db -> observer), that the
domain core imports no Qt, SQL or ReportLab, that ui/ and reports/ reach the
database only through db.services and the store, and that Qt comes only
through ui.qt. The second test copies the packages, plants one violation of
each contract and expects every contract to break.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("observer", "db", "reports", "ui")
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    if not Path(LINT_IMPORTS).exists():
        pytest.fail("lint-imports is missing: pip install '.[test]'")
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=600)


def _contracts() -> list[dict[str, object]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def test_the_import_contracts_hold() -> None:
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in run.stdout


def test_every_command_module_is_forbidden_to_the_ui_and_the_report() -> None:
    # import-linter takes no wildcard inside a module name (db.cli_*): the list names them all.
    service_rule = next(c for c in _contracts() if c.get("source_modules") == ["ui", "reports"])
    forbidden = set(service_rule["forbidden_modules"])  # type: ignore[call-overload]
    assert {f"db.{p.stem}" for p in (ROOT / "db").glob("cli_*.py")} <= forbidden


def _imported_modules(path: Path) -> list[str]:
    """The modules a file imports by absolute name (``import a.b``, ``from a.b import c``)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _python_files(*folders: str) -> list[Path]:
    return [
        p
        for d in folders
        for p in (ROOT / d).rglob("*.py")
        if "corpus" not in p.parts and "work" not in p.relative_to(ROOT).parts[:2]
    ]


def _imports_qt_directly(path: Path) -> bool:
    return any(n.split(".")[0] in ("PySide6", "shiboken6") for n in _imported_modules(path))


def test_tests_tools_and_benchmarks_take_qt_from_ui_qt_too() -> None:
    # import-linter sees only the packages; the same rule holds for the programs around them.
    files = _python_files("tests", "tools", "benchmarks", "docs")
    assert files
    assert [str(p.relative_to(ROOT)) for p in files if _imports_qt_directly(p)] == []


def test_no_module_selects_a_pyside_feature() -> None:
    # ui.qt tells PySide6 every module uses the default feature set without reading its source:
    # true only while no module selects one (snake_case, true_property).
    files = [ROOT / "main.py", *_python_files(*PACKAGES, "tests", "tools", "benchmarks", "docs")]
    assert len(files) > 100
    assert [str(p.relative_to(ROOT)) for p in files if "__feature__" in _imported_modules(p)] == []


def test_a_violation_of_each_contract_breaks_it(tmp_path: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.ttf"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "db" / "upward.py").write_text("import ui.app\n")  # layers
    (tmp_path / "observer" / "sql.py").write_text("import sqlalchemy\n")  # domain core
    (tmp_path / "ui" / "raw.py").write_text("import sqlite3\nimport db.cli_merge\n")  # service rule
    (tmp_path / "reports" / "orm.py").write_text("from db import models\n")  # service rule
    (tmp_path / "ui" / "direct.py").write_text("from PySide6.QtWidgets import QLabel\n")  # Qt only through ui.qt
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    assert f"Contracts: 0 kept, {len(_contracts())} broken." in run.stdout, run.stdout[-4000:]
    for line in (
        "db.upward -> ui.app",
        "observer.sql -> sqlalchemy",
        "ui.raw -> sqlite3",
        "ui.raw -> db.cli_merge",
        "reports.orm -> db.models",
        "ui.direct -> PySide6",
    ):
        assert line in run.stdout
