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
import tempfile
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from PIL import Image, UnidentifiedImageError
from sqlalchemy import Integer, LargeBinary, String, Text, create_engine

from db import models as m
from db.store import ElectionStore, _migrate, known_revisions, storage_error
from observer import records
from observer.errors import PackageError
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
_SQLITE_MAGIC = b"SQLite format 3\x00"
# An embedded database up to this size is checked in memory (station packages are
# well under 1 MB); larger ones (district HQ packages) go through a private file.
MAX_DB_IN_MEMORY = 64 * 1024 * 1024

# Tables a package's records come from, parents before children (foreign keys).
RECORD_TABLES: tuple[str, ...] = (
    "observers",
    "stations",
    "packages",
    "turnout_reports",
    "headcount_events",
    "protocols",
    "protocol_values",
    "spoiled_counts",
    "violations",
    "evidence",
    "checklist_answers",
    "audit_log",  # revision 0008: every change of a saved value travels with the records, and is merged
)
COUNTED_TABLES = tuple(t for t in RECORD_TABLES if t != "packages")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# [0-9], not \d (which takes any Unicode digit), and fullmatch (a "$" also matches before a final
# newline): a hostile "２０２６-..." would otherwise sort after every real timestamp and win "newest".
_UTC = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$")
MAX_FIGURE = 100_000_000  # no polling station has 100 million of anything
MAX_TEXT = 100_000
MAX_BLOB = 1024 * 1024  # thumbnails are a few tens of KB
_CHOICES: dict[tuple[str, str], frozenset[str | None]] = {
    ("protocols", "source"): frozenset(records.PROTOCOL_SOURCES),
    ("evidence", "kind"): frozenset({"photo", "video", "file"}),
    ("violations", "severity"): frozenset(records.SEVERITY_LEVELS),
    ("violations", "action"): frozenset(records.VIOLATION_ACTIONS),
    ("checklist_answers", "answer"): frozenset((*records.CHECKLIST_ANSWERS, None)),
    ("checklist_answers", "checklist"): frozenset({"opening", "closing"}),
    ("packages", "kind"): frozenset({KIND_STATION, KIND_HQ}),
    ("packages", "outcome"): frozenset({"merged", "duplicate", "refused", "held"}),
}
_SIGNED = {("headcount_events", "delta")}  # the only integer that may be negative


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


@dataclass
class VerifiedPackage:
    """A package whose every byte has been checked; its records are plain dicts.

    ``evidence_files`` are private copies in ``work_dir`` (already hash-checked),
    ready to be moved into place. Close it (or use ``with``) to remove them.
    """

    path: Path
    manifest: Manifest
    sha256: str  # of the exact manifest bytes: the package's identity (see docs/package.md)
    rows: dict[str, list[dict[str, Any]]]
    evidence_files: dict[str, Path]  # stored_name -> verified file
    work_dir: Path
    template_id: str = ""
    owns_work_dir: bool = field(default=True, repr=False)
    _closed: bool = field(default=False, repr=False)

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

    Used to skip a package already merged before any heavy work; a forged file
    that copies a merged manifest is skipped too, and nothing of it is merged.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(MANIFEST_NAME)
            if info.file_size > MAX_MANIFEST_BYTES:
                return None
            with zf.open(info) as fh:
                return hashlib.sha256(fh.read(MAX_MANIFEST_BYTES + 1)).hexdigest()
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError, NotImplementedError):
        return None


def read_package(path: Path, *, work_dir: Path | None = None) -> VerifiedPackage:
    """Verify a package completely; raise PackageError with the precise reason.

    Private copies of the members go to a new temporary folder, or straight into
    ``work_dir`` (a folder the caller owns and reuses: no folder per package).
    """
    path = Path(path)
    owned = work_dir is None
    folder = Path(tempfile.mkdtemp(prefix=".baqylau-pkg-")) if work_dir is None else Path(work_dir)
    prefix = uuid.uuid4().hex[:16]
    written: list[Path] = []
    try:
        pkg = _read(path, path.name, folder, prefix, written)
    except BaseException:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for f in written:
                f.unlink(missing_ok=True)
        raise
    pkg.owns_work_dir = owned
    return pkg


