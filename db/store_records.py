"""The observer's evidence records in the election file: violations, files, soft deletion, the audit log.

A part of :class:`db.store.ElectionStore` (its base class), kept in its own module
so each stays readable. Every method is a unit of work and commits, as in the store.

Evidence files (photos, videos) are content-addressed (``<sha256><ext>``). A file HQ or station
file keeps them in a folder beside it; a PostgreSQL HQ keeps their bytes in the database
(``evidence_files`` and ``evidence_file_parts``, revision 0011; docs/postgresql.md says why) and
hands readers a SHA-checked copy from a cache in the user's data folder. Readers go through
:meth:`EvidenceRecords.evidence_path`, writers through :meth:`EvidenceRecords.put_evidence_file`,
so both work on either backend.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import nullcontext, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DatabaseError, OperationalError

from db import audit
from db import models as m
from db.engine import durable_copy, error_for, now, pg_display, storage_error
from db.rows import insert_new
from db.store_base import StorePart
from observer.errors import StorageError
from observer.evidence import inspect_evidence, sha256_file
from observer.paths import app_home
from observer.records import AuditInfo, EvidenceInfo, ViolationInfo

# Bytes per evidence_file_parts row: neither side holds more than this of a video at once, and a
# file may exceed the 1 GB limit of one bytea value. 1 MiB parts wrote and read a 50 MB video as
# fast as or faster than one value (docs/postgresql.md, benchmarks/bench_evidence_pg.py).
EVIDENCE_PART = 1024 * 1024
EVIDENCE_CACHE = "evidence-cache"  # in the user's data folder: SHA-checked copies of a server HQ's files


class EvidenceRecords(StorePart):
    """Violations, their files and their history."""

    # ---- violations ----------------------------------------------------
    def save_violation(
        self,
        station_id: str,
        *,
        category: str = "",
        occurred_at: datetime | None = None,
        description: str = "",
        involved: str = "",
        action: str = "none",
        action_note: str = "",
        severity: str = "medium",
        violation_id: str | None = None,
    ) -> str:
        """Create (no id) or update a violation record; returns its id.

        A new record without ``occurred_at`` happened now (``self.clock``): the moment it
        is first saved, not when the editor was opened. An empty ``category`` saves a
        draft (``ViolationInfo.is_draft``): nothing typed is lost, and the review lists it.
        Every changed value of an existing record is written to the audit log.
        """
        if category and self.template.category(category) is None:
            raise StorageError("error.storage.unknown_category", code=category)
        t = self.clock()
        values: dict[str, Any] = {
            "category": category,
            "occurred_at": occurred_at or t,
            "description": description,
            "involved": involved,
            "action": action,
            "action_note": action_note,
            "severity": severity,
        }
        with self._write() as conn:
            if violation_id:
                row = conn.execute(select(m.Violation).where(m.Violation.id == violation_id)).first()
                if row is None:
                    raise StorageError("error.storage.record_gone")
                if occurred_at is None:
                    values["occurred_at"] = row.occurred_at
                changes = {k: (getattr(row, k), v) for k, v in values.items() if getattr(row, k) != v}
                if changes:
                    conn.execute(
                        update(m.Violation).where(m.Violation.id == violation_id).values(updated_at=t, **values)
                    )
                    self._audit(conn, t, row.station_id, "violations", violation_id, changes)
                return violation_id
            vid = insert_new(conn, m.Violation, t, station_id=station_id, observer_id=self._observer_id, **values)
            audit.record_created(
                conn,
                at=t,
                observer_id=self._observer_id,
                station_id=station_id,
                table="violations",
                record_id=vid,
                values=values,
            )
            return vid

    def delete_violation(self, violation_id: str) -> None:
        """Mark deleted: hidden from the list, recoverable until the next export purges it."""
        self._set_deleted(m.Violation, violation_id, deleted=True)

    def restore_violation(self, violation_id: str) -> None:
        self._set_deleted(m.Violation, violation_id, deleted=False)

    def _set_deleted(self, model: type[m.Violation] | type[m.Evidence], record_id: str, *, deleted: bool) -> None:
        t = self.clock()
        with self._write() as conn:
            row = conn.execute(select(model).where(model.id == record_id)).first()
            if row is None or (row.deleted_at is not None) == deleted:
                return
            conn.execute(
                update(model).where(model.id == record_id).values(deleted_at=t if deleted else None, updated_at=t)
            )
            self._audit(
                conn,
                t,
                row.station_id,
                model.__tablename__,
                record_id,
                {"deleted_at": (row.deleted_at, t if deleted else None)},
                audit.DELETE if deleted else audit.RESTORE,
            )

    def purge_deleted(self) -> int:
        """Remove for good what was deleted (export calls this first); the audit log keeps
        what they held. Returns how many records went."""
        with self._write() as conn:
            gone = [r[0] for r in conn.execute(select(m.Violation.id).where(m.Violation.deleted_at.is_not(None)))]
            n = conn.execute(
                delete(m.Evidence).where((m.Evidence.deleted_at.is_not(None)) | (m.Evidence.violation_id.in_(gone)))
            ).rowcount
            n += conn.execute(delete(m.Violation).where(m.Violation.id.in_(gone))).rowcount
        return int(n)

    def violations(self, station_id: str | None = None, *, deleted: bool = False) -> list[ViolationInfo]:
        """The station's violations by time; ``deleted=True``: those deleted and not yet purged."""
        counts = (
            select(m.Evidence.violation_id, func.count().label("n"))
            .where(m.Evidence.violation_id.is_not(None), m.Evidence.deleted_at.is_(None))
            .group_by(m.Evidence.violation_id)
            .subquery()
        )
        q = select(m.Violation, func.coalesce(counts.c.n, 0).label("n")).outerjoin(
            counts, counts.c.violation_id == m.Violation.id
        )
        q = q.where(m.Violation.deleted_at.is_not(None) if deleted else m.Violation.deleted_at.is_(None))
        if station_id:
            q = q.where(m.Violation.station_id == station_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(m.Violation.occurred_at, m.Violation.created_at)).all()
        return [
            ViolationInfo(
                r.id,
                r.station_id,
                r.occurred_at,
                r.category,
                r.severity,
                r.description,
                r.involved,
                r.action,
                r.action_note,
                int(r.n),
                r.created_at,
                r.deleted_at,
            )
            for r in rows
        ]

    def violations_without_category(self, station_id: str | None = None) -> list[ViolationInfo]:
        """Drafts: saved violations whose category the observer has not chosen yet."""
        return [v for v in self.violations(station_id) if v.is_draft]

    # ---- evidence files ------------------------------------------------------
    def add_evidence(
        self, station_id: str, source: str | Path, *, violation_id: str | None = None, protocol_id: str | None = None
    ) -> EvidenceInfo:
        """Validate a photo/video, keep the original unchanged, record it."""
        src = Path(source)
        info = inspect_evidence(src)
        stored = info.sha256 + info.suffix
        with self._write() as conn:
            # The bytes before their record, checked against the hash just taken (a file changed
            # since is refused): beside a file, or on a server in the record's own transaction.
            self.put_evidence_file(stored, src, info.sha256, conn)
            eid = insert_new(
                conn,
                m.Evidence,
                now(),
                station_id=station_id,
                observer_id=self._observer_id,
                violation_id=violation_id,
                protocol_id=protocol_id,
                kind=info.kind,
                original_name=src.name[:255],
                sha256=info.sha256,
                stored_name=stored,
                size=info.size,
                media_type=info.media_type,
                width=info.width,
                height=info.height,
                exif_time=info.exif_time,
                thumbnail=info.thumbnail,
            )
        return next(e for e in self.evidence(station_id) if e.id == eid)

    def delete_evidence(self, evidence_id: str) -> None:
        """Mark deleted, recoverable until export (the file stays: another record may cite the same bytes)."""
        self._set_deleted(m.Evidence, evidence_id, deleted=True)

    def restore_evidence(self, evidence_id: str) -> None:
        self._set_deleted(m.Evidence, evidence_id, deleted=False)

    def evidence(
        self,
        station_id: str | None = None,
        *,
        violation_id: str | None = None,
        protocol_id: str | None = None,
        deleted: bool = False,
    ) -> list[EvidenceInfo]:
        """Attached files; ``deleted=True``: those deleted and not yet purged by an export."""
        q = select(m.Evidence).where(m.Evidence.deleted_at.is_not(None) if deleted else m.Evidence.deleted_at.is_(None))
        if station_id:
            q = q.where(m.Evidence.station_id == station_id)
        if violation_id:
            q = q.where(m.Evidence.violation_id == violation_id)
        if protocol_id:
            q = q.where(m.Evidence.protocol_id == protocol_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(m.Evidence.created_at)).all()
        return [_evidence(r) for r in rows]

    def evidence_path(self, info: EvidenceInfo) -> Path:
        """Where to read the record's file: the folder beside a file HQ; on PostgreSQL a copy in the
        user's cache, made (and checked against the SHA-256) on first use.

        A file that was never received gives a path that does not exist, on both backends. Bytes
        on the server that do not hash to their SHA-256 are refused (``evidence_damaged``).
        """
        if self.url is None:
            return self.evidence_dir / info.stored_name
        name = checked_evidence_name(info.stored_name)
        target = app_home() / EVIDENCE_CACHE / name
        with suppress(OSError):
            if target.stat().st_size == info.size:
                # Content-addressed and only ever renamed into place once checked: the same name
                # is the same bytes, from any HQ. (A size that differs: fetched again.)
                return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with self.engine.connect() as conn:
                fetch_evidence_file(conn, name, info.sha256, target)
        except OSError as exc:
            raise storage_error(exc, target) from None
        except (OperationalError, DatabaseError) as exc:
            raise error_for(exc, self.path, self.url) from None
        return target

    def has_evidence_file(self, stored_name: str) -> bool:
        """Whether the file's bytes are kept (in the folder, or committed in the database)."""
        if self.url is None:
            return (self.evidence_dir / stored_name).exists()
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(m.EVIDENCE_FILES.c.parts).where(m.EVIDENCE_FILES.c.stored_name == stored_name)
                ).first()
        except (OperationalError, DatabaseError) as exc:
            raise error_for(exc, self.path, self.url) from None
        return found is not None

    def put_evidence_file(self, stored_name: str, source: Path, sha256: str, conn: Connection | None = None) -> None:
        """Keep ``source``'s bytes as evidence ``stored_name``, refused (nothing kept) unless they hash to ``sha256``.

        On PostgreSQL in ``conn``'s transaction (the merge batch's, a copy's creating one:
        committed or rolled back with the records that cite it), in a savepoint of its own; without
        ``conn`` in a transaction of its own. Database errors in a given transaction are the
        caller's to handle, as for its other statements. In a file HQ's folder ``conn`` has no say:
        the file is copied under a temporary name and renamed (an uncited file there is harmless).
        Already kept: nothing is done.
        """
        source = Path(source)
        if self.url is None:
            target = self.evidence_dir / checked_evidence_name(stored_name)
            if target.exists():
                return
            try:
                if sha256_file(source) != sha256:
                    raise StorageError("error.storage.evidence_damaged", name=stored_name)
                self.evidence_dir.mkdir(exist_ok=True)
                durable_copy(source, target)
            except OSError as exc:
                raise storage_error(exc, target) from None
            return
        with nullcontext(conn) if conn is not None else self._write() as into:
            try:
                store_evidence_file(into, stored_name, source, sha256)
            except (
                OSError
            ) as exc:  # the source file, not the server: said as such (inside, so a write of our own is undone)
                raise storage_error(exc, source) from None

    @property
    def evidence_dir(self) -> Path:
        if self.url:
            # A server HQ keeps the bytes in the database (evidence_path, put_evidence_file); never a
            # folder named after the database in the current directory.
            raise StorageError("error.storage.pg_no_evidence", url=pg_display(self.url))
        return self.path.with_name(self.path.name + ".evidence")

    # ---- audit ---------------------------------------------------------
    def history(self, record_id: str) -> list[AuditInfo]:
        """Every logged change of a record, oldest first; a violation's includes its files'."""
        with self.engine.connect() as conn:
            files = conn.execute(select(m.Evidence.id).where(m.Evidence.violation_id == record_id)).scalars()
            return audit.history(conn, [record_id, *files])


