"""Reading the HQ file into per-station arrays, and the aggregate queries built on them.

Observed figures are those :func:`db.conflicts.effective_protocols` says count
(the resolved version; disputed, unresolved and rule-excluded stations are
left out and counted), under the inclusion rules saved in the HQ file; every
table shows :func:`rules_note` next to it. Official figures are read in one
query as packed int64 arrays (schema 0003), so 100,000 stations load in a
fraction of a second. The maths is in :mod:`observer.aggregate`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import repeat
from typing import Literal, NamedTuple

import numpy as np

from db import dbapi
from db.conflicts import effective_protocols
from db.engine import server_error
from db.official import LAYOUT_META, MISSING, gc_paused
from db.rules import load_rules
from db.store import ElectionStore, storage_error
from observer.aggregate import (
    LEVELS,
    StationArrays,
    StationGap,
    UnitResult,
    aggregate_levels_arrays,
    factorize,
    failing_checks,
)
from observer.aggregate import turnout_gaps as _turnout_gaps
from observer.definitions import StationCounts, station_status
from observer.errors import BaqylauError
from observer.template import ElectionTemplate

Source = Literal["official", "observed"]
SOURCES: tuple[str, ...] = ("observed", "official", "both")


class AggregateError(BaqylauError):
    """An aggregate asked for in a way that cannot be answered (unknown level or source)."""

    key = "coord.aggregate.error"


@dataclass(frozen=True)
class _Base:
    """The station list with the official figures, aligned by row; what both sources build on."""

    ids: np.ndarray
    codes: np.ndarray
    regions: np.ndarray
    districts: np.ndarray
    registered: np.ndarray
    official: np.ndarray  # (n, k) int64
    has_official: np.ndarray  # bool

    @cached_property
    def row(self) -> dict[str, int]:
        """Station id -> row; built on first use (totals of official figures alone never need it)."""
        return dict(zip(self.ids.tolist(), range(len(self.ids))))


def _dbapi_rows(hq: ElectionStore, sql: str, params: Sequence[object] = ()) -> list[tuple]:  # type: ignore[type-arg]
    """Rows from the driver's own connection (:mod:`db.dbapi`: no SQLAlchemy row objects, 100,000 of them cost)."""
    try:
        with hq.engine.connect() as conn:
            return dbapi.rows(conn, sql, params)
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(exc, hq.path) from None
    except Exception as exc:
        if hq.url and type(exc).__module__.startswith("psycopg"):
            raise server_error(exc, hq.url) from None
        raise


_OFFICIAL_STATE = "CASE WHEN o.station_id IS NULL THEN 0 WHEN o.values_blob IS NULL THEN 2 ELSE 1 END"
_OFFICIAL_BLOB = "CASE WHEN length(o.values_blob) = ? AND typeof(o.values_blob) = 'blob' THEN o.values_blob ELSE ? END"
_OFFICIAL_BLOB_PG = "CASE WHEN octet_length(o.values_blob) = ? THEN o.values_blob ELSE ? END"
_STATIONS_JOIN = " FROM stations s LEFT JOIN official_results o ON o.station_id = s.id"
_SEP = "\x1f"  # between texts in the one-row read; a text containing it sends the read down the row path


class _Columns(NamedTuple):
    """What :func:`_read_base` reads, column by column."""

    ids: Sequence[str] | np.ndarray  # str, or an object array of them
    codes: Sequence[str] | np.ndarray
    regions: Sequence[str] | np.ndarray
    districts: Sequence[str] | np.ndarray
    registered: np.ndarray  # int64, -1 where the list has no number
    states: np.ndarray  # int8: 0 no official row, 1 packed figures, 2 JSON only
    packed: bytes  # every station's official blob (or the missing one), back to back


