"""The election file: every edit is on disk when the call returns; bad input changes nothing.

The tests taking ``store`` run twice: on a SQLite file (an observer's station file, as the app
makes it) and on a PostgreSQL database (an HQ: a station file is never kept there), through the
throwaway server of tests/conftest.py. Those taking ``file_store`` are about files (evidence
beside the database, SQLite's own pragmas).
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event

from db.store import ROLE_HQ, ROLE_STATION, ElectionStore, is_pg_url, make_engine, storage_error
from observer.errors import EvidenceError, StorageError


def _ready(s: ElectionStore) -> ElectionStore:
    """The observer and the station every test here starts with (as the conftest's ``store``)."""
    s.set_observer("Айгүл Қасымова", "MISK")
    st = s.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    s.select_station(st.id)
    return s


@pytest.fixture
def store(store_url: str, template_2021) -> Iterator[ElectionStore]:
    """An election store on each backend: a station file, or an HQ in a PostgreSQL database."""
    role = ROLE_HQ if is_pg_url(store_url) else ROLE_STATION
    s = _ready(ElectionStore.create(store_url, template_2021, role=role))
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path: Path, template_2021) -> Iterator[ElectionStore]:
    s = _ready(ElectionStore.create(tmp_path / "station.baqylau", template_2021))
    yield s
    s.close()


def _where(s: ElectionStore) -> str | Path:
    """What opens this store again: its URL, or its file."""
    return s.url or s.path


def test_values_survive_reopen(store: ElectionStore) -> None:
    st = store.current_station()
    assert st is not None
    pid = store.protocol_id(st.id)
    store.set_protocol_value(pid, "issued", 612)
    store.set_protocol_value(pid, "issued", 613)  # an edit replaces, never duplicates
    store.set_protocol_value(pid, "valid", None)  # a cleared field is stored as empty
    store.set_announced(st.id, "10:00", 230)
    for _ in range(3):
        store.add_headcount(st.id)
    store.add_headcount(st.id, -1)
    store.set_spoiled(st.id, "BLANK", 4)
    store.set_checklist_answer(st.id, "closing", "protocol_copy", "no", "отказали")
    where = _where(store)
    store.close()

    again = ElectionStore.open(where)
    st2 = again.current_station()
    assert st2 == st
    assert again.protocol_values(again.protocol_id(st.id)) == {"issued": 613, "valid": None}
    assert again.turnout_slots(st.id)[0].announced == 230
    assert again.headcount(st.id) == 2
    assert [p.total for p in again.headcount_timeline(st.id)] == [1, 2, 3, 2]
    assert again.spoiled(st.id) == {"BLANK": 4}
    entry = again.checklist(st.id, "closing")["protocol_copy"]
    assert (entry.answer, entry.note) == ("no", "отказали")
    again.close()


def test_headcount_undo_never_below_zero(store: ElectionStore) -> None:
    st = store.current_station()
    assert store.add_headcount(st.id, -1) == 0
    assert store.headcount(st.id) == 0


def test_bad_values_refused_and_nothing_written(store: ElectionStore) -> None:
    st = store.current_station()
    pid = store.protocol_id(st.id)
    with pytest.raises(StorageError) as info:
        store.set_protocol_value(pid, "issued", -5)
    assert "отрицательным" in str(info.value)
    with pytest.raises(StorageError):
        store.set_protocol_value(pid, "no_such_line", 5)
    with pytest.raises(StorageError):
        store.save_violation(st.id, category="NOT_A_CATEGORY", occurred_at=datetime.now(UTC))
    assert store.protocol_values(pid) == {}
    assert store.violations() == []


def test_sql_and_html_in_text_are_stored_as_text(store: ElectionStore) -> None:
    st = store.current_station()
    text = "'); DROP TABLE violations; -- <script>alert(1)</script>"
    vid = store.save_violation(st.id, category="OTHER", occurred_at=datetime.now(UTC), description=text, involved=text)
    (v,) = store.violations(st.id)
    assert v.id == vid and v.description == text and v.involved == text


def test_evidence_kept_unchanged_and_refused_file_leaves_nothing(file_store: ElectionStore, tmp_path: Path) -> None:
    store = file_store
    st = store.current_station()
    photo = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (640, 480), "blue").save(photo)
    vid = store.save_violation(st.id, category="STUFF", occurred_at=datetime.now(UTC))
    ev = store.add_evidence(st.id, photo, violation_id=vid)
    assert store.evidence_path(ev).read_bytes() == photo.read_bytes()
    assert store.violations(st.id)[0].evidence_count == 1
    bad = tmp_path / "fake.jpg"
    bad.write_text("not an image")
    with pytest.raises(EvidenceError):
        store.add_evidence(st.id, bad, violation_id=vid)
    assert len(store.evidence(st.id)) == 1
    assert sorted(p.name for p in store.evidence_dir.iterdir()) == [ev.stored_name]


