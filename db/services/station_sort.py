"""Sort keys of the stations table's figure columns (observed, official, gap, violations, flags).

The station list's own columns sort in SQL (:mod:`db.services.station_reader`).
The figures are computed in Python, so sorting by one needs its value for every
station that has one: :class:`SortKeys` computes a column's keys the first time
the table is sorted by it and keeps them until the data changes (the table makes
a new one on every refresh). A gap needs only the observed stations (a tenth of
a large HQ at most), so sorting by it stays well under half a second at 100,000
stations (``benchmarks/bench_table.py``); the official turnout of every station
is read once, the first time that column is sorted.
"""

from __future__ import annotations

import ast
import json
import struct
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from db.fileformat import IN_CHUNK
from db.services.station_reader import LAYOUT_META, official_json
from observer.checks import CheckOutcome, failed_checks, percent
from observer.definitions import gap_pp
from observer.template import ElectionTemplate

if TYPE_CHECKING:
    from db.services.station_table import StationSource

# Sortable columns that are not the station list's: what :meth:`SortKeys.sort` takes.
FIGURE_SORTS = ("observed", "official", "gap", "violations", "flags")
# Ascending "flags" puts the most urgent first: the rank of a station's most urgent flag.
FLAG_RANK = ("conflict", "disputed", "checks", "violations", "excluded", "reused", "chosen", "no_official")


class SortKeys:
    """Station id -> sort key, per figure column, for one state of the data (thread-safe, lazy)."""

    def __init__(self, source: StationSource) -> None:
        self._source = source
        self._keys: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def sort(self, ids: Sequence[str], column: str, descending: bool = False) -> list[str]:
        """``ids`` (in code order) ordered by ``column``; ties keep code order, stations without a value go last."""
        keys = self.keys(column)
        present = [i for i in ids if i in keys]
        present.sort(key=keys.__getitem__, reverse=descending)  # stable both ways: ties stay in code order
        return present + [i for i in ids if i not in keys]

    def keys(self, column: str) -> dict[str, float]:
        builders: dict[str, Callable[[], dict[str, float]]] = {
            "observed": self._observed,
            "official": self._official,
            "gap": self._gap,
            "violations": self._violations,
            "flags": self._flags,
        }
        with self._lock:
            found = self._keys.get(column)
        if found is None:
            found = builders[column]()
            with self._lock:
                self._keys[column] = found
        return found

    def observed_ids(self) -> frozenset[str]:
        """Stations with observer data: any protocol, counted or not."""
        return frozenset(self._protocol_stations())

    def gap_above(self, threshold: float) -> frozenset[str]:
        """Stations whose observed turnout differs from the official by more than ``threshold`` points."""
        return frozenset(sid for sid, gap in self.keys("gap").items() if abs(gap) > threshold)

    # ---- the columns -------------------------------------------------------------------------------
    def _registered(self, ids: Sequence[str]) -> dict[str, int | None]:
        return {sid: registered for sid, _c, _r, _d, registered in self._source.reader.stations(ids)}

    def _observed(self) -> dict[str, float]:
        self._observed_and_gap()
        return self._keys["observed"]

    def _gap(self) -> dict[str, float]:
        self._observed_and_gap()
        return self._keys["gap"]

    def _observed_and_gap(self) -> None:
        """Both in one pass over the observed stations: a gap needs the observed turnout anyway.

        Plain DB-API reads: at 10,000 observed stations SQLAlchemy's per-row
        processing would cost more than the rest of the sort together.
        """
        eff = self._source.effective
        tpl = self._source.reader.template
        pk = tpl.party_keys
        by_station = dict(eff.by_station)
        ids = list(by_station)
        values: dict[str, dict[str, int | None]] = {pid: {} for pid in by_station.values()}
        facts: list[tuple[str, int | None, str | None]] = []
        layout = self._source.reader.meta(LAYOUT_META)
        mark = self._source.reader.mark
        raw = self._source.store.engine.raw_connection()
        try:
            cur = raw.cursor()
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                marks = ",".join([mark] * len(chunk))
                cur.execute(
                    "SELECT s.id, s.registered, o.values_json, o.values_blob, o.station_id FROM stations s "
                    f"LEFT JOIN official_results o ON o.station_id = s.id WHERE s.id IN ({marks})",
                    chunk,
                )
                facts.extend(
                    (sid, listed, official_json(text, blob, layout) if has else None)
                    for sid, listed, text, blob, has in cur.fetchall()
                )
            # One pass over every value beats looking the counted protocols up (4x, at 10,000 of them).
            cur.execute("SELECT protocol_id, key, value FROM protocol_values WHERE value IS NOT NULL")
            for pid, key, value in cur.fetchall():
                found = values.get(pid)
                if found is not None:
                    found[key] = value
        finally:
            raw.close()
        observed: dict[str, float] = {}
        gaps: dict[str, float] = {}
        for sid, registered, values_json in facts:
            pct = turnout(tpl, values[by_station[sid]], registered, pk)
            if pct is None:
                continue
            observed[sid] = pct
            if values_json is not None:
                gap = gap_pp(pct, official_turnout(tpl, values_json, registered, pk))
                if gap is not None:
                    gaps[sid] = gap
        with self._lock:
            self._keys["observed"], self._keys["gap"] = observed, gaps

    def _official(self) -> dict[str, float]:
        """Every station's official turnout: two figures of each stored row when the template's turnout
        reads one line over another (every built-in template), else the whole row parsed (1 s at 100,000)."""
        tpl = self._source.reader.template
        if isinstance(tpl.voted.node, ast.Name) and isinstance(tpl.registered.node, ast.Name):
            return self._official_lines(tpl.voted.node.id, tpl.registered.node.id)
        reader = self._source.reader
        pk = tpl.party_keys
        official = reader.official(reader.ids())  # every station: the official figures come with the station list
        registered = self._registered(list(official))
        out: dict[str, float] = {}
        for sid, values_json in official.items():
            pct = official_turnout(tpl, values_json, registered.get(sid), pk)
            if pct is not None:
                out[sid] = pct
        return out

    def _official_lines(self, voted: str, registered: str) -> dict[str, float]:
        """Official turnout straight from the stored rows: two figures unpacked from each packed row
        (an import stores them once, packed: revision 0009), the two lines of the JSON for rows that
        carry JSON only (other tools, older versions). As official_turnout: only integers count.

        The same SQL on a file and on PostgreSQL: the JSON rows are few, so reading their two lines
        here costs less than each engine's own JSON functions would be worth."""
        try:
            keys = json.loads(self._source.reader.meta(LAYOUT_META) or "[]")
        except ValueError:
            keys = []
        width = 8 * len(keys) if isinstance(keys, list) else 0
        at_voted = 8 * keys.index(voted) if width and voted in keys else None
        at_whole = 8 * keys.index(registered) if width and registered in keys else None
        sql = (
            "SELECT o.station_id, o.values_json, o.values_blob, s.registered "
            "FROM official_results o JOIN stations s ON s.id = o.station_id"
        )
        raw = self._source.store.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(sql)
            rows = cur.fetchall()
        finally:
            raw.close()
        out: dict[str, float] = {}
        for sid, text, blob, listed in rows:
            if text is None and isinstance(blob, bytes) and width and len(blob) == width:
                part, whole = _figure(blob, at_voted), _figure(blob, at_whole)
            else:
                part, whole = _json_line(text, voted), _json_line(text, registered)
            pct = percent(part, whole if whole is not None else listed)
            if pct is not None:
                out[sid] = pct
        return out

    def _violations(self) -> dict[str, float]:
        from sqlalchemy import func, select

        from db import models as m

        stmt = select(m.Violation.station_id, func.count()).group_by(m.Violation.station_id)
        with self._source.store.engine.connect() as conn:
            return {sid: float(n) for sid, n in conn.execute(stmt).all()}

    def _protocol_stations(self) -> set[str]:
        from sqlalchemy import select

        from db import models as m

        with self._source.store.engine.connect() as conn:
            return set(conn.execute(select(m.Protocol.station_id).distinct()).scalars())

    def _flags(self) -> dict[str, float]:
        """The rank of each flagged station's most urgent flag (FLAG_RANK), as the rows would flag it."""
        from sqlalchemy import select

        from db import models as m

        source = self._source
        eff = source.effective
        with source.store.engine.connect() as conn:
            decided = set(conn.execute(select(m.Resolution.station_id).distinct()).scalars())
        observed_here = self._protocol_stations()
        with_official = set(source.reader.official(sorted(observed_here)))
        excluded = eff.excluded - eff.unresolved - eff.disputed
        chosen = decided - eff.unresolved - eff.disputed - eff.excluded
        sets: dict[str, frozenset[str] | set[str]] = {
            "conflict": eff.unresolved,
            "disputed": eff.disputed - eff.unresolved,
            "checks": source.breaking_ids(),
            "violations": set(self.keys("violations")),
            "excluded": excluded,
            "reused": set(source.reuse),
            "chosen": chosen,
            "no_official": observed_here - with_official,
        }
        out: dict[str, float] = {}
        for rank in reversed(range(len(FLAG_RANK))):  # the most urgent flag is written last and wins
            for sid in sets[FLAG_RANK[rank]]:
                out[sid] = float(rank)
        return out


