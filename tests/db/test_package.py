"""Station packages: export -> read round trip, and hostile packages refused with the right reason."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from db.merge import merge_packages, revoke_key, trust_key
from db.package import export_station_package, read_package
from db.store import ElectionStore
from observer.errors import PackageError
from observer.package import DATA_NAME, MANIFEST_NAME, SIGNATURE_NAME, parse_manifest
from observer.signing import KeyPair, SigningKeyError, fingerprint_of, load_or_create_keypair, verify_signature
from tests.corpus.make_corpus import change_db, members_of, png_claiming, resign, swap_photo, write_zip

# ---- helpers -------------------------------------------------------------------


def fill_station(store: ElectionStore, tmp: Path, *, registered: int = 1500) -> None:
    st = store.current_station()
    assert st is not None
    pid = store.protocol_id(st.id)
    for key, value in {"registered": registered, "issued": 900, "in_boxes": 880, "valid": 850, "invalid": 30}.items():
        store.set_protocol_value(pid, key, value)
    store.set_spoiled(st.id, store.template.spoiled_reasons[0].code, 4)
    store.add_headcount(st.id, 1)
    store.add_headcount(st.id, 1)
    vid = store.save_violation(
        st.id,
        category=store.template.violation_categories[0].code,
        occurred_at=datetime(2021, 1, 10, 9, 30, tzinfo=UTC),
        description="<script>alert(1)</script>'; DROP TABLE stations; --",
    )
    photo = tmp / "protocol.jpg"
    Image.new("RGB", (320, 200), (30, 120, 200)).save(photo, "JPEG")
    store.add_evidence(st.id, photo, protocol_id=pid)
    other = tmp / "violation.png"
    Image.new("RGB", (64, 64), (200, 20, 20)).save(other, "PNG")
    store.add_evidence(st.id, other, violation_id=vid)


def _select_all(table: str) -> str:
    """Every row of ``table``; a refusal's line in the package log (db.merge keeps it there) aside."""
    return f'SELECT * FROM "{table}"' + (" WHERE outcome != 'refused'" if table == "packages" else "")


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal dumps mean equal databases."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {t: sorted(conn.execute(_select_all(t)).fetchall(), key=repr) for t in tables}
    conn.close()
    return out


@pytest.fixture
def keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def package(store: ElectionStore, tmp_path: Path, keys: KeyPair) -> Path:
    fill_station(store, tmp_path)
    return export_station_package(store, tmp_path / "usb", keys)


@pytest.fixture
def hq(tmp_path: Path, template_2021: Any) -> ElectionStore:
    s = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role="hq")
    yield s
    s.close()


# ---- keys ----------------------------------------------------------------------


def test_keypair_created_once_private_and_signs(tmp_path: Path) -> None:
    pair = load_or_create_keypair(tmp_path)
    again = load_or_create_keypair(tmp_path)
    assert pair.public_hex == again.public_hex
    pem = tmp_path / "keys" / "signing-ed25519.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    sig = pair.sign(b"protocol")
    assert verify_signature(pair.public_hex, b"protocol", sig)
    assert not verify_signature(pair.public_hex, b"protocol!", sig)
    assert not verify_signature(KeyPair.generate().public_hex, b"protocol", sig)
    assert pair.fingerprint == fingerprint_of(pair.public_hex)
    assert len(pair.fingerprint.replace("-", "")) == 32


def test_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signing-ed25519.pem").write_text("not a key")
    with pytest.raises(SigningKeyError) as err:
        load_or_create_keypair(tmp_path)
    assert err.value.key == "package.key.damaged"


# ---- round trip ----------------------------------------------------------------


