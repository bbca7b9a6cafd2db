"""Importing the official per-station results (the CEC's figures) into an HQ file.

The CSV and its mapping file are described in docs/official-import.md. The
import is all-or-nothing: every row is checked first, every bad row is
reported with its line, and only a clean file is written, in one transaction
that replaces the previous official figures. Stations the HQ does not know yet
are created from the row's region, district and code.

Speed matters (100,000 stations must import in at most twice the time of a
bare ``csv`` + ``sqlite3.executemany``), so columns are converted with numpy in
one go, and the rows go to SQLite through the DBAPI ``executemany``; a slow,
cell-by-cell pass runs only when the fast one finds something wrong, to say
where.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import TypeVar, cast

import numpy as np

from db.store import ROLE_HQ, ElectionStore, storage_error
from observer.csvio import (
    ColumnMapping,
    CsvTable,
    ImportReport,
    NotPlainDigits,
    ProblemList,
    RegionResolver,
    RowsRefused,
    parse_count,
    parse_mapping,
    plain_digits,
    read_csv_chunks,
    read_mapping,
    resolve_columns,
)
from observer.errors import ImportDataError
from observer.evidence import sha256_file
from observer.i18n import tr
from observer.template import ElectionTemplate

MISSING = -1  # a figure the source does not give; real counts are never negative
MAX_COUNT = 100_000_000  # no station has this many of anything; larger is a broken cell
LAYOUT_META = "official_layout"
BULK_CACHE_KIB = -16384  # SQLite page cache during a bulk import (negative: KiB): 16 MB
WRITE_BLOCK = 10_000  # rows made at a time for executemany: small enough to keep memory flat


T = TypeVar("T")


def require_hq(hq: ElectionStore) -> None:
    """Coordinator imports only go into HQ files, never into an observer's station file."""
    if hq.role != ROLE_HQ:
        raise ImportDataError("coord.hq.not_hq", file=hq.path.name)


def load_official_mapping(path: str | Path, template: ElectionTemplate) -> ColumnMapping:
    data, origin = read_mapping(path)
    mapping = parse_mapping(
        data,
        origin,
        value_keys=template.all_keys,
        line_keys=template.line_keys,
        party_keys=template.party_keys,
        required_station=("code",),
        station_fields=("code", "region", "district", "address"),
    )
    if not mapping.values:
        raise ImportDataError("coord.map.no_values", file=origin)
    return mapping


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
    raw = raw[np.argsort(raw.view(">u8")[:, 0], kind="stable")]  # by the first 8 bytes: sorted text, bar a 2**-64 tie
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.full((n, 37), ord("-"), dtype=np.uint8)  # 8-4-4-4-12 hex digits, then a line break
    for start, stop, offset in ((0, 8, 0), (8, 12, 1), (12, 16, 2), (16, 20, 3), (20, 32, 4)):
        text[:, start + offset : stop + offset] = digits[:, start:stop]
    text[:, 36] = ord("\n")
    return text.tobytes().decode("ascii").split("\n")[:n]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def timestamp() -> str:
    """The text form db.models.UTCDateTime stores, for rows written through the DBAPI."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def column_values(table: CsvTable, idx: int) -> list[str]:
    """One column's cells ("" where a short row lacks it)."""
    return table.column(idx)