def test_not_an_election_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.baqylau"
    junk.write_bytes(b"PK\x03\x04 this is a zip, not a database")
    with pytest.raises(StorageError) as info:
        ElectionStore.open(junk)
    assert info.value.key == "error.storage.not_election"
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StorageError):
        ElectionStore.open(other)


def test_create_refuses_to_overwrite(store: ElectionStore, template_2021) -> None:
    with pytest.raises(StorageError) as info:
        ElectionStore.create(_where(store), template_2021, role=store.role)
    assert info.value.key == "error.storage.exists"


def test_new_hq_file_has_large_pages_and_a_station_file_sqlites_default(tmp_path: Path, template_2021) -> None:
    """An HQ's B-trees of 100,000 long keys are cheaper to fill in 16 KB pages; reopening keeps what the file has."""
    from db.store import HQ_PAGE_SIZE

    for role, expected in ((ROLE_HQ, HQ_PAGE_SIZE), (ROLE_STATION, 4096)):
        path = tmp_path / f"{role}.baqylau"
        ElectionStore.create(path, template_2021, role=role).close()
        ElectionStore.open(path).close()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA page_size").fetchone()[0] == expected
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("exc", "key"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "error.storage.disk_full"),
        (sqlite3.OperationalError("database or disk is full"), "error.storage.disk_full"),
        (OSError(errno.EROFS, "Read-only file system"), "error.storage.read_only"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "error.storage.read_only"),
        (OSError(errno.EIO, "Input/output error"), "error.storage.io"),
    ],
)
def test_os_failures_become_actionable_messages(exc: BaseException, key: str, tmp_path: Path) -> None:
    err = storage_error(exc, tmp_path / "x.baqylau")
    assert err.key == key
    assert "x.baqylau" in err.message("kk")


def test_read_only_file_gives_message_not_traceback(file_store: ElectionStore) -> None:
    store = file_store
    st = store.current_station()
    pid = store.protocol_id(st.id)
    store.set_protocol_value(pid, "issued", 1)
    path = store.path
    store.close()
    # A read-only medium, simulated: query_only makes SQLite refuse every write the same way
    # (tests run as root in CI, where file permissions would not stop a write).
    engine = make_engine(path)
    event.listen(engine, "connect", lambda c, r: c.execute("PRAGMA query_only=ON"))
    ro = ElectionStore(path, engine)
    with pytest.raises(StorageError) as info:
        ro.set_protocol_value(pid, "issued", 2)
    assert info.value.key in {"error.storage.read_only", "error.storage.io"}
    ro.close()
    again = ElectionStore.open(path)
    assert again.protocol_values(pid) == {"issued": 1}
    again.close()


WRITER = textwrap.dedent(
    """
    import sys
    from db.store import ElectionStore
    s = ElectionStore.open(sys.argv[1])
    st = s.current_station()
    pid = s.protocol_id(st.id)
    for i in range(1, 100000):
        s.set_protocol_value(pid, "issued", i)
        s.add_headcount(st.id)
        print(i, flush=True)  # acknowledged: the call returned
    """
)


@pytest.mark.parametrize("kill_after", [5, 40, 150])
def test_sigkill_loses_nothing_acknowledged(store: ElectionStore, kill_after: int) -> None:
    """Kill the writer with SIGKILL; every value it acknowledged is in the file (or the database) afterwards."""
    where = _where(store)
    st = store.current_station()
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(where)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None
    last = 0
    for line in proc.stdout:
        last = int(line)
        if last >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    if not store.url:
        with sqlite3.connect(where) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = ElectionStore.open(where)
    value = again.protocol_values(again.protocol_id(st.id))["issued"]
    assert value >= last  # the acknowledged value, or one written just after it
    assert again.headcount(st.id) >= last
    again.close()


def test_unopenable_file_in_read_only_folder_says_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite reports a read-only folder (no room for its -wal file) as "unable to open database file".
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path)
    err = storage_error(sqlite3.OperationalError("unable to open database file"), tmp_path / "x.baqylau")
    assert err.key == "error.storage.read_only"
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    err = storage_error(sqlite3.OperationalError("unable to open database file"), tmp_path / "x.baqylau")
    assert err.key == "error.storage.io"


def test_iter_table_reads_only_the_named_columns(store: ElectionStore) -> None:
    sid = store.stations()[0].id
    rows = list(store.iter_table("stations", "code", "registered"))
    assert [(r.code, r.registered) for r in rows] == [("101", 1500)]
    assert rows[0]._fields == ("code", "registered")
    full = list(store.iter_table("stations"))
    assert full[0].id == sid and full[0].created_at is not None
    with pytest.raises(KeyError):
        list(store.iter_table("stations", "no_such_column"))


# ---- evidence records: time, drafts, soft deletion, audit (issue 14) -------------