def _columns_in_one_row(hq: ElectionStore, params: tuple[int, bytes], codes: bool) -> _Columns | None:
    """The station columns, each concatenated by SQLite into one value.

    Handing 100,000 rows of 7 cells to Python one by one costs about twice as
    much as the same data as 7 long values split in C. Every concatenation walks
    the same rows in the same order, and none of the values can be NULL
    (group_concat would skip it), so the columns stay aligned. With ``codes`` the
    columns are then put in code order (Python orders str by code point, as
    SQLite's BINARY collation orders UTF-8: the order ``ORDER BY code`` gives);
    without, codes are all "". None when a text holds the separator or a voter
    number is not stored as an integer: the caller then reads rows.
    """
    code_sql = "group_concat(s.code, char(31))" if codes else "''"
    ((n, odd, ids, code_text, regions, districts, regs, states, packed),) = _dbapi_rows(
        hq,
        "SELECT count(*), total(s.registered IS NOT NULL AND typeof(s.registered) <> 'integer'), "
        f"group_concat(s.id, char(31)), {code_sql}, group_concat(s.region, char(31)), "
        "group_concat(s.district, char(31)), group_concat(coalesce(s.registered, -1), ' '), "
        f"group_concat({_OFFICIAL_STATE}, ''), CAST(group_concat({_OFFICIAL_BLOB}, x'') AS BLOB)" + _STATIONS_JOIN,
        params,
    )
    if not n:
        return _Columns((), (), (), (), np.array([], np.int64), np.array([], np.int8), b"")
    texts = [ids.split(_SEP), code_text.split(_SEP) if codes else [""] * n, regions.split(_SEP), districts.split(_SEP)]
    numbers = None if odd else _numbers(regs, n)
    if numbers is None or any(len(t) != n for t in texts):
        return None
    if not isinstance(packed, bytes) or len(packed) != n * params[0] or len(states) != n:
        return None
    cols = _Columns(
        texts[0],
        texts[1],
        texts[2],
        texts[3],
        numbers,
        np.frombuffer(states.encode("ascii"), dtype=np.uint8).astype(np.int8) - ord("0"),
        packed,
    )
    if not codes:
        return cols
    order = np.array(sorted(range(n), key=texts[1].__getitem__), dtype=np.int64)
    # These tables are kept (the report's snapshot): one string per region and district name, not
    # 100,000 copies of each (about 15 MB at 100,000 stations).
    texts[2], texts[3] = _shared(texts[2]), _shared(texts[3])
    ids_o, codes_o, regions_o, districts_o = (np.array(t, dtype=object)[order] for t in texts)
    return _Columns(
        ids_o,
        codes_o,
        regions_o,
        districts_o,
        cols.registered[order],
        cols.states[order],
        np.frombuffer(packed, dtype=np.uint8).reshape(n, params[0])[order].tobytes(),
    )


def _shared(texts: Sequence[str]) -> list[str]:
    """The same texts with one string object per distinct value (dict look-ups in C)."""
    seen: dict[str, str] = {}
    return list(map(seen.setdefault, texts, texts))


def _columns_by_row(hq: ElectionStore, params: tuple[int, bytes], codes: bool) -> _Columns:
    """The station columns row by row; what a PostgreSQL HQ is always read with.

    There ``bytea`` is typed, so the blob's width is its only check (no ``typeof``), and the
    database's collation is "C" (checked at creation), so ``ORDER BY s.code`` is SQLite's order.
    """
    code, order = ("s.code", " ORDER BY s.code") if codes else ("''", "")
    blob = _OFFICIAL_BLOB_PG if hq.url else _OFFICIAL_BLOB
    rows = _dbapi_rows(
        hq,
        f"SELECT s.id, {code}, s.region, s.district, coalesce(s.registered, -1), {_OFFICIAL_STATE}, {blob}"
        + _STATIONS_JOIN
        + order,
        params,
    )
    if not rows:
        return _Columns((), (), (), (), np.array([], np.int64), np.array([], np.int8), b"")
    ids, code_list, regions, districts, regs, states, blobs = zip(*rows)
    return _Columns(
        ids,
        code_list,
        _shared(regions) if codes else regions,  # kept: see _columns_in_one_row
        _shared(districts) if codes else districts,
        np.array(regs, dtype=np.int64),
        np.array(states, dtype=np.int8),
        b"".join(blobs),
    )


