"""Bulk writes into a PostgreSQL HQ: COPY instead of SQLite's ``executemany``.

:mod:`db.bulk` writes an import through the raw ``sqlite3`` connection, with
SQLite's PRAGMAs; a PostgreSQL HQ (docs/postgresql.md) gets the same rows through
``COPY ... FROM STDIN``, the server's fast path, in one transaction. The import's
parsing and checks stay where they are; only its last step, the write, differs:

    if store.url:  # db/stations_import.py, in place of bulk_writer + _write_stations
        created, updated = write_stations(store, codes, regions, texts, reg_values)

(the station list: the same arguments as ``db.stations_import._write_stations``
and the same result), and ``pg_official_writer`` for the official results
(``db.official``: the same rows as SQLite's, the figures' blob as ``bytea``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import DatabaseError, OperationalError

from db.bulk import Columns, in_index_order, new_ids, timestamp
from db.engine import server_error
from db.official import OFFICIAL_COLUMNS, STAMPS, STATION_COLUMNS, OfficialWriter
from db.store import ElectionStore
from observer.errors import ImportDataError

# What the import may set, in the stations table's column order.
_STATION_TEXTS = ("district", "address")


@contextmanager
def pg_writer(store: ElectionStore) -> Iterator[Any]:
    """One transaction on the raw psycopg connection; failures roll back and become a StorageError
    (the import's own refusals pass through unchanged)."""
    if not store.url:
        raise ValueError("pg_writer is for a PostgreSQL HQ; a file goes through db.bulk.bulk_writer")
    raw = store.engine.raw_connection()
    conn: Any = raw.driver_connection  # psycopg.Connection (typed loosely: psycopg is optional for mypy)
    try:
        with conn.transaction():
            yield conn
    except ImportDataError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg") or isinstance(exc, (OperationalError, DatabaseError)):
            raise server_error(exc, store.url) from None
        raise
    finally:
        raw.close()


def write_stations(
    store: ElectionStore,
    codes: list[str],
    regions: list[str],
    texts: dict[str, list[str]],
    reg_values: list[int | None] | None,
) -> tuple[int, int]:
    """Insert the new stations and update the known ones, as the SQLite import does; (created, updated).

    Only the columns the file has are overwritten (a list without addresses keeps the addresses
    a previous list gave). The table is locked against other writers of stations for the
    transaction (as SQLite's BEGIN IMMEDIATE does), so two imports at once cannot both insert a code.
    """
    now = timestamp()
    with pg_writer(store) as conn:
        conn.execute("LOCK TABLE stations IN SHARE ROW EXCLUSIVE MODE")
        known = dict(conn.execute("SELECT code, id FROM stations").fetchall())
        new_rows = in_index_order([i for i, c in enumerate(codes) if c not in known], codes)
        old_rows = [i for i, c in enumerate(codes) if c in known]
        ids = new_ids(len(new_rows))
        with conn.cursor() as cur:
            copy_sql = (
                "COPY stations (id, code, region, district, address, registered, created_at, updated_at) FROM STDIN"
            )
            with cur.copy(copy_sql) as copy:
                for sid, i in zip(ids, new_rows):
                    copy.write_row(
                        (
                            sid,
                            codes[i],
                            regions[i],
                            *(texts[f][i] if f in texts else "" for f in _STATION_TEXTS),
                            reg_values[i] if reg_values is not None else None,
                            now,
                            now,
                        )
                    )
            if old_rows:
                _update_known(cur, known, codes, regions, texts, reg_values, old_rows, now)
    return len(new_rows), len(old_rows)


def _update_known(
    cur: Any,
    known: dict[str, str],
    codes: list[str],
    regions: list[str],
    texts: dict[str, list[str]],
    reg_values: list[int | None] | None,
    rows: list[int],
    now: str,
) -> None:
    """The known stations' new values, copied into a temporary table, then one UPDATE ... FROM it."""
    fields = ["region", *(f for f in _STATION_TEXTS if f in texts), *(["registered"] if reg_values is not None else [])]
    kinds = {"region": "text", "district": "text", "address": "text", "registered": "integer"}
    columns = ", ".join(f"{f} {kinds[f]}" for f in fields)
    cur.execute(f"CREATE TEMPORARY TABLE station_updates (id text PRIMARY KEY, {columns}) ON COMMIT DROP")
    with cur.copy(f"COPY station_updates (id, {', '.join(fields)}) FROM STDIN") as copy:
        for i in rows:
            copy.write_row(
                (
                    known[codes[i]],
                    regions[i],
                    *(texts[f][i] for f in _STATION_TEXTS if f in texts),
                    *([reg_values[i]] if reg_values is not None else []),
                )
            )
    assignments = ", ".join(f"{f} = u.{f}" for f in fields)
    cur.execute(
        f"UPDATE stations AS s SET {assignments}, updated_at = %s FROM station_updates AS u WHERE s.id = u.id", (now,)
    )


class _PgOfficialWriter:
    """db.official.OfficialWriter on a PostgreSQL transaction: COPY for the rows, an upsert for meta."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def known(self) -> dict[str, str]:
        # Other writers of stations and of the official figures wait for this import (as SQLite's
        # BEGIN IMMEDIATE makes them); readers do not, and see the old figures until the commit.
        self.conn.execute("LOCK TABLE stations, official_results IN SHARE ROW EXCLUSIVE MODE")
        return dict(self.conn.execute("SELECT code, id FROM stations").fetchall())

    def clear_official(self) -> int:
        # DELETE, not TRUNCATE: TRUNCATE's ACCESS EXCLUSIVE lock would block every reader until the commit.
        return int(self.conn.execute("DELETE FROM official_results").rowcount)

    def add_stations(self, columns: Columns, *, first: bool, now: str) -> None:
        self._copy("stations", f"{STATION_COLUMNS}, {STAMPS}", [columns], (now, now))

    def add_official(self, blocks: Iterable[Columns]) -> None:
        self._copy("official_results", OFFICIAL_COLUMNS, blocks, ())

    def put_meta(self, pairs: list[tuple[str, str]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                pairs,
            )

    def _copy(self, table: str, columns: str, blocks: Iterable[Columns], tail: tuple[object, ...]) -> None:
        """COPY the rows of ``blocks`` (each block its columns), each row followed by the constants ``tail``."""
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for block in blocks:
                for row in zip(*block):
                    copy.write_row(row + tail)


@contextmanager
def pg_official_writer(store: ElectionStore) -> Iterator[OfficialWriter]:
    """The official import's writes on a PostgreSQL HQ, in one transaction (see db.official)."""
    with pg_writer(store) as conn:
        yield _PgOfficialWriter(conn)
