"""Importing the list of polling stations (code, region, district, address, registered voters).

The list is what coverage is measured against ("we observed 181 of 10,061
stations"), so it is all-or-nothing like the official results: every bad row
is reported with its line and nothing is written unless the whole file is
clean. A station already in the HQ file (same code) is updated; only the
fields the file has columns for are changed, so a list without addresses does
not erase the addresses a previous list gave.

Default column names are the field names themselves (``code``, ``region``,
``district``, ``address``, ``registered``); a mapping TOML with a ``[station]``
table names other columns (docs/official-import.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db.bulk import (
    bulk_writer,
    existing_stations,
    gc_paused,
    in_index_order,
    insert_columns,
    new_ids,
    picker,
    require_hq,
    secondary_indexes_deferred,
    timestamp,
)
from db.import_columns import check_row_widths, clipped, column_values, parse_counts, region_codes, station_codes
from db.store import ElectionStore
from observer.csvio import ImportReport, ProblemList, RowsRefused, read_csv
from observer.errors import ImportDataError
from observer.mapping import STATION_FIELDS, ColumnMapping, parse_mapping, read_mapping, resolve_columns
from observer.units import UnitResolver

_TEXT_LIMITS = {"district": 200, "address": 500}


def station_mapping(map_path: str | Path | None, header: tuple[str, ...] | None = None) -> ColumnMapping:
    """The mapping file's ``[station]`` table, or the default names that the header has."""
    if map_path is not None:
        data, origin = read_mapping(map_path)
        return parse_mapping(
            data, origin, value_keys=(), line_keys=(), party_keys=(), required_station=("code", "region")
        )
    folded = {h.casefold() for h in header or ()}
    return ColumnMapping({f: f for f in STATION_FIELDS if f in folded or f in ("code", "region")}, {})


def import_stations(store: ElectionStore, csv_path: str | Path, map_path: str | Path | None = None) -> ImportReport:
    """Create or update the HQ's stations from a station list CSV; all rows or none."""
    with gc_paused():
        return _import_stations(store, csv_path, map_path)


def _import_stations(store: ElectionStore, csv_path: str | Path, map_path: str | Path | None) -> ImportReport:
    require_hq(store)
    pre = station_mapping(map_path) if map_path is not None else None
    table = read_csv(
        csv_path,
        encoding=pre.encoding if pre else "auto",
        delimiter=pre.delimiter if pre else "auto",
    )
    mapping = pre or station_mapping(None, table.header)
    cols, _, key = resolve_columns(table, mapping)
    if not table.rows:
        raise ImportDataError("coord.csv.no_rows", file=table.name)

    problems = ProblemList()
    check_row_widths(table, problems)
    codes = station_codes(table, key, mapping, problems)
    resolver = UnitResolver(store.template.units, store.template.date)
    regions = region_codes(table, cols["region"], mapping.station["region"], problems, resolver)
    texts = {
        field: clipped(column_values(table, cols[field]), limit)
        for field, limit in _TEXT_LIMITS.items()
        if field in cols
    }
    registered = (
        parse_counts(table, cols["registered"], mapping.station["registered"], problems)
        if "registered" in cols
        else None
    )
    if problems:
        raise RowsRefused(table.name, problems)
    reg_values = [None if v < 0 else v for v in registered.tolist()] if registered is not None else None
    if store.url:  # a PostgreSQL HQ: COPY into a temporary table, then one UPDATE and one INSERT
        from db.pg_bulk import write_stations

        created, updated = write_stations(store, codes, regions, texts, reg_values)
    else:
        with bulk_writer(store) as dbapi:
            created, updated = _write_stations(dbapi, codes, regions, texts, reg_values)
    return ImportReport(
        file=table.name,
        encoding=table.encoding,
        delimiter=table.delimiter,
        rows=len(codes),
        stations_created=created,
        stations_updated=updated,
        records_written=len(codes),
    )


def _write_stations(
    dbapi: sqlite3.Connection,
    codes: list[str],
    regions: list[str],
    texts: dict[str, list[str]],
    reg_values: list[int | None] | None,
) -> tuple[int, int]:
    """Insert the new stations and update the known ones; (created, updated)."""
    now = timestamp()
    known = existing_stations(dbapi)
    new_rows = in_index_order([i for i, c in enumerate(codes) if c not in known], codes)
    old_rows = [i for i, c in enumerate(codes) if c in known]
    ids = new_ids(len(new_rows))  # ascending: the primary-key index grows at its end
    with secondary_indexes_deferred(dbapi, "stations", when=not known and bool(new_rows)):
        if new_rows:
            pick = picker(new_rows)
            n = len(new_rows)
            insert_columns(
                dbapi,
                "INSERT INTO stations (id, code, region, district, address, registered, created_at, updated_at) VALUES",
                "(?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        ids,
                        pick(codes),
                        pick(regions),
                        pick(texts["district"]) if "district" in texts else [""] * n,
                        pick(texts["address"]) if "address" in texts else [""] * n,
                        pick(reg_values) if reg_values is not None else [None] * n,
                        [now] * n,
                        [now] * n,
                    )
                ],
            )
    # Only the columns the file has are overwritten (see the module docstring).
    fields = ["region", *texts.keys(), *(["registered"] if reg_values is not None else [])]
    assignments = ", ".join(f"{f} = ?" for f in fields)
    dbapi.executemany(
        f"UPDATE stations SET {assignments}, updated_at = ? WHERE id = ?",
        [
            (
                regions[i],
                *(texts[f][i] for f in texts),
                *([reg_values[i]] if reg_values is not None else []),
                now,
                known[codes[i]],
            )
            for i in old_rows
        ],
    )
    return len(new_rows), len(old_rows)
