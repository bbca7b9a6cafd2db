"""Any election, any country: a Russian CIK file imported as published, with a drafted template.

The done-when of issue 15: the raw station CSV (region + TIK + UIK as the key, cp1251)
imports with a template and mapping drafted by `template new --from-csv` and finished
by hand, without preprocessing; the regional aggregates carry the file's own region
names; Kazakh files follow the regions of their date (South Kazakhstan in 2016, not 2021).
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

import main
from db.aggregate import aggregate
from db.official import import_official
from db.stations_import import import_stations
from db.store import ROLE_HQ, ElectionStore
from observer.csvio import RowsRefused
from observer.errors import ImportDataError, StorageError
from observer.i18n import set_language
from observer.template import builtin_template, load_template, parse_template
from tests.fixtures.anyelection.make_ru_cik import HEADER, REGIONS, ru_cik_csv


def finish_by_hand(path: Path, **replace: str) -> None:
    """What the user does to a draft: confirm every guess (drop the markers) and fill in a few values."""
    text = re.sub(r"  # CONFIRM.*$", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def drafted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, Path]:
    csv_path = tmp_path / "ru2018.csv"
    csv_path.write_bytes(ru_cik_csv(600))
    out = tmp_path / "drafts"
    assert main.main(["--lang", "en", "template", "new", "--from-csv", str(csv_path), "--out", str(out)]) == 0
    assert "Drafts written" in capsys.readouterr().out
    template, mapping = out / "ru2018.template.toml", out / "ru2018.mapping.toml"
    assert main.main(["--lang", "en", "template", "check", str(template)]) == 0
    assert "Left to decide" in capsys.readouterr().out  # the guesses are still marked
    before = template.read_bytes()
    assert main.main(["--lang", "en", "template", "new", "--from-csv", str(csv_path), "--out", str(out)]) != 0
    assert "already exists" in capsys.readouterr().err and template.read_bytes() == before  # never overwritten
    finish_by_hand(
        template,
        **{
            'date = ""': 'date = "2018-03-18"',
            'country = ""': 'country = "RU"',
            '{ ru = "Все участки" }': '{ ru = "Россия (все участки)", en = "Russia (all stations)" }',
        },
    )
    finish_by_hand(mapping)
    assert main.main(["--lang", "en", "template", "check", str(template)]) == 0
    assert "Left to decide" not in capsys.readouterr().out
    return csv_path, template, mapping


def test_russian_file_imports_as_published_with_the_drafted_template(
    store_url: str, drafted: tuple[Path, Path, Path]
) -> None:
    """On both backends: the region names as the file writes them (up to 200 characters, revision
    0012: PostgreSQL refused names longer than an ISO code before)."""
    csv_path, template_path, map_path = drafted
    template = load_template(template_path)
    assert template.country == "RU" and template.units is None
    assert template.national_name("en") == "Russia (all stations)"
    hq = ElectionStore.create(store_url, template, role=ROLE_HQ)
    try:
        report = import_official(hq, csv_path, map_path)
        assert (report.rows, report.stations_created, report.encoding) == (600, 600, "cp1251")
        st = hq.station_by_code(f"{REGIONS[1]}/Ленинская ТИК/УИК №1")
        assert st is not None and st.region == REGIONS[1]
        regions = aggregate(hq, "region", "official")
        assert sorted(u.region for u in regions) == sorted(REGIONS)  # the file's own names
        assert sum(u.official.stations for u in regions) == 600  # type: ignore[union-attr]
        national = aggregate(hq, "national", "official")[0].official
        assert national is not None and national.stations == 600
    finally:
        hq.close()
    # The command line names the units as the file and the template do, not Kazakhstan.
    out = csv_path.with_name("regions.json")
    args = ["--lang", "en", "aggregate", store_url, "--source", "official", "--format", "json"]
    assert main.main([*args, "--level", "national", "--out", str(out)]) == 0
    assert [u["name"] for u in json.loads(out.read_text(encoding="utf-8"))] == ["Russia (all stations)"]
    assert main.main([*args, "--level", "region", "--out", str(out)]) == 0
    assert sorted(u["name"] for u in json.loads(out.read_text(encoding="utf-8"))) == sorted(REGIONS)


def test_station_list_with_a_compound_key(tmp_path: Path, drafted: tuple[Path, Path, Path]) -> None:
    csv_path, template_path, _ = drafted
    hq = ElectionStore.create(tmp_path / "ru.baqylau", load_template(template_path), role=ROLE_HQ)
    try:
        mapping = tmp_path / "stations.toml"
        mapping.write_text(
            '[station]\ncode = ["Регион", "ТИК", "УИК"]\ncode_separator = " | "\nregion = "Регион"\n'
            'registered = "Число избирателей, включенных в список избирателей"\n',
            encoding="utf-8",
        )
        report = import_stations(hq, csv_path, mapping)
        assert (report.stations_created, report.stations_updated) == (600, 0)
        st = hq.station_by_code(f"{REGIONS[0]} | Ленинская ТИК | УИК №1")
        assert st is not None and st.registered and st.registered > 0
        assert import_stations(hq, csv_path, mapping).stations_updated == 600  # same keys: updated, not doubled
    finally:
        hq.close()


def _hostile(tmp_path: Path, rows: list[list[str]], name: str) -> Path:
    path = tmp_path / name
    text = "\r\n".join(",".join(f'"{c}"' for c in r) for r in [HEADER, *rows]) + "\r\n"
    path.write_bytes(text.encode("cp1251"))
    return path


def test_hostile_compound_keys_are_refused_by_row_and_column(tmp_path: Path, drafted: tuple[Path, Path, Path]) -> None:
    from tests.fixtures.anyelection.make_ru_cik import rows

    csv_path, template_path, map_path = drafted
    hq = ElectionStore.create(tmp_path / "ru.baqylau", load_template(template_path), role=ROLE_HQ)
    try:
        import_official(hq, csv_path, map_path)
        good = rows(5)
        dup = _hostile(tmp_path, [*good, list(good[2])], "dup.csv")  # line 7 repeats line 4's key
        set_language("en")
        with pytest.raises(RowsRefused) as err:
            import_official(hq, dup, map_path)
        assert [p.line for p in err.value.problems] == [7]
        assert "appears again (first on line 4)" in err.value.problems[0].message
        empty = [list(r) for r in good]
        empty[1][1] = " "  # no TIK on line 3
        with pytest.raises(RowsRefused) as err:
            import_official(hq, _hostile(tmp_path, empty, "empty.csv"), map_path)
        assert err.value.problems[0].line == 3 and "«ТИК» of Регион + ТИК + УИК" in err.value.problems[0].message
        no_tik = tmp_path / "no_tik.csv"
        no_tik.write_bytes(dup.read_bytes().replace("ТИК".encode("cp1251"), "ТИК2".encode("cp1251"), 1))
        with pytest.raises(ImportDataError, match="«ТИК»"):
            import_official(hq, no_tik, map_path)
        assert sqlite3.connect(hq.path).execute("SELECT count(*) FROM official_results").fetchone() == (600,)
    finally:
        set_language("ru")
        hq.close()


KZ_MAPPING = """
[station]
code = ["Облыс", "Учаске"]
region = "Облыс"