def _read_base(hq: ElectionStore, template: ElectionTemplate, *, codes: bool = True) -> _Base:
    """Every station with its official figures, in one query.

    ``codes=False`` is for totals only: station numbers are not read and the rows
    come in storage order instead of code order, which saves reading and sorting
    100,000 codes; ``codes`` is then all "". SQLite hands
    over each column ready for numpy: a missing voter number as -1, every
    official row as a blob of the layout's width, and a state per station.
    """
    keys = template.all_keys
    k = len(keys)
    layout_raw = hq.meta(LAYOUT_META)
    layout = tuple(json.loads(layout_raw)) if layout_raw else keys
    width = 8 * len(layout)
    params = (width, np.full(len(layout), MISSING, dtype="<i8").tobytes())
    cols = None if hq.url else _columns_in_one_row(hq, params, codes)  # group_concat is SQLite's
    if cols is None:
        cols = _columns_by_row(hq, params, codes)
    n = len(cols.ids)
    if n == 0:
        empty = np.array([], dtype=object)
        return _Base(empty, empty, empty, empty, np.array([], np.int64), np.zeros((0, k), np.int64), np.array([], bool))
    has_official = cols.states == 1
    official = np.frombuffer(cols.packed, dtype="<i8").reshape(n, len(layout)).astype(np.int64)
    if layout != keys:
        # Imported under an older key order: move the columns to the template's order.
        remapped = np.full((n, k), MISSING, dtype=np.int64)
        for j, key in enumerate(keys):
            if key in layout:
                remapped[:, j] = official[:, layout.index(key)]
        official = remapped
    if (cols.states == 2).any():
        # Rows written without the packed copy (files from other tools, older versions): read the JSON.
        fallback = _dbapi_rows(hq, "SELECT station_id, values_json FROM official_results WHERE values_blob IS NULL")
        row = dict(zip(cols.ids, range(n)))
        for sid, text in fallback:
            i = row.get(sid)
            if i is None:
                continue
            try:
                data = json.loads(text or "{}")
            except ValueError:
                continue  # unreadable figures count as none rather than stopping every aggregate
            if isinstance(data, dict):
                official[i] = [
                    data[key] if isinstance(data.get(key), int) and data[key] >= 0 else MISSING for key in keys
                ]
                has_official[i] = True
    registered = cols.registered
    if "registered" in keys:
        # A station list without voter numbers: the official figure is the best we have.
        reg_line = official[:, keys.index("registered")]
        registered = np.where(registered >= 0, registered, reg_line)
    return _Base(
        np.array(cols.ids, dtype=object),
        np.array(cols.codes, dtype=object),
        np.array(cols.regions, dtype=object),
        np.array(cols.districts, dtype=object),
        registered,
        official,
        has_official,
    )


def _official_arrays(base: _Base, keys: tuple[str, ...]) -> StationArrays:
    return StationArrays(
        source="official",
        keys=keys,
        station_ids=base.ids,
        codes=base.codes,
        regions=base.regions,
        districts=base.districts,
        registered=base.registered,
        values=base.official,
        has_figures=base.has_official,
    )


def _rows_of(base: _Base, station_ids: Iterable[str]) -> np.ndarray:
    """Row of each station id in ``base``, -1 for ids not in it (dict look-ups in C, no Python loop)."""
    ids = list(station_ids)
    return np.fromiter(map(base.row.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))


class _Figures(NamedTuple):
    """Every given protocol figure (value not NULL), one entry each."""

    protocols: Sequence[str]  # the protocol's id
    columns: np.ndarray  # int64: the line's column in the template's keys, -1 for a line it does not have
    values: np.ndarray  # int64


def _protocol_figures(hq: ElectionStore, keys: Sequence[str]) -> _Figures:
    """Every given protocol figure, its line as the template's column (numbered by SQL, not in Python).

    Read as three concatenated values like the station list (140,000 figures at
    10,000 observed stations: a third cheaper than rows, and the numbers parsed in C);
    row by row on PostgreSQL, or when a figure is not stored as an integer or an id
    holds the separator.
    """
    column = "CASE key " + " ".join(f"WHEN ? THEN {j}" for j in range(len(keys))) + " ELSE -1 END"
    where = " FROM protocol_values WHERE value IS NOT NULL"
    if not hq.url:
        ((n, odd, pids, columns, figures),) = _dbapi_rows(
            hq,
            "SELECT count(*), total(typeof(value) <> 'integer'), group_concat(protocol_id, char(31)), "
            f"group_concat({column}, ' '), group_concat(value, ' ')" + where,
            keys,
        )
        if not n:
            return _Figures((), np.array([], np.int64), np.array([], np.int64))
        if not odd:
            pid_list, cols, numbers = pids.split(_SEP), _numbers(columns, n), _numbers(figures, n)
            if len(pid_list) == n and cols is not None and numbers is not None:
                return _Figures(pid_list, cols, numbers)
    found = _dbapi_rows(hq, f"SELECT protocol_id, {column}, value" + where, keys)
    if not found:
        return _Figures((), np.array([], np.int64), np.array([], np.int64))
    pid_rows, col_rows, value_rows = zip(*found)
    return _Figures(pid_rows, np.array(col_rows, dtype=np.int64), np.array(value_rows).astype(np.int64))