def _read(path: Path, name: str, base: Path, prefix: str, written: list[Path]) -> VerifiedPackage:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        key = "package.error.truncated" if head == b"PK\x03\x04" else "package.error.not_zip"
        raise PackageError(key, file=name) from None
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None
    with zf:
        infos = _check_archive(zf, name)
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
        evidence_files: dict[str, Path] = {}
        database: Path | bytes | None = None
        for mb in manifest.members:
            if mb.name == DATA_NAME:
                if mb.size <= MAX_DB_IN_MEMORY:
                    # read straight into memory: no private copy to write, open and delete
                    database = _read_verified(zf, infos[mb.name], mb, name)
                    continue
                target = database = base / f"{prefix}-{DATA_NAME}"
            else:
                stored = mb.name.split("/", 1)[1]
                target = base / f"{prefix}-{stored}"
                evidence_files[stored] = target
            written.append(target)
            _extract_verified(zf, infos[mb.name], mb, target, name)
    if database is None:  # parse_manifest requires the data member; never trust that blindly
        raise PackageError("package.error.missing_member", file=name, member=DATA_NAME)
    rows, template_id = _read_database(database, manifest, name)
    if isinstance(database, Path):
        database.unlink()
    _check_evidence(rows.get("evidence", []), evidence_files, manifest, name)
    identity = hashlib.sha256(body).hexdigest()
    return VerifiedPackage(path, manifest, identity, rows, evidence_files, base, template_id)


def _check_archive(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS + 2:
        raise PackageError("package.error.too_many_members", file=name, count=len(infos), limit=MAX_MEMBERS)
    by_name: dict[str, zipfile.ZipInfo] = {}
    total = 0
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
        by_name[member] = info
    if total > MAX_TOTAL_BYTES:
        raise PackageError("package.error.too_big", file=name, limit_mb=MAX_TOTAL_BYTES // 1024**2)
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
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError):
        raise PackageError("package.error.truncated", file=name) from None
    if len(data) > limit:
        raise PackageError("package.error.too_big", file=name, limit_mb=max(1, limit // 1024**2))
    return data


def _read_verified(zf: zipfile.ZipFile, info: zipfile.ZipInfo, mb: Member, name: str) -> bytes:
    """One member into memory, checked like ``_extract_verified``: never more than the signed size."""
    try:
        with zf.open(info) as src:
            data = src.read(mb.size + 1)
    except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, ValueError, zlib.error):
        raise PackageError("package.error.truncated", file=name) from None
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=name, problem=exc.strerror or str(exc)) from None
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
    except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, ValueError, zlib.error):
        raise PackageError("package.error.truncated", file=name) from None
    except OSError as exc:
        raise storage_error(exc, target) from None
    if size != mb.size:
        raise PackageError("package.error.size_mismatch", file=name, member=mb.name)
    if digest.hexdigest() != mb.sha256:
        raise PackageError("package.error.hash_mismatch", file=name, member=mb.name)


# ---- the embedded database ------------------------------------------------------

Schema = dict[str, tuple[tuple[Any, ...], frozenset[tuple[Any, ...]]]]


def _describe_schema(conn: sqlite3.Connection) -> Schema:
    """Tables -> (columns, indexes), from PRAGMAs: independent of how the DDL text was formatted."""
    out: Schema = {}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        quoted = table.replace('"', '""')
        columns = tuple(
            (r[1], str(r[2]).upper(), r[3], r[4], r[5], r[6]) for r in conn.execute(f'PRAGMA table_xinfo("{quoted}")')
        )
        indexes = set()
        for idx in conn.execute(f'PRAGMA index_list("{quoted}")').fetchall():
            iname = idx[1]
            qi = str(iname).replace('"', '""')
            cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{qi}")'))
            shown = "(auto)" if str(iname).startswith("sqlite_autoindex_") else iname
            indexes.add((shown, idx[2], idx[3], idx[4], cols))
        out[table] = (columns, frozenset(indexes))
    return out


