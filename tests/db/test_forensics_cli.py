"""`baqylau forensics` on a real HQ file: official results imported from CSV, observers' protocols typed in."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import main
from db.official import import_official
from db.services.forensics import load_returns, run_forensics
from db.store import ROLE_HQ, ElectionStore
from observer.forensics import Options

PARTIES = ("nur_otan", "ak_zhol", "qhp", "auyl", "adal")
REGIONS = ("KZ-ALA", "KZ-AKM", "KZ-KAR", "KZ-PAV")
MAPPING = """
[station]
code = "code"
region = "region"

[lines]
registered = "registered"
issued = "issued"
in_boxes = "in_boxes"
invalid = "invalid"
valid = "valid"

[parties]
nur_otan = "nur_otan"
ak_zhol = "ak_zhol"
qhp = "qhp"
auyl = "auyl"
adal = "adal"
"""
N_STATIONS = 400
OBSERVED = ("0003", "0010", "0017", "0101", "0150", "0222", "0305", "0399")
BUMP = 25  # ballots the official result adds at each observed station


def _clean_results(seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    reg = rng.integers(400, 2500, N_STATIONS)
    issued = rng.binomial(reg, rng.beta(24, 16, N_STATIONS))
    invalid = rng.binomial(issued, 0.03)
    valid = issued - invalid
    shares = rng.dirichlet([50, 15, 12, 8, 5], N_STATIONS)
    votes = np.array([rng.multinomial(v, p) for v, p in zip(valid, shares)])
    out = {"registered": reg, "issued": issued, "in_boxes": issued, "invalid": invalid, "valid": valid}
    out.update({p: votes[:, j] for j, p in enumerate(PARTIES)})
    return out


@pytest.fixture
def hq_path(tmp_path: Path, template_2021) -> Path:
    clean = _clean_results()
    official = {k: v.copy() for k, v in clean.items()}
    codes = [f"{i:04d}" for i in range(N_STATIONS)]
    watched = np.isin(codes, OBSERVED)
    for key in ("issued", "in_boxes", "valid", "nur_otan"):
        official[key] = official[key] + np.where(watched, BUMP, 0)
    csv_path = tmp_path / "official.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        keys = ["registered", "issued", "in_boxes", "invalid", "valid", *PARTIES]
        writer.writerow(["code", "region", *keys])
        for i, code in enumerate(codes):
            writer.writerow([code, REGIONS[i % len(REGIONS)], *(int(official[k][i]) for k in keys)])
    map_path = tmp_path / "map.toml"
    map_path.write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "hq.baqylau"
    _fill(path, csv_path, map_path, template_2021)
    return path


def _fill(where: str | Path, csv_path: Path, map_path: Path, template: Any) -> None:
    """The HQ at ``where`` (a file or a PostgreSQL URL): the official results, protocols typed in."""
    clean = _clean_results()
    codes = [f"{i:04d}" for i in range(N_STATIONS)]
    store = ElectionStore.create(where, template, role=ROLE_HQ)
    try:
        import_official(store, csv_path, map_path)
        store.set_observer("Әлия Сейітова", "MISK")
        for code in OBSERVED:
            station = store.station_by_code(code)
            assert station is not None
            pid = store.protocol_id(station.id)
            i = codes.index(code)
            for key in ("registered", "issued", "in_boxes", "invalid", "valid", *PARTIES):
                store.set_protocol_value(pid, key, int(clean[key][i]))
    finally:
        store.close()


@pytest.mark.postgres
def test_the_same_output_from_a_postgresql_hq(
    hq_path: Path, pg_url: str, tmp_path: Path, template_2021: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(pg_url, tmp_path / "official.csv", tmp_path / "map.toml", template_2021)
    printed = []
    for where in (str(hq_path), pg_url):
        assert main.main(["--lang", "kk", "forensics", where, "--level", "region"]) == 0
        text = capsys.readouterr().out
        assert main.main(["forensics", where, "--format", "json", "--level", "region"]) == 0
        data = json.loads(capsys.readouterr().out)
        data["meta"].pop("file")  # the file's name, or the database's
        printed.append((text, data))
    assert printed[0] == printed[1]
    assert printed[1][1]["meta"]["observed_stations"] == len(OBSERVED)


def test_loading_and_the_gap_at_observed_stations(hq_path: Path) -> None:
    store = ElectionStore.open(hq_path)
    try:
        official, observed, population = load_returns(store)
        result = run_forensics(store, "region", Options())
    finally:
        store.close()
    assert len(official) == len(population) == N_STATIONS
    assert sorted(observed.codes.tolist()) == sorted(OBSERVED)
    assert result.leader == "nur_otan"

    clean = _clean_results()
    idx = [int(c) for c in OBSERVED]
    expected_gap = 100 * BUMP * len(idx) / clean["registered"][idx].sum()
    assert result.comparison is not None
    turnout_gap = next(g for g in result.comparison.gaps if g.quantity == "turnout")
    assert turnout_gap.stations == len(OBSERVED)
    assert turnout_gap.gap == pytest.approx(-expected_gap, rel=1e-9)  # observed minus official
    assert result.pvt is not None and result.pvt.sampled_stations == len(OBSERVED)
    assert result.pvt.population_stations == N_STATIONS
    assert [r.region for r in result.regions] == sorted(REGIONS)


def test_table_output_in_english(hq_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main.main(["--lang", "en", "forensics", str(hq_path)])
    out = capsys.readouterr().out
    assert code == 0
    for heading in (
        "Turnout × leader share fingerprint",
        "Integer percentages",
        "Digit tests",
        "Parallel vote tabulation",
        "Observed vs official at the same stations",
    ):
        assert heading in out
    assert "Leader: Nur Otan. Official results: 400 stations; observed stations: 8." in out
    assert "Caveat:" in out and "Method:" in out and "Uncertainty:" in out


def test_table_output_in_kazakh(hq_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["--lang", "kk", "forensics", str(hq_path), "--level", "region"]) == 0
    out = capsys.readouterr().out
    assert "Бүтін пайыздар" in out and "Өңірлер бойынша" in out and "Ақмола облысы" in out
    assert "Холм түзетуі" in out  # the multiple-comparisons adjustment under the regions


def test_json_and_out_folder(hq_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "results"
    code = main.main(["forensics", str(hq_path), "--format", "json", "--level", "region", "--out", str(out_dir)])
    captured = capsys.readouterr()
    assert code == 0
    doc = json.loads(captured.out)
    assert doc["meta"]["official_stations"] == N_STATIONS
    assert "seed" not in doc["meta"] and "simulations" not in doc["result"]["options"]
    assert str(out_dir) in captured.err  # the note does not spoil the JSON on stdout

    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(
        [
            "forensics.json",
            "fingerprint.csv",
            "turnout_histogram.csv",
            "fine_histogram.csv",
            "integer_percent.csv",
            "digits.csv",
            "pvt.csv",
            "comparison.csv",
            "largest_gaps.csv",
            "regions.csv",
        ]
    )
    assert json.loads((out_dir / "forensics.json").read_text(encoding="utf-8")) == doc
    with (out_dir / "fingerprint.csv").open(encoding="utf-8") as fh:
        cells = list(csv.DictReader(fh))
    clean_issued_total = _clean_results()["issued"].sum() + BUMP * len(OBSERVED)
    assert sum(float(c["voters"]) for c in cells) == pytest.approx(clean_issued_total)
    with (out_dir / "regions.csv").open(encoding="utf-8") as fh:
        assert sorted(r["region"] for r in csv.DictReader(fh)) == sorted(REGIONS)
    with (out_dir / "integer_percent.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    national = [r for r in rows if r["kind"] == "national"]
    assert len(national) == 6
    assert {r["group"] for r in rows if r["kind"] == "observation"} == {"observed", "unobserved"}


def test_same_file_same_p_values(hq_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for _ in range(2):
        assert main.main(["forensics", str(hq_path), "--format", "json"]) == 0
        runs.append(json.loads(capsys.readouterr().out)["result"]["integer"])
    assert runs[0] == runs[1]


def test_refuses_a_station_file(tmp_path: Path, template_2021, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "station.baqylau"
    ElectionStore.create(path, template_2021).close()
    assert main.main(["--lang", "en", "forensics", str(path)]) == 2
    assert "is not a coordinator (HQ) file" in capsys.readouterr().err


def test_hq_without_official_results(tmp_path: Path, template_2021, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hq.baqylau"
    ElectionStore.create(path, template_2021, role=ROLE_HQ).close()
    assert main.main(["--lang", "en", "forensics", str(path)]) == 2
    assert "has no official results yet" in capsys.readouterr().err


def test_not_an_election_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.baqylau"
    junk.write_bytes(b"\x00" * 100)
    assert main.main(["--lang", "en", "forensics", str(junk)]) == 2
    assert "not a Baqylau election file" in capsys.readouterr().err


def test_out_path_that_is_a_file_writes_nothing(
    hq_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("mine", encoding="utf-8")
    assert main.main(["--lang", "en", "forensics", str(hq_path), "--out", str(blocker)]) == 2
    assert "Nothing was written" in capsys.readouterr().err
    assert blocker.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_unwritable_out_folder_leaves_no_part_files(
    hq_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.cli_forensics as cli

    out_dir = tmp_path / "results"
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # the third file fails as if the disk filled up
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "fsync", failing_fsync)
    assert main.main(["--lang", "en", "forensics", str(hq_path), "--out", str(out_dir)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert calls["n"] == 3
    assert not out_dir.exists()  # neither finished files nor .part leftovers, nor the folder we made


def test_removed_simulation_options_are_refused(hq_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The integer-percent test is exact now: the old Monte-Carlo knobs are gone, not silently ignored."""
    with pytest.raises(SystemExit) as info:
        main.main(["--lang", "en", "forensics", str(hq_path), "--simulations", "500"])
    assert info.value.code == 2
    assert "--simulations" in capsys.readouterr().err


