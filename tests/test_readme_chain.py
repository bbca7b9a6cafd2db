"""The README's coordinator chain, run verbatim on an HQ file and on PostgreSQL (issue 16).

The commands are read from README.md's "For coordinators" block, not copied here, so the README
cannot drift from what works. Only the demo's size (10,000 -> a few hundred stations, to keep CI
fast) and the HQ (``HQ.db`` or a ``postgresql://`` URL) change; the figures a script reads
(``aggregate --format json`` at every level, both sources) must be byte-identical on both backends.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import main

README = Path(__file__).resolve().parent.parent / "README.md"
STATIONS = "150"


def readme_chain() -> list[list[str]]:
    """The indented `baqylau ...` block under "## For coordinators", as argument lists."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## For coordinators", 1)[1].split("\n## ", 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.startswith("    baqylau ")]
    assert len(lines) >= 8, "README's coordinator chain not found"
    commands = []
    for line in lines:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "baqylau"
        commands.append(argv[1:])
    return commands


def _run_chain(where: str, cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(cwd)
    for argv in readme_chain():
        argv = [where if a == "HQ.db" else a for a in argv]
        if argv[:2] == ["demo", "demo"]:
            argv = [STATIONS if prev == "--stations" else a for prev, a in zip(["", *argv[:-1]], argv, strict=True)]
        code = main.main(["--lang", "en", *argv])
        out = capsys.readouterr()
        # `conflicts` and `check` report findings with 1 (README: "done with findings").
        assert code in (0, 1), f"{shlex.join(argv)} -> {code}: {out.err}"
    figures = []
    for level in ("national", "region", "district"):
        code = main.main(["--lang", "en", "aggregate", where, "--level", level, "--source", "both", "--format", "json"])
        assert code == 0
        figures.append(capsys.readouterr().out)
    assert (cwd / "report.pdf").stat().st_size > 0 and (cwd / "regions.xlsx").stat().st_size > 0
    return "".join(figures)


def test_the_readme_chain_reads_the_readme() -> None:
    names = [argv[0] for argv in readme_chain()]
    for command in ("demo", "merge", "aggregate", "report", "verify-report"):
        assert command in names
    assert any(re.fullmatch(r"\d+", a) for argv in readme_chain() for a in argv if argv[0] == "demo")


@pytest.mark.postgres
def test_the_readme_chain_gives_the_same_figures_on_postgresql(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").mkdir()
    (tmp_path / "pg").mkdir()
    on_file = _run_chain("HQ.db", tmp_path / "file", capsys, monkeypatch)
    on_server = _run_chain(pg_url, tmp_path / "pg", capsys, monkeypatch)
    assert '"stations"' in on_file and on_file == on_server
