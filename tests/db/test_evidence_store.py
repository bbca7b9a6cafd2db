"""Evidence files on both backends: kept, found, read back byte for byte, refused when damaged (issue 16).

A file HQ keeps them in the folder beside it; a PostgreSQL HQ in its database (revision 0011),
read through a SHA-checked copy in the user's cache (db/store_records.py).
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from db.fileformat import ROLE_HQ
from db.store import ElectionStore
from db.store_records import EVIDENCE_CACHE, EVIDENCE_PART
from observer.errors import StorageError
from observer.paths import app_home
from observer.records import EvidenceInfo


@pytest.fixture
def hq(store_url: str, template_2021) -> ElectionStore:
    store = ElectionStore.create(store_url, template_2021, role=ROLE_HQ)
    yield store
    store.close()


@pytest.fixture
def pg_hq(pg_url: str, template_2021) -> ElectionStore:
    store = ElectionStore.create(pg_url, template_2021, role=ROLE_HQ)
    yield store
    store.close()


def _photo(tmp_path: Path, name: str = "IMG_0001.jpg") -> Path:
    photo = tmp_path / name
    Image.new("RGB", (640, 480), "blue").save(photo)
    return photo


def _big_file(hq: ElectionStore, tmp_path: Path, ev: EvidenceInfo) -> tuple[Path, EvidenceInfo]:
    """Random bytes over two and a half parts (as a video's: incompressible), kept under their hash."""
    data = random.Random(7).randbytes(EVIDENCE_PART * 2 + EVIDENCE_PART // 2)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    hq.put_evidence_file(sha + ".mp4", source, sha)
    return source, replace(ev, kind="video", sha256=sha, stored_name=sha + ".mp4", size=len(data))


def _added(hq: ElectionStore, tmp_path: Path) -> EvidenceInfo:
    st = hq.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    vid = hq.save_violation(st.id, category="STUFF", occurred_at=datetime.now(UTC))
    return hq.add_evidence(st.id, _photo(tmp_path), violation_id=vid)


def test_a_file_put_is_found_and_read_back_byte_for_byte(hq: ElectionStore, tmp_path: Path) -> None:
    ev = _added(hq, tmp_path)
    assert hq.has_evidence_file(ev.stored_name)
    assert hq.evidence_path(ev).read_bytes() == _photo(tmp_path, "again.jpg").read_bytes()
    source, big = _big_file(hq, tmp_path, ev)
    assert hq.has_evidence_file(big.stored_name)
    assert hq.evidence_path(big).read_bytes() == source.read_bytes()
    hq.put_evidence_file(big.stored_name, source, big.sha256)  # kept already: nothing happens
    assert hq.evidence_path(big).read_bytes() == source.read_bytes()
    # Never received: a path that does not exist, on both backends.
    missing = replace(ev, sha256="0" * 64, stored_name="0" * 64 + ".jpg")
    assert not hq.has_evidence_file(missing.stored_name)
    assert not hq.evidence_path(missing).exists()


def test_bytes_that_do_not_match_their_sha256_are_refused_and_nothing_is_kept(
    hq: ElectionStore, tmp_path: Path
) -> None:
    source = _photo(tmp_path)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(StorageError) as refused:
        hq.put_evidence_file(wrong + ".jpg", source, wrong)
    assert refused.value.key == "error.storage.evidence_damaged"
    assert not hq.has_evidence_file(wrong + ".jpg")


@pytest.mark.postgres
def test_damaged_bytes_on_the_server_are_refused_when_read(pg_hq: ElectionStore, tmp_path: Path) -> None:
    hq = pg_hq
    ev = _added(hq, tmp_path)
    source, big = _big_file(hq, tmp_path, ev)
    with hq.engine.begin() as conn:  # one byte of the second part changed on the server
        conn.exec_driver_sql(
            "UPDATE evidence_file_parts SET data = set_byte(data, 100, 255 - get_byte(data, 100)) "
            "WHERE stored_name = %(n)s AND part = 1",
            {"n": big.stored_name},
        )
    with pytest.raises(StorageError) as refused:
        hq.evidence_path(big)
    assert refused.value.key == "error.storage.evidence_damaged"
    cache = app_home() / EVIDENCE_CACHE
    assert not (cache / big.stored_name).exists() and not [p for p in cache.iterdir() if p.name.startswith(".")]
    # A part gone is refused the same way.
    with hq.engine.begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM evidence_file_parts WHERE stored_name = %(n)s AND part = 1", {"n": big.stored_name}
        )
    with pytest.raises(StorageError):
        hq.evidence_path(big)
    # A name that is a path is never followed out of the cache.
    with pytest.raises(StorageError):
        hq.evidence_path(replace(ev, stored_name="../" + ev.stored_name))
    assert source.exists()


@pytest.mark.postgres
def test_the_cached_copy_is_reused_and_a_wrong_sized_one_fetched_again(pg_hq: ElectionStore, tmp_path: Path) -> None:
    hq = pg_hq
    ev = _added(hq, tmp_path)
    first = hq.evidence_path(ev)
    assert first.parent == app_home() / EVIDENCE_CACHE
    original = first.read_bytes()
    seen = os.stat(first).st_ino
    assert hq.evidence_path(ev) == first and os.stat(first).st_ino == seen  # not written again
    first.write_bytes(original[:100])  # a truncated copy (not the size the record says)
    assert hq.evidence_path(ev).read_bytes() == original
    # Another HQ citing the same bytes uses the same copy: the name is the content.
    with hq.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_files")
    assert hq.evidence_path(ev).read_bytes() == original


@pytest.mark.postgres
def test_a_rolled_back_transaction_leaves_no_evidence(pg_hq: ElectionStore, tmp_path: Path) -> None:
    hq = pg_hq
    source = _photo(tmp_path)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    with hq.engine.connect() as conn:
        batch = conn.begin()
        hq.put_evidence_file(sha + ".jpg", source, sha, conn)
        assert conn.exec_driver_sql("SELECT count(*) FROM evidence_file_parts").scalar() == 1
        assert not hq.has_evidence_file(sha + ".jpg")  # not committed: other connections do not see it
        batch.rollback()
    assert not hq.has_evidence_file(sha + ".jpg")
    with hq.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM evidence_file_parts").scalar() == 0
    # A refused file inside a transaction undoes only itself (its savepoint), not the transaction.
    with hq.engine.connect() as conn:
        batch = conn.begin()
        hq.put_evidence_file(sha + ".jpg", source, sha, conn)
        with pytest.raises(StorageError):
            hq.put_evidence_file("f" * 64 + ".jpg", source, "f" * 64, conn)
        batch.commit()
    assert hq.has_evidence_file(sha + ".jpg") and not hq.has_evidence_file("f" * 64 + ".jpg")


@pytest.mark.postgres
def test_add_evidence_on_a_server_keeps_the_bytes_with_the_record(pg_hq: ElectionStore, tmp_path: Path) -> None:
    hq = pg_hq
    ev = _added(hq, tmp_path)
    with hq.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT sha256, size, parts FROM evidence_files WHERE stored_name = %(n)s", {"n": ev.stored_name}
        ).one()
    assert tuple(row) == (ev.sha256, ev.size, 1)
    with pytest.raises(StorageError) as refused:
        _ = hq.evidence_dir  # no folder named after the database, anywhere
    assert refused.value.key == "error.storage.pg_no_evidence"


