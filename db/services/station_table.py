"""Row data for the coordinator's stations table, read in pages.

The table must open and scroll through 100,000 stations instantly, so this
module never loads every row's contents: :meth:`StationSource.ids` returns only
the ordered station ids matching the filters (one indexed query), and
:meth:`StationSource.rows` computes the displayed figures for a page of ids.

The queries are read-only: plain DB-API (``sqlite3``, or psycopg for a shared HQ) for what the first screen shows
(:mod:`db.services.station_reader`), SQLAlchemy Core over ``db.models`` for the
observers' figures, loaded in the background. They are shaped for a table read
a page at a time (``ui/coordinator/stations.py`` shows them), which is why they
are not ``db/aggregate.py``'s station table, built for the whole election.
Importing this module loads no SQLAlchemy and no numpy: the first window needs it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.fileformat import IN_CHUNK
from db.services.hq import StoreOpener
from db.services.read_guard import DaemonWorker, QueryGuard, ScanStopped  # noqa: F401  (imported from here too)
from db.services.station_reader import (  # noqa: F401  (SORT_COLUMNS: the sort keys)
    LAYOUT_META,
    SORT_COLUMNS,
    StationReader,
    official_json,
)
from db.services.station_sort import FIGURE_SORTS, SortKeys, error_outcomes, errors_of, official_turnout, turnout
from observer.checks import CheckOutcome
from observer.definitions import gap_pp
from observer.template import ElectionTemplate

if TYPE_CHECKING:
    # Both import numpy (and db.reuse Pillow): loaded by the background reads, not before the window shows.
    from db.conflicts import EffectiveProtocols
    from db.reuse import ReusePair
    from db.store import ElectionStore

# Flags a row can carry; the UI translates them (coordui.flag.<name>).
FLAG_CONFLICT = "conflict"  # versions differ and nobody has decided yet
FLAG_DISPUTED = "disputed"  # the coordinator marked the station disputed
FLAG_CHOSEN = "chosen"  # versions differed; the coordinator chose one
FLAG_EXCLUDED = "excluded"  # has figures, but the inclusion rules leave them out
FLAG_VIOLATIONS = "violations"
FLAG_CHECKS = "checks"  # the effective protocol breaks a control relation
FLAG_NO_OFFICIAL = "no_official"
FLAG_REUSED = "reused"  # a photo of this station was also submitted for another (coordui.flag.reused)
FLAGS: tuple[str, ...] = (
    FLAG_CONFLICT,
    FLAG_DISPUTED,
    FLAG_EXCLUDED,
    FLAG_CHOSEN,
    FLAG_VIOLATIONS,
    FLAG_CHECKS,
    FLAG_REUSED,
    FLAG_NO_OFFICIAL,
)

# Station id -> the reuse pairs it takes part in (see db.reuse).
ReuseIndex = dict[str, tuple["ReusePair", ...]]

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baqylau-stations")
# How long a background read of the id list may run on the server before it gives up (then it
# fails with the server's message, and a closing window never waits longer for it).
IDS_STATEMENT_TIMEOUT_MS = 60_000


# The id lists and pages of a shared HQ's table (a server may be slow or far): read beside the
# figures, never queued behind them.
_IDS_POOL = DaemonWorker("baqylau-station-ids")


@dataclass(frozen=True)
class StationFilter:
    """What the coordinator narrowed the table to; the default shows everything."""

    region: str = ""
    code_search: str = ""
    disputed: bool = False  # unresolved conflicts and stations marked disputed
    has_violations: bool = False
    breaks_checks: bool = False
    reused_evidence: bool = False  # a photo also submitted for another station
    observed: bool = False  # has observer data (a protocol, counted or not)
    min_gap: float | None = None  # |observed - official| above this many percentage points
    # These stations only (the overview's gap counter: the report's gaps, head-count first, as it counted them).
    only: frozenset[str] | None = None


@dataclass(frozen=True)
class StationRow:
    id: str
    code: str
    region: str
    district: str
    registered: int | None
    observed_pct: float | None
    official_pct: float | None
    violations: int = 0
    failed_checks: tuple[str, ...] = ()  # check sources (expressions) that fail
    flags: frozenset[str] = field(default_factory=frozenset)
    reused: tuple[ReusePair, ...] = ()  # photos shared with other stations
    # The effective protocols were still being read: observed figures, conflicts and checks are
    # not known yet (the table says "loading" rather than showing a row as unobserved).
    pending: bool = False
    check_outcomes: tuple[CheckOutcome, ...] = ()  # the failures of failed_checks, to be described in words

    @property
    def gap_pp(self) -> float | None:
        """Observed minus official, in percentage points: the one sign (observer.definitions.gap_pp)."""
        return gap_pp(self.observed_pct, self.official_pct)


@dataclass(frozen=True)
class _PageFacts:
    """What :meth:`StationSource.rows` reads for a page of stations, besides the protocols' values."""

    stations: Sequence[Any]  # (id, code, region, district, registered) rows
    official: dict[str, str]  # station id -> official values JSON
    violations: dict[str, int]
    decided: set[str]  # stations with a recorded decision
    observed_here: set[str]  # stations with any protocol


