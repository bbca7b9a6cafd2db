"""ruff (lint and format) and mypy pass on the tree, with the settings in pyproject.toml.

They run here so that `pytest` (the README's test command, and .ci/run) runs
the same static checks a newcomer runs; the import contracts are in
tests/test_layers.py. The tools come with ``pip install '.[test]'``.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(tool) or str(Path(sys.executable).with_name(tool))
    if not Path(exe).exists():
        pytest.fail(f"{tool} is missing: pip install '.[test]'")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=1200)


def test_ruff_lint() -> None:
    run = _run("ruff", "check", "--no-cache", ".")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_ruff_format() -> None:
    run = _run("ruff", "format", "--no-cache", "--check", ".")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_mypy() -> None:
    run = _run("mypy")  # the files and options are [tool.mypy] in pyproject.toml
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.stdout.startswith("Success")


# The size limits of the seams issue (#11): a module that grows past them is split along its concerns.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
SOURCE_DIRS = ("observer", "db", "reports", "ui", "benchmarks", "tools", "docs")


def _sources() -> list[Path]:
    files = [ROOT / "main.py"]
    for d in SOURCE_DIRS:
        files += [p for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]
    return files


def test_no_module_over_600_lines_and_no_function_over_80() -> None:
    too_long: list[str] = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "split along its concerns:\n" + "\n".join(too_long)
