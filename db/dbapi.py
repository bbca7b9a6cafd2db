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

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from db.fileformat import IN_CHUNK as _CHUNK

if TYPE_CHECKING:  # the stations reader imports this module on the window's start: no SQLAlchemy at run time
    from sqlalchemy import Connection


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def mark(postgres: bool) -> str:
    """The driver's parameter mark: psycopg's ``%s`` on a PostgreSQL HQ, sqlite3's ``?`` on a file."""
    return "%s" if postgres else "?"


def driver_sql(sql: str, postgres: bool) -> str:
    """``sql`` written with ``?`` marks (and no other ``?`` or ``%``) in the driver's own marks."""
    return sql.replace("?", "%s") if postgres else sql


def execute(conn: Connection, sql: str, params: Sequence[object] = ()) -> Any:
    """Run ``sql`` (``?`` placeholders, no ``%`` or ``?`` in its text otherwise) on the driver; its cursor."""
    raw: Any = conn.connection.driver_connection
    if not params:
        return raw.execute(sql)
    return raw.execute(driver_sql(sql, is_postgres(conn)), tuple(params))


def rows(conn: Connection, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Every row of :func:`execute`, as tuples."""
    return list(execute(conn, sql, params).fetchall())


class Driver:
    """The DBAPI connection under the merge's SQLAlchemy connection (``sqlite3`` or ``psycopg``),
    in the caller's transaction, with the driver's parameter mark.

    The merge writes many small rows per package; SQLAlchemy's per-statement work would cost
    more than the database's, so the hot statements go to the driver as plain SQL (SQLite:
    ``?`` marks and ``executemany``; PostgreSQL: ``%s`` marks, ``= ANY(array)`` for a set of
    keys, and psycopg's pipelined ``executemany``).
    """

    __slots__ = ("db", "mark", "pg")

    def __init__(self, conn: Connection) -> None:
        self.pg = is_postgres(conn)
        self.db: Any = conn.connection.driver_connection
        self.mark = mark(self.pg)

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.pg:
            with self.db.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description is not None else []
        return list(self.db.execute(sql, params).fetchall())

    def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        if self.pg:
            with self.db.cursor() as cur:
                cur.executemany(sql, params)
        else:
            self.db.executemany(sql, params)

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """New rows: ``COPY ... FROM STDIN`` on PostgreSQL (a tenth of ``executemany``'s time per row;
        a key that exists after all fails the COPY, in the package's savepoint, like an INSERT)."""
        if self.pg:
            with self.db.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            self.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({self.marks(len(cols))})", rows)

    def select_in(self, columns: str, table: str, key: str, values: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """``SELECT columns FROM table WHERE key IN values``: one array parameter on PostgreSQL,
        chunks of SQLite's variable limit on a file."""
        if not values:
            return
        if self.pg:
            yield from self.rows(f"SELECT {columns} FROM {table} WHERE {key} = ANY(%s)", (list(values),))
            return
        for start in range(0, len(values), _CHUNK):
            chunk = tuple(values[start : start + _CHUNK])
            yield from self.db.execute(
                f"SELECT {columns} FROM {table} WHERE {key} IN ({self.marks(len(chunk))})", chunk
            )

    def update(self, table: str, sets: dict[str, Any], row_id: str) -> None:
        assignments = ", ".join(f"{c} = {self.mark}" for c in sets)
        self.rows(f"UPDATE {table} SET {assignments} WHERE id = {self.mark}", (*sets.values(), row_id))