@pytest.mark.postgres
def test_the_merge_batch_writes_evidence_in_its_own_transaction(pg_hq: ElectionStore, tmp_path: Path) -> None:
    """db/merge_batch.py's evidence methods on a server: staged per package, written at the batch's
    commit inside its transaction (the rest of the merge on PostgreSQL is built elsewhere)."""
    from types import SimpleNamespace

    from db.merge_batch import MergeBatch

    hq = pg_hq
    ev = _added(hq, tmp_path)  # one file the HQ has already: never staged again
    work = tmp_path / "work"
    work.mkdir()
    for keep in (False, True):
        data = random.Random(int(keep)).randbytes(EVIDENCE_PART + 10)
        sha = hashlib.sha256(data).hexdigest()
        extracted = tmp_path / f"pkg-{sha}.jpg"
        extracted.write_bytes(data)
        already = tmp_path / "already.jpg"
        already.write_bytes(b"whatever")
        pkg = SimpleNamespace(evidence_files={sha + ".jpg": extracted, ev.stored_name: already})
        batch = MergeBatch(hq)
        batch.work_dir = work
        with hq.engine.connect() as conn:
            batch.conn = conn
            tx = conn.begin()
            assert batch._place_evidence(pkg) == [sha + ".jpg"]  # type: ignore[arg-type]
            batch._place_staged()
            assert not hq.has_evidence_file(sha + ".jpg")  # not before the batch's commit
            (tx.commit if keep else tx.rollback)()
        assert hq.has_evidence_file(sha + ".jpg") is keep
        assert list(work.iterdir()) == []  # staged copies gone either way
    assert hq.evidence_path(replace(ev, sha256=sha, stored_name=sha + ".jpg", size=len(data))).read_bytes() == data


@pytest.mark.postgres
def test_two_coordinators_writing_the_same_file_at_once_keep_it_once(pg_hq: ElectionStore, tmp_path: Path) -> None:
    """The second waits for the first's transaction (the name is claimed first), then finds the file:
    no unique-key error that would fail its whole merge batch."""
    import threading
    import time

    from db.store_records import store_evidence_file

    source = _photo(tmp_path)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    results: list[bool] = []
    with pg_hq.engine.connect() as first, pg_hq.engine.connect() as second:
        first.begin()
        assert store_evidence_file(first, sha + ".jpg", source, sha)

        def other() -> None:
            with second.begin():
                results.append(store_evidence_file(second, sha + ".jpg", source, sha))

        waiting = threading.Thread(target=other)
        waiting.start()
        deadline = time.monotonic() + 30  # a bound on the poll below, not a timing assertion
        with pg_hq.engine.connect() as probe:
            while time.monotonic() < deadline:
                blocked = probe.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).scalar()
                if blocked:
                    break
        assert blocked == 1 and results == []  # the second is waiting for the first
        first.commit()
        waiting.join()
    assert results == [False]
    with pg_hq.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM evidence_file_parts").scalar() == 1