def _evidence(r: Any) -> EvidenceInfo:
    return EvidenceInfo(
        r.id,
        r.station_id,
        r.violation_id,
        r.protocol_id,
        r.kind,
        r.original_name,
        r.sha256,
        r.size,
        r.media_type,
        r.width,
        r.height,
        r.exif_time,
        r.thumbnail,
        r.stored_name,
        r.deleted_at,
    )


def checked_evidence_name(stored_name: str) -> str:
    """A stored name read from a server is a plain file name (``<sha256><ext>``), never a path."""
    if not stored_name or Path(stored_name).name != stored_name or stored_name.startswith("."):
        raise StorageError("error.storage.evidence_damaged", name=stored_name[:80])
    return stored_name


def store_evidence_file(conn: Connection, stored_name: str, source: Path, sha256: str) -> bool:
    """``source``'s bytes into a PostgreSQL HQ's evidence tables, in a savepoint of ``conn``'s transaction.

    Hashed while read: bytes that do not hash to ``sha256`` raise ``evidence_damaged`` and leave
    nothing. Returns False when the file was kept already. OSError and database errors propagate.
    """
    with conn.begin_nested():
        # The name is claimed first: a second coordinator merging the same photo at the same moment
        # waits here for the first one's transaction, then finds the file (or, after a rollback, writes it).
        claimed = conn.execute(
            pg_insert(m.EVIDENCE_FILES)
            .values(stored_name=stored_name, sha256=sha256, size=0, parts=0)
            .on_conflict_do_nothing()
            .returning(m.EVIDENCE_FILES.c.stored_name)
        ).first()
        if claimed is None:
            return False
        digest = hashlib.sha256()
        size = parts = 0
        with source.open("rb") as fh:
            while block := fh.read(EVIDENCE_PART):
                digest.update(block)
                conn.execute(insert(m.EVIDENCE_FILE_PARTS).values(stored_name=stored_name, part=parts, data=block))
                size += len(block)
                parts += 1
        if digest.hexdigest() != sha256:
            raise StorageError("error.storage.evidence_damaged", name=stored_name)  # the savepoint is undone
        conn.execute(
            update(m.EVIDENCE_FILES).where(m.EVIDENCE_FILES.c.stored_name == stored_name).values(size=size, parts=parts)
        )
    return True