class Clock:
    """A clock the test moves by hand: no sleeping, no wall-clock assertions."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t


def test_a_new_violation_happened_when_it_is_first_saved(store: ElectionStore) -> None:
    from datetime import timedelta

    st = store.current_station()
    clock = Clock(datetime(2021, 1, 10, 3, 0, tzinfo=UTC))
    store.clock = clock
    vid = store.save_violation(st.id, category="STUFF")
    clock.t += timedelta(hours=2)
    store.save_violation(st.id, violation_id=vid, category="STUFF", description="later edit")
    (v,) = store.violations(st.id)
    # an edit keeps the time; only an explicit occurred_at changes it
    assert v.occurred_at == v.created_at == datetime(2021, 1, 10, 3, 0, tzinfo=UTC)


def test_a_violation_without_category_is_a_draft(store: ElectionStore) -> None:
    st = store.current_station()
    draft = store.save_violation(st.id, description="Карусель у входа")
    done = store.save_violation(st.id, category="CAROUSEL")
    assert [v.id for v in store.violations_without_category(st.id)] == [draft]
    assert {v.id for v in store.violations(st.id)} == {draft, done}
    assert store.violations(st.id)[0].is_draft


def test_deleted_violation_is_recoverable_until_export_purges_it(file_store: ElectionStore, tmp_path: Path) -> None:
    store = file_store
    st = store.current_station()
    photo = tmp_path / "a.jpg"
    Image.new("RGB", (64, 48), "red").save(photo)
    vid = store.save_violation(st.id, category="STUFF", description="пачка бюллетеней")
    store.add_evidence(st.id, photo, violation_id=vid)
    store.delete_violation(vid)
    assert store.violations(st.id) == []
    assert [v.id for v in store.violations(st.id, deleted=True)] == [vid]
    store.restore_violation(vid)
    (v,) = store.violations(st.id)
    assert v.description == "пачка бюллетеней" and v.evidence_count == 1 and v.deleted_at is None
    store.delete_violation(vid)
    assert store.purge_deleted() == 2  # the violation and its file record
    assert store.violations(st.id, deleted=True) == [] and store.evidence(st.id, deleted=True) == []
    actions = [(h.field, h.action) for h in store.history(vid)]
    assert actions == [("*", "create"), ("deleted_at", "delete"), ("deleted_at", "restore"), ("deleted_at", "delete")]


def test_every_change_of_a_saved_value_is_audited(store: ElectionStore) -> None:
    from datetime import timedelta

    st = store.current_station()
    clock = Clock(datetime(2021, 1, 10, 9, 0, tzinfo=UTC))
    store.clock = clock
    vid = store.save_violation(st.id, category="STUFF", severity="medium")
    for text in ("М", "Му", "Мужчина"):  # typed while the record is new: folded into its creation
        clock.t += timedelta(seconds=5)
        store.save_violation(st.id, violation_id=vid, category="STUFF", description=text)
    clock.t += timedelta(hours=3)
    store.save_violation(st.id, violation_id=vid, category="FAMILY", description="Мужчина")
    clock.t += timedelta(seconds=3)
    store.save_violation(st.id, violation_id=vid, category="OTHER", description="Мужчина")
    clock.t += timedelta(minutes=10)
    store.save_violation(
        st.id, violation_id=vid, category="OTHER", description="Мужчина", occurred_at=clock.t - timedelta(hours=5)
    )
    rows = store.history(vid)
    assert [(r.field, r.action, r.old, r.new) for r in rows[1:]] == [
        ("category", "update", "STUFF", "OTHER"),  # FAMILY three seconds later: one session
        ("occurred_at", "update", "2021-01-10T09:00:00.000000Z", "2021-01-10T07:10:18.000000Z"),
    ]
    assert rows[0].action == "create" and '"description": "Мужчина"' in (rows[0].new or "")
    assert all(r.who == "Айгүл Қасымова" for r in rows)
    assert rows[1].at == datetime(2021, 1, 10, 12, 0, 15, tzinfo=UTC)

    pid = store.protocol_id(st.id)
    store.set_protocol_value(pid, "issued", 8)
    store.set_protocol_value(pid, "issued", 88)
    clock.t += timedelta(hours=1)
    store.set_protocol_value(pid, "issued", 948)
    store.set_announced(st.id, "10:00", 230)
    clock.t += timedelta(hours=1)
    store.set_announced(st.id, "10:00", 250)
    with store.engine.connect() as conn:
        logged = conn.exec_driver_sql(
            "SELECT record_table, field, old, new FROM audit_log WHERE record_table != 'violations' ORDER BY created_at"
        ).all()
    assert [tuple(r) for r in logged] == [
        ("protocol_values", "issued", None, "88"),
        ("protocol_values", "issued", "88", "948"),
        ("turnout_reports", "10:00.announced", None, "230"),
        ("turnout_reports", "10:00.announced", "230", "250"),
    ]