def _known_revisions() -> tuple[str, ...]:
    return tuple(known_revisions())


Master = tuple[tuple[Any, ...], ...]
_MASTER_SQL = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"


@cache
def _reference(revision: str) -> tuple[Schema, Master]:
    """The schema our migrations produce at ``revision`` (built once in a scratch file)."""
    folder = Path(tempfile.mkdtemp(prefix="baqylau-schema-"))
    try:
        engine = create_engine(f"sqlite:///{folder / 'ref.sqlite'}")
        with engine.begin() as conn:
            _migrate(conn, revision)
        engine.dispose()
        with sqlite3.connect(folder / "ref.sqlite") as ref:
            result = _describe_schema(ref), tuple(ref.execute(_MASTER_SQL).fetchall())
        ref.close()
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# sqlite_master contents already proven equal to a revision's schema. The same
# contents mean the same schema, so the PRAGMA walk is done once per variant (the
# DDL text of tables rebuilt by migrations varies in constraint order).
_SCHEMA_SEEN: dict[Master, str] = {}


def expected_schema(revision: str) -> Schema:
    return _reference(revision)[0]


def _open_readonly(path: Path) -> sqlite3.Connection:
    # immutable: no locks, no -wal/-shm look-ups beside our private copy
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA query_only=ON")
    return conn


def _open_in_memory(data: bytes) -> sqlite3.Connection:
    """The verified bytes as a private in-memory database (same pragmas as ``_open_readonly``)."""
    image = bytearray(data)
    if image[18:20] == b"\x02\x02":
        # WAL-mode header: read it as a rollback-journal file, as immutable=1 does on disk
        image[18:20] = b"\x01\x01"
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(image))
        conn.execute("PRAGMA trusted_schema=OFF")
        conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _read_database(source: Path | bytes, manifest: Manifest, name: str) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """Check and read the embedded database, from its private copy or from memory."""
    if isinstance(source, bytes):
        head = source[:16]
    else:
        with source.open("rb") as fh:
            head = fh.read(16)
    if head != _SQLITE_MAGIC:
        raise PackageError("package.error.not_sqlite", file=name)
    try:
        conn = _open_in_memory(source) if isinstance(source, bytes) else _open_readonly(source)
    except sqlite3.Error:
        raise PackageError("package.error.not_sqlite", file=name) from None
    try:
        try:
            master = tuple(conn.execute(_MASTER_SQL).fetchall())
        except sqlite3.DatabaseError:
            raise PackageError("package.error.not_sqlite", file=name) from None
        for kind, obj, _table, _sql in master:
            if kind not in ("table", "index", "trigger"):
                raise PackageError("package.error.schema_object", file=name, kind=kind, name=str(obj)[:80])
        try:
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.DatabaseError:
            raise PackageError("package.error.schema", file=name, problem="alembic_version") from None
        revision = versions[0][0] if len(versions) == 1 else None
        if not isinstance(revision, str) or revision not in _known_revisions():
            raise PackageError("package.error.schema", file=name, problem=f"revision {str(revision)[:40]}")
        # The only triggers allowed are our own (revision 0005 keeps head-count totals
        # with them), to the letter; the file is read-only here, so none ever fires.
        own = set(_reference(revision)[1])
        for row in master:
            if row[0] == "trigger" and row not in own:
                raise PackageError("package.error.schema_object", file=name, kind=row[0], name=str(row[1])[:80])
        if revision != manifest.schema_revision:
            raise PackageError("package.error.schema", file=name, problem=f"revision {revision}")
        # Fast path: sqlite_master identical to our migrations' output, or to a file
        # already proven equal. Otherwise compare tables, columns and indexes via PRAGMAs.
        if _SCHEMA_SEEN.get(master) != revision and _reference(revision)[1] != master:
            try:
                found = _describe_schema(conn)
            except sqlite3.DatabaseError as exc:
                raise PackageError("package.error.integrity", file=name, problem=str(exc)[:120]) from None
            expected = expected_schema(revision)
            for table in sorted(found.keys() | expected.keys()):
                if found.get(table) != expected.get(table):
                    raise PackageError("package.error.schema", file=name, problem=f"table {table[:60]}")
        if len(_SCHEMA_SEEN) < 10_000:
            _SCHEMA_SEEN[master] = revision
        try:
            check = conn.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise PackageError("package.error.integrity", file=name, problem=str(check[0][0])[:120])
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise PackageError("package.error.integrity", file=name, problem="foreign keys")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            tables = expected_schema(revision)
            rows = {t: _read_table(conn, t, tables[t][0], name) for t in RECORD_TABLES if t in tables}
        except sqlite3.DatabaseError as exc:
            raise PackageError("package.error.integrity", file=name, problem=str(exc)[:120]) from None
    finally:
        conn.close()
    template_id = meta.get("template_id")
    if meta.get("format") != "baqylau-election" or template_id != manifest.template_id:
        raise PackageError("package.error.schema", file=name, problem="meta")
    for table in COUNTED_TABLES:
        if len(rows.get(table, [])) != manifest.counts.get(table, 0):
            raise PackageError("package.error.schema", file=name, problem=f"count {table}")
    if manifest.kind == KIND_STATION:
        if not any(s["code"] == manifest.station_code for s in rows["stations"]):
            raise PackageError("package.error.schema", file=name, problem="station_code")
    return rows, str(template_id)


