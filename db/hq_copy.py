"""Copy a whole HQ between a SQLite file and a PostgreSQL database, verified by content.

``baqylau hq copy SRC DST`` moves an organisation's HQ onto a database server (or back onto
a laptop) without changing a figure. Every table the schema has is copied row for row,
values exactly as stored (timestamps as their stored text, blobs as bytes), inside the
destination's creating transaction: the destination holds the whole copy or nothing. Before
that transaction commits, :func:`content_digest` is computed on both sides over the same
canonical form; a difference refuses the copy and leaves nothing behind.

The destination must not exist yet (a file) or be an empty database (a URL), as for a new
HQ: a copy never merges into or replaces an HQ someone works in.

Triggers (the head-count totals of revision 0005) are switched off while rows are copied,
since the totals are copied as they are; a digest of the totals table checks that they are.

Evidence files go along in every direction, each checked against its SHA-256 first (a copy never
carries a damaged photo under a good name): into a new file's folder (before the file is
created, removed again if the copy fails), or into a database's evidence tables inside its
creating transaction. They are not part of the digest: a PostgreSQL HQ keeps their bytes in
tables a file has not (revision 0011), a file in its folder; the SHA-256 checks stand for them.
Packages held for an untrusted key go along the same way (a file keeps them in its ``.held``
folder, a database among its files, db.merge), so trusting the key after the move releases them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, select
from sqlalchemy.exc import DatabaseError, OperationalError

from db.engine import durable_copy, is_pg_url, storage_error
from db.fileformat import ROLE_HQ
from db.merge import HELD, held_dir, held_file_name
from db.models import SERVER_ONLY
from db.store import ElectionStore
from db.store_records import checked_evidence_name, fetch_evidence_file, store_evidence_file
from observer.errors import StorageError
from observer.evidence import sha256_file
from observer.package import SUFFIX

COPY_CHUNK = 5_000  # rows per INSERT batch: bounded memory on a 100,000-station HQ
# Each side's own migrations write alembic_version; evidence bytes are copied file by file (below).
# thumbnail_hashes: a cache of db.reuse's scan, derived from the thumbnails and refilled by the next
# scan; not data (a report writing it must not change the file's content digest).
_SKIP = frozenset({"alembic_version", "thumbnail_hashes", *SERVER_ONLY.tables})


@dataclass(frozen=True)
class CopyReport:
    source: str
    destination: str
    rows: dict[str, int]  # table -> rows copied
    digest: str  # content_digest, equal on both sides
    evidence_files: int = 0  # files copied (each checked against its SHA-256)


def _tables(conn: Connection) -> list[Table]:
    """The schema's tables as the database has them (reflected: plain column types, no ORM
    conversions), in foreign-key order, without Alembic's own."""
    meta = MetaData()
    meta.reflect(conn)
    return [t for t in meta.sorted_tables if t.name not in _SKIP]


def _columns(table: Table) -> list[str]:
    """By name: a column a migration added sits last on PostgreSQL, where SQLite rebuilt the table."""
    return sorted(c.name for c in table.columns)