def test_round_trip_matches_store(store: ElectionStore, package: Path, keys: KeyPair) -> None:
    assert package.suffix == ".bqpkg"
    assert not [p for p in package.parent.iterdir() if p.name.endswith(".part")]
    observer = store.observer()
    assert observer is not None and observer.fingerprint == keys.fingerprint and observer.public_key == keys.public_hex
    with read_package(package) as pkg:
        man = pkg.manifest
        assert man.station_code == "101"
        assert man.template_id == "kz-majilis-2021"
        assert man.fingerprint == keys.fingerprint
        assert man.observer.name == "Айгүл Қасымова"
        assert (
            man.counts["protocol_values"] == 5 and man.counts["evidence"] == 2 and man.counts["headcount_events"] == 2
        )
        values = {r["key"]: r["value"] for r in pkg.rows["protocol_values"]}
        pid = store.protocol_id(store.current_station().id)  # type: ignore[union-attr]
        assert values == store.protocol_values(pid)
        violation = pkg.rows["violations"][0]
        assert violation["description"].startswith("<script>")  # stored as text, not refused, not run
        for info in store.evidence():
            copy = pkg.evidence_files[info.stored_name]
            assert copy.read_bytes() == store.evidence_path(info).read_bytes()
            assert hashlib.sha256(copy.read_bytes()).hexdigest() == info.sha256
        work = pkg.work_dir
        assert work.exists()
    assert not work.exists()  # private copies cleaned up


def test_manifest_signature_covers_exact_bytes(package: Path, keys: KeyPair) -> None:
    members = members_of(package)
    body = members[MANIFEST_NAME]
    assert verify_signature(keys.public_hex, body, members[SIGNATURE_NAME])
    man = parse_manifest(body, package.name)
    for mb in man.members:
        assert hashlib.sha256(members[mb.name]).hexdigest() == mb.sha256
        assert len(members[mb.name]) == mb.size
    assert set(members) == {mb.name for mb in man.members} | {MANIFEST_NAME, SIGNATURE_NAME}


def test_embedded_database_is_compact_and_old_layout_still_merges(
    package: Path, tmp_path: Path, keys: KeyPair, template_2021: Any
) -> None:
    data = members_of(package)[DATA_NAME]
    # from the file's header (a deserialized database reports the default page size)
    page_size, free_pages, largest_root = (int.from_bytes(data[a:b], "big") for a, b in ((16, 18), (36, 40), (52, 56)))
    assert (page_size, free_pages, largest_root) == (512, 0, 0)  # largest root page 0: auto_vacuum off
    # packages exported before compaction (4 KB pages, same format version) merge the same way
    old = resign(
        package,
        tmp_path / "old.bqpkg",
        keys,
        change={DATA_NAME: change_db(package, tmp_path, "PRAGMA page_size=4096; VACUUM;")},
    )
    assert len(members_of(old)[DATA_NAME]) > len(data)
    merged = []
    for i, pkg in enumerate((package, old)):
        target = ElectionStore.create(tmp_path / f"hq{i}" / "hq.baqylau", template_2021, role="hq")
        assert merge_packages(target, [pkg], trust_new_keys=True).counts()["merged"] == 1
        target.close()
        merged.append({t: len(rows) for t, rows in dump(target.path).items()})
    assert merged[0] == merged[1] and merged[0]["headcount_events"] == 2


def test_export_needs_observer_and_station(tmp_path: Path, template_2021: Any, keys: KeyPair) -> None:
    s = ElectionStore.create(tmp_path / "x.baqylau", template_2021)
    with pytest.raises(PackageError) as err:
        export_station_package(s, tmp_path / "out", keys)
    assert err.value.key == "package.error.no_observer"
    s.set_observer("A", "B")
    with pytest.raises(PackageError) as err:
        export_station_package(s, tmp_path / "out", keys)
    assert err.value.key == "package.error.no_station"
    s.close()
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_export_refuses_tampered_evidence_and_leaves_no_file(
    store: ElectionStore, package: Path, keys: KeyPair, tmp_path: Path
) -> None:
    info = store.evidence()[0]
    store.evidence_path(info).write_bytes(b"changed on disk")
    out = tmp_path / "usb2"
    with pytest.raises(PackageError) as err:
        export_station_package(store, out, keys)
    assert err.value.key == "package.error.evidence_damaged"
    assert list(out.iterdir()) == []


