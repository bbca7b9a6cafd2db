"""ruff (lint and format) and mypy pass on the tree, with the settings in pyproject.toml.

They run here so that `pytest` (the README's test command, and .ci/run) runs
the same static checks a newcomer runs; the import contracts are in
tests/test_layers.py. The tools come with ``pip install '.[test]'``.
"""

from __future__ import annotations

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
