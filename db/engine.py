"""The database under an election: engine, pragmas, migrations, durable copies, errors.

An election is a SQLite file, or (an organisation's shared HQ only) a PostgreSQL
database named by a ``postgresql://`` URL (docs/postgresql.md). The pragmas,
the write lock at ``BEGIN IMMEDIATE`` and the foreign-key switch around a
migration are SQLite's; PostgreSQL runs the same migrations in one transaction
with its constraints on.

What :class:`db.store.ElectionStore` and the merge stand on, without the store's
records: the engine with WAL and ``synchronous=FULL`` (an acknowledged edit
survives a power cut), Alembic run only when a schema must change, a copy that
never leaves half a file under a real name, and the translation of OS and
SQLite failures into messages a user can act on. Everything here is also
importable from :mod:`db.store`, where callers have always found it.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from db.fileformat import is_pg_url  # noqa: F401  (re-exported: callers import it from here)
from db.revisions import MIGRATIONS
from observer.errors import StorageError


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


def _set_pragmas(dbapi_conn: sqlite3.Connection, _record: object, page_size: int | None = None) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the
    # module would otherwise run DDL (migrations) outside any transaction.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    if page_size is not None:
        # Only a new, empty file takes it, and only before journal_mode=WAL writes the header;
        # on a file with content SQLite ignores it (its page size is fixed).
        cur.execute(f"PRAGMA page_size={int(page_size)}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged edit survives a power cut
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


# What the user may type; SQLAlchemy's own name for the driver (psycopg 3) is added by make_engine.
def pg_display(url: str) -> str:
    """The URL as messages and window titles show it: the password, if any, hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(_sqlalchemy_url(url)).set(drivername="postgresql").render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is shown as its scheme alone
        return "postgresql://..."


def pg_database_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(_sqlalchemy_url(url)).database or "postgres"


def pg_with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead (the query, e.g. a socket folder, kept)."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def pg_scratch_databases(server_url: str, prefix: str) -> Iterator[Callable[[], str]]:
    """A maker of new, empty databases on the server (``server_url``: a role that may CREATE DATABASE),
    text ordered by code point as an HQ requires (docs/postgresql.md); each dropped afterwards,
    connections and all. For tests and benchmarks, which need throwaway HQs on a real server."""
    import uuid

    import psycopg
    from psycopg import sql

    made: list[str] = []

    def new() -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'").format(
                    sql.Identifier(name)
                )
            )
        made.append(name)
        return pg_with_database(server_url, name)

    try:
        yield new
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for name in made:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _sqlalchemy_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme.lower() in ("postgresql", "postgres") else url


def make_engine(target: Path | str, *, page_size: int | None = None) -> Engine:
    """The engine of an election file or PostgreSQL HQ; ``page_size``: a new file's SQLite page size."""
    if is_pg_url(target):
        # READ COMMITTED (the server's default), each unit of work one transaction; pre_ping: a
        # coordinator's window stays open for hours and the server may have dropped the connection.
        return create_engine(_sqlalchemy_url(str(target)), future=True, pool_pre_ping=True)
    engine = create_engine(f"sqlite:///{target}", future=True)
    event.listen(engine, "connect", partial(_set_pragmas, page_size=page_size))
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


def server_error(exc: BaseException, url: str) -> StorageError:
    """Translate a PostgreSQL failure (by its SQLSTATE) into a message a user can act on."""
    shown = pg_display(url)
    orig = getattr(exc, "orig", exc)
    state = str(getattr(orig, "sqlstate", "") or "")
    problem = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
    if state == "42501":  # insufficient_privilege: an analyst's read-only role tried to write
        return StorageError("error.storage.pg_read_only", url=shown)
    if state == "53100":  # disk_full, on the server
        return StorageError("error.storage.disk_full", file=shown)
    if state in ("25006", "25P02") and "read-only" in problem:  # a read-only transaction or standby
        return StorageError("error.storage.pg_read_only", url=shown)
    no_connection = not state and type(orig).__name__ == "OperationalError"  # psycopg: no server answered
    if no_connection or state.startswith(("08", "28", "3D")):  # connection, authentication, no such database
        return StorageError("error.storage.pg_unreachable", url=shown, problem=problem)
    return StorageError("error.storage.io", file=shown, problem=problem)


def error_for(exc: BaseException, path: Path, url: str | None) -> StorageError:
    """:func:`storage_error` for a file, :func:`server_error` for a PostgreSQL database."""
    return server_error(exc, url) if url else storage_error(exc, path)


# One upgrade at a time on a shared server: two coordinators opening an older HQ at once would
# otherwise both run the same ALTERs. A transaction-level advisory lock; its key is arbitrary but fixed.
_PG_MIGRATION_LOCK = 0x62717931


def _upgrade(conn: Any, path: Path) -> None:
    """Run pending migrations in one transaction.

    Batch migrations rebuild tables, which foreign keys would block; they are
    switched off for the rebuild (the pragma is ignored inside a transaction,
    hence before begin) and the result is checked before committing.
    """
    if conn.in_transaction():
        conn.rollback()
    if conn.dialect.name != "sqlite":
        # PostgreSQL alters tables in place with its constraints checked, and its DDL is transactional.
        # Alembic reads the revision after the lock is held, so the second opener finds nothing to do.
        with conn.begin():
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            _migrate(conn)
        return
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
