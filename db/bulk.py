"""Bulk writes into an election file: ids made in bulk, one raw transaction, indexes rebuilt once.

Shared by the imports (official results, station lists): 100,000 stations must
import in at most twice the time of a bare ``csv`` + ``sqlite3.executemany``
(benchmarks/bench_import.py), which per-row ORM inserts are far from.
"""

from __future__ import annotations

import gc
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import eq, itemgetter
from typing import TypeVar

import numpy as np

from db.store import ROLE_HQ, ElectionStore, storage_error
from observer.errors import ImportDataError

BULK_CACHE_KIB = -16384  # SQLite page cache during a bulk import (negative: KiB): 16 MB
ROWS_PER_INSERT = 100  # rows one INSERT statement of insert_columns binds (fewer if SQLite's variable limit says so)

T = TypeVar("T")


def require_hq(hq: ElectionStore) -> None:
    """Coordinator imports only go into HQ files, never into an observer's station file."""
    if hq.role != ROLE_HQ:
        raise ImportDataError("coord.hq.not_hq", file=hq.path.name)


def new_ids(n: int) -> list[str]:
    """``n`` random UUID4 strings in ascending order, made in bulk.

    uuid.uuid4() per row costs more than the insert. Ascending ids let a bulk
    insert append to the primary-key index instead of splitting a random page
    per row (see in_index_order); the order comes from sorting the random
    bytes, so the ids are as random as uuid4's.
    """
    if n == 0:
        return []
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    # The first 8 bytes sorted: sorted text, bar a 2**-64 tie. The last 8 are independent of
    # them, so pairing them with the sorted halves keeps every id as random as uuid4's.
    head = np.ascontiguousarray(raw[:, :8]).view(">u8").ravel()
    head.sort()
    raw[:, :8] = head.view(np.uint8).reshape(n, 8)
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    text = np.empty((n, 37), dtype=np.uint8)  # 8-4-4-4-12 hex digits, then a line break
    text[:, [8, 13, 18, 23]] = ord("-")
    for start, stop, offset in ((0, 8, 0), (8, 12, 1), (12, 16, 2), (16, 20, 3), (20, 32, 4)):
        text[:, start + offset : stop + offset] = digits[:, start:stop]
    text[:, 36] = ord("\n")
    ids = text.tobytes().decode("ascii").split("\n")
    ids.pop()  # after the last line break
    return ids


