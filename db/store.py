"""The election file: open/create, migrate, and the observer's unit-of-work operations.

Every write is its own transaction, committed before the call returns, on a
SQLite database in WAL mode with ``synchronous=FULL``: when the UI shows a value
as saved, it is on disk. Evidence files live unchanged in a folder beside the
database (``<name>.evidence/<sha256><ext>``), written to a temporary name and
renamed, so a crash never leaves half a photo under a real name.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, func, insert, select, update
from sqlalchemy.exc import DatabaseError, OperationalError

from db import models as m
from db.fileformat import FILE_SUFFIX, FORMAT, ROLE_HQ, ROLE_STATION  # noqa: F401 - re-exported
from db.revisions import MIGRATIONS, head_revision, known_revisions  # noqa: F401 - re-exported
from db.store_records import EvidenceRecords
from observer.errors import StorageError
from observer.evidence import inspect_evidence
from observer.records import (
    ChecklistEntry,
    EvidenceInfo,
    HeadcountPoint,
    ObserverInfo,
    StationInfo,
    TurnoutSlot,
)
from observer.template import ElectionTemplate, parse_template


def _alembic_config(connection: Any | None = None) -> Any:
    from alembic.config import Config  # Alembic is imported only when a schema must change

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _migrate(conn: Any, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), revision)


def _set_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the
    # module would otherwise run DDL (migrations) outside any transaction.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged edit survives a power cut
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", future=True)
    event.listen(engine, "connect", _set_pragmas)
    # A connection with execution option begin="BEGIN IMMEDIATE" takes the write lock at once
    # (the merge: a deferred batch that reads first could not upgrade once another writer is done).
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(conn.get_execution_options().get("begin", "BEGIN")))
    return engine


def durable_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` only ever names a complete file on disk:
    written under a ``.part`` name, flushed, then renamed. Raises OSError."""
    part = target.with_name(target.name + ".part")
    try:
        shutil.copyfile(source, part)
        with part.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, target)
    except BaseException:
        # A full disk stops the copy half-way: the half-written part goes, and with it the space it took.
        with suppress(OSError):
            part.unlink(missing_ok=True)
        raise


def storage_error(exc: BaseException, path: Path) -> StorageError:
    """Translate an OS/SQLite failure into a message a user can act on."""
    text = str(exc).lower()
    err = getattr(exc, "errno", None)
    if err == errno.ENOSPC or "disk is full" in text or "database or disk is full" in text:
        return StorageError("error.storage.disk_full", file=str(path))
    if err in (errno.EACCES, errno.EROFS, errno.EPERM) or "readonly" in text or "read-only" in text:
        return StorageError("error.storage.read_only", file=str(path))
    if "unable to open database file" in text and path.parent.exists() and not os.access(path.parent, os.W_OK):
        # SQLite must create its -wal/-shm files beside the database: a read-only folder shows up as this.
        return StorageError("error.storage.read_only", file=str(path))
    if "not a database" in text or "file is encrypted" in text:
        return StorageError("error.storage.not_election", file=str(path))
    return StorageError("error.storage.io", file=str(path), problem=str(exc).splitlines()[0][:200])


def _upgrade(conn: Any, path: Path) -> None:
    """Run pending migrations in one transaction.

    Batch migrations rebuild tables, which foreign keys would block; they are
    switched off for the rebuild (the pragma is ignored inside a transaction,
    hence before begin) and the result is checked before committing.
    """
    if conn.in_transaction():
        conn.rollback()
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with conn.begin():
            _migrate(conn)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StorageError(
                    "error.storage.io", file=str(path), problem=f"foreign key check failed after upgrade: {broken[:3]}"
                )
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def now() -> datetime:
    return datetime.now(UTC)