# Any observer record makes a station "observed" (observer.definitions), figures or not: a protocol,
# a turnout report (read in full for the head-count and announced figure), a spoiled-ballot count,
# a violation, a head-count.
_RECORD_STATIONS = (
    "SELECT DISTINCT station_id FROM protocols",
    "SELECT DISTINCT station_id FROM spoiled_counts WHERE count > 0",
    "SELECT DISTINCT station_id FROM violations",
)


def _observed_arrays(hq: ElectionStore, base: _Base, template: ElectionTemplate) -> StationArrays:
    n = len(base.ids)
    figures = _protocol_figures(hq, template.all_keys)
    eff = effective_protocols(hq, with_figures=frozenset(figures.protocols))
    values, has = _counted_figures(base, template.all_keys, figures, eff.by_station)
    reports = _turnout_reports(hq)
    report_rows = _rows_of(base, reports.stations)
    headcount = _headcounts(hq, base, reports, report_rows)
    announced, announced_slot = _announced_turnout(base, reports, report_rows)
    protocols, spoiled, violations = (_dbapi_rows(hq, sql) for sql in _RECORD_STATIONS)
    has_violations = _flags(base, (r[0] for r in violations))
    has_records = has_violations | (headcount >= 0)
    for found in (protocols, spoiled):
        has_records |= _flags(base, (r[0] for r in found))
    has_records[report_rows[report_rows >= 0]] = True
    status = station_status(
        has_records,
        has,
        _flags(base, eff.disputed),
        _flags(base, eff.unresolved),
        _flags(base, eff.excluded - eff.disputed - eff.unresolved),
    )
    arrays = StationArrays(
        source="observed",
        keys=template.all_keys,
        station_ids=base.ids,
        codes=base.codes,
        regions=base.regions,
        districts=base.districts,
        registered=base.registered,
        values=values,
        has_figures=has,
        headcount=headcount,
        announced=announced,
        announced_slot=announced_slot,
        disputed=_flags(base, eff.disputed | eff.unresolved),
        not_counted=_flags(base, eff.not_counted),
        has_violations=has_violations,
        breaks_check=np.zeros(n, dtype=bool),
        status=status,
    )
    # Control relations only where there are figures (10,000 of 100,000 stations): a quarter of the time.
    breaks = np.zeros(n, dtype=bool)
    breaks[has] = failing_checks(template, arrays.subset(has)).any(axis=1)
    return replace(arrays, breaks_check=breaks)


