"""The election file: open/create, migrate, and the observer's unit-of-work operations.

An HQ may instead live in a PostgreSQL database, named by a ``postgresql://``
URL where a path is given (docs/postgresql.md): the same migrations, the same
``meta`` checks, one HQ per database; a station file is always SQLite.

Every write is its own transaction, committed before the call returns, on a
SQLite database in WAL mode with ``synchronous=FULL``: when the UI shows a value
as saved, it is on disk. Evidence files live unchanged in a folder beside the
database (``<name>.evidence/<sha256><ext>``), written to a temporary name and
renamed, so a crash never leaves half a photo under a real name; a PostgreSQL HQ
keeps them in its database (db/store_records.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, inspect, select, update
from sqlalchemy.exc import DatabaseError, OperationalError

from db import models as m
from db.engine import (  # noqa: F401 - re-exported: the store is where callers find them
    _PG_MIGRATION_LOCK,
    _alembic_config,
    _migrate,
    _upgrade,
    durable_copy,
    is_pg_url,
    make_engine,
    now,
    pg_database_name,
    pg_display,
    server_error,
    storage_error,
)
from db.fileformat import FILE_SUFFIX, FORMAT, ROLE_HQ, ROLE_STATION  # noqa: F401 - re-exported
from db.revisions import MIGRATIONS, head_revision, known_revisions  # noqa: F401 - re-exported
from db.rows import insert_new
from db.store_figures import StationFigures
from db.store_records import EvidenceRecords
from observer.errors import StorageError
from observer.records import MAX_STATION_CODE, ObserverInfo, StationInfo
from observer.template import ElectionTemplate, parse_template

# SQLite page size of a new HQ file (an observer's file keeps SQLite's 4 KB). An HQ holds 100,000
# stations and their official rows, whose keys are long (a compound station code is ~85 bytes):
# at 16 KB a B-tree has a quarter of the pages to fill, link and balance, and an import of
# 100,000 stations costs ~10% less CPU (benchmarks/README.md, "The floor of the compound-key file").
HQ_PAGE_SIZE = 16384


class ElectionStore(StationFigures, EvidenceRecords):
    """One open election file. Methods are units of work; each commits.

    Here: opening, meta, the observer and the stations. The station's figures
    (turnout, head-count, protocol, spoiled ballots, checklists) are in
    :mod:`db.store_figures`, violations, files and the audit log in
    :mod:`db.store_records`, the SQLite engine and its errors in :mod:`db.engine`.
    """

    def __init__(self, path: Path, engine: Engine, url: str | None = None) -> None:
        # On PostgreSQL ``path`` is only the database's name (what messages call the HQ) and ``url``
        # is how to reach it; anything that needs a folder beside the file (the merge's work folder,
        # a snapshot) is refused there, not written to the current folder. Evidence is in the database.
        self.path = path
        self.url = url
        self.engine = engine
        # The time of records and audit rows; tests put their own clock here instead of sleeping.
        self.clock: Callable[[], datetime] = now
        self._template: ElectionTemplate | None = None
        self._observer_id: str | None = self.meta("self_observer_id")

    # ---- opening -------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        template: ElectionTemplate,
        role: str = ROLE_STATION,
        *,
        fill: Callable[[Any], None] | None = None,
    ) -> ElectionStore:
        """A new election file (or an HQ in an empty PostgreSQL database).

        ``fill(conn)``, if given, writes every row (``meta`` included) instead of the first meta
        rows, in the schema's own transaction: ``hq copy`` either creates a whole copy or nothing.
        """
        write = fill or (lambda conn: _first_meta(conn, template, role))
        if is_pg_url(path):
            return cls._create_pg(str(path), role, write)
        p = Path(path)
        if p.exists():
            raise StorageError("error.storage.exists", file=str(p))
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            engine = make_engine(p, page_size=HQ_PAGE_SIZE if role == ROLE_HQ else None)
            with engine.begin() as conn:
                _migrate(conn)
                write(conn)
        except (OSError, OperationalError, DatabaseError) as exc:
            raise storage_error(exc, p) from None
        return cls(p, engine)

    @classmethod
    def _create_pg(cls, url: str, role: str, write: Callable[[Any], None]) -> ElectionStore:
        """An HQ in an existing, empty PostgreSQL database: schema and meta in one transaction."""
        shown = pg_display(url)
        if role != ROLE_HQ:
            raise StorageError("error.storage.pg_station_file", url=shown)
        engine = make_engine(url)
        with _server_errors(engine, url):
            with engine.begin() as conn:
                # Two coordinators creating the HQ at once: the second waits, then finds it made.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                tables = inspect(conn).get_table_names()
                if "alembic_version" in tables:
                    raise StorageError("error.storage.exists", file=shown)
                if tables:  # someone else's tables: one database is one HQ, never shared with other data
                    raise StorageError("error.storage.not_election", file=shown)
                collation = _pg_collation(conn)
                if collation is not None:
                    # Lists ordered by station code, names... would come out in another order than
                    # from a file, and outputs meant to be identical on both would differ.
                    raise StorageError("error.storage.pg_collation", url=shown, collation=str(collation))
                _migrate(conn)
                write(conn)
        return cls(_pg_name(url), engine, url)

    @classmethod
    def open(cls, path: str | Path) -> ElectionStore:
        if is_pg_url(path):
            return cls._open_pg(str(path))
        p = Path(path)
        if not p.exists():
            raise StorageError("error.storage.no_such_file", file=str(p))
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

    @classmethod
    def _open_pg(cls, url: str) -> ElectionStore:
        """An HQ in PostgreSQL: the same revision and ``meta`` checks as a file, upgraded if older."""
        shown = pg_display(url)
        engine = make_engine(url)
        with _server_errors(engine, url):
            with engine.connect() as conn:
                current = (
                    conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                    if inspect(conn).has_table("alembic_version")
                    else None
                )
                if current is None and inspect(conn).get_table_names():
                    raise StorageError("error.storage.not_election", file=shown)
                if current is None:
                    raise StorageError("error.storage.pg_empty", url=shown)
                if current not in known_revisions():
                    raise StorageError("error.storage.newer", file=shown, found=current)
                if current != head_revision():
                    _upgrade(conn, Path(shown))
            with engine.connect() as conn:
                fmt = conn.execute(select(m.Meta.value).where(m.Meta.key == "format")).scalar()
            if fmt != FORMAT:
                raise StorageError("error.storage.not_election", file=shown)
        return cls(_pg_name(url), engine, url)

    @property
    def location(self) -> str:
        """What names this HQ to a user: the file's path, or the database URL without its password."""
        return pg_display(self.url) if self.url else str(self.path)

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
                oid = insert_new(conn, m.Observer, now(), **values)
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
        if not code or len(code) > MAX_STATION_CODE or not code.isprintable():
            raise StorageError("error.storage.station_code", limit=MAX_STATION_CODE)
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
                sid = insert_new(conn, m.Station, now(), code=code, observer_id=self._observer_id, **values)
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


