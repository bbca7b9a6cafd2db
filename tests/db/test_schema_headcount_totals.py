"""headcount_totals (revision 0005) always equals the sum of the head-count clicks, whoever writes them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from db.aggregate import station_table
from db.merge import merge_packages
from db.package import export_station_package
from db.store import ElectionStore
from observer.signing import KeyPair
from tests.corpus import make_corpus as mc

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schema"
T = "2021-01-10T09:00:00.000000Z"


def clicks(path: Path) -> list[tuple[Any, ...]]:
    """The groups aggregation used to compute from the clicks themselves."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT station_id, coalesce(observer_id, ''), count(*), sum(delta) FROM headcount_events GROUP BY 1, 2"
        ).fetchall()
    conn.close()
    return sorted(rows)


def totals(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT station_id, observer_id, events, total FROM headcount_totals").fetchall()
    conn.close()
    return sorted(rows)


def test_totals_follow_clicks_undos_deletes_and_updates(store: ElectionStore) -> None:
    st = store.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    store.select_station(st.id)
    for _ in range(7):
        store.add_headcount(st.id, 1)
    store.add_headcount(st.id, -1)  # an undo is a -1 click
    assert store.headcount(st.id) == 6
    assert totals(store.path) == clicks(store.path) == [(st.id, store.meta("self_observer_id"), 8, 6)]

    # Writers that bypass the store: deletes, updates of every summed column, NULL observers.
    other = store.upsert_station("102", "KZ-ALA", "Алмалы", "ул. Абая, 2", 900)
    with sqlite3.connect(store.path) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM headcount_events ORDER BY at, id")]
        conn.execute("DELETE FROM headcount_events WHERE id = ?", (ids[0],))
        conn.execute("UPDATE headcount_events SET delta = -1 WHERE id = ?", (ids[1],))
        conn.execute("UPDATE headcount_events SET station_id = ? WHERE id = ?", (other.id, ids[2]))
        conn.execute("UPDATE headcount_events SET observer_id = NULL WHERE id = ?", (ids[3],))
        conn.execute(
            "INSERT INTO headcount_events (id, station_id, observer_id, at, delta, created_at, updated_at) "
            "VALUES ('h-null', ?, NULL, ?, 1, ?, ?)",
            (other.id, T, T, T),
        )
    conn.close()
    assert totals(store.path) == clicks(store.path)
    assert {(r[0], r[1]) for r in totals(store.path)} == {
        (st.id, store.meta("self_observer_id")),
        (st.id, ""),
        (other.id, store.meta("self_observer_id")),
        (other.id, ""),
    }

    # A group whose clicks are all gone disappears, as it does from GROUP BY.
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM headcount_events WHERE station_id = ?", (other.id,))
    conn.close()
    assert totals(store.path) == clicks(store.path)
    assert all(r[0] == st.id for r in totals(store.path))
    assert store.headcount(st.id) == sum(r[3] for r in totals(store.path) if r[1] == store.meta("self_observer_id"))


def test_totals_after_a_merge_and_a_re_merge(tmp_path: Path, template_2021: Any) -> None:
    packages = []
    for n, (code, count, undos) in enumerate((("101", 5, 1), ("102", 3, 0), ("101", 2, 2))):
        keys = KeyPair.generate()  # one key per observer (a key is bound to one observer)
        s = ElectionStore.create(tmp_path / f"obs{n}.baqylau", template_2021)
        s.set_observer(f"Observer {n}", "MISK")
        st = s.upsert_station(code, "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
        s.select_station(st.id)
        for _ in range(count):
            s.add_headcount(st.id, 1)
        for _ in range(undos):
            s.add_headcount(st.id, -1)
        packages.append(export_station_package(s, tmp_path / "usb", keys))
        s.close()
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role="hq")
    try:
        report = merge_packages(hq, [tmp_path / "usb"], trust_new_keys=True)
        assert [e.outcome for e in report.entries] == ["merged"] * 3
        assert totals(hq.path) == clicks(hq.path) and len(totals(hq.path)) == 3
        merge_packages(hq, [tmp_path / "usb"], trust_new_keys=True)  # all duplicates: nothing counted twice
        assert totals(hq.path) == clicks(hq.path)
        # Station 101 has two observers (4 and 0 voters): the larger count is the station's.
        table = station_table(hq, "observed")
        assert table.headcount is not None
        by_code = dict(zip(table.codes.tolist(), table.headcount.tolist()))
        assert by_code == {"101": 4, "102": 3}
    finally:
        hq.close()


def test_upgrade_from_0004_fills_totals(tmp_path: Path) -> None:
    copy = tmp_path / "old.baqylau"
    shutil.copy(FIXTURES / "0004.baqylau", copy)
    with sqlite3.connect(copy) as conn:  # more clicks, an undo, a second observer, one without observer
        conn.execute(
            "INSERT INTO observers (id, name, organisation, created_at, updated_at) VALUES ('o2', 'Second', '', ?, ?)",
            (T, T),
        )
        for i, (observer, delta) in enumerate([("o1", 1), ("o1", 1), ("o1", -1), ("o2", 1), (None, 1)]):
            conn.execute(
                "INSERT INTO headcount_events (id, station_id, observer_id, at, delta, created_at, updated_at) "
                "VALUES (?, 's1', ?, ?, ?, ?, ?)",
                (f"h{i + 2}", observer, T, delta, T, T),
            )
    conn.close()
    before = clicks(copy)
    store = ElectionStore.open(copy)  # upgrades to the head revision
    try:
        assert totals(copy) == before == [("s1", "", 1, 1), ("s1", "o1", 4, 2), ("s1", "o2", 1, 1)]
        assert store.headcount("s1") == 2
        store.add_headcount("s1", 1)  # the triggers are in place after the upgrade
        assert totals(copy) == clicks(copy)
        # o1's 3 clicks lose to the 150 noted at 10:00 in the fixture's turnout report: the larger count wins.
        assert np.asarray(station_table(store, "observed").headcount).tolist() == [150]
    finally:
        store.close()


@pytest.mark.parametrize(
    "sql",
    [
        # our trigger's name with another body
        "DROP TRIGGER trg_headcount_totals_insert; CREATE TRIGGER trg_headcount_totals_insert AFTER INSERT ON "
        "headcount_events BEGIN DELETE FROM stations; END;",
        # a trigger of our kind under another name
        "CREATE TRIGGER extra AFTER INSERT ON headcount_events BEGIN DELETE FROM stations; END;",
    ],
)
def test_package_with_a_foreign_trigger_is_refused(tmp_path: Path, template_2021: Any, sql: str) -> None:
    keys = KeyPair.generate()
    s = ElectionStore.create(tmp_path / "obs.baqylau", template_2021)
    s.set_observer("Observer", "MISK")
    st = s.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    s.select_station(st.id)
    s.add_headcount(st.id, 1)
    package = export_station_package(s, tmp_path / "usb", keys)
    s.close()
    forged = mc.resign(package, tmp_path / "forged.bqpkg", keys, change={mc.DATA: mc.change_db(package, tmp_path, sql)})
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role="hq")
    try:
        report = merge_packages(hq, [forged], trust_new_keys=True)
        (entry,) = report.entries
        assert entry.outcome == "refused" and "trigger" in entry.reason
        assert totals(hq.path) == []
    finally:
        hq.close()