@cache
def _column_validators(table: str) -> dict[str, Callable[[Any], bool]]:
    """One check per model column: type, length, range, allowed values, NULL."""
    out: dict[str, Callable[[Any], bool]] = {}
    for col in m.Base.metadata.tables[table].columns:
        nullable = bool(col.nullable)
        ctype = col.type
        choices = _CHOICES.get((table, col.name))
        signed = (table, col.name) in _SIGNED
        check: Callable[[Any], bool]
        if isinstance(ctype, m.UTCDateTime):
            check = lambda v: isinstance(v, str) and _UTC.fullmatch(v) is not None  # noqa: E731
        elif col.name == "id" or (col.name.endswith("_id") and isinstance(ctype, String) and ctype.length == 36):
            check = lambda v: isinstance(v, str) and _UUID.fullmatch(v) is not None  # noqa: E731
        elif isinstance(ctype, Integer):
            if signed:
                check = lambda v: isinstance(v, int) and v in (-1, 1)  # noqa: E731
            else:
                check = lambda v: isinstance(v, int) and 0 <= v <= MAX_FIGURE  # noqa: E731
        elif isinstance(ctype, LargeBinary):
            check = lambda v: isinstance(v, bytes) and len(v) <= MAX_BLOB  # noqa: E731
        elif isinstance(ctype, Text):
            check = lambda v: isinstance(v, str) and len(v) <= MAX_TEXT  # noqa: E731
        elif isinstance(ctype, String):
            limit = ctype.length or MAX_TEXT
            check = lambda v, limit=limit: isinstance(v, str) and len(v) <= limit  # type: ignore[misc]  # noqa: E731
        else:  # pragma: no cover - every model column has one of the types above
            raise AssertionError(f"no validator for {table}.{col.name}")
        if choices is not None:
            inner = check
            check = lambda v, inner=inner, choices=choices: v in choices and (v is None or inner(v))  # type: ignore[misc]  # noqa: E731
        if nullable:
            inner2 = check
            check = lambda v, inner2=inner2: v is None or inner2(v)  # type: ignore[misc]  # noqa: E731
        out[col.name] = check
    return out


