"""Official results import: a hand-worked example, summed columns, bad rows, re-import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from db.official import import_official, official_layout, official_source, official_values
from db.store import ROLE_HQ, ElectionStore
from observer.csvio import RowsRefused, read_csv
from observer.errors import ImportDataError, StorageError

MAPPING = """
encoding = "cp1251"
delimiter = ";"

[station]
code = "УИК"
region = "Область"
district = "ТИК"

[lines]
registered = "Избирателей"
received = "Получено"
issued = ["Досрочно", "В помещении", "Вне помещения"]
issued_outside = "Вне помещения"
in_boxes = "В урнах"
invalid = "Недействительных"
valid = "Действительных"

[parties]
nur_otan = "Нур Отан"
ak_zhol = "Ак жол"
qhp = "НПК"
auyl = "Ауыл"
adal = "Адал"
"""

HEADER = "УИК;Область;ТИК;Избирателей;Получено;Досрочно;В помещении;Вне помещения;В урнах;Недействительных;Действительных;Нур Отан;Ак жол;НПК;Ауыл;Адал"
# Five stations; issued = early + at the station + outside is worked out in the test below.
ROWS = [
    "1;г. Алматы;Алмалинская;1000;1000;10;500;20;530;30;500;300;100;50;30;20",
    "2;г. Алматы;Бостандыкская;2000;2000;0;1200;0;1200;0;1200;1000;100;50;30;20",
    "3;Акмолинская область;Кокшетау;500;500;5;300;15;320;20;300;200;50;25;15;10",
    "4;KZ-KAR;Караганда;1500;1500;0;;0;600;10;590;400;90;50;30;20",
    "5;kz-55;Павлодар;800;800;;;;0;0;0;0;0;0;0;0",
]


def write(
    tmp_path: Path, rows: list[str], *, name: str = "official.csv", encoding: str = "cp1251"
) -> tuple[Path, Path]:
    csv_path = tmp_path / name
    csv_path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    map_path = tmp_path / "map.toml"
    map_path.write_text(MAPPING, encoding="utf-8")
    return csv_path, map_path


@pytest.fixture
def hq(tmp_path: Path, template_2021) -> ElectionStore:
    s = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    yield s
    s.close()


def test_hand_worked_example(tmp_path: Path, hq: ElectionStore) -> None:
    csv_path, map_path = write(tmp_path, ROWS)
    report = import_official(hq, csv_path, map_path)
    assert (report.rows, report.stations_created, report.records_written, report.replaced) == (5, 5, 5, 0)
    assert report.encoding == "cp1251" and report.delimiter == ";"

    s1 = hq.station_by_code("1")
    assert s1 is not None and (s1.region, s1.district, s1.registered) == ("KZ-ALA", "Алмалинская", 1000)
    v1 = official_values(hq, s1.id)
    assert v1 is not None
    assert v1["issued"] == 10 + 500 + 20 == 530
    assert v1["issued_outside"] == 20
    assert v1["cancelled"] is None and v1["spoiled"] is None  # not mapped: not given
    assert v1["nur_otan"] == 300

    # Station 4 leaves "В помещении" empty: the other parts still add up (0 + 0).
    s4 = hq.station_by_code("4")
    assert s4 is not None and s4.region == "KZ-KAR"
    assert official_values(hq, s4.id)["issued"] == 0  # type: ignore[index]
    # Station 5 leaves every part of issued empty: the sum is not given, not 0.
    s5 = hq.station_by_code("5")
    assert s5 is not None and s5.region == "KZ-PAV"
    assert official_values(hq, s5.id)["issued"] is None  # type: ignore[index]

    # The packed copy used for aggregation agrees with the readable one.
    layout = official_layout(hq)
    con = sqlite3.connect(hq.path)
    blob = con.execute("SELECT values_blob FROM official_results WHERE station_id = ?", (s1.id,)).fetchone()[0]
    packed = dict(zip(layout, np.frombuffer(blob, dtype="<i8").tolist()))
    assert packed["issued"] == 530 and packed["cancelled"] == -1 and packed["adal"] == 20
    lines = dict(
        con.execute("SELECT s.code, o.source_line FROM official_results o JOIN stations s ON s.id = o.station_id")
    )
    assert lines == {"1": 2, "2": 3, "3": 4, "4": 5, "5": 6}
    con.close()
    src = official_source(hq)
    assert src is not None and src["file"] == "official.csv" and src["rows"] == "5" and len(src["sha256"]) == 64


def test_utf8_bom_and_comma_with_auto_settings(tmp_path: Path, hq: ElectionStore) -> None:
    csv_path = tmp_path / "o.csv"
    csv_path.write_bytes("\ufeffcode,region,registered,issued,nur_otan\n9,Ақмола облысы,100,40,30\n".encode("utf-8"))
    map_path = tmp_path / "m.toml"
    map_path.write_text(
        '[station]\ncode = "code"\nregion = "region"\n[lines]\nregistered = "registered"\nissued = "issued"\n'
        '[parties]\nnur_otan = "nur_otan"\n',
        encoding="utf-8",
    )
    report = import_official(hq, csv_path, map_path)
    assert report.encoding == "utf-8-sig" and report.delimiter == ","
    st = hq.station_by_code("9")
    assert st is not None and st.region == "KZ-AKM"
    assert official_values(hq, st.id) == {
        "registered": 100,
        "received": None,
        "issued": 40,
        "issued_outside": None,
        "cancelled": None,
        "spoiled": None,
        "in_boxes": None,
        "invalid": None,
        "valid": None,
        "nur_otan": 30,
        "ak_zhol": None,
        "qhp": None,
        "auyl": None,
        "adal": None,
    }


def test_bad_rows_are_all_reported_and_nothing_is_written(tmp_path: Path, hq: ElectionStore) -> None:
    good, map_path = write(tmp_path, ROWS)
    import_official(hq, good, map_path)
    before = (
        sqlite3.connect(hq.path)
        .execute("SELECT count(*), group_concat(hex(values_blob)) FROM official_results")
        .fetchone()
    )

    bad_rows = [
        ROWS[0],
        "2;г. Алматы;Бостандыкская;2000;2000;0;много;0;1200;0;1200;1000;100;50;30;20",  # line 3: not a number
        "3;Акмолинская область;Кокшетау;500;500;5;300;15;320;-20;300;200;50;25;15;10",  # line 4: negative
        "1;г. Алматы;Алмалинская;1000;1000;10;500;20;530;30;500;300;100;50;30;20",  # line 5: duplicate of line 2
        "6;Марс;Кратер;1;1;0;1;0;1;0;1;1;0;0;0;0",  # line 6: unknown region
        "7;г. Алматы;Медеуская;1000;1000",  # line 7: missing columns
        "8;Абай облысы;Семей;1;1;0;1;0;1;0;1;1;0;0;0;0",  # line 8: region created only in 2022
    ]
    bad, _ = write(tmp_path, bad_rows, name="bad.csv")
    with pytest.raises(RowsRefused) as exc:
        import_official(hq, bad, map_path)
    found = {p.line for p in exc.value.problems}
    assert {3, 4, 5, 6, 7, 8} <= found and 2 not in found
    messages = " | ".join(p.message for p in exc.value.problems)
    assert "много" in messages and "Марс" in messages
    assert str(exc.value).startswith("bad.csv")

    con = sqlite3.connect(hq.path)
    assert con.execute("SELECT count(*), group_concat(hex(values_blob)) FROM official_results").fetchone() == before
    assert con.execute("SELECT count(*) FROM stations WHERE code IN ('6', '7', '8')").fetchone()[0] == 0
    con.close()


def test_reimport_replaces_previous_figures(tmp_path: Path, hq: ElectionStore) -> None:
    first, map_path = write(tmp_path, ROWS)
    import_official(hq, first, map_path)
    changed = [ROWS[0].replace(";300;100;50;30;20", ";310;90;50;30;20")]
    second, _ = write(tmp_path, changed, name="second.csv")
    report = import_official(hq, second, map_path)
    assert report.replaced == 5 and report.stations_created == 0
    con = sqlite3.connect(hq.path)
    assert con.execute("SELECT count(*) FROM official_results").fetchone()[0] == 1
    con.close()
    s1 = hq.station_by_code("1")
    assert official_values(hq, s1.id)["nur_otan"] == 310  # type: ignore[union-attr,index]
    assert official_values(hq, hq.station_by_code("2").id) is None  # type: ignore[union-attr]
    assert hq.station_count() == 5  # stations stay; only the official figures are replaced


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ('[station]\ncode = "УИК"\n[lines]\nturnout = "x"\n', "coord.map.unknown_key"),
        ('[station]\ncode = "УИК"\n[parties]\nnur_otan = 5\n', "coord.map.bad_column"),
        ('[station]\nregion = "Область"\n[lines]\nregistered = "Избирателей"\n', "coord.map.missing"),
        ('[station]\ncode = "УИК"\n', "coord.map.no_values"),
        ('[station]\ncode = "УИК"\n[lines]\nregistered = "Нет такого"\n', "coord.map.columns_missing"),
        ("[station\n", "coord.map.syntax"),
    ],
)
def test_broken_mappings(tmp_path: Path, hq: ElectionStore, mapping: str, key: str) -> None:
    csv_path, map_path = write(tmp_path, ROWS)
    map_path.write_text(mapping, encoding="utf-8")
    with pytest.raises(ImportDataError) as exc:
        import_official(hq, csv_path, map_path)
    assert exc.value.key == key


def test_refuses_an_observer_file(tmp_path: Path, store: ElectionStore) -> None:
    csv_path, map_path = write(tmp_path, ROWS)
    with pytest.raises(ImportDataError) as exc:
        import_official(store, csv_path, map_path)
    assert exc.value.key == "coord.hq.not_hq"


def test_problems_across_chunks_keep_their_lines(
    tmp_path: Path, hq: ElectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.official as official
    from observer.csvio import read_csv_chunks

    # Two rows per chunk (csv.reader's chunks, not the plain reader's one table of the whole file):
    # the duplicate on line 5 repeats line 2, two chunks earlier.
    monkeypatch.setattr(
        official, "read_csv_chunks", lambda *a, **k: read_csv_chunks(*a, **{**k, "chunk_rows": 2, "plain": False})
    )
    rows = [ROWS[0], ROWS[1], ROWS[2], ROWS[0], ROWS[4].replace("kz-55", "Марс")]
    csv_path, map_path = write(tmp_path, rows)
    with pytest.raises(RowsRefused) as exc:
        import_official(hq, csv_path, map_path)
    assert [p.line for p in exc.value.problems] == [5, 6]
    good, _ = write(tmp_path, ROWS, name="good.csv")
    assert import_official(hq, good, map_path).rows == 5
    assert official_values(hq, hq.station_by_code("4").id)["issued"] == 0  # type: ignore[union-attr,index]


def _schema(path: Path) -> set[tuple[str, str, str, str | None]]:
    con = sqlite3.connect(path)
    try:
        return set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        con.close()


def test_import_into_an_empty_hq_builds_the_station_indexes_again(
    tmp_path: Path, hq: ElectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager

    import db.official as official

    real = official.secondary_indexes_deferred
    during: list[set[str]] = []

    @contextmanager
    def spy(dbapi: sqlite3.Connection, table: str, *, when: bool):  # type: ignore[no-untyped-def]
        with real(dbapi, table, when=when):
            during.append(
                {
                    n
                    for (n,) in dbapi.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
                    )
                }
            )
            yield

    monkeypatch.setattr(official, "secondary_indexes_deferred", spy)
    before = _schema(hq.path)
    csv_path, map_path = write(tmp_path, ROWS)
    import_official(hq, csv_path, map_path)
    # While the rows went in, only the PRIMARY KEY and UNIQUE (code) indexes were there, and the
    # partial ones (observer, package: NULL for imported stations, nothing to keep up to date).
    assert during == [
        {
            "sqlite_autoindex_stations_1",
            "sqlite_autoindex_stations_2",
            "ix_stations_observer_id",
            "ix_stations_package_id",
        }
    ]
    assert _schema(hq.path) == before
    con = sqlite3.connect(hq.path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # the rebuilt indexes hold every row
    assert (
        con.execute("SELECT count(*) FROM stations INDEXED BY ix_stations_region WHERE region = 'KZ-ALA'").fetchone()[0]
        == 2
    )
    con.close()


def test_a_failed_write_leaves_the_indexes_and_the_file_as_they_were(
    tmp_path: Path, hq: ElectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.official as official
    from observer.errors import StorageError

    def broken(*args: object, **kwargs: object) -> object:
        raise sqlite3.OperationalError("disk I/O error")

    before = _schema(hq.path)
    monkeypatch.setattr(official, "official_rows", broken)  # fails after the stations went in, indexes dropped
    csv_path, map_path = write(tmp_path, ROWS)
    with pytest.raises(StorageError):
        import_official(hq, csv_path, map_path)
    assert _schema(hq.path) == before
    assert hq.station_count() == 0


def test_mixed_new_and_known_stations_written_in_blocks(
    tmp_path: Path, hq: ElectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.official as official

    first, map_path = write(tmp_path, [ROWS[3], ROWS[1]], name="first.csv")
    import_official(hq, first, map_path)
    known = {code: hq.station_by_code(code).id for code in ("2", "4")}  # type: ignore[union-attr]
    before = _schema(hq.path)
    monkeypatch.setattr(official, "WRITE_BLOCK", 2)  # several blocks, the last one short
    second, _ = write(tmp_path, ROWS, name="second.csv")
    report = import_official(hq, second, map_path)
    assert (report.rows, report.stations_created, report.replaced) == (5, 3, 2)
    assert _schema(hq.path) == before  # the table was not empty: indexes kept as they were
    assert {code: hq.station_by_code(code).id for code in ("2", "4")} == known  # type: ignore[union-attr]
    con = sqlite3.connect(hq.path)
    rows = con.execute(
        "SELECT s.code, o.source_line, o.values_json, o.values_blob, o.station_id FROM official_results o JOIN stations s ON s.id = o.station_id"
    ).fetchall()
    con.close()
    assert sorted((code, line) for code, line, *_ in rows) == [("1", 2), ("2", 3), ("3", 4), ("4", 5), ("5", 6)]
    assert len({r[4] for r in rows}) == 5
    layout = official_layout(hq)
    by_code = {code: sid for code, sid in sqlite3.connect(hq.path).execute("SELECT code, id FROM stations")}
    for code, _, text, blob, _ in rows:
        assert text is None  # the figures are stored once, packed (revision 0009)
        packed = dict(zip(layout, np.frombuffer(blob, dtype="<i8").tolist()))
        assert official_values(hq, by_code[code]) == {k: (v if v >= 0 else None) for k, v in packed.items()}
    assert official_values(hq, known["2"])["registered"] == 2000  # type: ignore[index]
    assert official_values(hq, hq.station_by_code("3").id)["issued"] == 5 + 300 + 15  # type: ignore[union-attr,index]


@pytest.mark.parametrize("sizes", [[0], [1], [99], [100], [101, 0, 250], [250, 3]])
def test_insert_columns_writes_every_row_in_order_whatever_the_statement_size(sizes: list[int]) -> None:
    import db.bulk as bulk

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, b BLOB)")
    rows = [(i, f"v{i}", bytes([i % 256])) for i in range(sum(sizes))]
    starts = [sum(sizes[:j]) for j in range(len(sizes))]
    blocks = [tuple(map(list, zip(*rows[a : a + n]))) or ([], [], []) for a, n in zip(starts, sizes)]
    bulk.insert_columns(conn, "INSERT INTO t (k, v, b) VALUES", "(?, ?, ?)", iter(blocks))
    assert conn.execute("SELECT k, v, b FROM t ORDER BY rowid").fetchall() == rows
    # SQLite's variable limit caps the rows of a statement: 7 variables leave 2 rows of 3
    conn.execute("DELETE FROM t")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 7)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    bulk.insert_columns(conn, "INSERT INTO t (k, v, b) VALUES", "(?, ?, ?)", blocks)
    assert conn.execute("SELECT k, v, b FROM t ORDER BY rowid").fetchall() == rows
    assert all(sql.count("),") <= 1 for sql in statements)


def test_new_ids_are_ascending_distinct_uuid4() -> None:
    import uuid

    from db.official import new_ids

    assert new_ids(0) == [] and len(new_ids(1)) == 1
    ids = new_ids(5000)
    assert ids == sorted(ids) and len(set(ids)) == 5000
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)


def test_unpacked_reads_the_layout_and_refuses_a_blob_that_does_not_fit() -> None:
    from db.official import MISSING, unpacked

    keys = ("registered", "issued", "nur_otan")
    blob = np.array([1500, MISSING, 0], dtype="<i8").tobytes()
    assert unpacked(blob, keys) == {"registered": 1500, "issued": None, "nur_otan": 0}
    assert unpacked(blob[:-8], keys) is None and unpacked(None, keys) is None and unpacked(blob, ()) is None


def test_reader_json_of_packed_and_json_only_rows() -> None:
    from db.official import MISSING
    from db.services.station_reader import official_json

    layout = json.dumps(["registered", "issued"])
    blob = np.array([900, MISSING], dtype="<i8").tobytes()
    assert json.loads(official_json(None, blob, layout)) == {"registered": 900, "issued": None}
    assert official_json('{"registered":5}', None, layout) == '{"registered":5}'  # another tool's row
    assert official_json(None, blob[:8], layout) == "{}" and official_json(None, None, None) == "{}"


def test_clean_file_converted_at_once_gives_the_per_column_figures(
    tmp_path: Path, hq: ElectionStore, template_2021, monkeypatch: pytest.MonkeyPatch
) -> None:
    import db.import_columns as official  # where the one-conversion path lives

    clean = ROWS[:3]  # no empty cells: the one-conversion path
    csv_path, map_path = write(tmp_path, clean)
    import_official(hq, csv_path, map_path)
    fast = {c: official_values(hq, hq.station_by_code(c).id) for c in ("1", "2", "3")}  # type: ignore[union-attr]
    convert = official.clean_counts
    calls: list[int] = []
    monkeypatch.setattr(official, "clean_counts", lambda table, idxs: calls.append(1) or {})
    other = ElectionStore.create(tmp_path / "other.baqylau", template_2021, role=ROLE_HQ)
    try:
        import_official(other, csv_path, map_path)
        slow = {c: official_values(other, other.station_by_code(c).id) for c in ("1", "2", "3")}  # type: ignore[union-attr]
    finally:
        other.close()
    assert calls and fast == slow
    assert fast["1"]["issued"] == 530 and fast["3"]["nur_otan"] == 200  # type: ignore[index]
    assert convert(read_csv(csv_path, encoding="cp1251", delimiter=";"), [3, 4])[4].tolist() == [1000, 2000, 500]
    assert convert(read_csv(write(tmp_path, ROWS, name="gaps.csv")[0], encoding="cp1251", delimiter=";"), [3, 6]) == {}


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8"])
def test_plain_and_csv_reader_paths_write_the_same_hq(
    tmp_path: Path, template_2021, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """The plain reader (numpy, by column) and csv.reader give the same stations and figures, also with
    quoted cells, empty cells (the per-cell parse) and summed columns."""
    import db.official as official
    from observer.csvio import read_csv_chunks

    rows = [*ROWS, '6;"г. Алматы";"Медеуская; 2";700;700;0;"350";0;350;0;350;200;100;25;15;10']
    csv_path, map_path = write(tmp_path, rows, encoding=encoding)
    if encoding == "utf-8":
        map_path.write_text(MAPPING.replace('encoding = "cp1251"', 'encoding = "utf-8"'), encoding="utf-8")
    seen: list[type] = []

    def content(plain: bool) -> tuple[list, dict]:
        def reader(*a, **k):  # type: ignore[no-untyped-def]
            head, chunks = read_csv_chunks(*a, **{**k, "plain": plain})
            chunks = list(chunks)
            seen.extend(type(c) for c in chunks)
            return head, iter(chunks)

        monkeypatch.setattr(official, "read_csv_chunks", reader)
        hq = ElectionStore.create(tmp_path / f"hq-{plain}.baqylau", template_2021, role=ROLE_HQ)
        try:
            import_official(hq, csv_path, map_path)
            stations = sorted((s.code, s.region, s.district, s.registered) for s in hq.stations())
            return stations, {s.code: official_values(hq, s.id) for s in hq.stations()}
        finally:
            hq.close()

    plain, careful = content(True), content(False)
    assert [t.__name__ for t in seen] == ["PlainCsv", "CsvTable"]  # each path was taken
    assert plain == careful
    assert ("6", "KZ-ALA", "Медеуская; 2", 700) in plain[0] and plain[1]["6"]["issued"] == 350  # type: ignore[index]


@pytest.mark.parametrize(
    ("encoding", "bad", "key"),
    [
        ("cp1251", b"\x98", "coord.csv.undecodable"),
        ("cp1251", b"\x00", "coord.csv.binary"),
        ("utf-8", b"\xff", "coord.csv.undecodable"),
        ("auto", b"\x98", "coord.csv.undecodable"),  # neither UTF-8 nor cp1251
    ],
)
def test_a_file_the_plain_reader_does_not_decode_whole_is_still_checked_whole(
    tmp_path: Path, hq: ElectionStore, encoding: str, bad: bytes, key: str
) -> None:
    """The plain reader decodes a file only in pieces (UTF-8) or not at all (cp1251 cannot fail but
    on 0x98); a byte that does not decode (or a NUL) in a cell of line 4 is still refused,
    naming the line, and nothing is written."""
    from observer.csvio import CsvError

    csv_path, map_path = write(tmp_path, ROWS, encoding="utf-8" if encoding == "utf-8" else "cp1251")
    map_path.write_text(MAPPING.replace('encoding = "cp1251"', f'encoding = "{encoding}"'), encoding="utf-8")
    lines = csv_path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace("Кокшетау".encode("utf-8" if encoding == "utf-8" else "cp1251"), b"Kok" + bad)
    csv_path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(CsvError) as exc:
        import_official(hq, csv_path, map_path)
    assert exc.value.key == key and exc.value.params["line"] == 4
    assert official_source(hq) is None


@pytest.mark.parametrize(("encoding", "expected"), [("auto", "cp1251"), ("auto", "utf-8"), ("utf-8", "utf-8-sig")])
def test_the_plain_reader_names_the_encoding_as_decode_does(
    tmp_path: Path, hq: ElectionStore, encoding: str, expected: str
) -> None:
    csv_path, map_path = write(tmp_path, ROWS, encoding="cp1251" if expected == "cp1251" else "utf-8")
    if expected == "utf-8-sig":
        csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    map_path.write_text(MAPPING.replace('encoding = "cp1251"', f'encoding = "{encoding}"'), encoding="utf-8")
    report = import_official(hq, csv_path, map_path)
    assert report.encoding == expected and report.rows == 5
    assert hq.station_by_code("3").district == "Кокшетау"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        # quoted separators, no line break: streamed in one pass, record k is line k
        (b'a,b\n1,"x,1"\n2,"y,2"\n3,z\n4,"w"\n5,v\n', [2, 3, 4, 5, 6]),
        # a quoted line break in the third chunk: the rows already handed out stay, the rest is read carefully
        (b'a,b\n1,p\n2,q\n3,r\n4,s\n5,"t\nu"\n6,w\n', [2, 3, 4, 5, 6, 8]),
    ],
)
def test_chunks_of_a_quoted_file_keep_each_row_once_with_its_line(tmp_path: Path, raw: bytes, lines: list[int]) -> None:
    from observer.csvio import read_csv_chunks

    f = tmp_path / "q.csv"
    f.write_bytes(raw)
    _, chunks = read_csv_chunks(f, chunk_rows=2)
    got = list(chunks)
    assert [n for c in got for n in c.lines] == lines
    assert [r[0] for c in got for r in c.rows] == [str(i) for i in range(1, len(lines) + 1)]


# ---- the same import (and the official aggregate) on a PostgreSQL HQ: same rows, same output as a file ----------
# (a real server: tests/conftest.py's pg_url; docs/postgresql.md)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory):
    from db.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("demo"), stations=200, seed=3)


def _official_import(where: str, csv: Path, mapping: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    from main import main

    argv = ["--lang", "en", "official", "import", where, str(csv), "--map", str(mapping)]
    code = main([*argv, "--template", "kz-majilis-2021", "--format", "json"])
    out = capsys.readouterr().out
    summary = json.loads(out) if code == 0 else {}
    summary.pop("seconds", None)  # the only field that may differ
    return code, summary


def _official_content(where: str) -> tuple[list, dict, dict]:
    """Stations, official figures by station code, and the official meta rows (the import time left out)."""
    hq = ElectionStore.open(where)
    try:
        stations = [(s.code, s.region, s.district, s.address, s.registered) for s in hq.stations()]
        figures = {s.code: official_values(hq, s.id) for s in hq.stations()}
        source = official_source(hq) or {}
        source.pop("imported_at", None)
        return stations, figures, {**source, "layout": hq.meta("official_layout")}
    finally:
        hq.close()


@pytest.mark.postgres
def test_official_import_gives_the_same_hq_and_summary_on_both(
    demo_files, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`official import` into a new HQ (every station created), then again (every row replaced)."""
    seen = []
    for where in (str(tmp_path / "hq.baqylau"), pg_url):
        first = _official_import(where, demo_files.official_csv, demo_files.official_map, capsys)
        again = _official_import(where, demo_files.official_csv, demo_files.official_map, capsys)
        seen.append((first, again, _official_content(where)))
    assert seen[0] == seen[1]
    (code, summary), (code_again, summary_again), (stations, figures, source) = seen[1]
    assert code == code_again == 0
    assert summary["rows"] == summary["stations_created"] == 200 and summary["replaced"] == 0
    assert summary_again["stations_created"] == 0 and summary_again["replaced"] == 200
    assert len(stations) == 200 and all(figures[code] for code, *_ in stations)
    assert source["rows"] == "200" and len(source["sha256"]) == 64