def _decision_flags(sid: str, eff: EffectiveProtocols, decided: set[str]) -> tuple[str, ...]:
    """The one flag that says where the station's versions stand (at most one applies)."""
    if sid in eff.unresolved:
        return (FLAG_CONFLICT,)
    if sid in eff.disputed:
        return (FLAG_DISPUTED,)
    if sid in eff.excluded:
        return (FLAG_EXCLUDED,)
    if sid in decided:
        return (FLAG_CHOSEN,)
    return ()


class StationSource:
    """Reads station ids and pages of rows from an HQ election file.

    Which protocol counts at a station (and which stations are disputed, in
    conflict or excluded by the inclusion rules) comes from
    :func:`db.conflicts.effective_protocols`, computed once per refresh, so the
    table always agrees with the aggregates and the report.

    The ids, the station list's columns, regions and the count are read with
    plain DB-API (:class:`StationReader`): they are what the window shows
    first, possibly while the store is still being opened (``StoreOpener``).
    """

    def __init__(self, store: ElectionStore | StoreOpener, reader: StationReader | None = None) -> None:
        self._opener = store if isinstance(store, StoreOpener) else StoreOpener.opened(store)
        self._reader = reader if reader is not None else StationReader(self._opener.target)
        self._template: ElectionTemplate = self._reader.template
        self._effective: Future[EffectiveProtocols] | None = None
        self._breaking: frozenset[str] | None = None
        # Filled from a background scan (seconds at 10,000 photos); until then no row is flagged.
        self._reuse: ReuseIndex = {}
        self._lock = threading.Lock()
        self._guards: set[QueryGuard] = set()  # reads that stop() may abort
        self._stopped = False
        self.closed = False
        self._regions: list[str] | None = None
        self._total: int | None = None
        self.sort_keys = SortKeys(self)  # the figures' sort keys, computed when first sorted by
        # A shared HQ's id lists are read on a helper thread, with a connection of their own.
        self._ids_reader: StationReader | None = None
        self._counts_stale = False  # the count and the regions are read again with the next id list

    @property
    def store(self) -> ElectionStore:
        """The open store (waits for it if the window appeared before it was open)."""
        return self._opener.result()

    @property
    def reader(self) -> StationReader:
        """The table's own DB-API reads (UI thread)."""
        return self._reader

    @property
    def path(self) -> Path:
        return self._opener.path

    def close(self) -> None:
        """Close the table's own read connections (the window closed)."""
        self.closed = True
        self._reader.close()
        with self._lock:
            background, self._ids_reader = self._ids_reader, None
        if background is not None:
            background.interrupt()  # an id list being read is not waited for
            _IDS_POOL.submit(background.close)  # by the helper thread, once that read has given up

    @property
    def reads_in_background(self) -> bool:
        """The id lists are read on a helper thread: the HQ is on a server, which may answer slowly."""
        return self._reader.on_server

    def ids_in_background(self, flt: StationFilter, sort: str = "code", descending: bool = False) -> Future[list[str]]:
        """:meth:`ids` on a helper thread with its own connection (the UI thread's stays free for pages)."""
        return _IDS_POOL.submit(self._background_ids, flt, sort, descending)

    def rows_in_background(self, ids: Sequence[str]) -> Future[dict[str, StationRow]]:
        """:meth:`rows` of a page (never waiting for the figures) on the same helper thread as the id lists."""
        return _IDS_POOL.submit(self._background_rows, list(ids))

    def _background_ids(self, flt: StationFilter, sort: str, descending: bool) -> list[str]:
        reader = self._background_reader()
        if self._counts_stale:
            self._counts_stale = False
            self._total, self._regions = reader.total(), reader.regions()
        return self.ids(flt, sort, descending, reader=reader)

    def _background_rows(self, ids: list[str]) -> dict[str, StationRow]:
        return self.rows(ids, wait=False, reader=self._background_reader())

    def _background_reader(self) -> StationReader:
        """The helper thread's own connection (made there: a slow server keeps only that thread)."""
        if self.closed:
            raise ScanStopped()  # asked for by a window that has closed since
        with self._lock:
            reader = self._ids_reader
        if reader is None:
            reader = StationReader(self._opener.target)
            reader.limit_statements(IDS_STATEMENT_TIMEOUT_MS)
            with self._lock:
                if self.closed:
                    reader.close()
                    raise ScanStopped()
                self._ids_reader = reader
        return reader

    def invalidate(self) -> None:
        """Forget derived sets after a merge, an import, a decision or a rules change."""
        with self._lock:
            self._effective = None
            self._breaking = None
        self.sort_keys = SortKeys(self)
        if self.reads_in_background:
            # A shared HQ: the count and the regions shown stay until the helper thread reads them
            # again, with the next id list (never a round trip to the server on the UI thread).
            self._counts_stale = True
        else:
            self._regions = None
            self._total = None

    def prefetch(self) -> None:
        """Start computing the effective protocols on a helper thread (once the store is open).

        The table shows its rows without them (figures say "loading") and
        redraws when they arrive; filters that need them wait for them.
        """
        if not self._opener.future.done():
            self._opener.future.add_done_callback(lambda f: None if f.exception() else self.prefetch())
            return
        with self._lock:
            if self._effective is None and not self._stopped:
                guard = QueryGuard()
                self._guards.add(guard)
                self._effective = _POOL.submit(self._read_effective, guard)

    def _read_effective(self, guard: QueryGuard) -> EffectiveProtocols:
        try:
            with guard.watching(self.store):
                from db.conflicts import effective_protocols

                return effective_protocols(self.store)
        finally:
            with self._lock:
                self._guards.discard(guard)

    def stop(self) -> None:
        """Abort the reads in flight (the window is closing): quitting must not wait for them."""
        with self._lock:
            self._stopped = True  # nor start new ones (the store may finish opening after this)
            guards = list(self._guards)
            if self._effective is not None and not self._effective.done():
                self._effective = None  # a later reader computes afresh instead of getting the abort
        for guard in guards:
            guard.interrupt()

    def effective_ready(self) -> bool:
        """Whether :attr:`effective` would return at once (the table never waits for it)."""
        with self._lock:
            return self._effective is not None and self._effective.done()

    def effective_error(self) -> BaseException | None:
        """Why the background read of the effective protocols failed, None if it has not (or not yet)."""
        with self._lock:
            future = self._effective
        if future is None or not future.done() or future.cancelled():
            return None
        return future.exception()

    @property
    def stopped(self) -> bool:
        """stop() was called: no new read of the figures starts."""
        with self._lock:
            return self._stopped

    @property
    def reuse(self) -> ReuseIndex:
        return self._reuse

    def set_reuse(self, reuse: ReuseIndex) -> None:
        """The result of :func:`reuse_index`; the next page read shows it (reload the table)."""
        self._reuse = dict(reuse)

    @property
    def effective(self) -> EffectiveProtocols:
        store = self._opener.result()
        while True:
            self.prefetch()
            with self._lock:
                future, stopped = self._effective, self._stopped
            if future is not None:
                return future.result()
            if stopped:  # the window closed: read here rather than on the stopped helper
                from db.conflicts import effective_protocols

                return effective_protocols(store)

    # ---- ids -------------------------------------------------------------
    def ids(
        self,
        flt: StationFilter,
        sort: str = "code",
        descending: bool = False,
        limit: int | None = None,
        reader: StationReader | None = None,
    ) -> list[str]:
        """Ids in table order; ``limit`` only for the unfiltered table (the first screen).

        The station list's columns sort in SQL; the figures' columns (observed,
        official, gap, violations, flags) by :mod:`db.services.station_sort`,
        stations without a value last in either direction. ``reader``: another
        connection than the UI thread's (:meth:`ids_in_background`).
        """
        if limit is not None and flt != StationFilter():
            raise ValueError("limit applies to the unfiltered list only")
        by_figure = sort in FIGURE_SORTS
        # 100,000 ids through the driver: SQLAlchemy's per-row result processing costs 4x the query.
        ids = (reader or self._reader).ids(
            flt.region,
            flt.code_search,
            flt.has_violations,
            "code" if by_figure else sort,
            False if by_figure else descending,
            None if by_figure else limit,
        )
        wanted: list[frozenset[str]] = []
        if flt.disputed:
            wanted.append(self.disputed_ids())
        if flt.breaks_checks:
            wanted.append(self.breaking_ids())
        if flt.reused_evidence:
            wanted.append(frozenset(self._reuse))
        if flt.observed:
            wanted.append(self.sort_keys.observed_ids())
        if flt.only is not None:
            wanted.append(flt.only)
        elif flt.min_gap is not None:
            wanted.append(self.sort_keys.gap_above(flt.min_gap))
        for keep in wanted:
            ids = [i for i in ids if i in keep]
        if by_figure:
            ids = self.sort_keys.sort(ids, sort, descending)
            if limit is not None:
                ids = ids[:limit]
        return ids

    def regions(self) -> list[str]:
        """Region codes of the station list (read once per refresh: the page asks on every retranslation)."""
        if self._regions is None:
            self._regions = self._reader.regions()
        return list(self._regions)

    def total(self) -> int:
        """Stations in the file (counted once per refresh)."""
        if self._total is None:
            self._total = self._reader.total()
        return self._total

    def disputed_ids(self) -> frozenset[str]:
        """Stations with an unresolved conflict or marked disputed."""
        eff = self.effective
        return eff.unresolved | eff.disputed

    def breaking_ids(self) -> frozenset[str]:
        """Stations whose counting protocol breaks an error-level control relation."""
        if self._breaking is None:
            by_station = self.effective.by_station
            values = self.protocol_values(by_station.values())
            self._breaking = frozenset(
                sid for sid, pid in by_station.items() if errors_of(self._template, values.get(pid, {}))
            )
        return self._breaking

    # ---- rows ------------------------------------------------------------
    def rows(self, ids: Sequence[str], wait: bool = True, reader: StationReader | None = None) -> dict[str, StationRow]:
        """The rows of ``ids`` (a page), computed in a handful of indexed queries.

        With ``wait=False`` and the effective protocols still being read, the rows
        carry the station list and official figures only, marked ``pending``.
        ``reader``: another connection than the UI thread's (:meth:`rows_in_background`).
        """
        if not ids:
            return {}
        if not wait and self.effective_error() is not None:
            # The observers' figures could not be read (the window's status says why): the station
            # list and the official figures are still worth showing, never a failure on every paint.
            return self._pending_rows(ids, reader)
        eff = self.effective if wait or self.effective_ready() else None
        if eff is None:
            return self._pending_rows(ids, reader)
        facts = self._page_facts(ids)
        values = self.protocol_values(eff.by_station[i] for i in ids if i in eff.by_station)
        return {st.id: self._row(st, eff, facts, values) for st in facts.stations}

    def _page_facts(self, ids: Sequence[str]) -> _PageFacts:
        from sqlalchemy import func, select  # loaded already: the effective protocols needed it

        from db import models as m

        with self.store.engine.connect() as conn:
            stations = conn.execute(
                select(m.Station.id, m.Station.code, m.Station.region, m.Station.district, m.Station.registered).where(
                    m.Station.id.in_(ids)
                )
            ).all()
            layout = conn.execute(select(m.Meta.value).where(m.Meta.key == LAYOUT_META)).scalar()
            official = {
                sid: official_json(text, blob, layout)
                for sid, text, blob in conn.execute(
                    select(
                        m.OfficialResult.station_id, m.OfficialResult.values_json, m.OfficialResult.values_blob
                    ).where(m.OfficialResult.station_id.in_(ids))
                )
            }
            violations = dict(
                conn.execute(
                    select(m.Violation.station_id, func.count())
                    .where(m.Violation.station_id.in_(ids))
                    .group_by(m.Violation.station_id)
                ).all()
            )
            decided = set(
                conn.execute(select(m.Resolution.station_id).where(m.Resolution.station_id.in_(ids))).scalars()
            )
            observed_here = set(
                conn.execute(select(m.Protocol.station_id).where(m.Protocol.station_id.in_(ids))).scalars()
            )
        return _PageFacts(stations, official, violations, decided, observed_here)

    def _row(
        self, st: Any, eff: EffectiveProtocols, facts: _PageFacts, values: dict[str, dict[str, int | None]]
    ) -> StationRow:
        tpl = self._template
        flags = set(_decision_flags(st.id, eff, facts.decided))
        observed = None
        outcomes: tuple[CheckOutcome, ...] = ()
        pid = eff.by_station.get(st.id)
        if pid is not None:
            figures = values.get(pid, {})
            observed = turnout(tpl, figures, st.registered)
            outcomes = error_outcomes(tpl, figures)
            if outcomes:
                flags.add(FLAG_CHECKS)
        off_pct = None
        if st.id in facts.official:
            off_pct = official_turnout(tpl, facts.official[st.id], st.registered)
        elif st.id in facts.observed_here:
            flags.add(FLAG_NO_OFFICIAL)
        n_viol = int(facts.violations.get(st.id, 0))
        if n_viol:
            flags.add(FLAG_VIOLATIONS)
        reused = self._reuse.get(st.id, ())
        if reused:
            flags.add(FLAG_REUSED)
        return StationRow(
            st.id,
            st.code,
            st.region,
            st.district,
            st.registered,
            observed,
            off_pct,
            n_viol,
            tuple(o.check.source for o in outcomes),
            frozenset(flags),
            reused,
            check_outcomes=outcomes,
        )

    def _pending_rows(self, ids: Sequence[str], reader: StationReader | None = None) -> dict[str, StationRow]:
        tpl = self._template
        reads = reader or self._reader
        official = reads.official(ids)
        out: dict[str, StationRow] = {}
        for sid, code, region, district, registered in reads.stations(ids):
            off_pct = official_turnout(tpl, official[sid], registered) if sid in official else None
            out[sid] = StationRow(sid, code, region, district, registered, None, off_pct, pending=True)
        return out

    def protocol_values(self, protocol_ids: Iterable[str]) -> dict[str, dict[str, int | None]]:
        from sqlalchemy import select

        from db import models as m

        ids = list(protocol_ids)
        out: dict[str, dict[str, int | None]] = defaultdict(dict)
        pv = m.ProtocolValue
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                rows = conn.execute(
                    select(pv.protocol_id, pv.key, pv.value).where(
                        pv.protocol_id.in_(ids[start : start + IN_CHUNK]), pv.value.is_not(None)
                    )
                )
                for pid, key, value in rows:
                    out[pid][key] = value
        return out