class ElectionStore(EvidenceRecords):
    """One open election file. Methods are units of work; each commits."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        # The time of records and audit rows; tests put their own clock here instead of sleeping.
        self.clock: Callable[[], datetime] = now
        self._template: ElectionTemplate | None = None
        self._observer_id: str | None = self.meta("self_observer_id")

    # ---- opening -------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, template: ElectionTemplate, role: str = ROLE_STATION) -> ElectionStore:
        p = Path(path)
        if p.exists():
            raise StorageError("error.storage.exists", file=str(p))
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            engine = make_engine(p)
            with engine.begin() as conn:
                _migrate(conn)
                conn.execute(
                    insert(m.Meta),
                    [
                        {"key": "format", "value": FORMAT},
                        {"key": "role", "value": role},
                        {"key": "template_id", "value": template.id},
                        {"key": "template_toml", "value": template.source_text},
                        {"key": "created_at", "value": now().isoformat()},
                    ],
                )
        except (OSError, OperationalError, DatabaseError) as exc:
            raise storage_error(exc, p) from None
        return cls(p, engine)

    @classmethod
    def open(cls, path: str | Path) -> ElectionStore:
        p = Path(path)
        if not p.is_file():
            raise StorageError("error.storage.not_election", file=str(p))
        with p.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise StorageError("error.storage.not_election", file=str(p))
        engine = make_engine(p)
        try:
            with engine.connect() as conn:
                has_version = conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                ).first()
                current = (
                    conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() if has_version else None
                )
                if current is None:
                    raise StorageError("error.storage.not_election", file=str(p))
                if current not in known_revisions():
                    raise StorageError("error.storage.newer", file=str(p), found=current)
                if current != head_revision():
                    _upgrade(conn, p)
            with engine.connect() as conn:
                fmt = conn.execute(select(m.Meta.value).where(m.Meta.key == "format")).scalar()
            if fmt != FORMAT:
                raise StorageError("error.storage.not_election", file=str(p))
        except StorageError:
            engine.dispose()
            raise
        except (OSError, OperationalError, DatabaseError) as exc:
            engine.dispose()
            raise storage_error(exc, p) from None
        return cls(p, engine)

    def close(self) -> None:
        self.engine.dispose()

    # ---- meta ----------------------------------------------------------
    def meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(m.Meta.value).where(m.Meta.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            done = conn.execute(update(m.Meta).where(m.Meta.key == key).values(value=value)).rowcount
            if not done:
                conn.execute(insert(m.Meta).values(key=key, value=value))

    @property
    def role(self) -> str:
        return self.meta("role") or ROLE_STATION

    @property
    def template(self) -> ElectionTemplate:
        if self._template is None:
            text = self.meta("template_toml") or ""
            self._template = parse_template(text, f"{self.meta('template_id')}.toml")
        return self._template

    @property
    def evidence_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".evidence")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction whose OS/SQLite failures (at begin, in the body or at commit) become a StorageError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (OSError, OperationalError, DatabaseError) as exc:
            raise storage_error(exc, self.path) from None

    # ---- observer and station -----------------------------------------
    @property
    def observer_id(self) -> str | None:
        return self._observer_id

    def set_observer(
        self, name: str, organisation: str, public_key: str | None = None, fingerprint: str | None = None
    ) -> ObserverInfo:
        """Create or update the observer who works in this file."""
        values = {
            "name": name.strip(),
            "organisation": organisation.strip(),
            "public_key": public_key,
            "fingerprint": fingerprint,
        }
        with self._write() as conn:
            if self._observer_id:
                conn.execute(
                    update(m.Observer).where(m.Observer.id == self._observer_id).values(updated_at=now(), **values)
                )
            else:
                oid = m.new_id()
                conn.execute(insert(m.Observer).values(id=oid, created_at=now(), updated_at=now(), **values))
                conn.execute(insert(m.Meta).values(key="self_observer_id", value=oid))
                self._observer_id = oid
        info = self.observer()
        assert info is not None
        return info

    def observer(self, observer_id: str | None = None) -> ObserverInfo | None:
        oid = observer_id or self._observer_id
        if not oid:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(m.Observer).where(m.Observer.id == oid)).first()
        if row is None:
            return None
        return ObserverInfo(row.id, row.name, row.organisation, row.public_key, row.fingerprint)

    def upsert_station(
        self, code: str, region: str = "", district: str = "", address: str = "", registered: int | None = None
    ) -> StationInfo:
        code = code.strip()
        if not code or len(code) > 32 or not code.isprintable():
            raise StorageError("error.storage.station_code")
        if registered is not None and registered < 0:
            raise StorageError("error.storage.negative", field="registered")
        values = {
            "region": region.strip(),
            "district": district.strip(),
            "address": address.strip(),
            "registered": registered,
        }
        t = self.clock()
        with self._write() as conn:
            old = conn.execute(select(m.Station).where(m.Station.code == code)).first()
            sid = old.id if old else None
            if sid:
                changes = {k: (getattr(old, k), v) for k, v in values.items() if getattr(old, k) != v}
                if changes:
                    conn.execute(update(m.Station).where(m.Station.id == sid).values(updated_at=t, **values))
                    self._audit(conn, t, sid, "stations", sid, changes)
            else:
                sid = m.new_id()
                conn.execute(
                    insert(m.Station).values(
                        id=sid, code=code, observer_id=self._observer_id, created_at=now(), updated_at=now(), **values
                    )
                )
        return self.station(sid)  # type: ignore[return-value]

    def select_station(self, station_id: str) -> None:
        """Make this the station the observer works at (an observer file has one)."""
        self.set_meta("self_station_id", station_id)

    def current_station(self) -> StationInfo | None:
        sid = self.meta("self_station_id")
        return self.station(sid) if sid else None

    def station(self, station_id: str) -> StationInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.Station).where(m.Station.id == station_id)).first()
        return _station(row) if row else None

    def station_by_code(self, code: str) -> StationInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.Station).where(m.Station.code == code.strip())).first()
        return _station(row) if row else None

    def stations(self, limit: int | None = None) -> list[StationInfo]:
        with self.engine.connect() as conn:
            q = select(m.Station).order_by(m.Station.code)
            if limit:
                q = q.limit(limit)
            return [_station(r) for r in conn.execute(q)]

    def station_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(m.Station)).scalar() or 0)

    # ---- turnout -------------------------------------------------------
    def set_announced(self, station_id: str, slot: str, announced: int | None) -> None:
        if announced is not None and announced < 0:
            raise StorageError("error.storage.negative", field=slot)
        self._upsert(
            m.TurnoutReport,
            {"station_id": station_id, "observer_id": self._observer_id, "slot": slot},
            {"announced": announced, "observed": self.headcount(station_id)},
            audited=("announced",),
        )

    def turnout_slots(self, station_id: str) -> list[TurnoutSlot]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.TurnoutReport.slot, m.TurnoutReport.announced, m.TurnoutReport.observed)
                .where(m.TurnoutReport.station_id == station_id, m.TurnoutReport.observer_id == self._observer_id)
                .order_by(m.TurnoutReport.slot)
            ).all()
        return [TurnoutSlot(r.slot, r.announced, r.observed) for r in rows]

    def add_headcount(self, station_id: str, delta: int = 1, at: datetime | None = None) -> int:
        """Record one counted voter (+1) or undo (-1); returns the new total."""
        if delta not in (1, -1):
            raise ValueError("delta must be +1 or -1")
        with self._write() as conn:
            total = int(
                conn.execute(
                    select(func.coalesce(func.sum(m.HeadcountEvent.delta), 0)).where(
                        m.HeadcountEvent.station_id == station_id, m.HeadcountEvent.observer_id == self._observer_id
                    )
                ).scalar()
                or 0
            )
            if delta < 0 and total <= 0:
                return 0
            t = at or now()
            conn.execute(
                insert(m.HeadcountEvent).values(
                    id=m.new_id(),
                    station_id=station_id,
                    observer_id=self._observer_id,
                    at=t,
                    delta=delta,
                    created_at=t,
                    updated_at=t,
                )
            )
        return total + delta

    def headcount(self, station_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.coalesce(func.sum(m.HeadcountEvent.delta), 0)).where(
                        m.HeadcountEvent.station_id == station_id, m.HeadcountEvent.observer_id == self._observer_id
                    )
                ).scalar()
                or 0
            )

    def headcount_timeline(self, station_id: str) -> list[HeadcountPoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.HeadcountEvent.at, m.HeadcountEvent.delta)
                .where(m.HeadcountEvent.station_id == station_id, m.HeadcountEvent.observer_id == self._observer_id)
                .order_by(m.HeadcountEvent.at, m.HeadcountEvent.created_at)
            ).all()
        out: list[HeadcountPoint] = []
        total = 0
        for r in rows:
            total += r.delta
            out.append(HeadcountPoint(r.at, r.delta, total))
        return out

    # ---- protocol ------------------------------------------------------
    def protocol_id(self, station_id: str, source: str = "posted_copy") -> str:
        """The id of this observer's protocol of ``source`` at the station, created if needed."""
        with self._write() as conn:
            pid = conn.execute(
                select(m.Protocol.id).where(
                    m.Protocol.station_id == station_id,
                    m.Protocol.observer_id == self._observer_id,
                    m.Protocol.source == source,
                )
            ).scalar()
            if pid is None:
                pid = m.new_id()
                conn.execute(
                    insert(m.Protocol).values(
                        id=pid,
                        station_id=station_id,
                        observer_id=self._observer_id,
                        source=source,
                        created_at=now(),
                        updated_at=now(),
                    )
                )
        return pid

    def set_protocol_value(self, protocol_id: str, key: str, value: int | None) -> None:
        """Save one protocol field at once (the hot path of data entry)."""
        template = self.template
        if key not in template.all_keys:
            raise StorageError("error.storage.unknown_line", key=key)
        if value is not None and value < 0:
            raise StorageError("error.storage.negative", field=template.label(key))
        t = self.clock()
        with self._write() as conn:
            old = conn.execute(_OLD_VALUE, {"pid": protocol_id, "k": key}).first()
            if old is not None:
                if old.value != value:
                    conn.execute(_UPDATE_VALUE, {"pid": protocol_id, "k": key, "v": value, "t": t})
                    self._audit(conn, t, old.station_id, "protocol_values", old.id, {key: (old.value, value)})
            else:
                vid = m.new_id()
                conn.execute(
                    insert(m.ProtocolValue).values(
                        id=vid,
                        protocol_id=protocol_id,
                        key=key,
                        value=value,
                        observer_id=self._observer_id,
                        created_at=t,
                        updated_at=t,
                    )
                )
                sid = conn.execute(select(m.Protocol.station_id).where(m.Protocol.id == protocol_id)).scalar()
                if sid is not None and value is not None:
                    self._audit(conn, t, sid, "protocol_values", vid, {key: (None, value)})

    def protocol_values(self, protocol_id: str) -> dict[str, int | None]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.ProtocolValue.key, m.ProtocolValue.value).where(m.ProtocolValue.protocol_id == protocol_id)
            ).all()
        return {r.key: r.value for r in rows}

    # ---- spoiled ballots ----------------------------------------------
    def set_spoiled(self, station_id: str, reason: str, count: int) -> None:
        if count < 0:
            raise StorageError("error.storage.negative", field=reason)
        self._upsert(
            m.SpoiledCount,
            {"station_id": station_id, "observer_id": self._observer_id, "reason": reason},
            {"count": count},
            audited=("count",),
        )

    def spoiled(self, station_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.SpoiledCount.reason, m.SpoiledCount.count).where(
                    m.SpoiledCount.station_id == station_id, m.SpoiledCount.observer_id == self._observer_id
                )
            ).all()
        return {reason: count for reason, count in rows}

    # ---- evidence ------------------------------------------------------
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
        eid = m.new_id()
        with self._write() as conn:
            conn.execute(
                insert(m.Evidence).values(
                    id=eid,
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
                    created_at=now(),
                    updated_at=now(),
                )
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

    # ---- checklists ----------------------------------------------------
    def set_checklist_answer(
        self, station_id: str, checklist: str, question: str, answer: str | None, note: str = ""
    ) -> None:
        self._upsert(
            m.ChecklistAnswer,
            {"station_id": station_id, "observer_id": self._observer_id, "checklist": checklist, "question": question},
            {"answer": answer, "note": note},
            audited=("answer", "note"),
        )

    def checklist(self, station_id: str, checklist: str) -> dict[str, ChecklistEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.ChecklistAnswer).where(
                    m.ChecklistAnswer.station_id == station_id,
                    m.ChecklistAnswer.observer_id == self._observer_id,
                    m.ChecklistAnswer.checklist == checklist,
                )
            ).all()
        return {r.question: ChecklistEntry(r.checklist, r.question, r.answer, r.note) for r in rows}

    # ---- helpers -------------------------------------------------------
    def _upsert(
        self, model: type[m.Base], keys: dict[str, Any], values: dict[str, Any], audited: tuple[str, ...] = ()
    ) -> None:
        """Update the row matching ``keys`` or insert it: portable, no dialect UPSERT.

        Changes of the ``audited`` fields (those the observer types) go to the audit log,
        under the name ``<last key>.<field>`` (``10:00.announced``, ``BLANK.count``).
        """
        t = self.clock()
        cond = [getattr(model, k) == v if v is not None else getattr(model, k).is_(None) for k, v in keys.items()]
        table = model.__table__
        with self._write() as conn:
            old = conn.execute(select(table.c.id, *(table.c[f] for f in audited)).where(*cond)).first()
            if old is not None:
                conn.execute(update(model).where(*cond).values(updated_at=t, **values))
                record_id = old.id
                before = {f: getattr(old, f) for f in audited}
            else:
                record_id = m.new_id()
                conn.execute(insert(model).values(id=record_id, created_at=t, updated_at=t, **keys, **values))
                before = {f: None for f in audited}
            name = str(list(keys.values())[-1])
            changes = {f"{name}.{f}"[:40]: (before[f], values[f]) for f in audited if before[f] != values[f]}
            if changes and keys.get("station_id"):
                self._audit(conn, t, keys["station_id"], str(model.__tablename__), record_id, changes)

    def iter_table(self, table_name: str, *columns: str) -> Iterator[Any]:
        """Every row of a table, by its name (``"protocols"``); with ``columns``, only those
        (attribute access by name). The UI and the report name tables, never ORM models.

        Naming the columns matters on big tables: a full row also parses each
        timestamp column, which costs seconds per 10,000 rows of turnout reports.
        """
        table = m.Base.metadata.tables[table_name]
        stmt = select(*(table.c[name] for name in columns)) if columns else select(table)
        with self.engine.connect() as conn:
            yield from conn.execute(stmt)


# Built once: the statements of the hottest write, so each edit skips SQL construction.
_OLD_VALUE = (
    select(m.ProtocolValue.id, m.ProtocolValue.value, m.Protocol.station_id)
    .join(m.Protocol, m.Protocol.id == m.ProtocolValue.protocol_id)
    .where(m.ProtocolValue.protocol_id == bindparam("pid"), m.ProtocolValue.key == bindparam("k"))
)
_UPDATE_VALUE = (
    update(m.ProtocolValue)
    .where(m.ProtocolValue.protocol_id == bindparam("pid"), m.ProtocolValue.key == bindparam("k"))
    .values(value=bindparam("v"), updated_at=bindparam("t"))
)


def _station(row: Any) -> StationInfo:
    return StationInfo(row.id, row.code, row.region, row.district, row.address, row.registered)


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
