"""Merging packages at a coordinator's HQ: idempotent, order-independent, crash-safe, tiers, trust."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import db.dbapi
import db.merge
from db.conflicts import effective_protocols
from db.held import release_held
from db.merge import import_keys, list_keys, merge_packages, trust_key
from db.package import export_hq_package, export_station_package
from db.rules import InclusionRules
from db.services.overview import refused_packages
from db.store import ElectionStore
from observer import i18n
from observer.errors import PackageError
from observer.signing import KeyPair

# Columns that record when this HQ did something (not what it holds): they differ
# between two HQ files that merged the same packages at different moments.
_CLOCK = {"created_at", "updated_at", "merged_at", "decided_at"}


def dump(path: Path, *, ignore_clock: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if ignore_clock and table in ("packages", "trusted_keys"):
                cols = [c for c in cols if c not in _CLOCK and not (table == "trusted_keys" and c == "id")]
            rows = conn.execute(f'SELECT {", ".join(cols)} FROM "{table}"').fetchall()
            if ignore_clock and table == "meta":
                rows = [r for r in rows if r[0] != "created_at"]
            out[table] = sorted(rows, key=repr)
    conn.close()
    return out


def records(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What the file holds, without the package log's refusals (kept there with their reasons)."""
    out = dump(path)
    out["packages"] = [r for r in out["packages"] if "refused" not in r]
    return out


def refusals(path: Path) -> list[tuple[str, str]]:
    """(file name, reason) of every refusal in the package log."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT file_name, reason FROM packages WHERE outcome = 'refused' ORDER BY file_name"
        ).fetchall()
    conn.close()
    return rows


def valid_id(station: ElectionStore) -> str:
    """The id of a station file's "valid" protocol figure: the record a hostile package reuses."""
    with sqlite3.connect(station.path) as conn:
        (rid,) = conn.execute("SELECT id FROM protocol_values WHERE key = 'valid'").fetchone()
    conn.close()
    return str(rid)


def take_valid_id(station: ElectionStore, rid: str, **changes: object) -> None:
    """A hostile observer's edit: their own "valid" figure given another observer's record id ``rid``."""
    sets = ", ".join(["id = ?", *(f"{column} = ?" for column in changes)])
    with sqlite3.connect(station.path) as conn:
        conn.execute(f"UPDATE protocol_values SET {sets} WHERE key = 'valid'", (rid, *changes.values()))
    conn.close()


class Factory:
    """Observer files with real data, exported with the real export function."""

    def __init__(self, root: Path, template: Any) -> None:
        self.root = root
        self.template = template
        self.n = 0

    def station(
        self, code: str, observer: str, keys: KeyPair, *, values: dict[str, int] | None = None, photo: bool = True
    ) -> ElectionStore:
        self.n += 1
        s = ElectionStore.create(self.root / f"obs{self.n}.baqylau", self.template)
        s.set_observer(observer, "MISK")
        st = s.upsert_station(code, "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
        s.select_station(st.id)
        pid = s.protocol_id(st.id)
        for key, value in (values or {"registered": 1500, "issued": 900, "valid": 850, "invalid": 30}).items():
            s.set_protocol_value(pid, key, value)
        s.add_headcount(st.id, 1)
        if photo:
            img = self.root / f"p{self.n}.jpg"
            Image.new("RGB", (120, 80), (self.n * 40 % 255, 90, 10)).save(img, "JPEG")
            s.add_evidence(st.id, img, protocol_id=pid)
        return s

    def export(self, s: ElectionStore, keys: KeyPair, folder: str = "usb") -> Path:
        return export_station_package(s, self.root / folder, keys)

    def hq(self, name: str) -> ElectionStore:
        return ElectionStore.create(self.root / name / "hq.baqylau", self.template, role="hq")


@pytest.fixture
def factory(tmp_path: Path, template_2021: Any) -> Factory:
    return Factory(tmp_path, template_2021)


@pytest.fixture
def three(factory: Factory) -> Iterator[tuple[Path, Path, Path, Path]]:
    """A and B: two observers at station 101 who disagree; C: station 102; A2: a later export of A."""
    ka, kb, kc = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka)
    a = factory.export(sa, ka)
    sb = factory.station("101", "Ерлан", kb, values={"registered": 1500, "issued": 990, "valid": 940, "invalid": 30})
    b = factory.export(sb, kb)
    c = factory.export(factory.station("102", "Данияр", kc), kc)
    pid = sa.protocol_id(sa.current_station().id)  # type: ignore[union-attr]
    sa.set_protocol_value(pid, "invalid", 31)  # corrected later: a newer version of one record
    a2 = factory.export(sa, ka)
    yield a, b, c, a2


