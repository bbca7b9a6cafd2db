"""Station and district packages: export (snapshot + evidence + signed manifest) and verified reading.

Export takes a consistent snapshot of the election file with SQLite's backup API,
adds every evidence file, writes ``manifest.json`` and its Ed25519 signature, and
renames the finished zip into place, so a pulled USB stick never leaves a file
that looks complete.

Reading treats the file as hostile. Zip-level checks (names, links, sizes, zip
bombs, member list against the signed manifest, signature) come first; members
are then hashed while being copied into a private work folder; only then is the
embedded database opened, read-only, with the raw sqlite3 module, and its schema,
integrity and every value checked. Nothing of the package's SQL is ever run: no
triggers or views are accepted and only plain SELECTs of known columns are made.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import sqlite3
import stat
import struct
import tempfile
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from PIL import Image, UnidentifiedImageError

from db.package_db import (  # noqa: F401  (re-exported: the package's record rules live there)
    _CHOICES,
    COUNTED_TABLES,
    MAX_BLOB,
    MAX_FIGURE,
    MAX_TEXT,
    RECORD_TABLES,
    _bulk_validators,
    _column_validators,
    expected_schema,
    read_database,
)
from db.store import ElectionStore, storage_error
from observer.errors import PackageError, StorageError
from observer.evidence import MAX_PIXELS, PHOTO_FORMATS
from observer.package import (
    DATA_NAME,
    FORMAT_VERSION,
    KIND_HQ,
    KIND_STATION,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_SIGNATURE_BYTES,
    MAX_TOTAL_BYTES,
    RATIO_FLOOR,
    SIGNATURE_NAME,
    SUFFIX,
    Manifest,
    ManifestObserver,
    Member,
    check_member_name,
    evidence_member,
    parse_manifest,
)
from observer.sealed import SEALED_SUFFIX, seal_file, sealed_name
from observer.signing import KeyPair, load_or_create_keypair, verify_signature

APP_VERSION = "0.1.0"
_CHUNK = 1024 * 1024
# An embedded database up to this size is checked in memory (station packages are
# well under 1 MB); larger ones (district HQ packages) go through a private file.
MAX_DB_IN_MEMORY = 64 * 1024 * 1024

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
    _check_carried_manifests(hq)
    keys = keys or load_or_create_keypair()
    observer = hq.observer()
    if observer is not None:
        observer = hq.set_observer(observer.name, observer.organisation, keys.public_hex, keys.fingerprint)
        who = ManifestObserver(observer.id, observer.name, observer.organisation)
    else:
        who = ManifestObserver("", "", "")
    return _export(hq, Path(dest_dir), keys, KIND_HQ, None, who)


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
    typed before the observer's name was set are theirs. Freed pages are wiped (VACUUM), so
    nothing left out travels in the file.
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
        if gone:
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


# ---- reading ---------------------------------------------------------------------

# Every exception the standard library can raise while reading a hostile zip, deflate
# stream, JSON text or database: each one is a refusal of that file, never a traceback
# that stops a merge (OSError is told apart: the source unreadable, or our disk full).
READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    NotImplementedError,
    EOFError,
    RuntimeError,
    ValueError,  # UnicodeDecodeError, JSONDecodeError
    OverflowError,
    struct.error,
    LookupError,
    TypeError,
    AttributeError,
    RecursionError,
    MemoryError,
    sqlite3.Error,
)
# Free space a package must leave on the HQ's disk after its files are copied out.
SPACE_RESERVE = 1024 * 1024


@dataclass
class VerifiedPackage:
    """A package whose manifest, signature and database have been checked; its records are plain dicts.

    ``evidence_files`` are filled by ``extract_evidence`` (private, hash-checked copies
    in ``work_dir``, ready to be moved into place); ``read_package`` does both steps.
    Close it (or use ``with``) to remove the copies.
    """

    path: Path
    manifest: Manifest
    sha256: str  # of the exact manifest bytes: the package's identity (see docs/package.md)
    rows: dict[str, list[dict[str, Any]]]
    evidence_files: dict[str, Path]  # stored_name -> verified file
    work_dir: Path
    template_id: str = ""
    manifest_bytes: bytes = field(default=b"", repr=False)  # exactly as signed
    signature: bytes = field(default=b"", repr=False)
    prefix: str = field(default="", repr=False)
    owns_work_dir: bool = field(default=True, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def evidence_bytes(self) -> int:
        return sum(mb.size for mb in self.manifest.members if mb.name != DATA_NAME)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        else:
            for f in self.evidence_files.values():
                f.unlink(missing_ok=True)

    def __enter__(self) -> VerifiedPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def manifest_identity(path: Path) -> str | None:
    """SHA-256 of the manifest's bytes, read cheaply (no verification), or None if unreadable.

    Only a hint: a package whose identity is already merged is then checked by
    ``verify_duplicate`` (signature and every member's hash) before it is called a duplicate.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(MANIFEST_NAME)
            if info.file_size > MAX_MANIFEST_BYTES:
                return None
            with zf.open(info) as fh:
                return hashlib.sha256(fh.read(MAX_MANIFEST_BYTES + 1)).hexdigest()
    except (OSError, *READ_ERRORS):
        return None


def verify_duplicate(path: Path) -> tuple[bytes, bytes]:
    """(manifest bytes, signature) of a package whose identity is already merged, once its
    signature and every member's hash and size are checked again (no database is opened).

    A copy of a merged package with a changed member keeps the manifest (and so the
    identity) of the original: without this check it would pass as "already merged".
    """
    name = path.name
    try:
        with _open_zip(path, name) as zf:
            infos = _check_archive(zf, name)
            body, signature, manifest = _signed_manifest(zf, infos, name)
            for mb in manifest.members:
                digest = hashlib.sha256()
                size = 0
                with zf.open(infos[mb.name]) as src:
                    while block := src.read(_CHUNK):
                        size += len(block)
                        if size > mb.size:
                            raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
                        digest.update(block)
                if size != mb.size:
                    raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
                if digest.hexdigest() != mb.sha256:
                    raise PackageError("package.error.hash_mismatch", file=name, member=mb.name)
    except PackageError:
        raise
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None
    except READ_ERRORS as exc:
        raise PackageError("package.error.damaged", file=name, problem=type(exc).__name__) from None
    return body, signature


def read_package(path: Path, *, work_dir: Path | None = None) -> VerifiedPackage:
    """Verify a package completely (``open_package`` then ``extract_evidence``); raise PackageError."""
    pkg = open_package(path, work_dir=work_dir)
    try:
        extract_evidence(pkg)
    except BaseException:
        pkg.close()
        raise
    return pkg


def open_package(path: Path, *, work_dir: Path | None = None) -> VerifiedPackage:
    """Everything but the evidence files: zip, manifest, signature, members, database, evidence records.

    Nothing but (for a database over ``MAX_DB_IN_MEMORY``) a private copy of the
    database is written, and it is deleted before this returns. Private copies go to
    a new temporary folder, or into ``work_dir`` (a folder the caller owns and reuses).
    """
    path = Path(path)
    owned = work_dir is None
    folder = Path(tempfile.mkdtemp(prefix=".baqylau-pkg-")) if work_dir is None else Path(work_dir)
    try:
        try:
            pkg = _open(path, path.name, folder, uuid.uuid4().hex[:16])
        except (PackageError, StorageError):
            raise
        except READ_ERRORS as exc:
            raise PackageError("package.error.damaged", file=path.name, problem=type(exc).__name__) from None
    except BaseException:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    pkg.owns_work_dir = owned
    return pkg


def _open_zip(path: Path, name: str) -> zipfile.ZipFile:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        key = "package.error.truncated" if head == b"PK\x03\x04" else "package.error.not_zip"
        raise PackageError(key, file=name) from None
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None


def _signed_manifest(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], name: str
) -> tuple[bytes, bytes, Manifest]:
    """The manifest's exact bytes, its signature and its model; the members exactly those it lists."""
    body = _read_small(zf, infos, MANIFEST_NAME, MAX_MANIFEST_BYTES, name, "package.error.no_manifest")
    manifest = parse_manifest(body, name)
    signature = _read_small(zf, infos, SIGNATURE_NAME, MAX_SIGNATURE_BYTES, name, "package.error.no_signature")
    if not verify_signature(manifest.public_key, body, signature):
        raise PackageError("package.error.bad_signature", file=name)
    listed = {mb.name: mb for mb in manifest.members}
    present = set(infos) - {MANIFEST_NAME, SIGNATURE_NAME}
    for missing in sorted(listed.keys() - present):
        raise PackageError("package.error.missing_member", file=name, member=missing)
    for extra in sorted(present - listed.keys()):
        raise PackageError("package.error.extra_member", file=name, member=extra)
    for mb in manifest.members:
        if infos[mb.name].file_size != mb.size:
            raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
    return body, signature, manifest