# ---- hostile packages ----------------------------------------------------------


def _sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def _symlink_zip(path: Path, package: Path) -> Path:
    members = members_of(package)
    info = zipfile.ZipInfo(f"evidence/{_sha(1)}.jpg")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return write_zip(path, [(n, d) for n, d in members.items()] + [(info, b"/etc/passwd")])


def _bomb(path: Path, package: Path) -> Path:
    info = zipfile.ZipInfo(f"evidence/{_sha(2)}.jpg")
    info.compress_type = zipfile.ZIP_DEFLATED
    return write_zip(path, [(n, d) for n, d in members_of(package).items()] + [(info, b"\0" * (40 * 1024 * 1024))])


def _dupe(path: Path, package: Path) -> Path:
    members = list(members_of(package).items())
    with pytest.warns(UserWarning):
        return write_zip(path, members + [members[0]])


HOSTILE: dict[str, tuple[str, Callable[[Path, Path, Path, KeyPair], Path]]] = {
    "photo that is not an image": (
        "package.error.bad_photo",
        lambda p, pkg, tmp, k: swap_photo(pkg, p, tmp, k, b"#!/bin/sh\nrm -rf /\n" * 50),
    ),
    "decompression-bomb photo": (
        "package.error.bad_photo",
        lambda p, pkg, tmp, k: swap_photo(pkg, p, tmp, k, png_claiming(60_000, 60_000)),
    ),
    "100-megapixel photo": (
        "package.error.bad_photo",
        lambda p, pkg, tmp, k: swap_photo(pkg, p, tmp, k, png_claiming(12_500, 8_000)),
    ),
    "not a zip": ("package.error.not_zip", lambda p, pkg, tmp, k: (p.write_bytes(b"MZ\x90\x00 not a package"), p)[1]),
    "empty file": ("package.error.not_zip", lambda p, pkg, tmp, k: (p.write_bytes(b""), p)[1]),
    "truncated": (
        "package.error.truncated",
        lambda p, pkg, tmp, k: (p.write_bytes(pkg.read_bytes()[: pkg.stat().st_size // 2]), p)[1],
    ),
    "zip bomb": ("package.error.bomb", lambda p, pkg, tmp, k: _bomb(p, pkg)),
    "dot-dot path": ("package.error.bad_name", lambda p, pkg, tmp, k: write_zip(p, [("../../evil.sh", b"x")])),
    "absolute path": ("package.error.bad_name", lambda p, pkg, tmp, k: write_zip(p, [("/etc/cron.d/x", b"x")])),
    "backslash path": ("package.error.bad_name", lambda p, pkg, tmp, k: write_zip(p, [("evidence\\..\\x", b"x")])),
    "symlink": ("package.error.symlink", lambda p, pkg, tmp, k: _symlink_zip(p, pkg)),
    "duplicate member": ("package.error.duplicate_member", lambda p, pkg, tmp, k: _dupe(p, pkg)),
    "no manifest": (
        "package.error.no_manifest",
        lambda p, pkg, tmp, k: write_zip(p, [(DATA_NAME, members_of(pkg)[DATA_NAME])]),
    ),
    "manifest not json": (
        "package.error.manifest_json",
        lambda p, pkg, tmp, k: write_zip(p, [(MANIFEST_NAME, b"{not json"), (SIGNATURE_NAME, b"x")]),
    ),
    "manifest wrong type": (
        "package.error.manifest_field",
        lambda p, pkg, tmp, k: resign(pkg, p, k, edit=lambda m: m["members"][0].update(size="12")),
    ),
    "newer format": (
        "package.error.newer",
        lambda p, pkg, tmp, k: resign(pkg, p, k, edit=lambda m: m.update(format_version=99)),
    ),
    "no signature": (
        "package.error.no_signature",
        lambda p, pkg, tmp, k: write_zip(p, [(n, d) for n, d in members_of(pkg).items() if n != SIGNATURE_NAME]),
    ),
    "manifest edited after signing": (
        "package.error.bad_signature",
        lambda p, pkg, tmp, k: write_zip(
            p,
            [(n, d.replace(b'"101"', b'"102"') if n == MANIFEST_NAME else d) for n, d in members_of(pkg).items()],
        ),
    ),
    "signed by another key than the one named": (
        "package.error.bad_signature",
        lambda p, pkg, tmp, k: write_zip(
            p,
            [
                (n, KeyPair.generate().sign(members_of(pkg)[MANIFEST_NAME]) if n == SIGNATURE_NAME else d)
                for n, d in members_of(pkg).items()
            ],
        ),
    ),
    "member removed after signing": (
        "package.error.missing_member",
        lambda p, pkg, tmp, k: write_zip(
            p,
            [(n, d) for n, d in members_of(pkg).items() if not n.startswith("evidence/")][:1]
            + [(MANIFEST_NAME, members_of(pkg)[MANIFEST_NAME]), (SIGNATURE_NAME, members_of(pkg)[SIGNATURE_NAME])],
        ),
    ),
    "member added after signing": (
        "package.error.extra_member",
        lambda p, pkg, tmp, k: write_zip(p, list(members_of(pkg).items()) + [(f"evidence/{_sha(3)}.jpg", b"extra")]),
    ),
    "member changed, same size": (
        "package.error.hash_mismatch",
        lambda p, pkg, tmp, k: write_zip(
            p, [(n, bytes([d[0] ^ 1]) + d[1:] if n.startswith("evidence/") else d) for n, d in members_of(pkg).items()]
        ),
    ),
    "member changed, other size": (
        "package.error.size_mismatch",
        lambda p, pkg, tmp, k: write_zip(
            p, [(n, d + b"\0" if n.startswith("evidence/") else d) for n, d in members_of(pkg).items()]
        ),
    ),
    "data file not sqlite": (
        "package.error.not_sqlite",
        lambda p, pkg, tmp, k: resign(pkg, p, k, change={DATA_NAME: b"x" * 4096}),
    ),
    "trigger in data file": (
        "package.error.schema_object",
        lambda p, pkg, tmp, k: resign(
            pkg,
            p,
            k,
            change={
                DATA_NAME: change_db(pkg, tmp, "CREATE TRIGGER t AFTER INSERT ON meta BEGIN DELETE FROM meta; END;")
            },
        ),
    ),
    "view in data file": (
        "package.error.schema_object",
        lambda p, pkg, tmp, k: resign(
            pkg, p, k, change={DATA_NAME: change_db(pkg, tmp, "CREATE VIEW v AS SELECT * FROM meta;")}
        ),
    ),
    "extra table": (
        "package.error.schema",
        lambda p, pkg, tmp, k: resign(
            pkg, p, k, change={DATA_NAME: change_db(pkg, tmp, "CREATE TABLE loot (x TEXT);")}
        ),
    ),
    "extra column": (
        "package.error.schema",
        lambda p, pkg, tmp, k: resign(
            pkg, p, k, change={DATA_NAME: change_db(pkg, tmp, "ALTER TABLE stations ADD COLUMN x TEXT;")}
        ),
    ),
    "unknown schema revision": (
        "package.error.schema",
        lambda p, pkg, tmp, k: resign(
            pkg, p, k, change={DATA_NAME: change_db(pkg, tmp, "UPDATE alembic_version SET version_num='9999';")}
        ),
    ),
    "negative figure": (
        "package.error.bad_value",
        lambda p, pkg, tmp, k: resign(
            pkg, p, k, change={DATA_NAME: change_db(pkg, tmp, "UPDATE protocol_values SET value=-5 WHERE key='valid';")}
        ),
    ),
    "non-integer figure": (
        "package.error.bad_value",
        lambda p, pkg, tmp, k: resign(
            pkg,
            p,
            k,
            change={DATA_NAME: change_db(pkg, tmp, "UPDATE protocol_values SET value='many' WHERE key='valid';")},
        ),
    ),
    "huge figure": (
        "package.error.bad_value",
        lambda p, pkg, tmp, k: resign(
            pkg,
            p,
            k,
            change={
                DATA_NAME: change_db(pkg, tmp, "UPDATE protocol_values SET value=1000000000000 WHERE key='valid';")
            },
        ),
    ),
    "counts disagree with manifest": (
        "package.error.schema",
        lambda p, pkg, tmp, k: resign(pkg, p, k, edit=lambda m: m["counts"].update(protocol_values=99)),
    ),
    "evidence record without its file": (
        "package.error.missing_member",
        lambda p, pkg, tmp, k: resign(
            pkg, p, k, change={n: None for n in members_of(pkg) if n.startswith("evidence/")}
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_package_refused_and_hq_unchanged(
    case: str, package: Path, hq: ElectionStore, tmp_path: Path, keys: KeyPair
) -> None:
    expected, build = HOSTILE[case]
    if case == "evidence record without its file":
        expected = "package.error.evidence_mismatch"
    bad = build(tmp_path / f"bad-{len(case)}.bqpkg", package, tmp_path, keys)
    with pytest.raises(PackageError) as err:
        read_package(bad).close()
    assert err.value.key == expected, str(err.value)
    before = dump(hq.path)
    report = merge_packages(hq, [bad], trust_new_keys=True)
    assert [e.outcome for e in report.entries] == ["refused"]
    assert report.entries[0].reason == str(err.value)
    assert dump(hq.path) == before
    assert not hq.evidence_dir.exists() or not any(hq.evidence_dir.iterdir())
    assert not [p for p in hq.path.parent.iterdir() if p.name.startswith(".baqylau-")]


def test_too_many_members(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("db.package.MAX_MEMBERS", 1)
    with pytest.raises(PackageError) as err:
        read_package(package)
    assert err.value.key == "package.error.too_many_members"


def test_refused_at_merge_for_other_election_revoked_key_and_unknown_line(
    package: Path, hq: ElectionStore, tmp_path: Path, keys: KeyPair, template_2021: Any
) -> None:
    other = ElectionStore.create(
        tmp_path / "hq2023.baqylau",
        __import__("observer.template").template.builtin_template("kz-majilis-2023"),
        role="hq",
    )
    before = dump(other.path)
    report = merge_packages(other, [package], trust_new_keys=True)
    assert report.entries[0].outcome == "refused" and "kz-majilis-2021" in report.entries[0].reason
    assert dump(other.path) == before
    other.close()

    forged = resign(
        package,
        tmp_path / "line.bqpkg",
        keys,
        change={DATA_NAME: change_db(package, tmp_path, "UPDATE protocol_values SET key='bribes' WHERE key='valid';")},
    )
    before = dump(hq.path)
    report = merge_packages(hq, [forged], trust_new_keys=True)
    assert report.entries[0].outcome == "refused" and "bribes" in report.entries[0].reason
    assert dump(hq.path) == before

    # a key that is revoked: its packages are refused, not held
    merge_packages(hq, [package])  # held: makes the key known
    revoke_key(hq, keys.fingerprint, "coordinator")
    before = dump(hq.path)
    report = merge_packages(hq, [package], trust_new_keys=True)
    assert report.entries[0].outcome == "refused" and keys.fingerprint in report.entries[0].reason
    assert dump(hq.path) == before
    trust_key(hq, keys.fingerprint, "", "coordinator")
    assert merge_packages(hq, [package]).entries[0].outcome == "merged"