def _counted_figures(
    base: _Base, keys: Sequence[str], figures: _Figures, counted: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """The figures of each station's counted protocol (``counted``: station id -> protocol id), and where there is one.

    A negative figure is not a figure (none can be typed; another tool's file may hold one).
    """
    n = len(base.ids)
    values = np.full((n, len(keys)), MISSING, dtype=np.int64)
    has = np.zeros(n, dtype=bool)
    protocol_row = {pid: base.row[sid] for sid, pid in counted.items() if sid in base.row}
    if protocol_row:
        pids = figures.protocols
        at_row = np.fromiter(map(protocol_row.get, pids, repeat(-1)), dtype=np.int64, count=len(pids))
        # a counted protocol, a line the template has, a figure
        ok = (at_row >= 0) & (figures.columns >= 0) & (figures.values >= 0)
        values[at_row[ok], figures.columns[ok]] = figures.values[ok]
        has[list(protocol_row.values())] = True
    return values, has


def _flags(base: _Base, station_ids: Iterable[str]) -> np.ndarray:
    """True at the rows of the given stations (ids the base does not have are passed over)."""
    out = np.zeros(len(base.ids), dtype=bool)
    at = _rows_of(base, station_ids)
    out[at[at >= 0]] = True
    return out


class _Reports(NamedTuple):
    """Every turnout report, column by column."""

    stations: Sequence[str]
    slots: Sequence[str]
    announced: np.ndarray  # int64 (0 where none)
    has_announced: np.ndarray  # bool
    observed: np.ndarray  # int64 (0 where none)
    has_observed: np.ndarray  # bool


def _turnout_reports(hq: ElectionStore) -> _Reports:
    """The turnout reports in one read: the head-count, the announced figure and "observed" all come from it.

    On a file as concatenated values (60,000 reports at 10,000 observed stations: one scan
    instead of three grouped queries); row by row on PostgreSQL, or when a figure is not
    stored as an integer or an id or slot holds the separator.
    """
    if not hq.url:
        ((n, odd, sids, slots, announced, has_announced, observed, has_observed),) = _dbapi_rows(
            hq,
            "SELECT count(*), total(typeof(announced) NOT IN ('integer', 'null') "
            "OR typeof(observed) NOT IN ('integer', 'null')), group_concat(station_id, char(31)), "
            "group_concat(slot, char(31)), group_concat(coalesce(announced, 0), ' '), "
            "group_concat(announced IS NOT NULL, ''), group_concat(coalesce(observed, 0), ' '), "
            "group_concat(observed IS NOT NULL, '') FROM turnout_reports",
        )
        if not n:
            return _Reports((), (), *_no_numbers(4))
        if not odd:
            sid_list, slot_list = sids.split(_SEP), slots.split(_SEP)
            a, o = _numbers(announced, n), _numbers(observed, n)
            if len(sid_list) == len(slot_list) == n and a is not None and o is not None:
                return _Reports(sid_list, slot_list, a, _bits(has_announced), o, _bits(has_observed))
    found = _dbapi_rows(hq, "SELECT station_id, slot, announced, observed FROM turnout_reports")
    if not found:
        return _Reports((), (), *_no_numbers(4))
    sid_rows, slot_rows, a_rows, o_rows = zip(*found)
    return _Reports(
        sid_rows,
        slot_rows,
        np.array([0 if v is None else int(v) for v in a_rows], dtype=np.int64),
        np.array([v is not None for v in a_rows], dtype=bool),
        np.array([0 if v is None else int(v) for v in o_rows], dtype=np.int64),
        np.array([v is not None for v in o_rows], dtype=bool),
    )


def _no_numbers(k: int) -> tuple[np.ndarray, ...]:
    return tuple(np.array([], dtype=np.int64 if i % 2 == 0 else bool) for i in range(k))


def _numbers(text: str, n: int) -> np.ndarray | None:
    """The ``n`` integers SQLite wrote into ``text`` between spaces, parsed by numpy in C; None otherwise.

    A list of 100,000 strings converted by ``np.array`` costs ten times as much.
    """
    try:
        out = np.fromstring(text, dtype=np.int64, sep=" ")
    except ValueError:
        return None
    return out if len(out) == n else None


def _bits(text: str) -> np.ndarray:
    """SQLite's truth values concatenated ("0110") as booleans."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def _headcounts(hq: ElectionStore, base: _Base, reports: _Reports, report_rows: np.ndarray) -> np.ndarray:
    """Each station's head-count, -1 where nobody counted.

    The largest of each observer's click total (kept by the triggers of schema
    0005: 10,000 rows, not 3.3 million clicks) and of the counts noted at
    reporting times. Two observers: the higher count missed fewer voters.
    """
    headcount = np.full(len(base.ids), MISSING, dtype=np.int64)
    found = _dbapi_rows(hq, "SELECT station_id, max(total) FROM headcount_totals GROUP BY station_id")
    if found:
        sids, counts = zip(*found)
        at = _rows_of(base, sids)
        ok = at >= 0
        np.maximum.at(headcount, at[ok], np.array(counts, dtype=np.int64)[ok])
    noted = (report_rows >= 0) & reports.has_observed
    np.maximum.at(headcount, report_rows[noted], reports.observed[noted])
    return headcount


def _announced_turnout(base: _Base, reports: _Reports, report_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The commission's figure at the last reporting time any observer noted, and that time ("" where none).

    "HH:MM" sorts as time; several observers at that time: the largest figure. The last
    time any observer noted is the station's latest report with a figure, and every report
    at that time is some observer's last one, so no grouping by observer is needed.
    """
    n = len(base.ids)
    announced = np.full(n, MISSING, dtype=np.int64)
    announced_slot = np.full(n, "", dtype=object)
    given = (report_rows >= 0) & reports.has_announced
    if not given.any():
        return announced, announced_slot
    rows = report_rows[given]
    slots = [s for s, g in zip(reports.slots, given.tolist()) if g]
    times, slot_no = factorize(slots)  # slot numbers in time order
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, rows, slot_no)
    at_last = slot_no == last[rows]
    lowest = np.iinfo(np.int64).min
    best = np.full(n, lowest, dtype=np.int64)
    np.maximum.at(best, rows[at_last], reports.announced[given][at_last])
    # A station whose only time is "" keeps no figure (a time is what makes a report).
    timed = (last >= 0) & (np.array(times, dtype=object)[np.maximum(last, 0)] != "")
    announced[timed] = best[timed]
    announced_slot[timed] = np.array(times, dtype=object)[last[timed]]
    return announced, announced_slot