def fetch_evidence_file(conn: Connection, stored_name: str, sha256: str, target: Path) -> bool:
    """A PostgreSQL HQ's evidence file into ``target``, only if its bytes hash to ``sha256``.

    Written under a temporary name beside ``target``, flushed, checked, then renamed: ``target``
    only ever names the whole, checked file. Returns False (nothing written) when the database
    does not hold the file; raises ``evidence_damaged`` when its bytes are not what the record says.
    """
    head = conn.execute(select(m.EVIDENCE_FILES).where(m.EVIDENCE_FILES.c.stored_name == stored_name)).first()
    if head is None:
        return False
    fd, part_name = tempfile.mkstemp(prefix=".part-", dir=target.parent)
    part = Path(part_name)
    try:
        digest = hashlib.sha256()
        count = 0
        with os.fdopen(fd, "wb") as out:
            rows = conn.execution_options(stream_results=True, yield_per=1).execute(
                select(m.EVIDENCE_FILE_PARTS.c.part, m.EVIDENCE_FILE_PARTS.c.data)
                .where(m.EVIDENCE_FILE_PARTS.c.stored_name == stored_name)
                .order_by(m.EVIDENCE_FILE_PARTS.c.part)
            )
            for number, data in rows:
                if number != count:
                    break  # a part missing: the digest below cannot match
                digest.update(data)
                out.write(data)
                count += 1
            out.flush()
            os.fsync(out.fileno())
        if head.sha256 != sha256 or digest.hexdigest() != sha256 or count != head.parts:
            raise StorageError("error.storage.evidence_damaged", name=stored_name)
        os.replace(part, target)
    except BaseException:
        with suppress(OSError):
            part.unlink(missing_ok=True)
        raise
    return True
