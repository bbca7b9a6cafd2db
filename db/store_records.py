"""The observer's evidence records in the election file: violations, files, soft deletion, the audit log.

A part of :class:`db.store.ElectionStore` (its base class), kept in its own module
so each stays readable. Every method is a unit of work and commits, as in the store.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from db import audit
from db import models as m
from db.engine import durable_copy, now, pg_display, storage_error
from db.rows import insert_new
from db.store_base import StorePart
from observer.errors import StorageError
from observer.evidence import inspect_evidence
from observer.records import AuditInfo, EvidenceInfo, ViolationInfo

if TYPE_CHECKING:
    pass


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
        target = self.evidence_dir / stored
        try:
            self.evidence_dir.mkdir(exist_ok=True)
            if not target.exists():
                durable_copy(src, target)
        except OSError as exc:
            raise storage_error(exc, target) from None
        with self._write() as conn:
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
        return self.evidence_dir / info.stored_name

    @property
    def evidence_dir(self) -> Path:
        if self.url:
            # Where a shared HQ keeps evidence (in the database or a shared folder) is not decided yet
            # (issue 16); never a folder named after the database in the current directory.
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