def reuse_index(store: ElectionStore, guard: QueryGuard | None = None) -> ReuseIndex:
    """Photos submitted for more than one station, keyed by station id (slow: run it in the background).

    :func:`db.reuse.reused_evidence_by_station` keys by station code, which is
    unique in the station list; the table works with ids. With a ``guard``,
    :meth:`QueryGuard.interrupt` stops the scan within a few thumbnails (or
    aborts its query) by raising :class:`ScanStopped`.
    """
    from db import reuse

    if guard is None:
        by_code = reuse.reused_evidence_by_station(store)
    else:
        with guard.watching(store):
            _hash_thumbnails(store, guard)
            by_code = reuse.reused_evidence_by_station(store)  # every thumbnail hashed: the rest is quick
    if not by_code:
        return {}
    from sqlalchemy import select

    from db import models as m

    with store.engine.connect() as conn:
        id_of = dict(conn.execute(select(m.Station.code, m.Station.id)).all())
    return {id_of[code]: tuple(pairs) for code, pairs in by_code.items() if code in id_of}


def _hash_thumbnails(store: ElectionStore, guard: QueryGuard) -> None:
    """Fill db.reuse's per-process hash cache as its scan would, checking ``guard`` between thumbnails.

    The scan hashes the first row of each distinct file, in the order of its own
    query, and caches the hash by SHA-256; doing that here, in the same order and
    with the same function, makes the scan itself find every hash cached, and lets
    a closing window stop the seconds of decoding. (A ``cancel`` argument on
    :func:`db.reuse.find_reused_evidence` would make this unnecessary.)
    """
    from db import reuse

    reuse.file_hashes(store, reuse._rows(store), guard.check)
