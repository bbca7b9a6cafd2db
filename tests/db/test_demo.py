"""The demo election end to end through the command line, and its determinism."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import main
from db.demo import generate_demo


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "election"
    mp = pytest.MonkeyPatch()
    mp.setenv("BAQYLAU_HOME", str(root.parent / "home"))
    try:
        assert main.main(["demo", str(root), "--stations", "80", "--seed", "7"]) == 0
    finally:
        mp.undo()
    return root


def test_files_and_packages_are_written(demo_dir: Path) -> None:
    packages = sorted((demo_dir / "packages").glob("*.bqpkg"))
    # 2% of 80 is below the minimum of 20 observed stations; some have a second observer.
    assert len(packages) >= 20
    keys = [l for l in (demo_dir / "keys.txt").read_text(encoding="utf-8").splitlines() if not l.startswith("#")]
    assert len(keys) == len(packages)  # one key pair per observer
    assert len({k.split()[0] for k in keys}) == len(keys)
    with (demo_dir / "stations.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 80
    assert len({r["region"] for r in rows}) == 17  # the 17 units of January 2021
    registered = [int(r["registered"]) for r in rows]
    assert 150 <= min(registered) and max(registered) <= 3000
    official = (demo_dir / "official-results.csv").read_bytes().decode("cp1251")
    assert official.splitlines()[0].startswith("Область;ТИК;Номер УИК")


def test_whole_command_line_chain(demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hq = str(tmp_path / "hq.baqylau")
    d = demo_dir
    assert main.main(["stations", "import", hq, str(d / "stations.csv")]) == 0
    assert (
        main.main(
            ["official", "import", hq, str(d / "official-results.csv"), "--map", str(d / "official-results.map.toml")]
        )
        == 0
    )
    assert main.main(["keys", hq, "import", str(d / "keys.txt")]) == 0
    assert main.main(["merge", hq, str(d / "packages")]) == 0
    capsys.readouterr()

    out = tmp_path / "national.json"
    assert (
        main.main(["aggregate", hq, "--level", "national", "--source", "both", "--format", "json", "--out", str(out)])
        == 0
    )
    [unit] = json.loads(out.read_text(encoding="utf-8"))
    assert unit["unit"] == "national" and unit["level"] == "national"
    assert unit["stations"]["total"] == 80 and unit["stations"]["official_all"] == 80
    assert unit["coverage"]["stations_observed"] + unit["not_counted"] >= 20
    turnout = unit["turnout_pct"]
    # True turnout is ~35%; the official figures are inflated at most stations.
    assert 20 < turnout["observed"] < 50
    assert turnout["official"] > turnout["observed"] + 10
    assert turnout["diff_pp"] == pytest.approx(turnout["observed"] - turnout["official"], abs=1e-3)
    assert 20 < turnout["headcount"] < 50 and turnout["announced"] > turnout["headcount"]
    leader = unit["party_pct"]["nur_otan"]
    assert leader["official"] > leader["observed"] + 10
    assert unit["passes_threshold"]["official_all"]["nur_otan"] is True

    assert main.main(["--lang", "en", "aggregate", hq, "--level", "national", "--source", "both"]) == 0
    table = capsys.readouterr().out
    assert "Kazakhstan (all stations)" in table and "difference, pp" in table and "Inclusion rules:" in table
    line = next(l for l in table.splitlines() if l.startswith("Turnout, %"))
    assert f"{turnout['observed']:.2f}" in line and f"{turnout['official']:.2f}" in line

    csv_out = tmp_path / "districts.csv"
    assert (
        main.main(
            ["aggregate", hq, "--level", "district", "--source", "official", "--format", "csv", "--out", str(csv_out)]
        )
        == 0
    )
    with csv_out.open(encoding="utf-8") as fh:
        districts = list(csv.DictReader(fh))
    assert sum(int(r["stations"]) for r in districts) == 80
    assert {"turnout_pct", "pct_nur_otan", "line_issued"} <= set(districts[0])

    from openpyxl import load_workbook

    xlsx = tmp_path / "regions.xlsx"
    assert (
        main.main(["aggregate", hq, "--level", "region", "--source", "both", "--format", "xlsx", "--out", str(xlsx)])
        == 0
    )
    ws = load_workbook(xlsx).active
    assert ws.max_row >= 17 + 1  # header and one row per region (plus the rules line)

    gaps_out = tmp_path / "gaps.json"
    assert main.main(["gaps", hq, "--top", "5", "--format", "json", "--out", str(gaps_out)]) == 0
    gaps = json.loads(gaps_out.read_text(encoding="utf-8"))
    assert 1 <= len(gaps) <= 5
    # Observed minus official (observer.definitions), the largest official excess first.
    assert [g["gap_pp"] for g in gaps] == sorted(g["gap_pp"] for g in gaps)
    assert all(
        g["gap_pp"]
        == pytest.approx(
            (g["headcount_turnout_pct"] or g["observed_turnout_pct"]) - g["official_turnout_pct"], abs=1e-3
        )
        for g in gaps
    )
    capsys.readouterr()
    assert main.main(["violations", hq, "--format", "csv"]) == 0
    violations = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert all(int(v["count"]) > 0 and v["region"].startswith("KZ-") for v in violations)

    code = main.main(["--lang", "en", "check", hq])
    out_text = capsys.readouterr().out
    assert code in (0, 1) and "Control relations broken" in out_text


def test_bad_official_file_prints_lines_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hq = tmp_path / "hq.baqylau"
    good = tmp_path / "o.csv"
    good.write_text("code;region;registered;issued\n1;KZ-ALA;100;50\n2;KZ-ALA;200;x\n3;Mars;10;1\n", encoding="utf-8")
    mp = tmp_path / "m.toml"
    mp.write_text(
        '[station]\ncode = "code"\nregion = "region"\n[lines]\nregistered = "registered"\nissued = "issued"\n',
        encoding="utf-8",
    )
    assert main.main(["--lang", "en", "official", "import", str(hq), str(good), "--map", str(mp)]) == 2
    err = capsys.readouterr().err
    assert "line 3:" in err and "line 4:" in err and "nothing was imported" in err
    assert main.main(["aggregate", str(hq), "--source", "official", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_same_seed_same_election(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", stations=40, seed=11, min_observed=1, observed_share=0.05)
    b = generate_demo(tmp_path / "b", stations=40, seed=11, min_observed=1, observed_share=0.05)
    c = generate_demo(tmp_path / "c", stations=40, seed=12, min_observed=1, observed_share=0.05)
    assert a.official_csv.read_bytes() == b.official_csv.read_bytes()
    assert a.stations_csv.read_bytes() == b.stations_csv.read_bytes()
    assert a.official_csv.read_bytes() != c.official_csv.read_bytes()
    assert len(a.packages) == len(b.packages) >= 2


def test_demo_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("keep me", encoding="utf-8")
    assert main.main(["demo", str(tmp_path), "--stations", "10"]) == 2
    assert (tmp_path / "x.txt").read_text(encoding="utf-8") == "keep me"