def timestamp() -> str:
    """The text form db.models.UTCDateTime stores, for rows written through the DBAPI."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def existing_stations(dbapi: sqlite3.Connection) -> dict[str, str]:
    """code -> station id of every station the HQ already has."""
    return dict(dbapi.execute("SELECT code, id FROM stations"))


@contextmanager
def bulk_writer(store: ElectionStore) -> Iterator[sqlite3.Connection]:
    """One write transaction on the raw sqlite3 connection, for bulk imports.

    Foreign-key checks are switched off for its duration (the importer has
    just looked up every station id it refers to, inside the same transaction),
    and the page cache is enlarged so index pages stay in memory; both are
    restored before the connection goes back to the pool. Any failure rolls
    everything back and becomes a StorageError, except the import's own
    refusals, which pass through unchanged.
    """
    raw = store.engine.raw_connection()
    dbapi: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
    try:
        dbapi.execute("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction
        dbapi.execute(f"PRAGMA cache_size={BULK_CACHE_KIB}")
        dbapi.execute("BEGIN IMMEDIATE")  # take the write lock before reading what we will change
        try:
            yield dbapi
            dbapi.commit()
        except BaseException:
            dbapi.rollback()
            raise
    except ImportDataError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(exc, store.path) from None
    finally:
        try:
            dbapi.execute("PRAGMA cache_size=-2000")
            dbapi.execute("PRAGMA foreign_keys=ON")
        finally:
            raw.close()


Columns = Sequence[Sequence[object]]  # a block of rows as its columns, of equal length


def insert_columns(dbapi: sqlite3.Connection, head: str, row: str, blocks: Iterable[Columns]) -> None:
    """``INSERT`` the rows of ``blocks``, each given as its columns: ``head`` is ``INSERT INTO t (columns)
    VALUES``, ``row`` one row's ``(?, ...)``.

    ``executemany`` of a one-row statement pays SQLite's statement start, reset and the GIL's
    release for every row; one statement of ROWS_PER_INSERT rows pays them once for all of them.
    A statement's parameters are its rows' values one after the other, laid out by slice
    assignments (in C) from the columns, without a tuple per row. At 100,000 stations and their
    official rows that is ~0.2 s of CPU less; the same rows in the same order, in the caller's
    transaction (a failing row fails its statement, and the caller's rollback undoes all of it).
    """
    limit = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for columns in blocks:
        width, n = len(columns), len(columns[0]) if columns else 0
        if n == 0:
            continue
        per = max(1, min(ROWS_PER_INSERT, limit // width))
        flat: list[object] = [None] * (n * width)
        for c, column in enumerate(columns):
            flat[c::width] = column
        whole, step = n // per * per * width, per * width
        if whole:
            dbapi.executemany(
                f"{head} {', '.join([row] * per)}", [tuple(flat[j : j + step]) for j in range(0, whole, step)]
            )
        if whole < len(flat):
            dbapi.executemany(f"{head} {row}", [tuple(flat[j : j + width]) for j in range(whole, len(flat), width)])


def in_index_order(rows: list[int], codes: list[str]) -> list[int]:
    """Row numbers sorted by station code.

    Inserting in the order of a unique index (and giving out ids that also
    ascend) appends to the index B-trees instead of splitting a random page
    per row: at 100,000 new stations this halves the insert time.
    """
    return sorted(rows, key=codes.__getitem__)


def picker(rows: Sequence[int], *, of: int | None = None) -> Callable[[Sequence[T]], Sequence[T]]:
    """``pick(values)``: the values at ``rows``, in that order (itemgetter's loop runs in C).

    ``of``: the length of the sequences picked from; when ``rows`` are all of them in order
    (every station of a file new, in code order), pick hands them back as they are.
    """
    if of is not None and in_file_order(rows, of):
        return lambda values: values
    if len(rows) == 1:
        only = rows[0]
        return lambda values: (values[only],)
    return itemgetter(*rows)  # type: ignore[return-value]


def in_file_order(rows: Sequence[int], n: int) -> bool:
    """Whether ``rows`` is 0, 1, ..., n - 1 (compared in C)."""
    return len(rows) == n and all(map(eq, rows, range(n)))


@contextmanager
def secondary_indexes_deferred(dbapi: sqlite3.Connection, table: str, *, when: bool) -> Iterator[None]:
    """Drop ``table``'s own indexes for a bulk insert and build them again after it.

    Building an index once from the finished table is a sort; keeping four of
    them up to date row by row costs a B-tree descent per row and index. Only
    worth it (and only done) when the table starts empty. The indexes come
    back from their own CREATE statements in sqlite_master, so they are
    exactly what the schema says; DDL is transactional in SQLite, so a
    failure rolls the drop back with everything else. Indexes that belong to
    a PRIMARY KEY or UNIQUE constraint (no SQL of their own) cannot be dropped,
    and unique ones are kept so that every row is still checked as it goes in.
    Partial indexes are kept too: a row outside their WHERE costs one test of it,
    while building one again costs a scan of the whole table (the stations'
    observer and package indexes, NULL for every station an import creates:
    two scans of 100,000 rows, ~18 ms, for two empty indexes).
    """
    if not when:
        yield
        return
    # Only plain CREATE INDEX ones (origin "c"), neither unique (a unique index also checks each row as
    # it goes in) nor partial.
    plain = {
        name
        for _, name, unique, origin, partial in dbapi.execute(f'PRAGMA index_list("{table}")')
        if origin == "c" and not unique and not partial
    }
    indexes = [
        (name, sql)
        for name, sql in dbapi.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
            (table,),
        )
        if name in plain
    ]
    for index_name, _ in indexes:
        dbapi.execute('DROP INDEX "{}"'.format(index_name.replace('"', '""')))
    yield
    for _, sql in indexes:
        dbapi.execute(sql)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a bulk job.

    Building millions of small objects (cells, ints, row tuples) triggers full
    collections that scan them all again and again; none of them form cycles.
    At 100,000 stations this is a third of the import time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
