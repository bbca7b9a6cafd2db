"""Conflicting protocol versions, the coordinator's decisions, inclusion rules, effective protocols."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PIL import Image
from sqlalchemy import update

import main
from db import models as m
from db.conflicts import ConflictError, effective_protocols, resolution_history, resolve_station, station_conflicts
from db.hq_copy import copy_hq
from db.merge import merge_packages, revoke_key
from db.package import export_station_package
from db.rules import InclusionRules, load_rules, save_rules
from db.store import ElectionStore
from observer.signing import KeyPair

GOOD = {
    "registered": 1500,
    "received": 1500,
    "issued": 900,
    "cancelled": 600,
    "in_boxes": 880,
    "invalid": 30,
    "valid": 850,
}


def _observer_package(
    root: Path, template: Any, n: int, code: str, values: dict[str, int], keys: KeyPair, *, photo: bool
) -> Path:
    s = ElectionStore.create(root / f"o{n}.baqylau", template)
    s.set_observer(f"Observer {n}", "MISK")
    st = s.upsert_station(code, "KZ-ALA")
    s.select_station(st.id)
    pid = s.protocol_id(st.id)
    for key, value in values.items():
        s.set_protocol_value(pid, key, value)
    parties = s.template.party_keys
    for i, party in enumerate(parties):
        s.set_protocol_value(
            pid, party, values["valid"] // len(parties) + (values["valid"] % len(parties) if i == 0 else 0)
        )
    if photo:
        img = root / f"o{n}.jpg"
        Image.new("RGB", (50, 40), (n * 50 % 255, 0, 0)).save(img, "JPEG")
        s.add_evidence(st.id, img, protocol_id=pid)
    out = export_station_package(s, root / "usb", keys)
    s.close()
    return out


@pytest.fixture
def hq(tmp_path: Path, template_2021: Any) -> ElectionStore:
    s = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role="hq")
    yield s
    s.close()


@pytest.fixture
def keys() -> tuple[KeyPair, KeyPair, KeyPair]:
    return KeyPair.generate(), KeyPair.generate(), KeyPair.generate()


@pytest.fixture
def merged(
    hq: ElectionStore, tmp_path: Path, template_2021: Any, keys: tuple[KeyPair, KeyPair, KeyPair]
) -> dict[str, str]:
    """Station 101: two observers disagree on 'issued'. 102: two agree. 103: one observer, no photo."""
    k1, k2, k3 = keys
    disagree = dict(GOOD, issued=950)
    pkgs = [
        _observer_package(tmp_path, template_2021, 1, "101", GOOD, k1, photo=True),
        _observer_package(tmp_path, template_2021, 2, "101", disagree, k2, photo=True),
        # one key per observer: a key is bound to the observer it signs for (docs/security.md)
        _observer_package(tmp_path, template_2021, 3, "102", GOOD, KeyPair.generate(), photo=True),
        _observer_package(tmp_path, template_2021, 4, "102", GOOD, KeyPair.generate(), photo=False),
        _observer_package(tmp_path, template_2021, 5, "103", dict(GOOD, valid=800), k3, photo=False),
    ]
    assert merge_packages(hq, pkgs, trust_new_keys=True).counts()["merged"] == 5
    return {code: hq.station_by_code(code).id for code in ("101", "102", "103")}  # type: ignore[union-attr]


def test_disagreement_listed_resolved_and_changed(hq: ElectionStore, merged: dict[str, str]) -> None:
    conflicts = station_conflicts(hq)
    assert [c.station_code for c in conflicts] == ["101"]
    c = conflicts[0]
    assert c.differing_keys == ("issued",)
    assert sorted(v.values["issued"] for v in c.versions) == [900, 950]
    assert {v.observer_name for v in c.versions} == {"Observer 1", "Observer 2"}
    assert all(v.package_file.endswith(".bqpkg") and v.key_fingerprint for v in c.versions)
    assert c.resolution is None

    eff = effective_protocols(hq)
    assert merged["101"] in eff.unresolved and merged["101"] not in eff.by_station
    assert merged["102"] in eff.by_station  # identical figures: counted once
    assert merged["103"] in eff.by_station

    by_value = {v.values["issued"]: v.protocol_id for v in c.versions}
    resolve_station(
        hq,
        merged["101"],
        protocol_id=by_value[950],
        status="chosen",
        reason="matches the posted copy photo",
        decided_by="Coordinator A",
    )
    eff = effective_protocols(hq)
    assert eff.by_station[merged["101"]] == by_value[950] and not eff.unresolved

    resolve_station(
        hq,
        merged["101"],
        protocol_id=by_value[900],
        status="chosen",
        reason="second photo is clearer",
        decided_by="Coordinator B",
    )
    assert effective_protocols(hq).by_station[merged["101"]] == by_value[900]

    resolve_station(
        hq,
        merged["101"],
        protocol_id=None,
        status="disputed",
        reason="both copies were signed",
        decided_by="Coordinator B",
    )
    eff = effective_protocols(hq)
    assert merged["101"] in eff.disputed and merged["101"] not in eff.by_station
    assert eff.not_counted == {merged["101"]}

    history = resolution_history(hq, merged["101"])
    assert [(r.status, r.decided_by) for r in history] == [
        ("disputed", "Coordinator B"),
        ("chosen", "Coordinator B"),
        ("chosen", "Coordinator A"),
    ]
    assert station_conflicts(hq)[0].resolution == history[0]
    assert station_conflicts(hq, include_resolved=False) == []


def test_decisions_are_validated(hq: ElectionStore, merged: dict[str, str]) -> None:
    other_station_protocol = effective_protocols(hq).by_station[merged["103"]]
    with pytest.raises(ConflictError) as err:
        resolve_station(
            hq, merged["101"], protocol_id=other_station_protocol, status="chosen", reason="x", decided_by="A"
        )
    assert err.value.key == "package.conflict.wrong_protocol"
    with pytest.raises(ConflictError) as err:
        resolve_station(hq, merged["101"], protocol_id=None, status="disputed", reason="  ", decided_by="A")
    assert err.value.key == "package.conflict.no_reason"
    with pytest.raises(ConflictError) as err:
        resolve_station(hq, merged["101"], protocol_id=None, status="maybe", reason="x", decided_by="A")  # type: ignore[arg-type]
    assert err.value.key == "package.conflict.bad_status"
    assert resolution_history(hq, merged["101"]) == []


def test_inclusion_rules(hq: ElectionStore, merged: dict[str, str], keys: tuple[KeyPair, KeyPair, KeyPair]) -> None:
    photo = effective_protocols(hq, InclusionRules(require_protocol_photo=True))
    assert merged["103"] in photo.excluded and merged["103"] not in photo.by_station
    # 102: only the version with a photo remains
    assert merged["102"] in photo.by_station

    checks = effective_protocols(hq, InclusionRules(exclude_failed_checks=True))
    assert merged["103"] in checks.excluded  # in_boxes 880 != valid 800 + invalid 30
    assert merged["102"] in checks.by_station

    k1, k2, k3 = keys
    revoke_key(hq, k3.fingerprint, "Coordinator")
    trusted = effective_protocols(hq, InclusionRules(only_trusted_keys=True))
    assert merged["103"] in trusted.excluded
    assert merged["102"] in trusted.by_station and merged["101"] in trusted.unresolved

    # a decision for a version the rules exclude: the station does not count
    pid_103 = effective_protocols(hq).by_station[merged["103"]]
    resolve_station(hq, merged["103"], protocol_id=pid_103, status="chosen", reason="only version", decided_by="A")
    assert merged["103"] in effective_protocols(hq, InclusionRules(require_protocol_photo=True)).excluded
    assert effective_protocols(hq).by_station[merged["103"]] == pid_103


def test_rules_saved_in_hq_file_and_described(hq: ElectionStore) -> None:
    assert load_rules(hq) == InclusionRules()
    rules = InclusionRules(only_trusted_keys=True, require_protocol_photo=False, exclude_failed_checks=True)
    save_rules(hq, rules)
    assert load_rules(hq) == rules
    assert effective_protocols(hq).rules == rules  # saved rules apply by default
    assert InclusionRules().describe("en") == "All received protocols count."
    en = rules.describe("en")
    assert "trusted key" in en and "control relation" in en and "photo" not in en
    assert "доверенным" in rules.describe("ru")
    assert "сенімді" in rules.describe("kk")


def test_cli_conflicts_lists_and_decides(
    hq: ElectionStore, merged: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(hq.path)
    assert main.main(["--lang", "en", "conflicts", path]) == 0
    out = capsys.readouterr().out
    assert "Station 101: 2 versions differ in issued" in out
    assert "undecided conflicts: 1" in out
    chosen = station_conflicts(hq)[0].versions[1].protocol_id
    assert (
        main.main(
            [
                "--lang",
                "en",
                "conflicts",
                path,
                "--station",
                "101",
                "--choose",
                chosen,
                "--reason",
                "photo",
                "--by",
                "Ana",
            ]
        )
        == 0
    )
    assert effective_protocols(hq).by_station[merged["101"]] == chosen
    assert main.main(["--lang", "en", "conflicts", path, "--station", "101", "--disputed"]) == 2  # a reason is required
    assert "--reason" in capsys.readouterr().err
    assert main.main(["--lang", "en", "conflicts", path, "--station", "999", "--disputed", "--reason", "x"]) == 2
    assert resolution_history(hq, merged["101"])[0].decided_by == "Ana"


# ---- two coordinators at once (issue 16) ----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hq_on(request: pytest.FixtureRequest, hq: ElectionStore, merged: dict[str, str]) -> Iterator[str]:
    """The merged HQ: the file itself, or a PostgreSQL copy of it."""
    if request.param == "sqlite":
        yield str(hq.path)
        return
    url: str = request.getfixturevalue("pg_url")
    copy_hq(hq.path, url)
    yield url


def test_a_decision_on_a_station_someone_decided_meanwhile_is_refused_saying_who(
    hq_on: str, merged: dict[str, str]
) -> None:
    a, b = ElectionStore.open(hq_on), ElectionStore.open(hq_on)
    try:
        versions = station_conflicts(a)[0].versions
        # Both coordinators see the station undecided (replaces=None) and decide differently.
        first = resolve_station(
            a,
            merged["101"],
            protocol_id=versions[0].protocol_id,
            status="chosen",
            reason="photo",
            decided_by="Aigul",
            replaces=None,
        )
        with pytest.raises(ConflictError) as refused:
            resolve_station(
                b, merged["101"], protocol_id=None, status="disputed", reason="both", decided_by="Berik", replaces=None
            )
        assert refused.value.key == "package.conflict.already_decided"
        said = refused.value.message("en")
        assert "101" in said and "Aigul" in said and "not recorded" in said
        assert [r.id for r in resolution_history(b, merged["101"])] == [first.id]
        # Aigul's machine's clock was an hour ahead: a decision that replaces hers is still the newer one.
        with a.engine.begin() as conn:
            conn.execute(
                update(m.Resolution)
                .where(m.Resolution.id == first.id)
                .values(decided_at=first.decided_at + timedelta(hours=1))
            )
        # Having looked again, Berik replaces the decision he now knows about.
        resolve_station(
            b, merged["101"], protocol_id=None, status="disputed", reason="both", decided_by="Berik", replaces=first.id
        )
        assert [r.decided_by for r in resolution_history(a, merged["101"])] == ["Berik", "Aigul"]
        with pytest.raises(ConflictError) as stale:
            resolve_station(
                a, merged["103"], protocol_id=None, status="disputed", reason="x", decided_by="A", replaces=first.id
            )
        assert stale.value.key == "package.conflict.not_in_force"
    finally:
        a.close()
        b.close()


def _waiting_for_a_lock(conn: psycopg.Connection[Any], count: int) -> None:
    """Until ``count`` other sessions of this database wait for a lock (asked of the server, a bounded number of times)."""
    for _ in range(3000):
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if waiting is not None and waiting[0] >= count:
            return
        conn.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"{count} sessions never waited for the station's lock")


@pytest.mark.postgres
def test_two_coordinators_deciding_one_station_at_once_end_with_one_decision(
    hq: ElectionStore, merged: dict[str, str], pg_url: str
) -> None:
    copy_hq(hq.path, pg_url)
    stores = [ElectionStore.open(pg_url), ElectionStore.open(pg_url)]
    versions = station_conflicts(stores[0])[0].versions
    outcomes: list[object] = []

    def decide(store: ElectionStore, n: int) -> None:
        try:
            outcomes.append(
                resolve_station(
                    store,
                    merged["101"],
                    protocol_id=versions[n].protocol_id,
                    status="chosen",
                    reason=f"coordinator {n}",
                    decided_by=f"Coordinator {n}",
                )
            )
        except ConflictError as exc:
            outcomes.append(exc)

    # A third session holds the station's row, as a coordinator half-way through a decision does:
    # both coordinators read "undecided", then queue for the row; the gate opens; one decides.
    with psycopg.connect(pg_url) as gate, psycopg.connect(pg_url, autocommit=True) as watch:
        gate.execute("SELECT id FROM stations WHERE id = %s FOR NO KEY UPDATE", (merged["101"],))
        # What a merge's foreign-key check takes on the same row is not held up by a decision.
        watch.execute("SELECT id FROM stations WHERE id = %s FOR KEY SHARE NOWAIT", (merged["101"],))
        threads = [threading.Thread(target=decide, args=(store, n)) for n, store in enumerate(stores)]
        for t in threads:
            t.start()
        _waiting_for_a_lock(watch, 2)
        # A decision on another station goes through while this one is held.
        other = threading.Thread(
            target=resolve_station,
            args=(stores[0], merged["103"]),
            kwargs={"protocol_id": None, "status": "disputed", "reason": "r", "decided_by": "C"},
        )
        other.start()
        other.join(timeout=60)
        assert not other.is_alive()
        gate.rollback()
        for t in threads:
            t.join(timeout=60)
    try:
        assert len(outcomes) == 2
        recorded = [o for o in outcomes if not isinstance(o, ConflictError)]
        refused = [o for o in outcomes if isinstance(o, ConflictError)]
        assert len(recorded) == 1 and len(refused) == 1
        assert refused[0].key == "package.conflict.already_decided"
        assert [r.id for r in resolution_history(stores[0], merged["101"])] == [recorded[0].id]  # type: ignore[attr-defined]
        assert len(resolution_history(stores[0], merged["103"])) == 1
    finally:
        for store in stores:
            store.close()