@contextmanager
def _server_errors(engine: Engine, url: str) -> Iterator[None]:
    """Opening or creating a PostgreSQL HQ: the engine is let go on any refusal, and the server's
    errors become user messages (db.engine.server_error)."""
    try:
        yield
    except StorageError:
        engine.dispose()
        raise
    except (OSError, OperationalError, DatabaseError) as exc:
        engine.dispose()
        raise server_error(exc, url) from None


def _first_meta(conn: Any, template: ElectionTemplate, role: str) -> None:
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


# Texts whose code-point order (SQLite's BINARY, Python's str) a linguistic collation changes.
_ORDER_PROBE = ("a", "B", "_", "1", "é", "z", "Ә", "ә", "Я")


def _pg_collation(conn: Any) -> str | None:
    """None if the database orders text by code point as SQLite does, else its collation's name.

    Asked of the server by sorting, not read from the catalogue: a libc or an ICU locale, of any
    version, shows up the same way.
    """
    values = ", ".join(f"('{t}')" for t in _ORDER_PROBE)
    got = conn.exec_driver_sql(f"SELECT x FROM (VALUES {values}) AS v(x) ORDER BY x").scalars().all()
    if list(got) == sorted(_ORDER_PROBE):
        return None
    name = conn.exec_driver_sql("SELECT datcollate FROM pg_database WHERE datname = current_database()").scalar()
    return str(name)


def _pg_name(url: str) -> Path:
    """The database's name, which stands for the file name in messages (``hq.path.name``)."""
    return Path(pg_database_name(url))


def _station(row: Any) -> StationInfo:
    return StationInfo(row.id, row.code, row.region, row.district, row.address, row.registered)