def _open(path: Path, name: str, base: Path, prefix: str) -> VerifiedPackage:
    with _open_zip(path, name) as zf:
        infos = _check_archive(zf, name)
        body, signature, manifest = _signed_manifest(zf, infos, name)
        mb = manifest.member(DATA_NAME)
        if mb is None:  # parse_manifest requires the data member; never trust that blindly
            raise PackageError("package.error.missing_member", file=name, member=DATA_NAME)
        database: Path | bytes
        if mb.size <= MAX_DB_IN_MEMORY:
            # read straight into memory: no private copy to write, open and delete
            database = _read_verified(zf, infos[mb.name], mb, name)
        else:
            ensure_space(base, mb.size, name)
            database = base / f"{prefix}-{DATA_NAME}"
            try:
                _extract_verified(zf, infos[mb.name], mb, database, name)
            except BaseException:
                database.unlink(missing_ok=True)
                raise
    try:
        rows, template_id = read_database(database, manifest, name)
    finally:
        if isinstance(database, Path):
            database.unlink(missing_ok=True)
    # Every evidence member is cited by a record with its hash and size, before any is copied out.
    check_evidence_records(rows.get("evidence", []), manifest, name)
    identity = hashlib.sha256(body).hexdigest()
    return VerifiedPackage(path, manifest, identity, rows, {}, base, template_id, body, signature, prefix)


