"""The SQLite file under an election: engine, pragmas, migrations, durable copies, errors.

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
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

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