def _json_line(text: str | None, key: str) -> int | None:
    """One line of an official row's JSON, if it is an integer there (as SQLite's json_type 'integer')."""
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _figure(blob: bytes, at: int | None) -> int | None:
    """One figure of a packed official row (little-endian int64, -1 = not given)."""
    if at is None:
        return None
    value: int = struct.unpack_from("<q", blob, at)[0]
    return value if value >= 0 else None


def errors_of(tpl: ElectionTemplate, figures: dict[str, int | None]) -> tuple[str, ...]:
    """Error-level control relations the figures break (warnings do not flag a station, as in ``baqylau check``)."""
    return tuple(o.check.source for o in error_outcomes(tpl, figures))


def error_outcomes(tpl: ElectionTemplate, figures: dict[str, int | None]) -> tuple[CheckOutcome, ...]:
    """The same, with the numbers that disagree (``CheckOutcome.describe`` says it in words)."""
    return tuple(o for o in failed_checks(tpl, figures) if o.check.severity == "error")


def official_turnout(
    tpl: ElectionTemplate, values_json: str, registered: int | None, party_keys: tuple[str, ...] | None = None
) -> float | None:
    """Turnout of an official result's stored JSON (None if unreadable)."""
    try:
        raw = json.loads(values_json)
    except (ValueError, TypeError):
        return None
    if not isinstance(raw, dict):
        return None
    values: dict[str, int | None] = {k: v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}
    return turnout(tpl, values, registered, party_keys)


def turnout(
    tpl: ElectionTemplate,
    values: dict[str, int | None],
    registered: int | None,
    party_keys: tuple[str, ...] | None = None,
) -> float | None:
    """Turnout on the template's definition; the station list's registered count fills a missing line.

    ``party_keys``: the template's, when the caller has them (the property builds the tuple on every call).
    """
    pk = tpl.party_keys if party_keys is None else party_keys
    denom = tpl.registered.evaluate(values, pk)
    return percent(tpl.voted.evaluate(values, pk), denom if denom is not None else registered)