def parse_counts(table: CsvTable, idx: int, header: str, problems: ProblemList) -> np.ndarray:
    """One column as int64 (MISSING where empty); bad cells go to ``problems`` with their line."""
    cells = column_values(table, idx)
    try:
        arr = np.array(cells, dtype=np.int64)
        if (len(arr) == 0 or (arr.min() >= 0 and arr.max() <= MAX_COUNT)) and plain_digits(cells):
            return arr
    except (ValueError, OverflowError):
        pass
    # Slow path: empty cells, thousands separators or real errors; find out which, per cell.
    out = np.empty(len(cells), dtype=np.int64)
    for i, cell in enumerate(cells):
        try:
            value = parse_count(cell)
        except NotPlainDigits:
            problems.add(table.lines[i], tr("coord.row.digits", column=header, value=cell.strip()[:40]))
            out[i] = MISSING
            continue
        except ValueError:
            problems.add(table.lines[i], tr("coord.row.not_count", column=header, value=cell.strip()[:40]))
            out[i] = MISSING
            continue
        if value is not None and value > MAX_COUNT:
            problems.add(table.lines[i], tr("coord.row.too_large", column=header, value=value))
            value = None
        out[i] = MISSING if value is None else value
    return out


def sum_columns(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Add columns cell by cell; empty parts count 0, but all parts empty stays MISSING."""
    if len(parts) == 1:
        return parts[0]
    stacked = np.stack(parts)
    present = stacked >= 0
    total = np.where(present, stacked, 0).sum(axis=0)
    return np.where(present.any(axis=0), total, MISSING)


def clipped(cells: Sequence[str], limit: int) -> list[str]:
    """Cells stripped and cut to ``limit`` characters (the strip runs in C; the cut only when needed)."""
    out = list(map(str.strip, cells))
    if out and max(map(len, out)) > limit:
        out = [c[:limit] for c in out]
    return out


def check_row_widths(table: CsvTable, problems: ProblemList) -> None:
    width = len(table.header)
    widths = list(map(len, table.rows))
    if not widths or (min(widths) == width and max(widths) == width):
        return  # the usual case, checked in C
    for line, row in table.iter_rows():
        if len(row) < width:
            problems.add(line, tr("coord.row.short", found=len(row), expected=width))
        elif len(row) > width and any(f.strip() for f in row[width:]):
            problems.add(line, tr("coord.row.long", found=len(row), expected=width))


def station_codes(
    table: CsvTable, idx: int, header: str, problems: ProblemList, first_line: dict[str, int] | None = None
) -> list[str]:
    """Station codes, stripped; empty and repeated codes are problems.

    ``first_line`` (code -> line) carries what earlier chunks of the file saw.
    """
    codes = list(map(str.strip, column_values(table, idx)))
    first_line = {} if first_line is None else first_line
    if (
        codes
        and min(map(len, codes)) > 0
        and max(map(len, codes)) <= 32
        and "".join(codes).isprintable()
        and len(set(codes)) == len(codes)
        and first_line.keys().isdisjoint(codes)
    ):
        first_line.update(zip(codes, table.lines))  # the usual file: every check passed in C
        return codes
    for line, code in zip(table.lines, codes):
        if not code:
            problems.add(line, tr("coord.row.no_code", column=header))
        elif len(code) > 32:
            problems.add(line, tr("coord.row.code_too_long", code=code[:40]))
        elif not code.isprintable():  # a line break or control character inside a quoted cell
            problems.add(line, tr("coord.row.code_unprintable", code=repr(code)[:40]))
        elif code in first_line:
            problems.add(line, tr("coord.row.duplicate", code=code, first=first_line[code]))
        else:
            first_line[code] = line
    return codes


def region_codes(
    table: CsvTable, idx: int, header: str, date: str, problems: ProblemList, resolver: RegionResolver | None = None
) -> list[str]:
    resolver = resolver or RegionResolver(date)
    texts = column_values(table, idx)
    found = {text: resolver.code(text) for text in set(texts)}  # a country has a few dozen spellings
    if None not in found.values():
        return list(map(cast("dict[str, str]", found).__getitem__, texts))  # no None: checked above
    out: list[str] = []
    for line, text in zip(table.lines, texts):
        code = found[text]
        if code is None:
            problems.add(line, tr("coord.row.unknown_region", value=text.strip()[:60], column=header))
            out.append("")
        else:
            out.append(code)
    return out


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


def in_index_order(rows: list[int], codes: list[str]) -> list[int]:
    """Row numbers sorted by station code.

    Inserting in the order of a unique index (and giving out ids that also
    ascend) appends to the index B-trees instead of splitting a random page
    per row: at 100,000 new stations this halves the insert time.
    """
    return sorted(rows, key=codes.__getitem__)


def picker(rows: Sequence[int]) -> Callable[[Sequence[T]], Sequence[T]]:
    """``pick(values)``: the values at ``rows``, in that order (itemgetter's loop runs in C)."""
    if len(rows) == 1:
        only = rows[0]
        return lambda values: (values[only],)
    return itemgetter(*rows)  # type: ignore[return-value]


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
    """
    if not when:
        yield
        return
    # Only plain CREATE INDEX ones (origin "c"), not unique: a unique index also checks each row as it goes in.
    plain = {
        name
        for _, name, unique, origin, _ in dbapi.execute(f'PRAGMA index_list("{table}")')
        if origin == "c" and not unique
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


def import_official(hq: ElectionStore, csv_path: str | Path, map_path: str | Path) -> ImportReport:
    """Replace the HQ's official results with those in ``csv_path``; see the module docstring."""
    with gc_paused():
        return _import_official(hq, csv_path, map_path)


def _figures(
    table: CsvTable,
    keys: Sequence[str],
    mapping: ColumnMapping,
    value_cols: dict[str, tuple[int, ...]],
    problems: ProblemList,
) -> np.ndarray:
    """One chunk's figures (rows x keys, MISSING where not given), summed columns added up."""
    matrix = np.full((len(table.rows), len(keys)), MISSING, dtype=np.int64)
    parsed = clean_counts(table, sorted({idx for key in keys for idx in value_cols.get(key, ())}))
    for k, key in enumerate(keys):
        if key not in value_cols:
            continue
        parts = []
        for idx, name in zip(value_cols[key], mapping.values[key]):
            if idx not in parsed:
                parsed[idx] = parse_counts(table, idx, name, problems)
            parts.append(parsed[idx])
        matrix[:, k] = sum_columns(parts)
    return matrix


def clean_counts(table: CsvTable, idxs: Sequence[int]) -> dict[int, np.ndarray]:
    """Columns ``idxs`` as int64 in one conversion when every cell is a plain count, else {}.

    One numpy conversion of all the cells costs less than one per column. Anything
    else (an empty cell, "1 234", a word, a short row) leaves the columns to
    parse_counts, which says which cell is wrong.
    """
    if len(idxs) < 2:
        return {}
    try:
        cells = list(chain.from_iterable(map(itemgetter(*idxs), table.rows)))
        flat = np.array(cells, dtype=np.int64)
    except (ValueError, OverflowError, IndexError):
        return {}
    if not plain_digits(cells):
        return {}  # "1_000" or other scripts' digits: parse_counts refuses them cell by cell
    if len(flat) and (flat.min() < 0 or flat.max() > MAX_COUNT):
        return {}
    block = flat.reshape(-1, len(idxs))
    return {idx: block[:, j] for j, idx in enumerate(idxs)}


def _import_official(hq: ElectionStore, csv_path: str | Path, map_path: str | Path) -> ImportReport:
    require_hq(hq)
    template = hq.template
    mapping = load_official_mapping(map_path, template)
    head, chunks = read_csv_chunks(csv_path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    station_cols, value_cols = resolve_columns(head, mapping)
    keys = template.all_keys
    problems = ProblemList()
    seen: dict[str, int] = {}
    resolver = RegionResolver(template.date)
    codes: list[str] = []
    regions: list[str] | None = [] if "region" in station_cols else None
    districts: list[str] | None = [] if "district" in station_cols else None
    addresses: list[str] | None = [] if "address" in station_cols else None
    lines: list[int] = []
    blocks: list[np.ndarray] = []
    # Chunk by chunk: each chunk's cells become numbers and short lists, and its strings go.
    for table in chunks:
        check_row_widths(table, problems)
        codes += station_codes(table, station_cols["code"], mapping.station["code"], problems, seen)
        if regions is not None:
            regions += region_codes(
                table, station_cols["region"], mapping.station["region"], template.date, problems, resolver
            )
        if districts is not None:
            districts += clipped(column_values(table, station_cols["district"]), 200)
        if addresses is not None:
            addresses += clipped(column_values(table, station_cols["address"]), 500)
        lines += table.lines
        blocks.append(_figures(table, keys, mapping, value_cols, problems))
    if not codes:
        raise ImportDataError("coord.csv.no_rows", file=head.name)
    matrix = np.concatenate(blocks)
    n = len(codes)
    for bad in np.flatnonzero(matrix.max(axis=1, initial=0) > MAX_COUNT).tolist():  # sums can pass the per-cell limit
        problems.add(lines[bad], tr("coord.row.too_large", column="+", value=int(matrix[bad].max())))

    src = Path(csv_path)
    with bulk_writer(hq) as dbapi:
        known = existing_stations(dbapi)
        if known:
            new_rows = [i for i, code in enumerate(codes) if code and code not in known]
        else:  # an empty HQ: every station is new
            new_rows = list(range(n)) if all(codes) else [i for i, code in enumerate(codes) if code]
        if new_rows and regions is None:
            # Without a region column a new station would land nowhere in the regional tables.
            for i in new_rows:
                problems.add(lines[i], tr("coord.row.unknown_station", code=codes[i]))
        if problems:
            raise RowsRefused(head.name, problems)

        now = timestamp()
        name = src.name[:255]
        digest = sha256_file(src)
        replaced = dbapi.execute("SELECT count(*) FROM official_results").fetchone()[0]
        dbapi.execute("DELETE FROM official_results")

        # New stations in code order with ids made in order: the id and code indexes then both
        # grow at their right edge (see in_index_order).
        new_rows = in_index_order(new_rows, codes)
        created_ids = new_ids(len(new_rows))
        station_ids = [known.get(c, "") for c in codes] if known else [""] * n
        for sid, i in zip(created_ids, new_rows):
            station_ids[i] = sid
        if new_rows:
            pick = picker(new_rows)
            if "registered" in keys:
                reg = matrix[new_rows, keys.index("registered")].tolist()
                registered: Iterable[int | None] = reg if min(reg) >= 0 else [v if v >= 0 else None for v in reg]
            else:
                registered = repeat(None)
            blank = repeat("")
            with secondary_indexes_deferred(dbapi, "stations", when=not known):
                dbapi.executemany(
                    "INSERT INTO stations (id, code, region, district, address, registered, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    zip(
                        created_ids,
                        pick(codes),
                        pick(regions) if regions else blank,
                        pick(districts) if districts else blank,
                        pick(addresses) if addresses else blank,
                        registered,
                        repeat(now),
                        repeat(now),
                    ),
                )
        del created_ids, known

        # Rows in station-id order with ids made in order: both indexes then grow at their
        # right edge instead of touching a random page per row (3x faster at 100,000 rows).
        # When every station is new, code order is already station-id order.
        order = new_rows if len(new_rows) == n else sorted(range(n), key=station_ids.__getitem__)
        dbapi.executemany(
            "INSERT INTO official_results (id, station_id, values_json, values_blob, source_file, source_line, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            official_rows(keys, matrix, order, station_ids, lines, name, now),
        )
        dbapi.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [
                (LAYOUT_META, json.dumps(list(keys))),
                ("official_file", src.name),
                ("official_sha256", digest),
                ("official_rows", str(n)),
                ("official_imported_at", now),
            ],
        )
    return ImportReport(
        file=src.name,
        encoding=head.encoding,
        delimiter=head.delimiter,
        rows=n,
        stations_created=len(new_rows),
        stations_updated=0,
        records_written=n,
        replaced=int(replaced),
    )


def official_rows(
    keys: Sequence[str],
    matrix: np.ndarray,
    order: Sequence[int],
    station_ids: Sequence[str],
    lines: Sequence[int],
    source: str,
    now: str,
) -> Iterator[tuple[str, str, str, bytes, str, int, str, str]]:
    """The official_results rows in ``order``, made a block at a time as executemany asks.

    Only one block's JSON text and tuples exist at once, not 100,000 rows' worth.
    """
    ids = new_ids(len(order))
    width = 8 * len(keys)
    for start in range(0, len(order), WRITE_BLOCK):
        block = order[start : start + WRITE_BLOCK]
        figures = matrix[block]
        packed = figures.astype("<i8").tobytes()
        pick = picker(block)
        yield from zip(
            ids[start : start + WRITE_BLOCK],
            pick(station_ids),
            official_json(keys, figures),
            [packed[i : i + width] for i in range(0, len(packed), width)],
            repeat(source),
            pick(lines),
            repeat(now),
            repeat(now),
        )


def official_json(keys: Sequence[str], matrix: np.ndarray) -> list[str]:
    """The readable ``values_json`` copy of each row, {key: int or null}, built without json.dumps per row.

    Complete rows are made all at once: each count's text is looked up (counts of a station are
    small), the pieces are joined into one string and split at the line breaks. Larger counts take
    one ``%`` over the whole block; rows with a figure not given go through json.dumps.
    """
    n, k = matrix.shape[0], len(keys)
    if n == 0:
        return []
    if int(matrix.max()) < SMALL_COUNTS:
        pieces = np.empty((n, 2 * k + 1), dtype=object)
        pieces[:, 0 : 2 * k : 2] = [("{" if j == 0 else ",") + f'"{key}":' for j, key in enumerate(keys)]
        pieces[:, 1 : 2 * k : 2] = _count_texts()[np.maximum(matrix, 0)]
        pieces[:, 2 * k] = "}\n"
        text = "".join(pieces.ravel().tolist())
    else:
        fmt = "{" + ",".join(f'"{key}":%d' for key in keys) + "}\n"
        text = (fmt * n) % tuple(matrix.ravel().tolist())
    out = text.split("\n")[:n]
    for i in np.flatnonzero((matrix < 0).any(axis=1)).tolist():
        out[i] = json.dumps(
            {key: (int(v) if v >= 0 else None) for key, v in zip(keys, matrix[i])}, separators=(",", ":")
        )
    return out


SMALL_COUNTS = 1 << 14  # counts below this are looked up, not formatted (a station has a few thousand voters)


@cache
def _count_texts() -> np.ndarray:
    return np.array([str(i) for i in range(SMALL_COUNTS)], dtype=object)


def official_layout(hq: ElectionStore) -> tuple[str, ...]:
    """The key order of the packed official figures (the template's keys when nothing was imported)."""
    raw = hq.meta(LAYOUT_META)
    return tuple(json.loads(raw)) if raw else hq.template.all_keys


def official_values(hq: ElectionStore, station_id: str) -> dict[str, int | None] | None:
    """The official figures of one station, or None when the official results do not cover it."""
    with hq.engine.connect() as conn:
        raw = conn.exec_driver_sql(
            "SELECT values_json FROM official_results WHERE station_id = ?", (station_id,)
        ).scalar()
    if raw is None:
        return None
    data = json.loads(raw)
    return {k: (int(v) if isinstance(v, int) else None) for k, v in data.items()}


def official_source(hq: ElectionStore) -> dict[str, str] | None:
    """File name, SHA-256, row count and time of the official results in force (for reports)."""
    name = hq.meta("official_file")
    if not name:
        return None
    return {
        "file": name,
        "sha256": hq.meta("official_sha256") or "",
        "rows": hq.meta("official_rows") or "0",
        "imported_at": hq.meta("official_imported_at") or "",
    }