def _pdf_text(flowables: list, path: Path) -> tuple[str, int]:
    from pypdf import PdfReader
    from reportlab.platypus import SimpleDocTemplate

    SimpleDocTemplate(str(path)).build(flowables)
    reader = PdfReader(str(path))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_report_section_in_kazakh(hq_path: Path, tmp_path: Path) -> None:
    from reports.forensics_section import report_flowables

    store = ElectionStore.open(hq_path)
    try:
        flowables = report_flowables(store, "kk", Options())
    finally:
        store.close()
    text, pages = _pdf_text(flowables, tmp_path / "section.pdf")
    assert pages >= 3
    for heading in (
        "Сайлаудың статистикалық талдауы",
        "Бүтін пайыздар",
        "Цифр тесттері",
        "Дауыстарды қатар санау",
        "Өңірлер бойынша",
    ):
        assert heading in text
    assert "Нұр Отан" in text and "Ақмола облысы" in text  # the party's Kazakh short name
    assert "Ескерту:" in text  # the digit tests' caveats are printed beside them


def test_report_section_says_why_it_is_empty(tmp_path: Path, template_2021) -> None:
    from reports.forensics_section import report_flowables

    store = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    try:
        flowables = report_flowables(store, "en")
    finally:
        store.close()
    text, _ = _pdf_text(flowables, tmp_path / "empty.pdf")
    assert "Election forensics" in text
    assert "could not be run" in text and "no official results yet" in text