@pytest.mark.postgres
def test_official_import_into_known_stations_matches_on_both(
    demo_files, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The station list first (addresses, some stations the results do not have), then the results."""
    from main import main

    seen = []
    for where in (str(tmp_path / "hq.baqylau"), pg_url):
        argv = ["stations", "import", where, str(demo_files.stations_csv), "--template", "kz-majilis-2021", "-q"]
        assert main(argv) == 0
        result = _official_import(where, demo_files.official_csv, demo_files.official_map, capsys)
        seen.append((result, _official_content(where)))
    assert seen[0] == seen[1]
    assert seen[1][0][0] == 0 and seen[1][0][1]["rows"] == 200


@pytest.mark.postgres
def test_a_refused_official_file_writes_nothing_on_pg(
    demo_files, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _official_import(pg_url, demo_files.official_csv, demo_files.official_map, capsys)[0] == 0
    before = _official_content(pg_url)
    lines = demo_files.official_csv.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b";", b";abc;", 1)  # a row one cell too wide, with a word for a number
    lines.append(lines[3])  # and the same station twice
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\n".join(lines))
    assert _official_import(pg_url, bad, demo_files.official_map, capsys)[0] != 0
    assert _official_content(pg_url) == before
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'official_file'").fetchone() == (
            "official-results.csv",
        )


@pytest.mark.postgres
def test_an_official_import_the_server_refuses_half_way_writes_nothing(
    demo_files, pg_url: str, tmp_path: Path, template_2021
) -> None:
    """The server refuses row 150 of the COPY, after the old figures were deleted and new stations copied."""
    hq = ElectionStore.create(pg_url, template_2021, role=ROLE_HQ)
    try:
        small = tmp_path / "first.csv"  # the first 100 stations: the other 100 are new in the second import
        small.write_bytes(b"\n".join(demo_files.official_csv.read_bytes().split(b"\n")[:101]) + b"\n")
        import_official(hq, small, demo_files.official_map)
        before = _official_content(pg_url)
        import psycopg

        with psycopg.connect(pg_url) as conn:
            conn.execute("ALTER TABLE official_results ADD CONSTRAINT early CHECK (source_line < 150)")
        with pytest.raises(StorageError):
            import_official(hq, demo_files.official_csv, demo_files.official_map)
        assert _official_content(pg_url) == before and len(before[0]) == 100
    finally:
        hq.close()


def _aggregate_json(where: str, level: str, source: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`baqylau aggregate WHERE --format json`, through the command line as a coordinator types it."""
    from main import main

    assert main(["aggregate", where, "--level", level, "--source", source, "--format", "json"]) == 0
    return capsys.readouterr().out


@pytest.mark.postgres
def test_aggregate_of_the_official_figures_is_byte_identical_on_both(
    demo_files, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for where in (str(tmp_path / "hq.baqylau"), pg_url):
        assert _official_import(where, demo_files.official_csv, demo_files.official_map, capsys)[0] == 0
        outputs.append(
            [_aggregate_json(where, level, "official", capsys) for level in ("national", "region", "district")]
        )
    assert outputs[0] == outputs[1]
    national, regions, districts = (json.loads(text) for text in outputs[1])
    assert len(national) == 1 and len(regions) > 1 and len(districts) > len(regions)
