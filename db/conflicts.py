"""Conflicting protocol versions at a station, the coordinator's decisions, and which figures count.

A station can have several protocol versions: two observers, or one observer's
"announced" and "posted copy". All are kept. Where their figures differ the
station is a conflict until the coordinator chooses one version or marks the
station disputed; every decision is a new ``resolutions`` row, the newest wins,
and the history stays.

``effective_protocols`` is what aggregation builds on: for every station the one
protocol whose figures count, under the coordinator's inclusion rules. It runs a
handful of set-based queries and only looks at protocol values for stations that
have more than one version, so it stays fast at 100,000 stations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from sqlalchemy import Connection, exists, func, select
from sqlalchemy.exc import DatabaseError, OperationalError

from db import dbapi
from db import models as m
from db.engine import error_for
from db.fileformat import IN_CHUNK
from db.rows import insert_new
from db.rules import InclusionRules, load_rules
from db.store import ElectionStore, now
from observer.aggregate import StationArrays, failing_checks
from observer.errors import BaqylauError
from observer.template import ElectionTemplate

STATUS_CHOSEN = "chosen"
STATUS_DISPUTED = "disputed"


class ConflictError(BaqylauError):
    """A decision on a conflict cannot be recorded."""

    key = "package.conflict.error"


Figures = Mapping[str, int]


@dataclass(frozen=True)
class ResolutionInfo:
    id: str
    station_id: str
    protocol_id: str | None
    status: str  # chosen | disputed
    reason: str
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class ProtocolVersion:
    protocol_id: str
    observer_id: str | None
    observer_name: str
    organisation: str
    source: str  # announced | posted_copy
    values: Mapping[str, int | None]
    package_file: str  # "" when typed in this file
    key_fingerprint: str | None
    updated_at: datetime


@dataclass(frozen=True)
class StationConflict:
    station_id: str
    station_code: str
    versions: tuple[ProtocolVersion, ...]
    differing_keys: tuple[str, ...]  # in template order
    resolution: ResolutionInfo | None  # the decision in force, if any

    @property
    def resolved(self) -> bool:
        return self.resolution is not None


@dataclass(frozen=True)
class EffectiveProtocols:
    """Per station, the protocol whose figures count, and the stations that do not count."""

    by_station: Mapping[str, str]  # station_id -> protocol_id
    disputed: frozenset[str]  # the coordinator marked the station disputed
    unresolved: frozenset[str]  # versions differ and nobody has decided yet
    excluded: frozenset[str]  # has figures, but none (or not the chosen one) passes the inclusion rules
    rules: InclusionRules = field(default_factory=InclusionRules)

    @property
    def not_counted(self) -> frozenset[str]:
        """Stations with figures that aggregates leave out, to be reported next to them."""
        return self.disputed | self.unresolved | self.excluded

    @property
    def protocol_ids(self) -> frozenset[str]:
        return frozenset(self.by_station.values())


# ---- queries -----------------------------------------------------------------


def _has_values():  # type: ignore[no-untyped-def]
    pv = m.ProtocolValue
    return exists().where(pv.protocol_id == m.Protocol.id, pv.value.is_not(None))


_HAS_FIGURES = "EXISTS (SELECT 1 FROM protocol_values v WHERE v.protocol_id = p.id AND v.value IS NOT NULL)"


def _candidates(
    conn: Connection, rules: InclusionRules, with_figures: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """(protocol_id, station_id) of every protocol with figures that the rules let count.

    Plain SQL with constant literals only (no parameters), written with IN (subquery)
    rather than correlated EXISTS where the inner table has no index to seek. With
    ``with_figures`` (the ids of the protocols with a figure, from a caller that has
    just read every figure) the protocols are filtered by it instead of the EXISTS:
    10,000 look-ups of a figure each cost more than reading the protocols whole.
    """
    joins: list[str] = []
    where = [_HAS_FIGURES] if with_figures is None else []
    if rules.only_trusted_keys:
        trusted = "(SELECT fingerprint FROM trusted_keys WHERE status = 'trusted')"
        revoked = "(SELECT fingerprint FROM trusted_keys WHERE status = 'revoked')"
        joins.append("LEFT JOIN packages k ON k.id = p.package_id LEFT JOIN packages via ON via.id = k.via_package_id")
        # typed in this file: the coordinator's own data. A station package that reached
        # us inside a district package is vouched for by the district's key.
        where.append(
            f"(p.package_id IS NULL OR ((k.key_fingerprint IS NULL OR k.key_fingerprint NOT IN {revoked})"
            f" AND (k.key_fingerprint IN {trusted} OR via.key_fingerprint IN {trusted})))"
        )
    if rules.require_protocol_photo:
        where.append("p.id IN (SELECT protocol_id FROM evidence WHERE kind = 'photo' AND protocol_id IS NOT NULL)")
    sql = f"SELECT p.id, p.station_id FROM protocols p {' '.join(joins)}"
    if where:
        sql += f" WHERE {' AND '.join(where)}"
    if with_figures is None:
        return dbapi.rows(conn, sql)
    return [(pid, sid) for pid, sid in dbapi.execute(conn, sql) if pid in with_figures]


def _values(conn: Connection, protocol_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Non-empty figures per protocol (an empty field is not a figure)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    ids = list(protocol_ids)
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = dbapi.execute(
            conn,
            f"SELECT protocol_id, key, value FROM protocol_values WHERE value IS NOT NULL AND protocol_id IN ({marks})",
            chunk,
        )
        for pid, key, value in rows:
            out[pid][key] = value
    return out


def _failing_protocols(conn: Connection, template: ElectionTemplate, protocol_ids: list[str]) -> set[str]:
    """Protocols whose figures break an error-level control relation, checked column-wise (numpy).

    The same vectorised evaluation as the aggregates' "breaks a control relation", so a
    station excluded here is the one flagged there.
    """
    if not protocol_ids:
        return set()
    keys = template.all_keys
    row_of = {pid: i for i, pid in enumerate(protocol_ids)}
    col_of = {k: j for j, k in enumerate(keys)}
    values = np.full((len(protocol_ids), len(keys)), -1, dtype=np.int64)  # -1: not filled in
    rows = dbapi.execute(conn, "SELECT protocol_id, key, value FROM protocol_values WHERE value IS NOT NULL")
    for pid, key, value in rows:
        i = row_of.get(pid)
        j = col_of.get(key)
        if i is not None and j is not None:
            values[i, j] = value
    n = len(protocol_ids)
    empty = np.full(n, "", dtype=object)
    arrays = StationArrays(
        source="observed",
        keys=keys,
        station_ids=np.asarray(protocol_ids, dtype=object),
        codes=empty,
        regions=empty,
        districts=empty,
        registered=np.full(n, -1, dtype=np.int64),
        values=values,
        has_figures=np.ones(n, dtype=bool),
    )
    broken = failing_checks(template, arrays).any(axis=1)
    return {protocol_ids[i] for i in np.flatnonzero(broken)}


def _latest_resolutions(conn: Connection, station_ids: Iterable[str] | None = None) -> dict[str, ResolutionInfo]:
    """The decision in force per station: the newest row (ties: latest written, then id)."""
    r = m.Resolution
    ranked = select(
        r.id,
        r.station_id,
        r.protocol_id,
        r.status,
        r.reason,
        r.decided_by,
        r.decided_at,
        func.row_number()
        .over(partition_by=r.station_id, order_by=(r.decided_at.desc(), r.created_at.desc(), r.id.desc()))
        .label("rank"),
    )
    if station_ids is not None:
        ranked = ranked.where(r.station_id.in_(list(station_ids)))
    sub = ranked.subquery()
    rows = conn.execute(select(sub).where(sub.c.rank == 1))
    return {
        row.station_id: ResolutionInfo(
            row.id, row.station_id, row.protocol_id, row.status, row.reason, row.decided_by, row.decided_at
        )
        for row in rows
    }


def effective_protocols(
    hq: ElectionStore, rules: InclusionRules | None = None, *, with_figures: Collection[str] | None = None
) -> EffectiveProtocols:
    """Which protocol's figures count at each station (see the module docstring).

    With no ``rules`` the rules saved in the HQ file apply. ``with_figures``: the ids of
    every protocol with a figure (value not NULL), when the caller has read them anyway.
    """
    rules = load_rules(hq) if rules is None else rules
    with hq.engine.connect() as conn:
        candidates = _candidates(conn, rules, with_figures)
        by_station_all: dict[str, list[str]] = defaultdict(list)
        for pid, sid in candidates:
            by_station_all[sid].append(pid)
        resolutions = _latest_resolutions(conn)
        multi = [pid for pids in by_station_all.values() if len(pids) > 1 for pid in pids]
        figures = _values(conn, multi)
        if rules.exclude_failed_checks:
            failing = _failing_protocols(conn, hq.template, [pid for pid, _ in candidates])
            for sid in list(by_station_all):
                kept = [pid for pid in by_station_all[sid] if pid not in failing]
                if kept:
                    by_station_all[sid] = kept
                else:
                    del by_station_all[sid]
        stations_with_figures: set[str] = set()
        if rules.active:
            if with_figures is None:
                sql = f"SELECT DISTINCT p.station_id FROM protocols p WHERE {_HAS_FIGURES}"
                stations_with_figures = {r[0] for r in dbapi.execute(conn, sql)}
            else:
                found = dbapi.execute(conn, "SELECT id, station_id FROM protocols")
                stations_with_figures = {sid for pid, sid in found if pid in with_figures}

    chosen: dict[str, str] = {}
    disputed: set[str] = set()
    unresolved: set[str] = set()
    excluded: set[str] = set()
    for sid, res in resolutions.items():
        if res.status == STATUS_DISPUTED:
            disputed.add(sid)
        elif res.protocol_id is not None:
            if res.protocol_id in by_station_all.get(sid, ()):
                chosen[sid] = res.protocol_id
            else:
                excluded.add(sid)
    for sid, pids in by_station_all.items():
        if sid in resolutions:
            continue
        if len(pids) == 1:
            chosen[sid] = pids[0]
            continue
        first = figures.get(pids[0], {})
        if all(figures.get(pid, {}) == first for pid in pids[1:]):
            # identical figures: any version gives the same totals; pick one deterministically
            chosen[sid] = min(pids)
        else:
            unresolved.add(sid)
    excluded |= stations_with_figures - chosen.keys() - disputed - unresolved
    return EffectiveProtocols(chosen, frozenset(disputed), frozenset(unresolved), frozenset(excluded), rules)


def _differing(template_keys: tuple[str, ...], versions: list[Mapping[str, int | None]]) -> tuple[str, ...]:
    keys = set().union(*(v.keys() for v in versions))
    differ = {k for k in keys if len({v.get(k) for v in versions}) > 1}
    ordered = [k for k in template_keys if k in differ]
    return tuple(ordered + sorted(differ - set(ordered)))


def station_conflicts(hq: ElectionStore, *, include_resolved: bool = True) -> list[StationConflict]:
    """Stations whose protocol versions disagree, with the versions side by side (by station code)."""
    p = m.Protocol
    with hq.engine.connect() as conn:
        multi = select(p.station_id).where(_has_values()).group_by(p.station_id).having(func.count() > 1).subquery()
        rows = conn.execute(
            select(
                p.id,
                p.station_id,
                p.observer_id,
                p.source,
                p.updated_at,
                m.Station.code,
                m.Observer.name,
                m.Observer.organisation,
                m.Package.file_name,
                m.Package.key_fingerprint,
            )
            .join(multi, multi.c.station_id == p.station_id)
            .join(m.Station, m.Station.id == p.station_id)
            .outerjoin(m.Observer, m.Observer.id == p.observer_id)
            .outerjoin(m.Package, m.Package.id == p.package_id)
            .where(_has_values())
            .order_by(m.Station.code, p.id)
        ).all()
        figures = _values(conn, [r.id for r in rows])
        resolutions = _latest_resolutions(conn, {r.station_id for r in rows}) if rows else {}
    keys = hq.template.all_keys
    grouped: dict[str, list[ProtocolVersion]] = defaultdict(list)
    codes: dict[str, str] = {}
    for r in rows:
        codes[r.station_id] = r.code
        grouped[r.station_id].append(
            ProtocolVersion(
                r.id,
                r.observer_id,
                r.name or "",
                r.organisation or "",
                r.source,
                dict(figures.get(r.id, {})),
                r.file_name or "",
                r.key_fingerprint,
                r.updated_at,
            )
        )
    out: list[StationConflict] = []
    for sid, versions in grouped.items():
        differ = _differing(keys, [v.values for v in versions])
        if not differ:
            continue
        res = resolutions.get(sid)
        if res is not None and not include_resolved:
            continue
        out.append(StationConflict(sid, codes[sid], tuple(versions), differ, res))
    out.sort(key=lambda c: c.station_code)
    return out


@contextmanager
def _decision_transaction(hq: ElectionStore) -> Iterator[Connection]:
    """A write transaction that takes SQLite's write lock at its start (the check and the insert
    are then one step); on PostgreSQL the caller locks the station's row. Failures become messages."""
    try:
        with hq.engine.connect().execution_options(begin="BEGIN IMMEDIATE") as conn, conn.begin():
            yield conn
    except (OSError, OperationalError, DatabaseError) as exc:
        raise error_for(exc, hq.path, hq.url) from None


