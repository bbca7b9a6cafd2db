"""Importing the official per-station results (the CEC's figures) into an HQ file.

The CSV and its mapping file are described in docs/official-import.md. The
import is all-or-nothing: every row is checked first, every bad row is
reported with its line, and only a clean file is written, in one transaction
that replaces the previous official figures. Stations the HQ does not know yet
are created from the row's region, district and code.

Speed matters (100,000 stations must import in at most twice the time of a
bare ``csv`` + ``sqlite3.executemany``), so columns are converted with numpy in
one go, and the rows go to SQLite through the DBAPI, 100 rows a statement
(:func:`db.bulk.insert_columns`); a slow,
cell-by-cell pass runs only when the fast one finds something wrong, to say
where.

A PostgreSQL HQ gets the same rows in the same transaction shape through ``COPY``
(:func:`db.pg_bulk.pg_official_writer`); both sides implement :class:`OfficialWriter`,
so the checks and the row making are shared.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import text

from db.bulk import (
    Columns,
    bulk_writer,
    existing_stations,
    gc_paused,
    in_file_order,
    in_index_order,
    insert_columns,
    new_ids,
    picker,
    require_hq,
    secondary_indexes_deferred,
    timestamp,
)
from db.import_columns import (
    MAX_COUNT,
    MISSING,
    check_row_widths,
    clipped,
    column_values,
    figures,
    region_codes,
    station_codes,
)
from db.store import ElectionStore
from observer.csvio import CsvTable, ImportReport, ProblemList, RowsRefused, read_csv_chunks
from observer.errors import ImportDataError
from observer.evidence import sha256_file
from observer.i18n import tr
from observer.mapping import ColumnMapping, parse_mapping, read_mapping, resolve_columns
from observer.template import ElectionTemplate
from observer.units import UnitResolver

__all__ = ["MISSING", "LAYOUT_META", "gc_paused", "import_official", "new_ids", "unpacked"]

LAYOUT_META = "official_layout"
# The columns the import writes, in the order official_rows and _create_stations make them; every
# station also gets the import's time as created_at and updated_at, a constant a writer adds itself
# (SQLite: literals in the statement, not 2 values bound per row). An official row has no time or
# file of its own: they are the import's, in meta (revision 0013).
STATION_COLUMNS = "id, code, region, district, address, registered"
OFFICIAL_COLUMNS = "station_id, values_blob, source_line"
STAMPS = "created_at, updated_at"
WRITE_BLOCK = 10_000  # rows made at a time for executemany: small enough to keep memory flat


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


def import_official(hq: ElectionStore, csv_path: str | Path, map_path: str | Path) -> ImportReport:
    """Replace the HQ's official results with those in ``csv_path``; see the module docstring."""
    with gc_paused():
        return _import_official(hq, csv_path, map_path)


@dataclass
class _Parsed:
    """The official file, read and checked: one entry per row, the figures as a rows x keys matrix."""

    head: CsvTable
    codes: list[str] = field(default_factory=list)
    regions: list[str] | None = None
    districts: list[str] | None = None
    addresses: list[str] | None = None
    lines: list[int] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int64))
    problems: ProblemList = field(default_factory=ProblemList)


def _read_official(template: ElectionTemplate, mapping: ColumnMapping, csv_path: str | Path) -> _Parsed:
    """Every row of the file converted and checked; problems collected, nothing written."""
    head, chunks = read_csv_chunks(csv_path, encoding=mapping.encoding, delimiter=mapping.delimiter, plain=True)
    station_cols, value_cols, key = resolve_columns(head, mapping)
    keys = template.all_keys
    out = _Parsed(head)
    seen: dict[str, int] = {}
    resolver = UnitResolver(template.units, template.date)
    out.regions = [] if "region" in station_cols else None
    out.districts = [] if "district" in station_cols else None
    out.addresses = [] if "address" in station_cols else None
    blocks: list[np.ndarray] = []
    # Chunk by chunk: each chunk's cells become numbers and short lists, and its strings go.
    for table in chunks:
        check_row_widths(table, out.problems)
        out.codes += station_codes(table, key, mapping, out.problems, seen)
        if out.regions is not None:
            out.regions += region_codes(
                table, station_cols["region"], mapping.station["region"], out.problems, resolver
            )
        if out.districts is not None:
            out.districts += clipped(column_values(table, station_cols["district"]), 200)
        if out.addresses is not None:
            out.addresses += clipped(column_values(table, station_cols["address"]), 500)
        out.lines += table.lines
        blocks.append(figures(table, keys, mapping, value_cols, out.problems))
    if not out.codes:
        raise ImportDataError("coord.csv.no_rows", file=head.name)
    out.matrix = np.concatenate(blocks)
    for bad in np.flatnonzero(out.matrix.max(axis=1, initial=0) > MAX_COUNT).tolist():  # sums can pass the cell limit
        out.problems.add(out.lines[bad], tr("coord.row.too_large", column="+", value=int(out.matrix[bad].max())))
    return out


