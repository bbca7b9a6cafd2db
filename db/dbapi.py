"""Plain SQL on the driver's own connection, written once for SQLite and PostgreSQL.

The aggregation reads hundreds of thousands of small rows; SQLAlchemy's Row objects would cost
more than the query. Its reads therefore go to the DB-API connection under the SQLAlchemy one
(``sqlite3`` for a file, ``psycopg`` for a PostgreSQL HQ), with the SQL written in the subset
both engines share and ``?`` placeholders, turned into psycopg's ``%s`` here. SQL that only one
engine has (SQLite's ``group_concat``/``typeof``, PostgreSQL's ``DISTINCT ON``) is chosen by the
caller with :func:`is_postgres`, where the two really differ.

Readers never lock rows (no ``FOR UPDATE``): on PostgreSQL a read sees the data committed when
the statement began (MVCC at READ COMMITTED) and a writer is never kept waiting by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def execute(conn: Connection, sql: str, params: Sequence[object] = ()) -> Any:
    """Run ``sql`` (``?`` placeholders, no ``%`` or ``?`` in its text otherwise) on the driver; its cursor."""
    raw: Any = conn.connection.driver_connection
    if not params:
        return raw.execute(sql)
    if is_postgres(conn):
        sql = sql.replace("?", "%s")
    return raw.execute(sql, tuple(params))


def rows(conn: Connection, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Every row of :func:`execute`, as tuples."""
    return list(execute(conn, sql, params).fetchall())