def _read_table(
    conn: sqlite3.Connection, table: str, columns: tuple[tuple[Any, ...], ...], name: str
) -> list[dict[str, Any]]:
    present = {c[0] for c in columns}
    validators = _column_validators(table)
    cols = [c for c in validators if c in present]
    sql = "SELECT " + ", ".join(f'"{c}"' for c in cols) + f' FROM "{table}"'
    raws = conn.execute(sql).fetchall()
    if raws:
        bulk = _bulk_validators(table)
        # A whole column at a time (a few C-level passes); should one fail, the exact
        # per-cell checks find the first bad value and word the message as always.
        if not all(bulk[col](list(values)) for col, values in zip(cols, zip(*raws))):
            checks = [validators[c] for c in cols]
            for raw in raws:
                for col, check, value in zip(cols, checks, raw):
                    if not check(value):
                        raise PackageError(
                            "package.error.bad_value", file=name, table=table, column=col, value=repr(value)[:60]
                        )
    return [dict(zip(cols, raw)) for raw in raws]


# Fixed-width formats, checked column-wise on the values joined by newlines; the
# exact width (and no newline inside the pattern) keeps every value in its slot.
_UUID_ROW = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UTC_ROW = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
_FIXED: dict[str, tuple[int, re.Pattern[str]]] = {
    "uuid": (36, re.compile(f"(?:{_UUID_ROW}\n)*")),
    "utc": (27, re.compile(f"(?:{_UTC_ROW}\n)*")),
}


@cache
def _bulk_validators(table: str) -> dict[str, Callable[[list[Any]], bool]]:
    """Per column, a check of all its values at once: True only if every value would pass
    ``_column_validators`` (it may say False for valid values; the exact checks then decide)."""
    out: dict[str, Callable[[list[Any]], bool]] = {}
    for col in m.Base.metadata.tables[table].columns:
        ctype = col.type
        kind: str
        limit = 0
        if isinstance(ctype, m.UTCDateTime):
            kind = "utc"
        elif col.name == "id" or (col.name.endswith("_id") and isinstance(ctype, String) and ctype.length == 36):
            kind = "uuid"
        elif isinstance(ctype, Integer):
            kind = "sign" if (table, col.name) in _SIGNED else "figure"
        elif isinstance(ctype, LargeBinary):
            kind, limit = "blob", MAX_BLOB
        elif isinstance(ctype, Text):
            kind, limit = "text", MAX_TEXT
        elif isinstance(ctype, String):
            kind, limit = "text", ctype.length or MAX_TEXT
        else:  # pragma: no cover - _column_validators refuses such a column first
            raise AssertionError(f"no validator for {table}.{col.name}")
        out[col.name] = _bulk_check(kind, limit, bool(col.nullable), _CHOICES.get((table, col.name)))
    return out


def _bulk_check(
    kind: str, limit: int, nullable: bool, choices: frozenset[str | None] | None
) -> Callable[[list[Any]], bool]:
    def check(values: list[Any]) -> bool:
        types = set(map(type, values))
        if type(None) in types:
            if not nullable:
                return False
            values = [v for v in values if v is not None]
            types.discard(type(None))
        if choices is not None and not set(values) <= choices:
            return False
        if not values:
            return True
        if kind in _FIXED:
            width, pattern = _FIXED[kind]
            return (
                types == {str}
                and set(map(len, values)) == {width}
                and pattern.fullmatch("\n".join(values) + "\n") is not None
            )
        if kind == "figure":
            return types == {int} and min(values) >= 0 and max(values) <= MAX_FIGURE
        if kind == "sign":
            return types == {int} and set(values) <= {-1, 1}
        wanted = bytes if kind == "blob" else str
        return types == {wanted} and max(map(len, values)) <= limit

    return check


def _check_evidence(evidence_rows: list[dict[str, Any]], files: dict[str, Path], manifest: Manifest, name: str) -> None:
    """Every evidence record names a member with its hash, and every member is cited.

    Photos and thumbnails get a header check (format, pixel count) so a report or
    screen never decodes a decompression bomb; the full decode happened on the
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
        if row["kind"] == "photo":
            _check_image(files[stored], name, stored, MAX_PIXELS)
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
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
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