def _import_official(hq: ElectionStore, csv_path: str | Path, map_path: str | Path) -> ImportReport:
    require_hq(hq)
    template = hq.template
    parsed = _read_official(template, load_official_mapping(map_path, template), csv_path)
    codes, n = parsed.codes, len(parsed.codes)
    src = Path(csv_path)
    if hq.url:  # a PostgreSQL HQ: the same rows through COPY (db/pg_bulk.py)
        from db.pg_bulk import pg_official_writer

        writer: AbstractContextManager[OfficialWriter] = pg_official_writer(hq)
    else:
        writer = _sqlite_writer(hq)
    with writer as out:
        known = out.known()
        new_rows = _new_rows(parsed, known)
        now = timestamp()
        digest = parsed.head.sha256 or sha256_file(src)
        replaced = out.clear_official()
        # New stations in code order with ids made in order: the id and code indexes then both
        # grow at their right edge (see in_index_order).
        new_rows = in_index_order(new_rows, codes)
        created = _create_stations(out, parsed, template.all_keys, new_rows, now, first=not known)
        # Rows in station-id order: the official table's key then grows at its right edge instead
        # of touching a random page per row (3x faster at 100,000 rows). When every station is new,
        # code order is already station-id order, and the ids in that order are the ones just made.
        if len(new_rows) == n:
            order, in_order = new_rows, created
        else:
            station_ids = [known.get(c, "") for c in codes]
            for sid, i in zip(created, new_rows):
                station_ids[i] = sid
            order = sorted(range(n), key=station_ids.__getitem__)
            in_order = list(picker(order)(station_ids))
        out.add_official(official_rows(template.all_keys, parsed.matrix, order, in_order, parsed.lines))
        out.put_meta(
            [
                (LAYOUT_META, json.dumps(list(template.all_keys))),
                ("official_file", src.name),
                ("official_sha256", digest),
                ("official_rows", str(n)),
                ("official_imported_at", now),
            ]
        )
    return ImportReport(
        file=src.name,
        encoding=parsed.head.encoding,
        delimiter=parsed.head.delimiter,
        rows=n,
        stations_created=len(new_rows),
        stations_updated=0,
        records_written=n,
        replaced=int(replaced),
    )


def _new_rows(parsed: _Parsed, known: dict[str, str]) -> list[int]:
    """The rows whose station the HQ does not know yet; refuses the file if anything is wrong with it."""
    codes = parsed.codes
    if known:
        new_rows = [i for i, code in enumerate(codes) if code and code not in known]
    else:  # an empty HQ: every station is new
        new_rows = list(range(len(codes))) if all(codes) else [i for i, code in enumerate(codes) if code]
    if new_rows and parsed.regions is None:
        # Without a region column a new station would land nowhere in the regional tables.
        for i in new_rows:
            parsed.problems.add(parsed.lines[i], tr("coord.row.unknown_station", code=codes[i]))
    if parsed.problems:
        raise RowsRefused(parsed.head.name, parsed.problems)
    return new_rows


class OfficialWriter(Protocol):
    """The import's writes, in one transaction: SQLite's executemany here, PostgreSQL's COPY in db/pg_bulk.py."""

    def known(self) -> dict[str, str]: ...  # code -> id of the stations the HQ has
    def clear_official(self) -> int: ...  # delete the official rows in force; how many there were
    def add_stations(self, columns: Columns, *, first: bool, now: str) -> None: ...  # STATION_COLUMNS
    def add_official(self, blocks: Iterable[Columns]) -> None: ...  # OFFICIAL_COLUMNS, a block at a time
    def put_meta(self, pairs: list[tuple[str, str]]) -> None: ...


class _SqliteWriter:
    def __init__(self, dbapi: sqlite3.Connection) -> None:
        self.dbapi = dbapi

    def known(self) -> dict[str, str]:
        return existing_stations(self.dbapi)

    def clear_official(self) -> int:
        replaced = int(self.dbapi.execute("SELECT count(*) FROM official_results").fetchone()[0])
        self.dbapi.execute("DELETE FROM official_results")
        return replaced

    def add_stations(self, columns: Columns, *, first: bool, now: str) -> None:
        stamp = sql_text(now)
        with secondary_indexes_deferred(self.dbapi, "stations", when=first):
            insert_columns(
                self.dbapi,
                f"INSERT INTO stations ({STATION_COLUMNS}, {STAMPS}) VALUES",
                f"(?, ?, ?, ?, ?, ?, {stamp}, {stamp})",
                [columns],
            )

    def add_official(self, blocks: Iterable[Columns]) -> None:
        insert_columns(self.dbapi, f"INSERT INTO official_results ({OFFICIAL_COLUMNS}) VALUES", "(?, ?, ?)", blocks)

    def put_meta(self, pairs: list[tuple[str, str]]) -> None:
        self.dbapi.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", pairs)


