"""Station and district packages: verified reading (export is in db/package_export.py).

Reading treats the file as hostile. Zip-level checks (names, links, sizes, zip
bombs, member list against the signed manifest, signature) come first; the
database is then read (hash-checked) into memory and its schema, integrity and
every value checked (db/package_db.py), and the evidence records matched with the
signed manifest; only a package the merge will write has its evidence copied out
(``extract_evidence``), hashed while copied. Nothing of the package's SQL is ever
run. Whatever a hostile file raises while being read is a PackageError.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import stat
import struct
import tempfile
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from db.package_export import APP_VERSION, export_hq_package, export_station_package  # noqa: F401  (re-exported)
from db.store import storage_error
from observer.errors import PackageError, StorageError
from observer.evidence import MAX_PIXELS, PHOTO_FORMATS
from observer.package import (
    DATA_NAME,
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
    Member,
    check_member_name,
    evidence_member,
    parse_manifest,
)
from observer.sealed import SEALED_SUFFIX
from observer.signing import verify_signature

_CHUNK = 1024 * 1024
# An embedded database up to this size is checked in memory (station packages are
# well under 1 MB); larger ones (district HQ packages) go through a private file.
MAX_DB_IN_MEMORY = 64 * 1024 * 1024

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
READ_OR_OS_ERRORS: tuple[type[BaseException], ...] = (OSError, *READ_ERRORS)
_IMAGE_ERRORS: tuple[type[BaseException], ...] = (
    Image.DecompressionBombError,
    UnidentifiedImageError,
    SyntaxError,
    *READ_OR_OS_ERRORS,
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
    review: str = ""  # the observer's review before export (observer.review), "" if none
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
    except READ_OR_OS_ERRORS:
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
        rows, template_id, review = read_database(database, manifest, name)
    finally:
        if isinstance(database, Path):
            database.unlink(missing_ok=True)
    # Every evidence member is cited by a record with its hash and size, before any is copied out.
    check_evidence_records(rows.get("evidence", []), manifest, name)
    identity = hashlib.sha256(body).hexdigest()
    return VerifiedPackage(path, manifest, identity, rows, {}, base, template_id, body, signature, prefix, review)


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
    except READ_OR_OS_ERRORS:
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
    except _IMAGE_ERRORS:
        raise PackageError("package.error.bad_photo", file=name, name=stored[:80]) from None
    if fmt not in PHOTO_FORMATS or width * height > max_pixels:
        raise PackageError("package.error.bad_photo", file=name, name=stored[:80])


def iter_packages(paths: Iterable[Path]) -> list[Path]:
    """Package files named directly, plus every ``*.bqpkg`` (and ``*.bqpkg.sealed``) under named folders (recursively, sorted)."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # sorted as Paths sort (part by part, case-folded where the system folds case), without
            # building a Path per file first
            names = sorted(_package_files(p, ()), key=lambda parts: tuple(map(os.path.normcase, parts)))
            found.extend(p.joinpath(*parts) for parts in names)
        else:
            found.append(p)
    return found


def _package_files(root: Path, below: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Files named ``*.bqpkg`` or ``*.bqpkg.sealed`` (not hidden) under ``root / below``, as their parts below
    ``root``, walked as ``Path.rglob`` walks: symbolic links to folders are not followed, unreadable folders
    are skipped.

    One ``scandir`` per folder and the entries' own types: a re-merge of 10,000 packages is mostly
    hashing them, and a ``stat`` per file (``rglob`` then ``is_file``) was a tenth of it.
    """
    try:
        with os.scandir(root.joinpath(*below)) as it:
            entries = list(it)
    except PermissionError:
        return
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _package_files(root, (*below, name))
        elif name.endswith((SUFFIX, SEALED_SUFFIX)) and not name.startswith(".") and entry.is_file():
            yield (*below, name)
