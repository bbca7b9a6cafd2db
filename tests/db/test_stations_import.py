"""Station list import: default columns, mapping file, region names, updates, all-or-nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from db.stations_import import import_stations
from db.store import ROLE_HQ, ElectionStore
from observer.csvio import RowsRefused
from observer.errors import ImportDataError


@pytest.fixture
def hq(tmp_path: Path, template_2021) -> ElectionStore:
    s = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    yield s
    s.close()


def test_default_columns_and_region_spellings(tmp_path: Path, hq: ElectionStore) -> None:
    f = tmp_path / "stations.csv"
    f.write_text(
        "code,region,district,address,registered\n"
        '101,KZ-ALA,Алмалинский,"ул. Абая, 1",1500\n'
        "102,Ақмола облысы,Көкшетау,,\n"
        '103,kz-55,Павлодар,ул. Ленина 5,"1 200"\n'
        "104,West Kazakhstan,Уральск,,800\n",
        encoding="utf-8",
    )
    report = import_stations(hq, f)
    assert (report.rows, report.stations_created, report.stations_updated) == (4, 4, 0)
    s101 = hq.station_by_code("101")
    assert s101 is not None and (s101.region, s101.district, s101.address, s101.registered) == (
        "KZ-ALA",
        "Алмалинский",
        "ул. Абая, 1",
        1500,
    )
    assert hq.station_by_code("102").region == "KZ-AKM" and hq.station_by_code("102").registered is None  # type: ignore[union-attr]
    assert hq.station_by_code("103").registered == 1200  # type: ignore[union-attr]
    assert hq.station_by_code("104").region == "KZ-ZAP"  # type: ignore[union-attr]


def test_update_changes_only_columns_the_file_has(tmp_path: Path, hq: ElectionStore) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        "code;region;district;address;registered\n7;KZ-AST;Есильский;пр. Мангилик Ел, 8;2100\n", encoding="utf-8"
    )
    import_stations(hq, first)
    second = tmp_path / "b.csv"
    second.write_text("code;region;registered\n7;KZ-AST;2200\n8;KZ-AST;900\n", encoding="utf-8")
    report = import_stations(hq, second)
    assert (report.stations_created, report.stations_updated) == (1, 1)
    s7 = hq.station_by_code("7")
    assert s7 is not None and s7.registered == 2200
    assert s7.address == "пр. Мангилик Ел, 8" and s7.district == "Есильский"  # kept: the file has no such columns


def test_mapping_file_with_cp1251(tmp_path: Path, hq: ElectionStore) -> None:
    f = tmp_path / "uik.csv"
    f.write_bytes("№ УИК;Область;ТИК;Избирателей\n55;Павлодарская область;Экибастуз;1300\n".encode("cp1251"))
    mp = tmp_path / "map.toml"
    mp.write_text(
        '[station]\ncode = "№ УИК"\nregion = "Область"\ndistrict = "ТИК"\nregistered = "Избирателей"\n',
        encoding="utf-8",
    )
    report = import_stations(hq, f, mp)
    assert report.encoding == "cp1251"
    st = hq.station_by_code("55")
    assert st is not None and (st.region, st.district, st.registered) == ("KZ-PAV", "Экибастуз", 1300)


def test_bad_rows_refuse_the_whole_file(tmp_path: Path, hq: ElectionStore) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(
        "code,region,district,registered\n"
        "1,KZ-ALA,A,100\n"  # line 2: fine
        "2,Атлантида,B,100\n"  # line 3: unknown region
        "1,KZ-ALA,C,100\n"  # line 4: duplicate code
        ",KZ-ALA,D,100\n"  # line 5: no code
        "5,KZ-ALA,E,сто\n",  # line 6: not a number
        encoding="utf-8",
    )
    with pytest.raises(RowsRefused) as exc:
        import_stations(hq, f)
    assert [p.line for p in exc.value.problems] == [3, 4, 5, 6]
    assert "Атлантида" in exc.value.problems[0].message
    assert hq.station_count() == 0
    con = sqlite3.connect(hq.path)
    assert con.execute("SELECT count(*) FROM stations").fetchone()[0] == 0
    con.close()


def test_missing_required_column(tmp_path: Path, hq: ElectionStore) -> None:
    f = tmp_path / "s.csv"
    f.write_text("code,district\n1,A\n", encoding="utf-8")
    with pytest.raises(ImportDataError) as exc:
        import_stations(hq, f)
    assert exc.value.key == "coord.map.columns_missing"
    assert "region" in str(exc.value)


def test_station_number_with_a_line_break_is_refused(tmp_path) -> None:
    from db.stations_import import import_stations
    from db.store import ElectionStore
    from observer.csvio import RowsRefused
    from observer.template import builtin_template

    hq = ElectionStore.create(tmp_path / "hq.baqylau", builtin_template("kz-majilis-2021"), role="hq")
    csv = tmp_path / "stations.csv"
    csv.write_text('code,region,district,address,registered\n"30\n3",KZ-ALA,Алмалы,"ул. Абая",1200\n', encoding="utf-8")
    with pytest.raises(RowsRefused) as info:
        import_stations(hq, csv)
    assert "line break" in str(info.value.problems[0]) or "перевод строки" in str(info.value.problems[0])
    assert hq.station_count() == 0
    hq.close()


def test_first_list_builds_the_station_indexes_again(tmp_path: Path, hq: ElectionStore) -> None:
    def schema() -> set[tuple[str, str, str, str | None]]:
        con = sqlite3.connect(hq.path)
        try:
            return set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        finally:
            con.close()

    before = schema()
    f = tmp_path / "stations.csv"
    f.write_text(
        "code,region,district\n1,KZ-ALA,Алмалинский\n2,KZ-AKM,Көкшетау\n3,KZ-ALA,Медеуский\n", encoding="utf-8"
    )
    assert import_stations(hq, f).stations_created == 3
    assert schema() == before
    con = sqlite3.connect(hq.path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (
        con.execute("SELECT count(*) FROM stations INDEXED BY ix_stations_region WHERE region = 'KZ-ALA'").fetchone()[0]
        == 2
    )
    con.close()