@contextmanager
def _sqlite_writer(hq: ElectionStore) -> Iterator[OfficialWriter]:
    with bulk_writer(hq) as dbapi:
        yield _SqliteWriter(dbapi)


def _create_stations(
    out: OfficialWriter, parsed: _Parsed, keys: Sequence[str], new_rows: list[int], now: str, *, first: bool
) -> list[str]:
    """Insert the stations of rows ``new_rows`` (the HQ does not know them yet); their new ids, in that order."""
    codes = parsed.codes
    created_ids = new_ids(len(new_rows))
    if not new_rows:
        return created_ids
    pick = picker(new_rows, of=len(codes))
    n = len(new_rows)
    if "registered" in keys:
        reg = parsed.matrix[new_rows, list(keys).index("registered")].tolist()
        registered: Sequence[int | None] = reg if min(reg) >= 0 else [v if v >= 0 else None for v in reg]
    else:
        registered = [None] * n
    blank = [""] * n
    out.add_stations(
        (
            created_ids,
            pick(codes),
            pick(parsed.regions) if parsed.regions else blank,
            pick(parsed.districts) if parsed.districts else blank,
            pick(parsed.addresses) if parsed.addresses else blank,
            registered,
        ),
        first=first,
        now=now,
    )
    return created_ids


def official_rows(
    keys: Sequence[str],
    matrix: np.ndarray,
    order: Sequence[int],
    station_ids: Sequence[str],
    lines: Sequence[int],
) -> Iterator[tuple[Sequence[str], list[bytes], Sequence[int]]]:
    """The official_results rows in ``order`` (``station_ids``: the rows' stations, in that order), as
    columns (OFFICIAL_COLUMNS), WRITE_BLOCK rows at a time as the writer asks.

    The figures are stored once, packed (revision 0009). Only one block's values exist at
    once, not 100,000 rows' worth, and no block has a tuple per row.
    """
    width = 8 * len(keys)
    as_read = in_file_order(order, len(lines))  # blocks are then slices, not picks

    def block(start: int) -> tuple[Sequence[str], list[bytes], Sequence[int]]:
        stop = start + WRITE_BLOCK
        rows = order[start:stop]
        packed = (matrix[start:stop] if as_read else matrix[rows]).astype("<i8").tobytes()
        return (
            station_ids[start:stop],
            np.frombuffer(packed, dtype=f"V{width}").tolist(),  # one bytes object a row, made in C
            lines[start:stop] if as_read else picker(rows)(lines),
        )

    return map(block, range(0, len(order), WRITE_BLOCK))


def sql_text(value: str) -> str:
    """``value`` as an SQL string literal (quotes doubled): for constants written into a bulk statement."""
    return "'" + value.replace("'", "''") + "'"


def official_layout(hq: ElectionStore) -> tuple[str, ...]:
    """The key order of the packed official figures (the template's keys when nothing was imported)."""
    raw = hq.meta(LAYOUT_META)
    return tuple(json.loads(raw)) if raw else hq.template.all_keys


def official_values(hq: ElectionStore, station_id: str) -> dict[str, int | None] | None:
    """The official figures of one station, or None when the official results do not cover it."""
    with hq.engine.connect() as conn:
        row = conn.execute(
            text("SELECT values_json, values_blob FROM official_results WHERE station_id = :sid"), {"sid": station_id}
        ).first()
    if row is None:
        return None
    figures = unpacked(row[1], official_layout(hq))
    if figures is not None:
        return figures
    data = json.loads(row[0] or "{}")  # rows without the packed copy: other tools, older versions
    return {k: (int(v) if isinstance(v, int) else None) for k, v in data.items()}


def unpacked(blob: bytes | None, layout: Sequence[str]) -> dict[str, int | None] | None:
    """The figures of a packed row by key (None when the blob does not fit the layout)."""
    if not isinstance(blob, bytes) or not layout or len(blob) != 8 * len(layout):
        return None
    return {k: (v if v >= 0 else None) for k, v in zip(layout, struct.unpack(f"<{len(layout)}q", blob))}


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
