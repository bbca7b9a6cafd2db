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
