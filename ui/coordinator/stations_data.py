"""Row data for the coordinator's stations table, read in pages.

The table must open and scroll through 100,000 stations instantly, so this
module never loads every row's contents: :meth:`StationSource.ids` returns only
the ordered station ids matching the filters (one indexed query), and
:meth:`StationSource.rows` computes the displayed figures for a page of ids.

The queries are read-only SQLAlchemy Core over ``db.models``; they are UI-shaped
(one page of a table), which is why they live beside the model rather than in
``db/aggregate.py``, whose station table is built for the whole election.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from sqlalchemy import exists, func, select

from db import models as m
from db.store import ElectionStore
from observer.checks import failed_checks, percent
from observer.template import ElectionTemplate

# Flags a row can carry; the UI translates them (coordui.flag.<name>).
FLAG_CONFLICT = "conflict"  # versions differ and nobody has decided yet
FLAG_DISPUTED = "disputed"  # the coordinator marked the station disputed
FLAG_CHOSEN = "chosen"  # versions differed; the coordinator chose one
FLAG_VIOLATIONS = "violations"
FLAG_CHECKS = "checks"  # the effective protocol breaks a control relation
FLAG_NO_OFFICIAL = "no_official"
FLAGS: tuple[str, ...] = (FLAG_CONFLICT, FLAG_DISPUTED, FLAG_CHOSEN, FLAG_VIOLATIONS, FLAG_CHECKS, FLAG_NO_OFFICIAL)

SORT_COLUMNS: dict[str, object] = {
    "code": m.Station.code,
    "region": m.Station.region,
    "district": m.Station.district,
    "registered": m.Station.registered,
}


@dataclass(frozen=True)
class StationFilter:
    """What the coordinator narrowed the table to; the default shows everything."""

    region: str = ""
    code_search: str = ""
    disputed: bool = False  # unresolved conflicts and stations marked disputed
    has_violations: bool = False
    breaks_checks: bool = False


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

    @property
    def gap_pp(self) -> float | None:
        if self.observed_pct is None or self.official_pct is None:
            return None
        return self.official_pct - self.observed_pct


def _values_differ(versions: Sequence[dict[str, int | None]]) -> bool:
    """Two versions conflict when a line both filled in has different numbers."""
    for i, a in enumerate(versions):
        for b in versions[i + 1 :]:
            for key in a.keys() & b.keys():
                if a[key] is not None and b[key] is not None and a[key] != b[key]:
                    return True
    return False


@dataclass
class _StationProtocols:
    versions: dict[str, dict[str, int | None]] = field(default_factory=dict)  # protocol id -> values
    decision: tuple[str, str | None] | None = None  # (status, protocol id) of the newest resolution

    def effective(self) -> tuple[dict[str, int | None] | None, str | None]:
        """The values that count for this station, and the flag explaining them.

        A decision wins; agreeing versions count as one; differing versions with
        no decision count as nothing until the coordinator resolves them.
        """
        if self.decision is not None:
            status, pid = self.decision
            if status == "disputed":
                return None, FLAG_DISPUTED
            if pid in self.versions:
                return self.versions[pid], FLAG_CHOSEN
        if not self.versions:
            return None, None
        vals = list(self.versions.values())
        if len(vals) > 1 and _values_differ(vals):
            return None, FLAG_CONFLICT
        merged: dict[str, int | None] = {}
        for v in vals:
            for k, x in v.items():
                if x is not None or k not in merged:
                    merged[k] = x
        return merged, None


class StationSource:
    """Reads station ids and pages of rows from an HQ election file."""

    def __init__(self, store: ElectionStore) -> None:
        self.store = store
        self._template: ElectionTemplate = store.template
        self._breaking: frozenset[str] | None = None
        self._disputed: frozenset[str] | None = None

    def invalidate(self) -> None:
        """Forget derived sets after a merge, an import or a decision."""
        self._breaking = None
        self._disputed = None

    # ---- ids -------------------------------------------------------------
    def ids(self, flt: StationFilter, sort: str = "code", descending: bool = False) -> list[str]:
        q = select(m.Station.id)
        if flt.region:
            q = q.where(m.Station.region == flt.region)
        text = flt.code_search.strip()
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(m.Station.code.like(f"%{escaped}%", escape="\\"))
        if flt.has_violations:
            q = q.where(exists().where(m.Violation.station_id == m.Station.id))
        col = SORT_COLUMNS.get(sort, m.Station.code)
        order = col.desc() if descending else col.asc()  # type: ignore[attr-defined]
        q = q.order_by(order, m.Station.code)
        with self.store.engine.connect() as conn:
            ids = list(conn.execute(q).scalars())
        if flt.disputed:
            wanted = self.disputed_ids()
            ids = [i for i in ids if i in wanted]
        if flt.breaks_checks:
            wanted = self.breaking_ids()
            ids = [i for i in ids if i in wanted]
        return ids

    def regions(self) -> list[str]:
        with self.store.engine.connect() as conn:
            return [r for r in conn.execute(select(m.Station.region).distinct().order_by(m.Station.region)).scalars() if r]

    def total(self) -> int:
        return self.store.station_count()

    def disputed_ids(self) -> frozenset[str]:
        """Stations with an unresolved conflict or marked disputed."""
        if self._disputed is None:
            self._disputed = frozenset(
                sid for sid, sp in self._protocols(None).items() if sp.effective()[1] in (FLAG_CONFLICT, FLAG_DISPUTED)
            )
        return self._disputed

    def breaking_ids(self) -> frozenset[str]:
        """Stations whose effective protocol breaks a control relation of severity error or warning."""
        if self._breaking is None:
            out: set[str] = set()
            for sid, sp in self._protocols(None).items():
                values, _flag = sp.effective()
                if values and failed_checks(self._template, values):
                    out.add(sid)
            self._breaking = frozenset(out)
        return self._breaking

    # ---- rows ------------------------------------------------------------
    def rows(self, ids: Sequence[str]) -> dict[str, StationRow]:
        """The rows of ``ids`` (a page), computed in a handful of indexed queries."""
        if not ids:
            return {}
        tpl = self._template
        with self.store.engine.connect() as conn:
            stations = conn.execute(
                select(m.Station.id, m.Station.code, m.Station.region, m.Station.district, m.Station.registered).where(
                    m.Station.id.in_(ids)
                )
            ).all()
            official = dict(
                conn.execute(
                    select(m.OfficialResult.station_id, m.OfficialResult.values_json).where(m.OfficialResult.station_id.in_(ids))
                ).all()
            )
            violations = dict(
                conn.execute(
                    select(m.Violation.station_id, func.count())
                    .where(m.Violation.station_id.in_(ids))
                    .group_by(m.Violation.station_id)
                ).all()
            )
        protocols = self._protocols(ids)
        out: dict[str, StationRow] = {}
        for st in stations:
            sp = protocols.get(st.id)
            values, flag = sp.effective() if sp else (None, None)
            flags: set[str] = {flag} if flag else set()
            observed = None
            failed: tuple[str, ...] = ()
            if values:
                observed = _turnout(tpl, values, st.registered)
                failed = tuple(o.check.source for o in failed_checks(tpl, values))
                if failed:
                    flags.add(FLAG_CHECKS)
            off_pct = None
            if st.id in official:
                off_pct = _official_turnout(tpl, official[st.id], st.registered)
            elif sp is not None:
                flags.add(FLAG_NO_OFFICIAL)
            n_viol = int(violations.get(st.id, 0))
            if n_viol:
                flags.add(FLAG_VIOLATIONS)
            out[st.id] = StationRow(
                st.id, st.code, st.region, st.district, st.registered, observed, off_pct, n_viol, failed, frozenset(flags)
            )
        return out

    def _protocols(self, ids: Iterable[str] | None) -> dict[str, _StationProtocols]:
        """Every protocol version (and the newest decision) of the given stations, or of all."""
        id_list = list(ids) if ids is not None else None
        pq = select(m.Protocol.id, m.Protocol.station_id, m.ProtocolValue.key, m.ProtocolValue.value).join(
            m.ProtocolValue, m.ProtocolValue.protocol_id == m.Protocol.id
        )
        rq = select(m.Resolution.station_id, m.Resolution.status, m.Resolution.protocol_id, m.Resolution.decided_at).order_by(
            m.Resolution.decided_at, m.Resolution.created_at
        )
        if id_list is not None:
            pq = pq.where(m.Protocol.station_id.in_(id_list))
            rq = rq.where(m.Resolution.station_id.in_(id_list))
        out: dict[str, _StationProtocols] = defaultdict(_StationProtocols)
        with self.store.engine.connect() as conn:
            for pid, sid, key, value in conn.execute(pq):
                out[sid].versions.setdefault(pid, {})[key] = value
            for sid, status, pid, _at in conn.execute(rq):
                out[sid].decision = (status, pid)  # ordered by time: the newest wins
        return dict(out)


def _official_turnout(tpl: ElectionTemplate, values_json: str, registered: int | None) -> float | None:
    try:
        raw = json.loads(values_json)
    except (ValueError, TypeError):
        return None
    if not isinstance(raw, dict):
        return None
    values = {k: v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}
    return _turnout(tpl, values, registered)


def _turnout(tpl: ElectionTemplate, values: dict[str, int | None], registered: int | None) -> float | None:
    """Turnout on the template's definition; the station list's registered count fills a missing line."""
    denom = tpl.registered.evaluate(values, tpl.party_keys)
    return percent(tpl.voted.evaluate(values, tpl.party_keys), denom if denom is not None else registered)
