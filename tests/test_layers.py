"""The domain core stays free of Qt, SQL and ReportLab (and of the layers above it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "observer": {"PySide6", "sqlalchemy", "alembic", "reportlab", "db", "reports", "ui"},
    "db": {"PySide6", "reports", "ui"},
    "reports": {"PySide6", "ui"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    offenders = {
        str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[package])
        for f in (ROOT / package).rglob("*.py")
        if _imports(f) & FORBIDDEN[package]
    }
    assert offenders == {}