class _InForce:
    """The default of ``replaces``: the decision in force when :func:`resolve_station` is called."""


IN_FORCE = _InForce()


def resolve_station(
    hq: ElectionStore,
    station_id: str,
    *,
    protocol_id: str | None,
    status: Literal["chosen", "disputed"],
    reason: str,
    decided_by: str,
    replaces: str | None | _InForce = IN_FORCE,
) -> ResolutionInfo:
    """Record a decision (appended, never overwritten): choose a version or mark the station disputed.

    ``replaces`` is the decision the coordinator saw in force (its id; None: undecided); the
    default takes the one in force as the call starts. The decision is recorded only if that is
    still the one in force, checked under a lock: two coordinators deciding the same station at
    once end with one decision, and the other gets ``package.conflict.already_decided`` naming it.
    The lock is the station's row (PostgreSQL: ``SELECT ... FOR NO KEY UPDATE``, which merges'
    foreign-key checks do not wait for; SQLite: the file's write lock, ``BEGIN IMMEDIATE``), so
    decisions on different stations never wait for each other on PostgreSQL.
    """
    reason = reason.strip()
    decided_by = decided_by.strip()
    if status not in (STATUS_CHOSEN, STATUS_DISPUTED):
        raise ConflictError("package.conflict.bad_status", status=status)
    if not reason:
        raise ConflictError("package.conflict.no_reason")
    if not decided_by:
        raise ConflictError("package.conflict.no_author")
    if status == STATUS_DISPUTED:
        protocol_id = None
    with hq.engine.connect() as conn:
        code = conn.execute(select(m.Station.code).where(m.Station.id == station_id)).scalar()
        if code is None:
            raise ConflictError("package.conflict.no_station", station=station_id)
        if status == STATUS_CHOSEN:
            if protocol_id is None:
                raise ConflictError("package.conflict.no_protocol")
            owner = conn.execute(select(m.Protocol.station_id).where(m.Protocol.id == protocol_id)).scalar()
            if owner != station_id:
                raise ConflictError("package.conflict.wrong_protocol", protocol=protocol_id)
        if isinstance(replaces, _InForce):
            seen = _latest_resolutions(conn, (station_id,)).get(station_id)
            replaces = seen.id if seen is not None else None
    with _decision_transaction(hq) as conn:
        if dbapi.is_postgres(conn):
            conn.execute(select(m.Station.id).where(m.Station.id == station_id).with_for_update(key_share=True))
        current = _latest_resolutions(conn, (station_id,)).get(station_id)
        if current is None and replaces is not None:
            raise ConflictError("package.conflict.not_in_force", code=code, decision=replaces)
        if current is not None and current.id != replaces:
            raise ConflictError(
                "package.conflict.already_decided",
                code=code,
                by=current.decided_by,
                at=current.decided_at.isoformat(timespec="seconds"),
            )
        # The newest decision is in force: one made after the decision it replaces is newer than it,
        # whatever the clocks of two coordinators' machines say.
        t = now()
        if current is not None and t <= current.decided_at:
            t = current.decided_at + timedelta(microseconds=1)
        rid = insert_new(
            conn,
            m.Resolution,
            t,
            station_id=station_id,
            protocol_id=protocol_id,
            status=status,
            reason=reason,
            decided_by=decided_by,
            decided_at=t,
        )
    return ResolutionInfo(rid, station_id, protocol_id, status, reason, decided_by, t)


def resolution_history(hq: ElectionStore, station_id: str) -> list[ResolutionInfo]:
    """Every decision on the station, newest first (the first one is in force)."""
    r = m.Resolution
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(r).where(r.station_id == station_id).order_by(r.decided_at.desc(), r.created_at.desc(), r.id.desc())
        ).all()
    return [
        ResolutionInfo(x.id, x.station_id, x.protocol_id, x.status, x.reason, x.decided_by, x.decided_at) for x in rows
    ]