def test_merge_batch_suspends_the_click_trigger_and_restores_it(tmp_path: Path, template_2021: Any) -> None:
    """The merge recomputes the totals of the pairs it wrote instead of a trigger per click; afterwards
    the trigger is back, so the next writer (a direct click here) keeps the totals exact again."""
    keys = KeyPair.generate()
    s = ElectionStore.create(tmp_path / "obs.baqylau", template_2021)
    s.set_observer("Observer", "MISK")
    st = s.upsert_station("201", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    s.select_station(st.id)
    for _ in range(7):
        s.add_headcount(st.id, 1)
    s.add_headcount(st.id, -1)
    export_station_package(s, tmp_path / "usb", keys)
    s.close()
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role="hq")
    try:
        report = merge_packages(hq, [tmp_path / "usb"], trust_new_keys=True)
        assert [e.outcome for e in report.entries] == ["merged"]
        with sqlite3.connect(hq.path) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            assert "trg_headcount_totals_insert" in names
            (total,) = conn.execute("SELECT total FROM headcount_totals").fetchone()
            assert total == 6
            sid, oid = conn.execute("SELECT station_id, observer_id FROM headcount_events LIMIT 1").fetchone()
            conn.execute(
                "INSERT INTO headcount_events (id, created_at, updated_at, observer_id, station_id, at, delta) VALUES (?, ?, ?, ?, ?, ?, 1)",
                ("00000000-0000-4000-8000-000000000001", T, T, oid, sid, T),
            )
        conn.close()
        assert totals(hq.path) == clicks(hq.path)
        assert totals(hq.path)[0][3] == 7
    finally:
        hq.close()