def _rows(conn: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    """The table's rows in primary-key order, values in :func:`_columns` order."""
    key = list(table.primary_key.columns) or [table.c[n] for n in _columns(table)]
    stmt = select(*(table.c[n] for n in _columns(table))).order_by(*key)
    result = conn.execution_options(stream_results=True, yield_per=COPY_CHUNK).execute(stmt)
    for part in result.partitions(COPY_CHUNK):
        yield from (tuple(r) for r in part)


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": bytes(value).hex()}
    return value


def _digest_tables(conn: Connection, tables: list[Table]) -> str:
    """SHA-256 over every table's name, columns and rows in primary-key order.

    Text order is the same on both backends (a PostgreSQL HQ is refused unless it orders text by
    code point, db/store.py), so the same content gives the same digest on either.
    """
    h = hashlib.sha256()
    for table in sorted(tables, key=lambda t: t.name):
        h.update(json.dumps([table.name, _columns(table)]).encode() + b"\n")
        for row in _rows(conn, table):
            h.update(json.dumps([_canonical(v) for v in row], ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def content_digest(store: ElectionStore) -> str:
    """A digest of everything an HQ holds (every row of every table), the same on SQLite and
    PostgreSQL for the same content: what ``hq copy`` verifies, and what tests compare."""
    with store.engine.connect() as conn:
        return _digest_tables(conn, _tables(conn))


def _triggers_off(conn: Connection) -> list[str]:
    """Switch the destination's triggers off for the copy; returns what ``_triggers_on`` needs."""
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        for name, _sql in found:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        return [sql for _name, sql in found]
    tables = conn.exec_driver_sql(
        "SELECT DISTINCT event_object_table FROM information_schema.triggers WHERE trigger_schema = current_schema()"
    ).scalars()
    names = sorted(str(t) for t in tables)
    for name in names:
        conn.exec_driver_sql(f'ALTER TABLE "{name}" DISABLE TRIGGER USER')
    return names


def _triggers_on(conn: Connection, saved: list[str]) -> None:
    for item in saved:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(item)
        else:
            conn.exec_driver_sql(f'ALTER TABLE "{item}" ENABLE TRIGGER USER')


def _fill(
    source: ElectionStore,
    rows: dict[str, int],
    digests: dict[str, str],
    evidence: Callable[[Connection], None] | None = None,
) -> Any:
    """The destination's ``create(fill=...)``: copy every table (and ``evidence(dst)``: a database's
    evidence files), then compare digests in the same transaction."""

    def fill(dst: Connection) -> None:
        with source.engine.connect() as src:
            src_tables = {t.name: t for t in _tables(src)}
            dst_tables = _tables(dst)
            if sorted(src_tables) != sorted(t.name for t in dst_tables):
                raise StorageError(
                    "hq.copy.schema_differs", source=sorted(src_tables), destination=[t.name for t in dst_tables]
                )
            saved = _triggers_off(dst)
            for table in dst_tables:
                if table.name == "meta":
                    dst.execute(table.delete())  # the new HQ's first rows: the source's own replace them
                names = _columns(src_tables[table.name])
                batch: list[dict[str, Any]] = []
                count = 0
                for row in _rows(src, src_tables[table.name]):
                    batch.append(dict(zip(names, row, strict=True)))
                    if len(batch) >= COPY_CHUNK:
                        dst.execute(table.insert(), batch)
                        count += len(batch)
                        batch = []
                if batch:
                    dst.execute(table.insert(), batch)
                    count += len(batch)
                rows[table.name] = count
            _triggers_on(dst, saved)
            if evidence is not None:
                evidence(dst)
            digests["source"] = _digest_tables(src, list(src_tables.values()))
        digests["destination"] = _digest_tables(dst, dst_tables)
        if digests["source"] != digests["destination"]:
            raise StorageError("hq.copy.digest_differs")

    return fill


def _evidence_names(source: ElectionStore) -> list[tuple[str, str]]:
    """Every (stored name, SHA-256) the source's records cite, deleted ones too (their rows are copied).
    Only the two columns: a national HQ's thumbnails would be a gigabyte."""
    return sorted({(r.stored_name, r.sha256) for r in source.iter_table("evidence", "stored_name", "sha256")})


def _held_packages(source: ElectionStore) -> list[tuple[str, str]]:
    """(package identity, SHA-256 of its file) of every package held with a kept copy's hash.
    (A file HQ's packages held before the hash was logged stay behind: merged when offered again.)"""
    rows = source.iter_table("packages", "sha256", "file_sha256", "outcome")
    return sorted((r.sha256, r.file_sha256) for r in rows if r.outcome == HELD and r.file_sha256)


def _held_source(source: ElectionStore, get: Callable[[str, str], Path | None], identity: str, sha: str) -> Path | None:
    """The source's held copy of a package, checked against its SHA-256 (None if none is kept)."""
    if source.url is not None:
        return get(held_file_name(sha), sha)
    origin = held_dir(source) / (identity + SUFFIX)
    if not origin.exists():
        return None
    if sha256_file(origin) != sha:
        raise StorageError("hq.copy.evidence_damaged", file=str(origin))
    return origin


def _copy_held_files(source: ElectionStore, folder: Path) -> None:
    """The source's held package copies into ``folder`` (a new file HQ's held folder)."""
    with _source_files(source) as get:
        for identity, sha in _held_packages(source):
            origin = _held_source(source, get, identity, sha)
            if origin is not None:
                folder.mkdir(exist_ok=True)
                durable_copy(origin, folder / (identity + SUFFIX))


@contextmanager
def _source_files(source: ElectionStore) -> Iterator[Callable[[str, str], Path | None]]:
    """``get(stored_name, sha256)``: the source's file as a local file checked against its SHA-256,
    None if it was never received (the copy has the same gap; the story says so).

    A file HQ's own file in its folder; a database's, one at a time through a scratch folder.
    """
    if source.url is None:

        def in_folder(stored: str, sha256: str) -> Path | None:
            origin = source.evidence_dir / stored
            if not origin.exists():
                return None
            if sha256_file(origin) != sha256:
                raise StorageError("hq.copy.evidence_damaged", file=str(origin))
            return origin

        yield in_folder
        return
    with tempfile.TemporaryDirectory(prefix="baqylau-copy-") as scratch, source.engine.connect() as conn:
        target = Path(scratch) / "evidence"

        def from_database(stored: str, sha256: str) -> Path | None:
            target.unlink(missing_ok=True)
            try:
                return target if fetch_evidence_file(conn, stored, sha256, target) else None
            except StorageError as exc:
                if exc.key != "error.storage.evidence_damaged":
                    raise
                raise StorageError("hq.copy.evidence_damaged", file=f"{source.location}: {stored}") from None

        yield from_database


def _copy_evidence_files(source: ElectionStore, folder: Path) -> int:
    """The source's evidence files into ``folder`` (a new file HQ's evidence folder); returns how many."""
    copied = 0
    with _source_files(source) as get:
        for stored_name, sha256 in _evidence_names(source):
            origin = get(checked_evidence_name(stored_name), sha256)
            if origin is None:
                continue
            folder.mkdir(exist_ok=True)
            if not (folder / stored_name).exists():
                durable_copy(origin, folder / stored_name)
            copied += 1
    return copied


def _evidence_into_database(source: ElectionStore, counted: list[int]) -> Callable[[Connection], None]:
    """The ``fill`` step writing the source's evidence files into a new database, in its creating transaction."""

    def write(dst: Connection) -> None:
        with _source_files(source) as get:
            for stored_name, sha256 in _evidence_names(source):
                origin = get(stored_name, sha256)
                if origin is not None:
                    store_evidence_file(dst, stored_name, origin, sha256)  # hashed again while written
                    counted.append(1)
            for identity, sha in _held_packages(source):
                origin = _held_source(source, get, identity, sha)
                if origin is not None:
                    store_evidence_file(dst, held_file_name(sha), origin, sha)

    return write


def _remove_file(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def copy_hq(source: str | Path, destination: str | Path) -> CopyReport:
    """Copy the HQ at ``source`` to ``destination`` (each a file path or a ``postgresql://`` URL)."""
    src = ElectionStore.open(source)
    try:
        if src.role != ROLE_HQ:
            raise StorageError("hq.copy.not_hq", file=src.location)
        rows: dict[str, int] = {}
        digests: dict[str, str] = {}
        counted: list[int] = []
        if is_pg_url(destination):
            fill = _fill(src, rows, digests, _evidence_into_database(src, counted))
            dst = ElectionStore.create(str(destination), src.template, ROLE_HQ, fill=fill)
            dst.close()
            shown = dst.location
        else:
            target = Path(destination)
            if target.exists():
                raise StorageError("error.storage.exists", file=str(target))
            # Built under a temporary name and renamed: the real name only ever holds a whole copy.
            part = target.with_name(target.name + ".part")
            _remove_file(part)
            evidence = target.with_name(target.name + ".evidence")
            held = target.with_name(target.name + ".held")
            made_evidence, made_held = not evidence.exists(), not held.exists()
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                counted.append(_copy_evidence_files(src, evidence))
                _copy_held_files(src, held)
                dst = ElectionStore.create(part, src.template, ROLE_HQ, fill=_fill(src, rows, digests))
                dst.close()
                os.replace(part, target)
            except BaseException:
                _remove_file(part)
                if made_evidence:
                    shutil.rmtree(evidence, ignore_errors=True)
                if made_held:
                    shutil.rmtree(held, ignore_errors=True)
                raise
            shown = str(target)
        return CopyReport(src.location, shown, rows, digests["destination"], sum(counted))
    except (OSError, OperationalError, DatabaseError) as exc:
        raise storage_error(exc, Path(str(destination))) from None
    finally:
        src.close()