def station_table(hq: ElectionStore, source: Source) -> StationArrays:
    """Every station of the HQ file (ordered by code) with the figures of ``source``."""
    if source not in ("official", "observed"):
        raise ValueError(f"unknown source {source!r}")
    template = hq.template
    with gc_paused():
        base = _read_base(hq, template)
        if source == "official":
            return _official_arrays(base, template.all_keys)
        return _observed_arrays(hq, base, template)


def station_tables(hq: ElectionStore) -> tuple[StationArrays, StationArrays]:
    """(official, observed), aligned row by row, from one read of the station list."""
    template = hq.template
    with gc_paused():
        base = _read_base(hq, template)
        return _official_arrays(base, template.all_keys), _observed_arrays(hq, base, template)


def aggregate_levels(hq: ElectionStore, levels: Sequence[str], source: str) -> dict[str, list[UnitResult]]:
    """Aggregates at several levels from one read of the file (what the report and benchmarks want)."""
    for level in levels:
        if level not in LEVELS:
            raise AggregateError("coord.aggregate.bad_level", level=level, known=", ".join(LEVELS))
    if source not in SOURCES:
        raise AggregateError("coord.aggregate.bad_source", source=source, known=", ".join(SOURCES))
    template = hq.template
    with gc_paused():
        base = _read_base(hq, template, codes=False)
        official = _official_arrays(base, template.all_keys) if source in ("official", "both") else None
        observed = _observed_arrays(hq, base, template) if source in ("observed", "both") else None
        return aggregate_levels_arrays(template, levels, source, official=official, observed=observed)


def aggregate(hq: ElectionStore, level: str, source: str) -> list[UnitResult]:
    """Units at ``level`` ("national" | "region" | "district") from "observed", "official" or "both"."""
    return aggregate_levels(hq, (level,), source)[level]


def station_counts(hq: ElectionStore) -> StationCounts:
    """The national station counts (observed, counted, disputed, undecided, excluded, coverage).

    What the coordinator window, ``aggregate`` and the report all print, by the
    definitions of :mod:`observer.definitions`.
    """
    template = hq.template
    with gc_paused():
        base = _read_base(hq, template, codes=False)
        observed = _observed_arrays(hq, base, template)
    assert observed.status is not None
    return StationCounts.of(observed.status, observed.registered)


def rules_note(hq: ElectionStore, lang: str | None = None) -> str:
    """The inclusion rules in force, as the sentence to print next to every aggregate."""
    return load_rules(hq).describe(lang)


def turnout_gaps(hq: ElectionStore) -> list[StationGap]:
    """Observed stations ranked by official turnout minus the observers' turnout (largest first)."""
    official, observed = station_tables(hq)
    return _turnout_gaps(hq.template, official, observed)