def extract_evidence(pkg: VerifiedPackage) -> None:
    """Copy the evidence members out (hash-checked while copied, never more bytes than signed),
    after checking there is room for them; then check the photos' headers."""
    name = pkg.path.name
    wanted = [mb for mb in pkg.manifest.members if mb.name != DATA_NAME]
    if not wanted:
        return
    ensure_space(pkg.work_dir, sum(mb.size for mb in wanted), name)
    try:
        # Opened again: checked again (a file on a stick may change between two reads).
        with _open_zip(pkg.path, name) as zf:
            infos = _check_archive(zf, name)
            for mb in wanted:
                info = infos.get(mb.name)
                if info is None:
                    raise PackageError("package.error.missing_member", file=name, member=mb.name)
                if info.file_size != mb.size:
                    raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
                stored = mb.name.split("/", 1)[1]
                target = pkg.work_dir / f"{pkg.prefix}-{stored}"
                pkg.evidence_files[stored] = target  # registered first: close() removes a partial copy
                _extract_verified(zf, info, mb, target, name)
    except (PackageError, StorageError):
        raise
    except READ_ERRORS as exc:
        raise PackageError("package.error.damaged", file=name, problem=type(exc).__name__) from None
    for row in pkg.rows.get("evidence", []):
        if row["kind"] == "photo":
            _check_image(pkg.evidence_files[row["stored_name"]], name, row["stored_name"], MAX_PIXELS)