[lines]
registered = "Тізімде"
issued = "Берілді"

[parties]
nur_otan = "Нұр Отан"
"""


def _kz_file(tmp_path: Path) -> tuple[Path, Path]:
    csv_path = tmp_path / "kz.csv"
    csv_path.write_text(
        "Облыс;Учаске;Тізімде;Берілді;Нұр Отан\n"
        "г. Алматы;1;1000;600;400\n"
        "Южно-Казахстанская область;1;1200;900;700\n"
        "ЮКО;2;800;500;300\n",
        encoding="utf-8",
    )
    map_path = tmp_path / "kz.toml"
    map_path.write_text(KZ_MAPPING, encoding="utf-8")
    return csv_path, map_path


def test_south_kazakhstan_accepted_in_2016_and_refused_in_2021(tmp_path: Path) -> None:
    csv_path, map_path = _kz_file(tmp_path)
    text_2021 = builtin_template("kz-majilis-2021").source_text
    t2016 = parse_template(text_2021.replace('date = "2021-01-10"', 'date = "2016-03-20"'))
    hq = ElectionStore.create(tmp_path / "kz2016.baqylau", t2016, role=ROLE_HQ)
    try:
        assert import_official(hq, csv_path, map_path).rows == 3
        st = hq.station_by_code("Южно-Казахстанская область/1")
        assert st is not None and st.region == "KZ-YUZ-1992"
        assert {u.region for u in aggregate(hq, "region", "official")} == {"KZ-ALA", "KZ-YUZ-1992"}
    finally:
        hq.close()

    hq = ElectionStore.create(tmp_path / "kz2021.baqylau", builtin_template("kz-majilis-2021"), role=ROLE_HQ)
    set_language("en")
    try:
        with pytest.raises(RowsRefused) as err:
            import_official(hq, csv_path, map_path)
        assert [p.line for p in err.value.problems] == [3, 4]
        message = err.value.problems[0].message
        assert "South Kazakhstan existed until 2018-06-18" in message and "2021-01-10" in message
        assert "Turkistan" in message and "Shymkent" in message
        assert sqlite3.connect(hq.path).execute("SELECT count(*) FROM stations").fetchone() == (0,)
    finally:
        set_language("ru")
        hq.close()


def test_an_observer_at_a_compound_key_station_merges_onto_it(tmp_path: Path, drafted: tuple[Path, Path, Path]) -> None:
    """The code an observer types at such a station («Регион/ТИК/УИК №1», up to 160 characters) travels
    in the signed package and lands on the station the published file created, not on a new one."""
    from db.merge import MERGED, merge_packages
    from db.package import export_station_package
    from observer.signing import KeyPair

    csv_path, template_path, map_path = drafted
    template = load_template(template_path)
    hq = ElectionStore.create(tmp_path / "ru.baqylau", template, role=ROLE_HQ)
    import_official(hq, csv_path, map_path)
    code = f"{REGIONS[1]}/Ленинская ТИК/УИК №1"
    assert len(code) > 32
    station = ElectionStore.create(tmp_path / "observer.baqylau", template)
    station.set_observer("Анна Петрова", "Голос")
    st = station.upsert_station(code, REGIONS[1])
    station.select_station(st.id)
    pid = station.protocol_id(st.id)
    station.set_protocol_value(pid, template.all_keys[0], 1000)
    keys = KeyPair.generate()
    package = export_station_package(station, tmp_path / "usb", keys)
    station.close()
    try:
        before = len(hq.stations())
        report = merge_packages(hq, [package], trust_new_keys=True)
        assert [e.outcome for e in report.entries] == [MERGED], [e.reason for e in report.entries]
        assert len(hq.stations()) == before  # matched by its code, no new station
        target = hq.station_by_code(code)
        assert target is not None and target.region == REGIONS[1]
    finally:
        hq.close()
    other = ElectionStore.create(tmp_path / "other.baqylau", template)
    try:
        with pytest.raises(StorageError, match="160"):
            other.upsert_station("x" * 161)
    finally:
        other.close()
