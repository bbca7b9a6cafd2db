"""Two merges at once on one PostgreSQL HQ, one of them carrying a hostile package that reuses the
other's record ids: refused as a foreign record, as on a file merged one after the other."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import db.merge
from db.conflicts import effective_protocols
from db.merge import merge_packages
from db.store import ElectionStore
from observer import i18n
from observer.signing import KeyPair
from tests.db.test_merge import Factory, take_valid_id, valid_id


@pytest.fixture
def factory(tmp_path, template_2021) -> Factory:  # type: ignore[no-untyped-def]
    return Factory(tmp_path, template_2021)


def _waiting_on_a_lock(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar()
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_record_id_taken_by_a_merge_running_elsewhere_is_refused_as_a_foreign_record(
    factory: Factory, pg_url: str, qtbot: Any
) -> None:
    """B reuses A's record id while A's merge has not committed: B waits for it, then is refused as
    a foreign record (the sentence a file gives), not with the server's unique-key message."""
    ka, kb = KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka, photo=False)
    a = factory.export(sa, ka, "usb1")
    sb = factory.station("102", "Ерлан", kb, photo=False)
    victim = valid_id(sa)
    take_valid_id(sb, victim)
    b = factory.export(sb, kb, "usb2")
    i18n.set_language("en")
    hq = ElectionStore.create(pg_url, factory.template, role="hq")
    other = ElectionStore.open(pg_url)
    first = db.merge._Merger(hq, True).__enter__()
    outcome: list[Any] = []
    try:
        assert first.merge_file(a).outcome == "merged"  # its batch is open, A's rows not committed
        worker = threading.Thread(target=lambda: outcome.append(merge_packages(other, [b], trust_new_keys=True)))
        worker.start()
        qtbot.waitUntil(lambda: _waiting_on_a_lock(pg_url), timeout=10000)
    finally:
        first.__exit__(None)
    worker.join(30)
    assert not worker.is_alive()
    (entry,) = outcome[0].entries
    assert entry.outcome == "refused"
    assert "protocol_values" in entry.reason and victim in entry.reason
    other.close()
    hq.close()


@pytest.mark.postgres
def test_two_hostile_packages_crossing_two_merges_are_both_refused_and_the_merges_go_on(
    factory: Factory, pg_url: str, qtbot: Any
) -> None:
    """Merge 1 holds A's record X, merge 2 holds B's record Y (both uncommitted); then merge 1 gets a
    package reusing Y and merge 2 one reusing X: a deadlock on the server. Neither run stops: the
    merge the server picks commits and tries again, and both hostile packages are refused by name."""
    keys = [KeyPair.generate() for _ in range(4)]
    stores = [factory.station(str(101 + i), f"O{i}", k, photo=False) for i, k in enumerate(keys)]
    x, y = valid_id(stores[0]), valid_id(stores[1])
    take_valid_id(stores[2], y)
    take_valid_id(stores[3], x)
    a1, b1, a2, b2 = (factory.export(s, k, f"usb{i}") for i, (s, k) in enumerate(zip(stores, keys, strict=True)))
    i18n.set_language("en")
    hq = ElectionStore.create(pg_url, factory.template, role="hq")
    other = ElectionStore.open(pg_url)
    m1, m2 = db.merge._Merger(hq, True).__enter__(), db.merge._Merger(other, True).__enter__()
    out: dict[str, Any] = {}
    try:
        assert m1.merge_file(a1).outcome == "merged" and m2.merge_file(b1).outcome == "merged"
        t1 = threading.Thread(target=lambda: out.setdefault("a2", m1.merge_file(a2)))
        t1.start()
        qtbot.waitUntil(lambda: _waiting_on_a_lock(pg_url), timeout=10000)
        t2 = threading.Thread(target=lambda: out.setdefault("b2", m2.merge_file(b2)))
        t2.start()
        t1.join(60)
        t2.join(60)
        assert not t1.is_alive() and not t2.is_alive()
    finally:
        m1.__exit__(None)
        m2.__exit__(None)
    assert out["a2"].outcome == "refused" and y in out["a2"].reason and "another observer" in out["a2"].reason
    assert out["b2"].outcome == "refused" and x in out["b2"].reason and "another observer" in out["b2"].reason
    assert len(effective_protocols(hq).by_station) == 2  # A1 and B1, whole
    other.close()
    hq.close()