def ensure_space(folder: Path, need: int, name: str) -> None:
    """Refuse (this package only) to copy out more than the disk holds, before a byte is written."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # cannot tell: the copy itself reports a full disk
    if need + SPACE_RESERVE > free:
        mib = 1024 * 1024
        raise PackageError("package.error.no_space", file=name, need_mb=-(-need // mib), free_mb=free // mib)


def _check_archive(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS + 2:
        raise PackageError("package.error.too_many_members", file=name, count=len(infos), limit=MAX_MEMBERS)
    by_name: dict[str, zipfile.ZipInfo] = {}
    total = stored = 0
    for info in infos:
        member = info.filename
        check_member_name(member, name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise PackageError("package.error.symlink", file=name, member=member)
        if member in by_name:
            raise PackageError("package.error.duplicate_member", file=name, member=member)
        if info.flag_bits & 0x1:  # encrypted: we never write those
            raise PackageError("package.error.not_zip", file=name)
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise PackageError("package.error.bomb", file=name, member=member, ratio=ratio)
        total += info.file_size
        stored += info.compress_size
        by_name[member] = info
    if total > MAX_TOTAL_BYTES:
        raise PackageError("package.error.too_big", file=name, limit_mb=MAX_TOTAL_BYTES // 1024**2)
    # Many members each just under the per-member floor (500 x 4 MiB of zeros) are a bomb as a whole.
    if total > RATIO_FLOOR and total > MAX_RATIO * max(stored, 1):
        raise PackageError("package.error.bomb_total", file=name, ratio=total // max(stored, 1))
    return by_name


def _read_small(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], member: str, limit: int, name: str, missing: str
) -> bytes:
    info = infos.get(member)
    if info is None:
        raise PackageError(missing, file=name)
    if info.file_size > limit:
        raise PackageError("package.error.too_big", file=name, limit_mb=max(1, limit // 1024**2))
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (OSError, *READ_ERRORS):
        raise PackageError("package.error.truncated", file=name) from None
    if len(data) > limit:
        raise PackageError("package.error.too_big", file=name, limit_mb=max(1, limit // 1024**2))
    return data


def _read_verified(zf: zipfile.ZipFile, info: zipfile.ZipInfo, mb: Member, name: str) -> bytes:
    """One member into memory, checked like ``_extract_verified``: never more than the signed size."""
    try:
        with zf.open(info) as src:
            data = src.read(mb.size + 1)
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None
    except READ_ERRORS:
        raise PackageError("package.error.truncated", file=name) from None
    if len(data) != mb.size:
        raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
    if hashlib.sha256(data).hexdigest() != mb.sha256:
        raise PackageError("package.error.hash_mismatch", file=name, member=mb.name)
    return data


def _extract_verified(zf: zipfile.ZipFile, info: zipfile.ZipInfo, mb: Member, target: Path, name: str) -> None:
    """Copy one member out while hashing it; never more bytes than the signed size."""
    digest = hashlib.sha256()
    size = 0
    try:
        with zf.open(info) as src, target.open("wb") as out:
            while block := src.read(_CHUNK):
                size += len(block)
                if size > mb.size:
                    raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
                digest.update(block)
                out.write(block)
    except PackageError:
        raise
    except READ_ERRORS:
        raise PackageError("package.error.truncated", file=name) from None
    except OSError as exc:
        raise storage_error(exc, target) from None
    if size != mb.size:
        raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
    if digest.hexdigest() != mb.sha256:
        raise PackageError("package.error.hash_mismatch", file=name, member=mb.name)


def check_evidence_records(evidence_rows: list[dict[str, Any]], manifest: Manifest, name: str) -> None:
    """Every evidence record names a member with its hash and size, and every member is cited.

    Checked before any evidence is copied out. Thumbnails (in the database) get their
    header check here; photos get theirs once copied (``extract_evidence``), so a report
    or screen never decodes a decompression bomb. The full decode happened on the
    observer's machine when the photo was added.
    """
    members = {mb.name: mb for mb in manifest.members if mb.name != DATA_NAME}
    cited: set[str] = set()
    for row in evidence_rows:
        stored = row["stored_name"]
        member = members.get(evidence_member(stored))
        if (
            member is None
            or member.sha256 != row["sha256"]
            or member.size != row["size"]
            or not stored.startswith(row["sha256"])
        ):
            raise PackageError("package.error.evidence_mismatch", file=name, name=str(stored)[:80])
        cited.add(member.name)
        if row["thumbnail"] is not None:
            _check_image(io.BytesIO(row["thumbnail"]), name, stored, THUMB_MAX_PIXELS)
    for extra in sorted(members.keys() - cited):
        raise PackageError("package.error.extra_member", file=name, member=extra)


THUMB_MAX_PIXELS = 1024 * 1024


def _check_image(source: Path | io.BytesIO, name: str, stored: str, max_pixels: int) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as img:  # reads the header only
                fmt, (width, height) = img.format, img.size
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, *READ_ERRORS):
        raise PackageError("package.error.bad_photo", file=name, name=stored[:80]) from None
    if fmt not in PHOTO_FORMATS or width * height > max_pixels:
        raise PackageError("package.error.bad_photo", file=name, name=stored[:80])


def iter_packages(paths: Iterable[Path]) -> list[Path]:
    """Package files named directly, plus every ``*.bqpkg`` (and ``*.bqpkg.sealed``) under named folders (recursively, sorted)."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found.extend(
                sorted(
                    q
                    for q in p.rglob("*" + SUFFIX + "*")
                    if q.name.endswith((SUFFIX, SEALED_SUFFIX)) and q.is_file() and not q.name.startswith(".")
                )
            )
        else:
            found.append(p)
    return found
