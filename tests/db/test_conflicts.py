"""Conflicting protocol versions, the coordinator's decisions, inclusion rules, effective protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import main
from db.conflicts import ConflictError, effective_protocols, resolution_history, resolve_station, station_conflicts
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
