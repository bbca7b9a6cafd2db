"""An election file written by every released schema opens and upgrades without loss."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from db.store import ElectionStore, head_revision
from observer.errors import StorageError

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "schema").glob("*.baqylau"))


def test_there_is_a_fixture_per_revision() -> None:
    from alembic.script import ScriptDirectory

    from db.store import _alembic_config

    script = ScriptDirectory.from_config(_alembic_config())
    revisions = {r.revision for r in script.walk_revisions()}
    assert {f.stem for f in FIXTURES} == revisions, "add a fixture: tests/fixtures/make_schema_fixtures.py"
    # db.store reads revisions from file names (no Alembic import at start-up): the numbering must hold.
    from db.store import head_revision, known_revisions

    assert set(known_revisions()) == revisions and head_revision() == script.get_current_head()


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_old_file_upgrades_without_loss(fixture: Path, tmp_path: Path) -> None:
    copy = tmp_path / fixture.name
    shutil.copy(fixture, copy)  # never touch the committed file
    store = ElectionStore.open(copy)
    try:
        st = store.current_station()
        assert st is not None and st.code == "101" and st.registered == 1500 and st.district == "Алмалы"
        assert store.observer() is not None and store.observer().name == "Әлия Сәрсенова"
        assert [(s.slot, s.announced, s.observed) for s in store.turnout_slots(st.id)] == [("10:00", 210, 150)]
        assert store.headcount(st.id) == 1
        assert store.protocol_values(store.protocol_id(st.id)) == {
            "registered": 1500,
            "issued": 600,
            "in_boxes": 590,
            "invalid": 20,
            "valid": 570,
        }
        assert store.spoiled(st.id) == {"WRITTEN": 7}
        (v,) = store.violations(st.id)
        assert (v.category, v.severity, v.description) == ("OBS_REMOVE", "high", "Удалили перед подсчётом")
        assert store.checklist(st.id, "opening")["boxes_empty"].answer == "yes"
        # and it can be written with today's code
        store.set_protocol_value(store.protocol_id(st.id), "adal", 12)
        assert store.protocol_values(store.protocol_id(st.id))["adal"] == 12
    finally:
        store.close()
    import sqlite3

    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_file_from_newer_program_is_refused(tmp_path: Path) -> None:
    import sqlite3

    copy = tmp_path / "future.baqylau"
    shutil.copy(FIXTURES[-1], copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError) as info:
        ElectionStore.open(copy)
    assert info.value.key == "error.storage.newer"
    assert "9999" in info.value.message("en")


def test_0009_keeps_official_figures_once(tmp_path: Path) -> None:
    """Rows with a whole packed copy lose the JSON, rows without keep it; readers see the same figures."""
    import json
    import sqlite3
    import struct

    from db.official import official_values
    from db.services.station_reader import StationReader

    copy = tmp_path / "0008.baqylau"
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "schema" / "0008.baqylau", copy)
    layout = ["registered", "issued", "valid"]
    stamp = "2021-01-10T22:00:00.000000Z"
    with sqlite3.connect(copy) as conn:
        conn.execute(
            "INSERT INTO stations (id, code, region, district, address, registered, created_at, updated_at) "
            "VALUES ('s2', '102', 'KZ-ALA', 'Алмалы', '', 900, ?, ?)",
            (stamp, stamp),
        )
        conn.execute("INSERT INTO meta (key, value) VALUES ('official_layout', ?)", (json.dumps(layout),))
        rows = [
            ("s1", '{"registered":1500,"issued":600,"valid":null}', struct.pack("<3q", 1500, 600, -1), "r1"),
            ("s2", '{"registered":900,"issued":400}', None, "r2"),  # another tool's row: JSON only
        ]
        conn.executemany(
            "INSERT INTO official_results (station_id, values_json, values_blob, source_file, source_line, id, "
            "created_at, updated_at) VALUES (?, ?, ?, 'cec.csv', 2, ?, ?, ?)",
            [(*r, stamp, stamp) for r in rows],
        )
    store = ElectionStore.open(copy)
    try:
        assert official_values(store, "s1") == {"registered": 1500, "issued": 600, "valid": None}
        assert official_values(store, "s2") == {"registered": 900, "issued": 400}
        assert official_values(store, "s9") is None
    finally:
        store.close()
    reader = StationReader(copy)
    try:
        shown = {sid: json.loads(text) for sid, text in reader.official(["s1", "s2"]).items()}
        assert shown == {
            "s1": {"registered": 1500, "issued": 600, "valid": None},
            "s2": {"registered": 900, "issued": 400},
        }
    finally:
        reader.close()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT station_id, values_json IS NULL FROM official_results").fetchall() == [
            ("s1", 1),
            ("s2", 0),
        ]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'official_results'").fetchone()[0]
        assert "WITHOUT ROWID" in sql
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT 1 FROM stations WHERE package_id = 'p'"))
        assert "ix_stations_package_id" in plan


def test_0013_drops_what_official_rows_repeated_and_downgrade_gives_it_back(tmp_path: Path) -> None:
    """The id, file name and times of every official row go (the import's are in meta); figures and lines stay."""
    import sqlite3
    import struct

    from alembic import command

    from db.store import _alembic_config, make_engine

    copy = tmp_path / "0011.baqylau"
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "schema" / "0011.baqylau", copy)
    blob = struct.pack("<2q", 1500, -1)
    with sqlite3.connect(copy) as conn:
        for key, value in (("official_file", "cec.csv"), ("official_imported_at", "2021-01-11T08:00:00.000000Z")):
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        conn.execute(
            "INSERT INTO official_results (station_id, values_json, values_blob, source_file, source_line, id, "
            "created_at, updated_at) VALUES ('s1', NULL, ?, 'cec.csv', 7, 'r1', 'x', 'x')",
            (blob,),
        )
    ElectionStore.open(copy).close()
    with sqlite3.connect(copy) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(official_results)")]
        assert columns == ["station_id", "values_json", "values_blob", "source_line"]
        assert conn.execute("SELECT * FROM official_results").fetchall() == [("s1", None, blob, 7)]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'official_results'").fetchone()[0]
        assert "WITHOUT ROWID" in sql
    engine = make_engine(copy)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0011")
    engine.dispose()
    with sqlite3.connect(copy) as conn:
        (row,) = conn.execute(
            "SELECT station_id, values_blob, source_file, source_line, created_at, updated_at, length(id) "
            "FROM official_results"
        ).fetchall()
        assert row == ("s1", blob, "cec.csv", 7, "2021-01-11T08:00:00.000000Z", "2021-01-11T08:00:00.000000Z", 36)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
