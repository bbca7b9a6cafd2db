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

import json
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from observer.checks import failed_checks, percent
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
        eff = self._source.effective
        tpl = self._source.reader.template
        ids = list(eff.by_station)
        values = self._source.protocol_values(eff.by_station.values())
        registered = self._registered(ids)
        out: dict[str, float] = {}
        for sid in ids:
            pct = turnout(tpl, values.get(eff.by_station[sid], {}), registered.get(sid))
            if pct is not None:
                out[sid] = pct
        return out

    def _official(self) -> dict[str, float]:
        reader = self._source.reader
        tpl = reader.template
        ids = reader.ids()  # every station: the official figures come with the station list
        official = reader.official(ids)
        registered = self._registered(list(official))
        out: dict[str, float] = {}
        for sid, values_json in official.items():
            pct = official_turnout(tpl, values_json, registered.get(sid))
            if pct is not None:
                out[sid] = pct
        return out

    def _gap(self) -> dict[str, float]:
        observed = self.keys("observed")
        reader = self._source.reader
        official = reader.official(list(observed))  # only where there is something to compare
        registered = self._registered(list(official))
        out: dict[str, float] = {}
        for sid, values_json in official.items():
            gap = gap_pp(observed.get(sid), official_turnout(reader.template, values_json, registered.get(sid)))
            if gap is not None:
                out[sid] = gap
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


def errors_of(tpl: ElectionTemplate, figures: dict[str, int | None]) -> tuple[str, ...]:
    """Error-level control relations the figures break (warnings do not flag a station, as in ``baqylau check``)."""
    return tuple(o.check.source for o in failed_checks(tpl, figures) if o.check.severity == "error")


def official_turnout(tpl: ElectionTemplate, values_json: str, registered: int | None) -> float | None:
    """Turnout of an official result's stored JSON (None if unreadable)."""
    try:
        raw = json.loads(values_json)
    except (ValueError, TypeError):
        return None
    if not isinstance(raw, dict):
        return None
    values: dict[str, int | None] = {k: v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}
    return turnout(tpl, values, registered)


def turnout(tpl: ElectionTemplate, values: dict[str, int | None], registered: int | None) -> float | None:
    """Turnout on the template's definition; the station list's registered count fills a missing line."""
    denom = tpl.registered.evaluate(values, tpl.party_keys)
    return percent(tpl.voted.evaluate(values, tpl.party_keys), denom if denom is not None else registered)
