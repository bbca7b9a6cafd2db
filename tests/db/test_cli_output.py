"""The command line for scripts: --format json and --quiet on import, merge and check; exit statuses.

(merge's own JSON and progress-on-a-terminal are in tests/db/test_merge.py::test_cli_merge_keys_and_export_hq.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import main
from db.demo import DemoPaths, generate_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoPaths:
    return generate_demo(tmp_path_factory.mktemp("demo"), stations=60, seed=4)


def test_import_and_check_write_one_json_object(demo: DemoPaths, tmp_path: Path, capsys) -> None:
    hq = str(tmp_path / "hq.baqylau")
    assert main.main(["stations", "import", hq, str(demo.stations_csv), "--format", "json"]) == 0
    stations = json.loads(capsys.readouterr().out)
    assert (stations["rows"], stations["stations_created"]) == (60, 60)

    args = ["official", "import", hq, str(demo.official_csv), "--map", str(demo.official_map), "--format", "json"]
    assert main.main(args) == 0
    official = json.loads(capsys.readouterr().out)
    assert (official["rows"], official["stations_created"], official["stations_updated"]) == (
        60,
        0,
        0,
    )  # the station list made them
    assert official["encoding"] and official["seconds"] >= 0

    code = main.main(["--lang", "en", "check", hq, "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert result["official"] + result["observed"] == len(result["failures"])
    # the exit status says whether a control relation is broken, whatever the format
    assert code == (1 if any(f["severity"] == "error" for f in result["failures"]) else 0)
    assert {f["source"] for f in result["failures"]} <= {"official", "observed"}


def test_quiet_prints_nothing_and_errors_still_reach_stderr(demo: DemoPaths, tmp_path: Path, capsys) -> None:
    hq = str(tmp_path / "hq.baqylau")
    assert main.main(["stations", "import", hq, str(demo.stations_csv), "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main.main(["check", hq, "--quiet"]) in (0, 1)
    assert capsys.readouterr().out == ""
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe garbage;;;\n")
    assert (
        main.main(["--lang", "en", "official", "import", hq, str(broken), "--map", str(demo.official_map), "-q"]) == 2
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("baqylau: ")


def test_summary_numbers_are_written_per_language(demo: DemoPaths, tmp_path: Path, capsys) -> None:
    hq = str(tmp_path / "hq.baqylau")
    assert main.main(["--lang", "ru", "stations", "import", hq, str(demo.stations_csv)]) == 0
    assert re.search(r"Заняло \d+,\d\d с", capsys.readouterr().out)  # a decimal comma in Russian
    assert main.main(["--lang", "en", "stations", "import", hq, str(demo.stations_csv)]) == 0
    assert re.search(r"Took \d+\.\d\d s", capsys.readouterr().out)