def test_merge_is_idempotent_and_order_independent(factory: Factory, three: tuple[Path, Path, Path, Path]) -> None:
    a, b, c, a2 = three
    first = factory.hq("one")
    report = merge_packages(first, [a, b, c, a2], trust_new_keys=True)
    assert report.counts()["merged"] == 4
    second = factory.hq("two")
    merge_packages(second, [a2, c, a, b], trust_new_keys=True)
    assert dump(first.path, ignore_clock=True) == dump(second.path, ignore_clock=True)
    assert sorted(p.name for p in first.evidence_dir.iterdir()) == sorted(p.name for p in second.evidence_dir.iterdir())

    exact = dump(first.path)
    again = merge_packages(first, [a, b, c, a2])
    assert again.counts() == {"merged": 0, "duplicate": 4, "held": 0, "refused": 0}
    assert dump(first.path) == exact

    with sqlite3.connect(first.path) as conn:
        # the newer version of the corrected record won, whatever the order
        # (A's corrected 31 replaced its 30; B and C say 30)
        assert conn.execute("SELECT value FROM protocol_values WHERE key='invalid' ORDER BY value").fetchall() == [
            (30,),
            (30,),
            (31,),
        ]
        assert conn.execute("SELECT count(*) FROM stations").fetchone() == (2,)
        # every merged record names its package
        for table in ("protocols", "protocol_values", "headcount_events", "evidence", "stations"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE package_id IS NULL").fetchone() == (0,)
    conn.close()
    first.close()
    second.close()


def test_folders_are_walked_and_progress_and_cancel_work(
    factory: Factory, three: tuple[Path, Path, Path, Path]
) -> None:
    a, b, c, _ = three
    nested = factory.root / "sticks" / "stick1" / "deep"
    nested.mkdir(parents=True)
    for p in (a, b):
        shutil.copy(p, nested / p.name)
    shutil.copy(c, factory.root / "sticks" / c.name)
    (factory.root / "sticks" / "notes.txt").write_text("ignored")
    hq = factory.hq("hq")
    seen: list[tuple[int, int, str]] = []
    report = merge_packages(
        hq, [factory.root / "sticks"], progress=lambda d, t, n: seen.append((d, t, n)), trust_new_keys=True
    )
    assert report.counts()["merged"] == 3
    assert seen[0][:2] == (0, 3) and seen[-1][:2] == (3, 3)

    other = factory.hq("cancelled")
    calls = iter([False, True])
    report = merge_packages(other, [factory.root / "sticks"], cancel=lambda: next(calls), trust_new_keys=True)
    assert report.cancelled and len(report.entries) == 1
    hq.close()
    other.close()


def test_crash_inside_a_package_leaves_hq_as_before(
    factory: Factory, three: tuple[Path, Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c, _ = three
    hq = factory.hq("hq")
    merge_packages(hq, [a], trust_new_keys=True)
    before = dump(hq.path)
    real = db.dbapi.Driver.insert  # every new record of a package goes through it

    def crash(self: db.dbapi.Driver, table: str, cols: Any, rows: Any) -> None:
        real(self, table, cols, rows)  # some rows of this package are already written...
        if table == "protocol_values":
            raise RuntimeError("power cut")  # ...when the machine dies

    monkeypatch.setattr(db.dbapi.Driver, "insert", crash)
    with pytest.raises(RuntimeError):
        merge_packages(hq, [b], trust_new_keys=True)
    assert dump(hq.path) == before
    monkeypatch.setattr(db.dbapi.Driver, "insert", real)
    assert merge_packages(hq, [b, c], trust_new_keys=True).counts()["merged"] == 2
    hq.close()


def test_station_matched_by_code_keeps_hq_station_list(factory: Factory, three: tuple[Path, Path, Path, Path]) -> None:
    a, *_ = three
    hq = factory.hq("hq")
    listed = hq.upsert_station("101", "KZ-75", "Бостандық", "", 2100)
    merge_packages(hq, [a], trust_new_keys=True)
    st = hq.station_by_code("101")
    assert st is not None and st.id == listed.id
    assert (st.region, st.district, st.registered) == ("KZ-75", "Бостандық", 2100)
    assert st.address == "ул. Абая, 1"  # empty in the list: filled from the package
    with sqlite3.connect(hq.path) as conn:
        assert conn.execute("SELECT DISTINCT station_id FROM protocols").fetchall() == [(listed.id,)]
    conn.close()
    hq.close()


def test_untrusted_key_is_held_then_released(factory: Factory) -> None:
    keys = KeyPair.generate()
    pkg = factory.export(factory.station("101", "Айгүл", keys), keys)
    hq = factory.hq("hq")
    report = merge_packages(hq, [pkg])
    assert [e.outcome for e in report.entries] == ["held"]
    assert keys.fingerprint in report.entries[0].reason
    with sqlite3.connect(hq.path) as conn:
        assert conn.execute("SELECT count(*) FROM protocols").fetchone() == (0,)
    conn.close()
    (key,) = list_keys(hq)
    assert (key.fingerprint, key.status, key.held_packages) == (keys.fingerprint, "pending", 1)
    assert effective_protocols(hq).by_station == {}
    # merging it again while the key is still pending changes nothing
    before = dump(hq.path)
    assert merge_packages(hq, [pkg]).entries[0].outcome == "held"
    assert dump(hq.path) == before

    info = trust_key(hq, keys.fingerprint.replace("-", " ").upper(), "Айгүл, MISK", "coordinator")
    assert info.status == "trusted" and info.decided_by == "coordinator"
    released = release_held(hq, keys.fingerprint)
    assert released.counts()["merged"] == 1
    assert list(db.merge.held_dir(hq).iterdir()) == []
    assert len(effective_protocols(hq).by_station) == 1
    assert merge_packages(hq, [pkg]).entries[0].outcome == "duplicate"
    (key,) = list_keys(hq)
    assert (key.merged_packages, key.held_packages) == (1, 0)
    hq.close()


def test_import_keys_is_all_or_nothing(factory: Factory, tmp_path: Path) -> None:
    k1, k2 = KeyPair.generate(), KeyPair.generate()
    hq = factory.hq("hq")
    bad = tmp_path / "keys-bad.txt"
    bad.write_text(f"# observers\n{k1.public_hex} Айгүл\nnot-a-key\n", encoding="utf-8")
    with pytest.raises(PackageError) as err:
        import_keys(hq, bad, "coordinator")
    assert err.value.key == "package.key.bad_line" and err.value.params["line"] == 3
    assert list_keys(hq) == []
    good = tmp_path / "keys.txt"
    good.write_text(f"\ufeff# observers\n{k1.public_hex} Айгүл\n{k2.public_hex.upper()}\n", encoding="utf-8")
    imported = import_keys(hq, good, "coordinator")
    assert {k.fingerprint for k in imported} == {k1.fingerprint, k2.fingerprint}
    assert all(k.status == "trusted" for k in imported)
    pkg = factory.export(factory.station("101", "Айгүл", k1), k1)
    assert merge_packages(hq, [pkg]).entries[0].outcome == "merged"
    hq.close()


def test_tiers_station_district_org_counted_once_with_provenance(
    factory: Factory, three: tuple[Path, Path, Path, Path]
) -> None:
    a, b, c, _ = three
    district = factory.hq("district")
    district.set_observer("Алматы штабы", "MISK")
    merge_packages(district, [a, b], trust_new_keys=True)
    district_keys = KeyPair.generate()
    district_pkg = export_hq_package(district, factory.root / "to-org", district_keys)

    org = factory.hq("org")
    trusted = factory.root / "district-key.txt"
    trusted.write_text(district_keys.public_hex + " Almaty district\n")
    import_keys(org, trusted, "org coordinator", role="district")
    # the district package, plus station A again directly (trusted at org only on first use):
    # A's own signed copy is merged (it replaces what the district said A's records were)
    report = merge_packages(org, [district_pkg], trust_new_keys=False)
    assert report.counts()["merged"] == 1
    report = merge_packages(org, [a, c], trust_new_keys=True)
    assert {e.path.name: e.outcome for e in report.entries} == {a.name: "merged", c.name: "merged"}
    assert merge_packages(org, [a, c, district_pkg]).counts()["duplicate"] == 3

    with sqlite3.connect(org.path) as conn:
        assert conn.execute("SELECT count(*) FROM protocols").fetchone() == (3,)
        rows = dict(
            conn.execute(
                "SELECT k.file_name, v.file_name FROM protocols p JOIN packages k ON k.id = p.package_id "
                "LEFT JOIN packages v ON v.id = k.via_package_id"
            ).fetchall()
        )
        # station records keep the station package as their source, and say they came via the district
        # (A's only until its own signed package arrived)
        assert rows == {a.name: None, b.name: district_pkg.name, c.name: None}
        kinds = dict(conn.execute("SELECT file_name, kind FROM packages").fetchall())
        assert kinds[district_pkg.name] == "hq"
    conn.close()

    # the other route first gives the same records
    org2 = factory.hq("org2")
    import_keys(org2, trusted, "org coordinator", role="district")
    assert merge_packages(org2, [a, c, district_pkg], trust_new_keys=True).counts()["merged"] == 3
    assert dump(org2.path, ignore_clock=True)["protocol_values"] == dump(org.path, ignore_clock=True)["protocol_values"]

    eff = effective_protocols(org)
    s101, s102 = org.station_by_code("101"), org.station_by_code("102")
    assert s101 is not None and s102 is not None
    assert s101.id in eff.unresolved and s102.id in eff.by_station
    # trusted-only: station 101's observers are vouched for by the trusted district key
    strict = effective_protocols(org, InclusionRules(only_trusted_keys=True))
    assert s101.id in strict.unresolved and s102.id in strict.by_station
    for s in (district, org, org2):
        s.close()


def test_cli_merge_keys_and_export_hq(
    factory: Factory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import main

    keys = KeyPair.generate()
    good = factory.export(factory.station("101", "Айгүл", keys), keys)
    junk = factory.root / "usb" / "junk.bqpkg"
    junk.write_bytes(b"not a zip at all")
    hq = factory.root / "cli" / "HQ.db"

    assert main.main(["--lang", "en", "merge", str(hq), str(junk)]) == 2  # nothing could be read
    captured = capsys.readouterr()
    assert "junk.bqpkg is not a Baqylau package." in captured.out
    assert "0 merged" in captured.out and "1 refused" in captured.out
    (logged,) = refusals(hq)  # the command line's refusals stay in the package log too
    assert logged[0] == "junk.bqpkg" and "junk.bqpkg is not a Baqylau package." in logged[1]

    assert "\r" not in captured.err  # no progress line into a log or a pipe

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a person at a terminal sees the progress
    assert main.main(["--lang", "en", "merge", str(hq), str(factory.root / "usb")]) == 0  # one held, one refused
    captured = capsys.readouterr()
    assert "0 merged, 0 already merged, 1 held, 1 refused" in captured.out
    assert f"held: {good}" in captured.out
    assert "[2/2]" in captured.err  # the progress line

    # for scripts: one JSON object, or nothing at all
    assert main.main(["--lang", "en", "merge", str(hq), str(factory.root / "usb"), "--format", "json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["held"], summary["refused"], summary["merged"]) == (1, 1, 0)
    assert {(Path(e["path"]).name, e["outcome"]) for e in summary["packages"]} == {
        (good.name, "held"),
        ("junk.bqpkg", "refused"),
    }
    assert "\r" not in captured.err
    assert main.main(["merge", str(hq), str(factory.root / "usb"), "-q"]) == 0
    assert capsys.readouterr() == ("", "")

    assert main.main(["--lang", "en", "keys", str(hq), "list"]) == 0
    assert keys.fingerprint in capsys.readouterr().out
    # a prefix is not enough to trust a key (a ground key could share it): the whole fingerprint is
    assert main.main(["--lang", "en", "keys", str(hq), "trust", keys.fingerprint[:9], "--by", "Ana"]) == 2
    assert "whole fingerprint" in capsys.readouterr().err
    assert main.main(["--lang", "en", "keys", str(hq), "trust", keys.fingerprint.upper(), "--by", "Ana"]) == 0
    out = capsys.readouterr().out
    assert "1 held packages were merged" in out and keys.fingerprint in out and "(observer)" in out

    out = factory.root / "to-org"
    assert main.main(["--lang", "en", "export-hq", str(hq), str(out)]) == 0
    (pkg,) = out.glob("*.bqpkg")
    assert str(pkg) in capsys.readouterr().out

    assert main.main(["--lang", "en", "keys", str(hq), "revoke", keys.fingerprint]) == 0
    assert main.main(["--lang", "en", "keys", str(hq), "trust", "ffff-ffff"]) == 2
    assert "ffff-ffff" in capsys.readouterr().err


def test_contradicting_package_refused_whole_and_its_evidence_taken_back(factory: Factory, tmp_path: Path) -> None:
    """An observer copied their file to a second laptop and re-entered the protocol there:
    same observer and station, a second protocol id for the same (station, observer, source)."""
    keys = KeyPair.generate()
    first = factory.station("101", "Айгүл", keys)
    pkg1 = factory.export(first, keys)
    first.close()
    copy = tmp_path / "laptop2.baqylau"
    shutil.copy(first.path, copy)
    shutil.copytree(first.evidence_dir, tmp_path / "laptop2.baqylau.evidence")
    second = ElectionStore.open(copy)
    station = second.current_station()
    assert station is not None
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM evidence")
        conn.execute("DELETE FROM protocol_values")
        conn.execute("DELETE FROM protocols")
    conn.close()
    pid = second.protocol_id(station.id)
    second.set_protocol_value(pid, "registered", 1499)
    img = tmp_path / "other.jpg"
    Image.new("RGB", (90, 60), (1, 2, 3)).save(img, "JPEG")
    info = second.add_evidence(station.id, img, protocol_id=pid)
    pkg2 = export_station_package(second, tmp_path / "usb2", keys)
    second.close()

    hq = factory.hq("hq")
    assert merge_packages(hq, [pkg1], trust_new_keys=True).counts()["merged"] == 1
    before = dump(hq.path)
    report = merge_packages(hq, [pkg2], trust_new_keys=True)
    assert report.entries[0].outcome == "refused" and "UNIQUE" in report.entries[0].reason
    after = dump(hq.path)
    logged = [r for r in after["packages"] if r not in before["packages"]]
    assert len(logged) == 1 and "refused" in logged[0] and report.entries[0].reason in logged[0]
    after["packages"] = [r for r in after["packages"] if r in before["packages"]]
    assert after == before  # none of its records: only the package log keeps its refusal
    assert not (hq.evidence_dir / info.stored_name).exists()
    hq.close()


def test_a_tampered_copy_of_a_merged_package_is_refused_and_stays_in_the_log(factory: Factory) -> None:
    """Same signed manifest, one photo byte changed: refused (not "already merged"), and the refusal outlives the run."""
    import zipfile

    keys = KeyPair.generate()
    a = factory.export(factory.station("101", "Айгүл", keys), keys)
    tampered = factory.root / "stick2" / a.name
    tampered.parent.mkdir()
    with zipfile.ZipFile(a) as src, zipfile.ZipFile(tampered, "w") as out:
        photos = [n for n in src.namelist() if n.endswith(".jpg")]
        assert photos
        for info in src.infolist():
            data = src.read(info)
            if info.filename == photos[0]:
                data = data[:-1] + bytes([data[-1] ^ 1])
            out.writestr(info, data)
    hq = factory.hq("hq")
    assert merge_packages(hq, [a], trust_new_keys=True).counts()["merged"] == 1
    before = records(hq.path)
    i18n.set_language("en")
    (entry,) = merge_packages(hq, [tampered], trust_new_keys=True).entries
    assert entry.outcome == "refused"
    assert entry.reason.startswith(f"{a.name} has the signed manifest of a package already merged")
    assert records(hq.path) == before
    assert refusals(hq.path) == [(a.name, entry.reason)]
    # offered again: the same refusal, nothing written; the genuine file is still "already merged"
    logged = dump(hq.path)
    report = merge_packages(hq, [tampered, a], trust_new_keys=True)
    assert [e.outcome for e in report.entries] == ["refused", "duplicate"]
    assert dump(hq.path) == logged
    hq.close()


def test_a_refused_file_leaves_the_log_once_it_merges(factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeyPair.generate()
    a = factory.export(factory.station("101", "Айгүл", keys), keys)
    hq = factory.hq("hq")
    monkeypatch.setattr(db.merge, "MAX_RUN_BYTES", 0)  # this run may unpack no evidence: refused
    assert merge_packages(hq, [a], trust_new_keys=True).counts()["refused"] == 1
    assert [name for name, _ in refusals(hq.path)] == [a.name]
    i18n.set_language("en")  # refused again, for the same reason in another language: the newest words
    assert merge_packages(hq, [a], trust_new_keys=True).counts()["refused"] == 1
    (shown,) = refused_packages(hq)  # what the overview's "refused" counter lists
    assert (shown.file_name, shown.station_code) == (a.name, "101") and shown.at.tzinfo is not None
    assert refusals(hq.path) == [(a.name, shown.reason)] and "GB" in shown.reason
    monkeypatch.undo()
    assert merge_packages(hq, [a], trust_new_keys=True).counts()["merged"] == 1
    assert refusals(hq.path) == []
    hq.close()


# ---- properties and kills ----------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six real packages: two stations with two observers each, one later re-export, one lone station."""
    from observer.template import builtin_template

    root = tmp_path_factory.mktemp("pool")
    f = Factory(root, builtin_template("kz-majilis-2021"))
    k1, k2, k3, k4, k5 = (KeyPair.generate() for _ in range(5))  # one key per observer
    s1 = f.station("201", "A", k1)
    out = [f.export(s1, k1)]
    out.append(f.export(f.station("201", "B", k2, values={"registered": 1500, "issued": 901}), k2))
    out.append(f.export(f.station("202", "C", k3), k3))
    out.append(f.export(f.station("202", "D", k4, photo=False), k4))
    pid = s1.protocol_id(s1.current_station().id)  # type: ignore[union-attr]
    s1.set_protocol_value(pid, "issued", 905)
    s1.add_headcount(s1.current_station().id, 1)  # type: ignore[union-attr]
    out.append(f.export(s1, k1))
    out.append(f.export(f.station("203", "E", k5), k5))
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_any_order_any_repeats_same_database(
    pool: list[Path], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    from observer.template import builtin_template

    chosen = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8), label="packages")
    reordered = data.draw(st.permutations(chosen), label="order")
    root = tmp_path_factory.mktemp("prop")
    t = builtin_template("kz-majilis-2021")
    one = ElectionStore.create(root / "one.baqylau", t, role="hq")
    two = ElectionStore.create(root / "two.baqylau", t, role="hq")
    merge_packages(one, chosen, trust_new_keys=True)
    half = len(reordered) // 2
    merge_packages(two, reordered[:half], trust_new_keys=True)
    merge_packages(two, reordered[half:] + reordered[:1], trust_new_keys=True)
    assert dump(one.path, ignore_clock=True) == dump(two.path, ignore_clock=True)
    one.close()
    two.close()


def test_revoked_key_cannot_come_back_through_a_district(
    factory: Factory, three: tuple[Path, Path, Path, Path]
) -> None:
    a, b, c, _ = three
    district = factory.hq("district")
    merge_packages(district, [a, b], trust_new_keys=True)
    district_keys = KeyPair.generate()
    district_pkg = export_hq_package(district, factory.root / "to-org", district_keys)
    org = factory.hq("org")
    trust_key(org, district_keys.public_hex, "district", "org coordinator", role="district")
    merge_packages(org, [a], trust_new_keys=True)  # the org knows A's key...
    from db.merge import revoke_key

    with sqlite3.connect(org.path) as conn:
        fpr = conn.execute("SELECT key_fingerprint FROM packages").fetchone()[0]
    conn.close()
    revoke_key(org, fpr, "org coordinator")  # ...and revokes it
    before = dump(org.path)
    report = merge_packages(org, [district_pkg], trust_new_keys=True)
    assert report.entries[0].outcome == "refused"
    assert fpr in report.entries[0].reason and a.name in report.entries[0].reason
    assert records(org.path) == before
    assert refusals(org.path) == [(district_pkg.name, report.entries[0].reason)]
    district.close()
    org.close()


def test_record_id_of_another_observer_is_refused(factory: Factory) -> None:
    """A signed observer cannot overwrite another observer's figures by reusing their record ids."""
    ka, kb = KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka, photo=False)
    a = factory.export(sa, ka)
    sb = factory.station("101", "Ерлан", kb, photo=False)
    victim = valid_id(sa)
    # B's own figure under A's record id, stamped later so that it would win as a newer version
    take_valid_id(sb, victim, value=1, updated_at="2099-01-01T00:00:00.000000Z")
    b = factory.export(sb, kb)
    hq = factory.hq("hq")
    assert merge_packages(hq, [a], trust_new_keys=True).counts()["merged"] == 1
    before = dump(hq.path)
    (entry,) = merge_packages(hq, [b], trust_new_keys=True).entries
    assert entry.outcome == "refused"
    assert "protocol_values" in entry.reason and victim in entry.reason
    assert records(hq.path) == before  # nothing of B, not even its key's trust
    assert refusals(hq.path) == [(b.name, entry.reason)]
    with sqlite3.connect(hq.path) as conn:
        assert conn.execute("SELECT value FROM protocol_values WHERE id = ?", (victim,)).fetchone() == (850,)
    conn.close()
    # merged first, B's record is in and A's later package (which A signed) is refused the same way
    other = factory.hq("other")
    assert merge_packages(other, [b], trust_new_keys=True).counts()["merged"] == 1
    assert merge_packages(other, [a], trust_new_keys=True).entries[0].outcome == "refused"
    for s in (sa, sb, hq, other):
        s.close()


def test_one_run_with_refused_and_repeated_packages_keeps_the_others(factory: Factory) -> None:
    """Packages share a batch (a savepoint each, verified ahead): one refused rolls back alone."""
    ka, kb, kc = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka)
    a = factory.export(sa, ka)
    sb = factory.station("101", "Ерлан", kb)
    victim = valid_id(sa)
    take_valid_id(sb, victim)
    b = factory.export(sb, kb)
    again = factory.root / "copy" / a.name
    again.parent.mkdir()
    shutil.copy(a, again)
    c = factory.export(factory.station("102", "Данияр", kc), kc)
    hq = factory.hq("hq")
    report = merge_packages(hq, [a, b, again, c], trust_new_keys=True)
    assert [e.outcome for e in report.entries] == ["merged", "refused", "duplicate", "merged"]
    with sqlite3.connect(hq.path) as conn:
        assert conn.execute("SELECT count(DISTINCT observer_id) FROM protocols").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM trusted_keys").fetchone() == (2,)  # not B's
        cited = {r[0] for r in conn.execute("SELECT stored_name FROM evidence")}
    conn.close()
    assert {p.name for p in hq.evidence_dir.iterdir()} == cited and len(cited) == 2
    assert not [p for p in hq.path.parent.iterdir() if p.name.startswith(".baqylau-")]
    # the same run again: all duplicates, nothing read or written
    before = dump(hq.path)
    assert merge_packages(hq, [a, b, again, c], trust_new_keys=True).counts() == {
        "merged": 0,
        "duplicate": 3,
        "held": 0,
        "refused": 1,
    }
    assert dump(hq.path) == before
    for s in (sa, sb, hq):
        s.close()


def test_error_mid_batch_keeps_the_packages_merged_before_it(
    factory: Factory, three: tuple[Path, Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c, _ = three
    hq = factory.hq("hq")
    real = db.dbapi.Driver.insert  # every new record of a package goes through it
    calls = {"protocol_values": 0}

    def crash(self: db.dbapi.Driver, table: str, cols: Any, rows: Any) -> None:
        real(self, table, cols, rows)
        if table == "protocol_values":
            calls[table] += 1
            if calls[table] == 2:  # inside the second package of the run, same batch as the first
                raise RuntimeError("disk gone")

    monkeypatch.setattr(db.dbapi.Driver, "insert", crash)
    with pytest.raises(RuntimeError):
        merge_packages(hq, [a, b, c], trust_new_keys=True)
    monkeypatch.setattr(db.dbapi.Driver, "insert", real)
    with sqlite3.connect(hq.path) as conn:
        # A whole (committed on the way out), nothing of B
        assert conn.execute("SELECT count(*) FROM packages WHERE outcome = 'merged'").fetchone() == (1,)
        assert conn.execute("SELECT count(DISTINCT observer_id) FROM protocol_values").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM evidence").fetchone() == (1,)
    conn.close()
    assert len(list(hq.evidence_dir.iterdir())) == 1
    assert [e.outcome for e in merge_packages(hq, [a, b, c], trust_new_keys=True).entries] == [
        "duplicate",
        "merged",
        "merged",
    ]
    hq.close()


def test_second_merge_waits_for_the_running_batch(factory: Factory) -> None:
    """A batch holds the write lock for seconds: another merge on the same file waits for it
    (busy timeout) and then merges, instead of failing once the first one commits."""
    import threading

    ka, kb = KeyPair.generate(), KeyPair.generate()
    a = factory.export(factory.station("101", "A", ka), ka)
    b = factory.export(factory.station("102", "B", kb), kb)
    hq = factory.hq("hq")
    other = ElectionStore.open(hq.path)
    first = db.merge._Merger(hq, True).__enter__()
    try:
        assert first.merge_file(a).outcome == "merged"  # its batch is open: the write lock is held
        outcome: list[Any] = []
        worker = threading.Thread(target=lambda: outcome.append(merge_packages(other, [b], trust_new_keys=True)))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()  # waiting for the lock, not failed
    finally:
        first.__exit__(None)
    worker.join(10)
    assert not worker.is_alive()
    assert [e.outcome for e in outcome[0].entries] == ["merged"]
    other.close()
    with sqlite3.connect(hq.path) as conn:
        assert conn.execute("SELECT count(*) FROM packages WHERE outcome = 'merged'").fetchone()[0] == 2
    conn.close()


def test_full_disk_mid_batch_says_so_and_leaves_the_file_whole(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite rolls the whole batch back on a full disk: the user reads "disk full" (not a
    savepoint error), and the file is as it was, totals trigger included."""
    from observer.errors import StorageError

    packages = []
    for i in range(6):
        keys = KeyPair.generate()
        packages.append(factory.export(factory.station(str(100 + i), f"O{i}", keys), keys))
    # 4 KB pages: a new HQ's 16 KB pages have room for all six packages without one page more
    monkeypatch.setattr(db.store, "HQ_PAGE_SIZE", 4096)
    hq = factory.hq("hq")
    with sqlite3.connect(hq.path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    enter = db.merge._Merger.__enter__

    def small_disk(self: Any) -> Any:
        merger = enter(self)
        merger._pragma(f"max_page_count={pages + 3}")
        return merger

    monkeypatch.setattr(db.merge._Merger, "__enter__", small_disk)
    with pytest.raises(StorageError) as info:
        merge_packages(hq, packages, trust_new_keys=True)
    assert info.value.key == "error.storage.disk_full"
    with sqlite3.connect(hq.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM packages").fetchone()[0] == 0
        assert (
            conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'trg_headcount_totals_insert'").fetchone()[0]
            == 1
        )
    conn.close()


def test_district_package_is_held_until_its_key_is_a_district_key(
    factory: Factory, three: tuple[Path, Path, Path, Path]
) -> None:
    """Never trusted on first use; trusted as an observer key it is refused; as a district key released."""
    a, b, _, _ = three
    district = factory.hq("district")
    merge_packages(district, [a, b], trust_new_keys=True)
    dk = KeyPair.generate()
    pkg = export_hq_package(district, factory.root / "to-org", dk)
    org = factory.hq("org")
    (entry,) = merge_packages(org, [pkg], trust_new_keys=True).entries
    assert entry.outcome == "held" and dk.fingerprint in entry.reason
    trust_key(org, dk.fingerprint, "Almaty", "org")  # an observer key by default
    assert release_held(org, dk.fingerprint).entries[0].outcome == "refused"
    info = trust_key(org, dk.fingerprint, "", "org", role="district")
    assert (info.role, info.status) == ("district", "trusted")
    assert release_held(org, dk.fingerprint).counts()["merged"] == 1
    with sqlite3.connect(org.path) as conn:
        assert conn.execute("SELECT count(*) FROM protocols").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM packages WHERE manifest IS NOT NULL").fetchone() == (3,)
    conn.close()
    with pytest.raises(PackageError) as err:
        trust_key(org, dk.fingerprint[:19], role="district")
    assert err.value.key == "package.key.need_whole"
    for s in (district, org):
        s.close()


# ---- both backends: a file HQ and a PostgreSQL HQ (issue 16) ---------------------------------


def content(where: str | Path, *, ignore_clock: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """What an HQ holds, a file's or a database's alike: every table, columns by name, rows sorted.

    ``ignore_clock``: without the columns that record when this HQ merged (see ``dump``).
    """
    from sqlalchemy import MetaData, select

    from db.models import Base

    store = ElectionStore.open(where)
    try:
        with store.engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            out: dict[str, list[tuple[Any, ...]]] = {}
            for name in sorted(meta.tables):
                if name not in Base.metadata.tables:  # Alembic's own, the server's evidence bytes (revision 0011)
                    continue
                table = meta.tables[name]
                cols = sorted(c.name for c in table.columns)
                if ignore_clock and name in ("packages", "trusted_keys"):
                    cols = [c for c in cols if c not in _CLOCK and not (name == "trusted_keys" and c == "id")]
                rows = [tuple(r) for r in conn.execute(select(*(table.c[c] for c in cols)))]
                if ignore_clock and name == "meta":
                    rows = [r for r in rows if r[cols.index("key")] != "created_at"]
                out[name] = sorted(rows, key=repr)
            return out
    finally:
        store.close()


@pytest.fixture
def plain(factory: Factory) -> tuple[Path, Path, Path, Path]:
    """``three`` without photos: a file keeps them in a folder, a server in a table of its own, so the two
    HQs compare table for table (``content``) only without them (the halves below have photos)."""
    ka, kb, kc = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka, photo=False)
    a = factory.export(sa, ka)
    sb = factory.station(
        "101", "Ерлан", kb, values={"registered": 1500, "issued": 990, "valid": 940, "invalid": 30}, photo=False
    )
    b = factory.export(sb, kb)
    c = factory.export(factory.station("102", "Данияр", kc, photo=False), kc)
    pid = sa.protocol_id(sa.current_station().id)  # type: ignore[union-attr]
    sa.set_protocol_value(pid, "invalid", 31)
    a2 = factory.export(sa, ka)
    return a, b, c, a2


def test_both_backends_hold_the_same_after_any_order_and_repeats(
    factory: Factory, plain: tuple[Path, Path, Path, Path], store_url: str
) -> None:
    """A file HQ and the HQ at ``store_url`` (a file, or a PostgreSQL database) get the same packages in
    different orders: the same records, conflicts and log; merging again writes nothing."""
    a, b, c, a2 = plain
    reference = factory.hq("reference")
    assert merge_packages(reference, [a, b, c, a2], trust_new_keys=True).counts()["merged"] == 4
    reference.close()
    hq = ElectionStore.create(store_url, factory.template, role="hq")
    assert merge_packages(hq, [a2, c, a, b], trust_new_keys=True).counts()["merged"] == 4
    exact = content(store_url)
    assert merge_packages(hq, [a, b, c, a2]).counts() == {"merged": 0, "duplicate": 4, "held": 0, "refused": 0}
    assert content(store_url) == exact
    hq.close()
    # A and B disagree at station 101: two protocols there, as in the file (a conflict to decide)
    assert len([p for p in exact["protocols"] if p[0] != "x"]) == 3
    assert content(store_url, ignore_clock=True) == content(reference.path, ignore_clock=True)


def test_refusals_are_the_same_on_both_backends(factory: Factory, store_url: str) -> None:
    """Another observer's record id, and a file that is no package: the same refusal, the same log line."""
    ka, kb = KeyPair.generate(), KeyPair.generate()
    sa = factory.station("101", "Айгүл", ka, photo=False)
    a = factory.export(sa, ka)
    sb = factory.station("101", "Ерлан", kb, photo=False)
    victim = valid_id(sa)
    take_valid_id(sb, victim)
    b = factory.export(sb, kb)
    junk = factory.root / "usb" / "junk.bqpkg"
    junk.write_bytes(b"not a zip at all")
    i18n.set_language("en")
    reasons = []
    for where in (str(factory.root / "file" / "hq.baqylau"), store_url):
        hq = ElectionStore.create(where, factory.template, role="hq")
        report = merge_packages(hq, [a, b, junk], trust_new_keys=True)
        assert [e.outcome for e in report.entries] == ["merged", "refused", "refused"]
        assert merge_packages(hq, [a, b, junk], trust_new_keys=True).counts() == {
            "merged": 0,
            "duplicate": 1,
            "held": 0,
            "refused": 2,
        }
        reasons.append([e.reason for e in report.entries])
        hq.close()
    assert reasons[0] == reasons[1] and victim in reasons[0][1]
    assert content(store_url, ignore_clock=True) == content(factory.root / "file" / "hq.baqylau", ignore_clock=True)
    for s in (sa, sb):
        s.close()


@pytest.mark.postgres
def test_cli_merge_and_keys_trust_and_import_on_postgresql_say_what_they_say_on_a_file(
    factory: Factory, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`merge URL`, `keys URL trust` and `keys URL import` (which release held packages through the
    merge): the same --format json summaries and sentences as on a file, and the same content."""
    import main

    k1, k2 = KeyPair.generate(), KeyPair.generate()
    p1 = factory.export(factory.station("101", "Айгүл", k1, photo=False), k1, "usb1")
    p2 = factory.export(factory.station("102", "Ерлан", k2, photo=False), k2, "usb2")
    keyfile = factory.root / "keys.txt"
    keyfile.write_text(f"{k2.public_hex} Ерлан\n", encoding="utf-8")
    said: list[list[str]] = []
    for where in (str(factory.root / "cli" / "hq.baqylau"), pg_url):
        out: list[str] = []
        for argv in (
            ["merge", where, str(p1.parent), str(p2.parent), "--format", "json"],  # both held
            ["keys", where, "trust", k1.fingerprint, "--by", "Ana"],  # releases p1
            ["keys", where, "import", str(keyfile), "--by", "Ana"],  # releases p2
            ["merge", where, str(p1.parent), str(p2.parent), "--format", "json"],  # both already merged
            ["keys", where, "list"],
        ):
            code = main.main(["--lang", "en", *argv])
            captured = capsys.readouterr()
            out.append(f"{code}\n{captured.out}")
        said.append(out)
    file_said, pg_said = said
    assert file_said == pg_said
    first = json.loads(pg_said[0].split("\n", 1)[1])
    assert (first["held"], first["merged"]) == (2, 0)
    assert "1 held packages were merged" in pg_said[1]
    last = json.loads(pg_said[3].split("\n", 1)[1])
    assert (last["duplicate"], last["held"]) == (2, 0)
    file_content = content(factory.root / "cli" / "hq.baqylau", ignore_clock=True)
    assert content(pg_url, ignore_clock=True) == file_content
    assert not list(db.merge.held_dir(ElectionStore.open(factory.root / "cli" / "hq.baqylau")).iterdir())
    assert held_copies_on_server(pg_url) == []  # released copies are gone from the database too
    assert not (factory.root / "postgresql:").exists()


def held_copies_on_server(url: str) -> list[str]:
    """Names of held package files a PostgreSQL HQ keeps (db.merge.held_file_name)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(text("SELECT stored_name FROM evidence_files WHERE stored_name LIKE '%.bqpkg'")).scalars()
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_package_held_on_one_machine_is_released_by_a_trust_on_another(
    factory: Factory, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two coordinators, two machines (two user data folders), one PostgreSQL HQ: the package
    held by one is kept in the database, so the other's trust releases it; and its held copy goes."""
    keys = KeyPair.generate()
    pkg = factory.export(factory.station("101", "Айгүл", keys), keys)
    monkeypatch.setenv("BAQYLAU_HOME", str(tmp_path / "machine-a"))
    hq = ElectionStore.create(pg_url, factory.template, role="hq")
    assert [e.outcome for e in merge_packages(hq, [pkg]).entries] == ["held"]
    hq.close()
    (stored,) = held_copies_on_server(pg_url)
    pkg.unlink()  # the USB stick went home with machine A's coordinator

    monkeypatch.setenv("BAQYLAU_HOME", str(tmp_path / "machine-b"))
    hq = ElectionStore.open(pg_url)
    try:
        trust_key(hq, keys.fingerprint, "Айгүл", "Ерлан")
        released = release_held(hq, keys.fingerprint)
        assert released.counts()["merged"] == 1
        assert len(effective_protocols(hq).by_station) == 1
        (key,) = list_keys(hq)
        assert (key.merged_packages, key.held_packages) == (1, 0)
    finally:
        hq.close()
    assert held_copies_on_server(pg_url) == []
    assert stored.endswith(".bqpkg")


@pytest.mark.postgres
def test_a_held_package_merged_by_offering_it_again_drops_its_copy_and_a_damaged_copy_is_not_merged(
    factory: Factory, pg_url: str
) -> None:
    """Trusting without releasing, then merging the file again: merged, and no held copy lingers.
    A held copy whose bytes were changed in the database is refused by its SHA-256, not merged."""
    from sqlalchemy import create_engine, text

    from db.store import StorageError

    k1, k2 = KeyPair.generate(), KeyPair.generate()
    p1 = factory.export(factory.station("101", "Айгүл", k1, photo=False), k1, "usb1")
    p2 = factory.export(factory.station("102", "Ерлан", k2, photo=False), k2, "usb2")
    hq = ElectionStore.create(pg_url, factory.template, role="hq")
    try:
        assert [e.outcome for e in merge_packages(hq, [p1, p2]).entries] == ["held", "held"]
        assert len(held_copies_on_server(pg_url)) == 2
        trust_key(hq, k1.fingerprint, "Айгүл", "Ана")
        assert [e.outcome for e in merge_packages(hq, [p1]).entries] == ["merged"]
        (left,) = held_copies_on_server(pg_url)
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE evidence_file_parts SET data = 'x'::bytea || substring(data from 2) WHERE stored_name = :n"
                ),
                {"n": left},
            )
        engine.dispose()
        trust_key(hq, k2.fingerprint, "Ерлан", "Ана")
        with pytest.raises(StorageError):
            release_held(hq, k2.fingerprint)
        (key,) = [k for k in list_keys(hq) if k.fingerprint == k2.fingerprint]
        assert (key.merged_packages, key.held_packages) == (0, 1)
        assert len(effective_protocols(hq).by_station) == 1  # station 101 only
    finally:
        hq.close()


# ---- several merges at once on one PostgreSQL HQ (docs/postgresql.md, "Merging from several machines") ----

# A child `baqylau merge`, its batch length first: 0 commits after every package (the most interleaving).
MERGE_CHILD = (
    "import sys, main, db.merge_batch; db.merge_batch.BATCH_SECONDS = float(sys.argv.pop(1)); "
    "sys.exit(main.main(sys.argv[1:]))"
)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path], Path]:
    """Two halves of 62 packages for two coordinators, and the one package both of them have.

    30 stations with one observer; 15 stations with two observers who disagree, one in each half
    (a conflict either way); one observer's two exports of one station (the newer must win), one in
    each half; and one package in both halves (exactly one run may merge it).
    """
    from observer.template import builtin_template

    f = Factory(tmp_path_factory.mktemp("halves"), builtin_template("kz-majilis-2021"))
    one: list[Path] = []
    two: list[Path] = []
    for i in range(30):
        k = KeyPair.generate()
        (one if i < 15 else two).append(f.export(f.station(str(300 + i), f"S{i}", k, photo=i % 2 == 0), k))
    for i in range(15):
        for side, issued in ((one, 900), (two, 990)):
            k = KeyPair.generate()
            values = {"registered": 1500, "issued": issued, "valid": issued - 50, "invalid": 30}
            side.append(f.export(f.station(str(400 + i), f"P{i}-{issued}", k, values=values, photo=False), k))
    k = KeyPair.generate()
    s = f.station("500", "Later", k, photo=False)
    one.append(f.export(s, k))
    s.set_protocol_value(s.protocol_id(s.current_station().id), "invalid", 31)  # type: ignore[union-attr]
    two.append(f.export(s, k))
    s.close()
    shared = one[0]
    return one, [*two, shared], shared


def _settled_digest(where: str | Path) -> str:
    """content_digest of the HQ once the columns that say *when* it merged are set to one moment
    (and trusted keys' random row ids to their fingerprints): what two runs at different times share."""
    from sqlalchemy import text

    from db.hq_copy import content_digest

    store = ElectionStore.open(where)
    try:
        moment = "2026-01-01T00:00:00.000000Z"
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE packages SET created_at = :t, updated_at = :t, "
                    "merged_at = CASE WHEN merged_at IS NULL THEN NULL ELSE :m END"
                ),
                {"t": moment, "m": moment},  # two parameters: PostgreSQL types each use of one alike
            )
            conn.execute(
                text(
                    "UPDATE trusted_keys SET created_at = :t, updated_at = :t, decided_at = :t, "
                    "id = substr(replace(fingerprint, '-', ''), 1, 32)"
                ),
                {"t": moment},
            )
            conn.execute(text("UPDATE meta SET value = :t WHERE key = 'created_at'"), {"t": moment})
        return content_digest(store)
    finally:
        store.close()


def _merge_child(url: str, files: list[Path], batch_seconds: str) -> Any:
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    argv = [sys.executable, "-c", MERGE_CHILD, batch_seconds, "--lang", "en", "merge", url]
    return subprocess.Popen(
        [*argv, *map(str, files), "--trust-new-keys", "--format", "json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.postgres
@pytest.mark.parametrize("batch_seconds", ["0", "4"], ids=["commit-per-package", "batched"])
def test_two_merges_at_once_end_as_one_sequential_merge(
    halves: tuple[list[Path], list[Path], Path], pg_url: str, tmp_path: Path, batch_seconds: str
) -> None:
    """Two coordinators merge the two halves into one PostgreSQL HQ at the same time: the HQ ends
    with the content of one sequential merge of everything (same conflicts, the newer export won),
    and the package both had is merged by one run and "already merged" for the other.

    (Without the advisory locks of db.merge_batch this fails: the shared package is refused by a
    unique-key conflict in one run, or one run dies of a deadlock.)
    """
    from observer.template import builtin_template

    one, two, shared = halves
    template = builtin_template("kz-majilis-2021")
    ElectionStore.create(pg_url, template, role="hq").close()
    children = [_merge_child(pg_url, files, batch_seconds) for files in (one, two)]
    outputs = [child.communicate(timeout=600) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    summaries = [json.loads(out) for out, _ in outputs]
    outcomes = [{Path(e["path"]).name: e["outcome"] for e in s["packages"]} for s in summaries]
    assert sorted(o[shared.name] for o in outcomes) == ["duplicate", "merged"]
    assert sum(s["merged"] for s in summaries) == len(set(one + two)) == 62
    assert all(s["refused"] == 0 and s["held"] == 0 for s in summaries)

    reference = tmp_path / "sequential.baqylau"
    store = ElectionStore.create(reference, template, role="hq")
    assert merge_packages(store, [*one, *two], trust_new_keys=True).counts()["merged"] == 62
    store.close()
    assert _settled_digest(pg_url) == _settled_digest(reference)


def test_prior_records_are_found_on_both_backends(factory: Factory, store_url: str) -> None:
    """Before a key's first binding (db.authorize.check_prior_records, one statement for every table):
    records of this observer signed by another key, or of another observer signed by this key."""
    from db.authorize import check_prior_records

    ka = KeyPair.generate()
    a = factory.export(factory.station("101", "Айгүл", ka, photo=False), ka)
    hq = ElectionStore.create(store_url, factory.template, role="hq")
    assert merge_packages(hq, [a], trust_new_keys=True).counts()["merged"] == 1
    with hq.engine.connect() as conn:
        (oid,) = conn.exec_driver_sql("SELECT DISTINCT observer_id FROM protocols").one()
        check_prior_records(conn, ka.fingerprint, oid, "a.bqpkg")  # its own: nothing to say
        with pytest.raises(PackageError) as other_key:
            check_prior_records(conn, KeyPair.generate().fingerprint, oid, "b.bqpkg")
        with pytest.raises(PackageError) as other_observer:
            check_prior_records(conn, ka.fingerprint, "someone-else", "c.bqpkg")
    assert other_key.value.key == "package.auth.prior_records" and other_key.value.params["bound"] == ka.fingerprint
    assert other_observer.value.key == "package.auth.key_bound" and other_observer.value.params["bound"] == oid
    hq.close()


@pytest.mark.postgres
def test_held_packages_move_with_hq_copy_in_both_directions(factory: Factory, pg_url: str) -> None:
    """A file HQ's held packages go into the database with `hq copy` and back into a file's
    `.held` folder: trusting their keys after each move releases them there."""
    from db.hq_copy import copy_hq

    k1, k2 = KeyPair.generate(), KeyPair.generate()
    p1 = factory.export(factory.station("101", "Айгүл", k1), k1, "usb1")
    p2 = factory.export(factory.station("102", "Ерлан", k2), k2, "usb2")
    hq = factory.hq("laptop")
    assert [e.outcome for e in merge_packages(hq, [p1, p2]).entries] == ["held", "held"]
    hq.close()
    for p in (p1, p2):
        p.unlink()  # only the HQ's own copies are left
    copy_hq(factory.root / "laptop" / "hq.baqylau", pg_url)
    assert len(held_copies_on_server(pg_url)) == 2
    server = ElectionStore.open(pg_url)
    try:
        trust_key(server, k1.fingerprint, "Айгүл", "Ана")
        assert release_held(server, k1.fingerprint).counts()["merged"] == 1
    finally:
        server.close()
    back = factory.root / "back" / "hq.baqylau"
    copy_hq(pg_url, back)
    laptop = ElectionStore.open(back)
    try:
        assert len(list(db.merge.held_dir(laptop).iterdir())) == 1  # k2's, still held
        trust_key(laptop, k2.fingerprint, "Ерлан", "Ана")
        assert release_held(laptop, k2.fingerprint).counts()["merged"] == 1
        assert len(effective_protocols(laptop).by_station) == 2
        assert list(db.merge.held_dir(laptop).iterdir()) == []
    finally:
        laptop.close()
