"""Writing packages: a consistent snapshot of the election file, its evidence, a signed manifest.

Export takes a consistent snapshot of the election file with SQLite's backup API,
cuts a station package's copy down to its station and observer (what the HQ will
accept from it, docs/security.md), adds every evidence file, writes
``manifest.json`` and its Ed25519 signature, and renames the finished zip into
place, so a pulled USB stick never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from db.package_db import COUNTED_TABLES
from db.store import ElectionStore, storage_error
from observer.errors import PackageError
from observer.package import (
    DATA_NAME,
    FORMAT_VERSION,
    KIND_HQ,
    KIND_STATION,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    SUFFIX,
    Manifest,
    ManifestObserver,
    Member,
    check_member_name,
    evidence_member,
)
from observer.sealed import seal_file, sealed_name
from observer.signing import KeyPair, load_or_create_keypair
from observer.version import APP_VERSION

_CHUNK = 1024 * 1024
# Page size of a station package's embedded database (SQLite's smallest; see _confine).
PACKAGE_PAGE_SIZE = 512


# ---- export ----------------------------------------------------------------------


def export_station_package(
    store: ElectionStore, dest_dir: Path, keys: KeyPair | None = None, *, encrypt_to: X25519PublicKey | None = None
) -> Path:
    """Write the observer's station package into ``dest_dir``; returns the new file.

    With ``encrypt_to`` (the organisation's public key) the file is a sealed
    ``.bqpkg.sealed`` (observer/sealed.py) and the plain package never touches
    ``dest_dir``: it is built in a private scratch folder on this machine.
    """
    if encrypt_to is not None:
        return _export_sealed(store, Path(dest_dir), keys, encrypt_to)
    keys = keys or load_or_create_keypair()
    observer = store.observer()
    if observer is None or not observer.name:
        raise PackageError("package.error.no_observer")
    station = store.current_station()
    if station is None:
        raise PackageError("package.error.no_station")
    store.purge_deleted()  # deleted records were recoverable until now; the audit log keeps their last values
    observer = store.set_observer(observer.name, observer.organisation, keys.public_hex, keys.fingerprint)
    return _export(
        store,
        Path(dest_dir),
        keys,
        KIND_STATION,
        station.code,
        ManifestObserver(observer.id, observer.name, observer.organisation),
    )


def _export_sealed(store: ElectionStore, dest_dir: Path, keys: KeyPair | None, recipient: X25519PublicKey) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="baqylau-seal-"))
    try:
        plain = export_station_package(store, scratch, keys)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            final = seal_file(plain, dest_dir, recipient, sealed_name(stamp))
            _fsync_dir(dest_dir)
        except OSError as exc:
            raise storage_error(exc, dest_dir) from None
        return final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def export_hq_package(hq: ElectionStore, dest_dir: Path, keys: KeyPair | None = None) -> Path:
    """A district HQ's file as a signed package for the organisation's HQ (tiers)."""
    if hq.role != "hq":
        raise PackageError("package.error.not_hq", file=str(hq.path))
    if hq.url is not None:
        return _export_server_hq(hq.url, Path(dest_dir), keys)
    _check_carried_manifests(hq)
    keys = keys or load_or_create_keypair()
    observer = hq.observer()
    if observer is not None:
        observer = hq.set_observer(observer.name, observer.organisation, keys.public_hex, keys.fingerprint)
        who = ManifestObserver(observer.id, observer.name, observer.organisation)
    else:
        who = ManifestObserver("", "", "")
    return _export(hq, Path(dest_dir), keys, KIND_HQ, None, who)


def _export_server_hq(url: str, dest_dir: Path, keys: KeyPair | None) -> Path:
    """A PostgreSQL HQ's package: the package carries an HQ file, so the export is made from a file copy
    of the database, checked against it by content digest (db.hq_copy), evidence files included."""
    from db.hq_copy import copy_hq

    scratch = Path(tempfile.mkdtemp(prefix="baqylau-export-"))
    try:
        copy = scratch / "hq.baqylau"
        copy_hq(url, copy)
        local = ElectionStore.open(copy)
        try:
            return export_hq_package(local, dest_dir, keys)
        finally:
            local.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _safe_part(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "_", text)[:40] or "x"


def _export(
    store: ElectionStore, dest_dir: Path, keys: KeyPair, kind: str, station_code: str | None, who: ManifestObserver
) -> Path:
    created = datetime.now(UTC)
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    label = (
        f"station-{_safe_part(station_code)}" if station_code else f"hq-{_safe_part(store.meta('template_id') or '')}"
    )
    base = f"{label}-{stamp}-{keys.fingerprint.replace('-', '')[:8]}"
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, dest_dir) from None
    final = dest_dir / (base + SUFFIX)
    n = 1
    while final.exists():
        n += 1
        final = dest_dir / f"{base}-{n}{SUFFIX}"
    part = dest_dir / f".{final.name}.part"
    scratch = Path(tempfile.mkdtemp(prefix="baqylau-export-"))
    try:
        snapshot = scratch / DATA_NAME
        _snapshot(store.path, snapshot)
        if kind == KIND_STATION:
            assert station_code is not None
            _confine(snapshot, station_code, who.id)
        with sqlite3.connect(snapshot) as snap:
            revision = snap.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            counts = {t: int(snap.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in COUNTED_TABLES}
            evidence = sorted(set(snap.execute("SELECT stored_name, sha256 FROM evidence").fetchall()))
        snap.close()
        members: list[Member] = []
        try:
            with zipfile.ZipFile(part, "w", allowZip64=True) as zf:
                members.append(_add_member(zf, DATA_NAME, snapshot, zipfile.ZIP_DEFLATED))
                for stored_name, digest in evidence:
                    name = evidence_member(stored_name)
                    check_member_name(name, str(final))
                    source = store.evidence_dir / stored_name
                    if not source.is_file():
                        raise PackageError(
                            "package.error.evidence_missing", name=stored_name, folder=str(store.evidence_dir)
                        )
                    # Photos and videos are already compressed: storing them is faster and no larger.
                    member = _add_member(zf, name, source, zipfile.ZIP_STORED)
                    if member.sha256 != digest:
                        raise PackageError("package.error.evidence_damaged", name=stored_name)
                    members.append(member)
                manifest = Manifest(
                    format_version=FORMAT_VERSION,
                    kind=kind,
                    template_id=store.meta("template_id") or "",
                    schema_revision=str(revision),
                    station_code=station_code,
                    observer=who,
                    public_key=keys.public_hex,
                    fingerprint=keys.fingerprint,
                    created_at=created.isoformat(),
                    counts=counts,
                    members=tuple(members),
                    app_version=APP_VERSION,
                )
                body = manifest.to_bytes()
                zf.writestr(MANIFEST_NAME, body, compress_type=zipfile.ZIP_DEFLATED)
                zf.writestr(SIGNATURE_NAME, keys.sign(body), compress_type=zipfile.ZIP_STORED)
            with part.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(part, final)
            _fsync_dir(dest_dir)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    except (OSError, sqlite3.Error) as exc:
        raise storage_error(exc, final) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def _check_carried_manifests(hq: ElectionStore) -> None:
    """An HQ package carries the signed manifest of every station package it merged (format 2):
    the organisation re-verifies each one. Packages merged by version 0.1.0 have none stored
    until their files are merged here again (which stores it)."""
    with sqlite3.connect(f"file:{hq.path}?mode=ro", uri=True) as conn:
        missing = conn.execute(
            "SELECT count(*), min(file_name) FROM packages WHERE outcome = 'merged' AND kind = ? "
            "AND (manifest IS NULL OR signature IS NULL)",
            (KIND_STATION,),
        ).fetchone()
    conn.close()
    if missing[0]:
        raise PackageError("package.error.unsigned_inner", count=missing[0], example=missing[1] or "")


# Record tables of an observer's file that name a station, children before parents.
_STATION_TABLES = (
    "evidence",
    "checklist_answers",
    "violations",
    "spoiled_counts",
    "protocols",
    "headcount_events",
    "turnout_reports",
)


def _confine(snapshot: Path, station_code: str, observer_id: str) -> None:
    """Cut the copy down to what a station package may hold: its station and its observer.

    Records typed at another station (before the observer switched station) and other
    observers' rows stay on the laptop (export again at that station to send them); records
    typed before the observer's name was set are theirs. The copy is then rebuilt (VACUUM) on
    small pages: nothing left out travels in the file, and it holds little besides its rows.
    """
    conn = sqlite3.connect(snapshot)
    try:
        (sid,) = conn.execute("SELECT id FROM stations WHERE code = ?", (station_code,)).fetchone()
        gone = 0
        for table in _STATION_TABLES:
            gone += conn.execute(
                f"DELETE FROM {table} WHERE station_id != ? OR (observer_id IS NOT NULL AND observer_id != ?)",
                (sid, observer_id),
            ).rowcount
        gone += conn.execute(
            "DELETE FROM protocol_values WHERE protocol_id NOT IN (SELECT id FROM protocols) "
            "OR (observer_id IS NOT NULL AND observer_id != ?)",
            (observer_id,),
        ).rowcount
        gone += conn.execute(
            # (NOT IN an empty list is true even for NULL: hence the IS NOT NULL)
            "DELETE FROM evidence WHERE (violation_id IS NOT NULL AND violation_id NOT IN (SELECT id FROM violations)) "
            "OR (protocol_id IS NOT NULL AND protocol_id NOT IN (SELECT id FROM protocols))"
        ).rowcount
        for table in (*_STATION_TABLES, "protocol_values"):
            conn.execute(f"UPDATE {table} SET observer_id = ? WHERE observer_id IS NULL", (observer_id,))
        conn.execute("UPDATE stations SET observer_id = ? WHERE id = ?", (observer_id, sid))
        gone += conn.execute("DELETE FROM stations WHERE id != ?", (sid,)).rowcount
        gone += conn.execute("DELETE FROM observers WHERE id != ?", (observer_id,)).rowcount
        conn.commit()
        # Always rebuilt, whatever was cut: freed pages wiped, and the whole file on small pages
        # (every table and index of the schema holds at least one page: at 4 KB, ~85 empty
        # b-trees made a 400 KB file of ~375 rows; at 512 bytes the file is ~3x its rows, and
        # inflating and reading it at merge ~3x faster). auto_vacuum off: no pointer-map pages.
        conn.execute(f"PRAGMA page_size={PACKAGE_PAGE_SIZE}")
        conn.execute("PRAGMA auto_vacuum=NONE")
        conn.execute("VACUUM")
    finally:
        conn.close()


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a live WAL database (readers and writers may continue)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # The copy travels alone: no -wal/-shm files beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()
    finally:
        dst.close()
        src.close()


def _add_member(zf: zipfile.ZipFile, name: str, source: Path, compression: int) -> Member:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compression
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, zf.open(info, "w", force_zip64=True) as out:
        while block := src.read(_CHUNK):
            digest.update(block)
            out.write(block)
            size += len(block)
    return Member(name, digest.hexdigest(), size)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open folders; NTFS renames are journaled anyway
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
