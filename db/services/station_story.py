"""One station's whole story, read for the coordinator's station dialog.

The station list's data, the official figures, every observer's protocol version
(with the package it came in and its photos), turnout reports (head-count against
announced), violations with severity, text and media, checklist answers, the
packages that carried the station and their signers, the coordinator's decisions,
and the audit log of edits. Read in one go when the dialog opens a station: a few
indexed queries, a fraction of a second even on a 100,000-station file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from db import models as m
from db.conflicts import EffectiveProtocols, ResolutionInfo, effective_protocols, resolution_history, station_conflicts
from db.official import official_values
from db.services.station_sort import turnout
from db.store import ElectionStore
from observer.definitions import gap_pp
from observer.records import EvidenceInfo

# Where a station stands (observer.definitions' words; the dialog translates coordui.story.status.<name>).
STATUSES = ("not_observed", "counted", "undecided", "disputed", "excluded")


@dataclass(frozen=True)
class StoryProtocol:
    protocol_id: str
    observer_name: str
    source: str  # announced | posted_copy
    values: dict[str, int | None]
    package_file: str
    counted: bool  # the version that counts at this station
    turnout_pct: float | None
    photos: tuple[EvidenceInfo, ...]


@dataclass(frozen=True)
class StoryViolation:
    occurred_at: datetime
    category: str
    severity: str  # low | medium | high
    description: str
    observer_name: str
    media: tuple[EvidenceInfo, ...]


@dataclass(frozen=True)
class StoryPackage:
    file_name: str
    signer_name: str
    key_fingerprint: str
    outcome: str
    merged_at: datetime | None
    reason: str


@dataclass(frozen=True)
class StoryTurnout:
    observer_name: str
    slot: str
    announced: int | None
    observed: int | None  # the observer's head-count at that time


@dataclass(frozen=True)
class StoryAudit:
    at: datetime
    observer_name: str
    record_table: str
    field: str
    action: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class StationStory:
    station_id: str
    code: str
    region: str
    district: str
    address: str
    registered: int | None
    status: str  # one of STATUSES
    official: dict[str, int] | None
    official_pct: float | None
    observed_pct: float | None
    protocols: tuple[StoryProtocol, ...]
    differing_keys: tuple[str, ...]  # lines where the versions disagree
    turnout: tuple[StoryTurnout, ...]
    violations: tuple[StoryViolation, ...]
    checklist: tuple[tuple[str, str, str, str | None, str], ...]  # observer, checklist, question, answer, note
    packages: tuple[StoryPackage, ...]
    decisions: tuple[ResolutionInfo, ...]
    audit: tuple[StoryAudit, ...]

    @property
    def gap_pp(self) -> float | None:
        """Observed minus official (observer.definitions.gap_pp), as on every tab and in the report."""
        return gap_pp(self.observed_pct, self.official_pct)


def station_story(hq: ElectionStore, station_id: str) -> StationStory:
    """Everything the HQ file knows about one station (KeyError if there is no such station)."""
    st = hq.station(station_id)
    if st is None:
        raise KeyError(station_id)
    tpl = hq.template
    eff = effective_protocols(hq)
    evidence = hq.evidence(station_id)
    names = _observer_names(hq)
    figures = official_values(hq, station_id)  # packed or JSON, as the import stored them
    official = None if figures is None else {k: v for k, v in figures.items() if v is not None}
    conflict = next((c for c in station_conflicts(hq) if c.station_id == station_id), None)
    counted_pid = eff.by_station.get(station_id)
    protocols = tuple(
        StoryProtocol(
            pid,
            names.get(observer_id or "", ""),
            source,
            values,
            file_name,
            pid == counted_pid,
            turnout(tpl, values, st.registered),
            tuple(e for e in evidence if e.protocol_id == pid),
        )
        for pid, observer_id, source, file_name, values in _protocols(hq, station_id)
    )
    counted = next((p for p in protocols if p.counted), None)
    return StationStory(
        station_id=station_id,
        code=st.code,
        region=st.region,
        district=st.district,
        address=st.address,
        registered=st.registered,
        status=_status(station_id, eff, bool(protocols)),
        official=official,
        official_pct=turnout(tpl, dict(official), st.registered) if official is not None else None,
        observed_pct=counted.turnout_pct if counted else None,
        protocols=protocols,
        differing_keys=tuple(conflict.differing_keys) if conflict else (),
        turnout=_turnout_reports(hq, station_id, names),
        violations=_violations(hq, station_id, names, evidence),
        checklist=_checklist(hq, station_id, names),
        packages=_packages(hq, st.code, station_id),
        decisions=tuple(resolution_history(hq, station_id)),
        audit=_audit(hq, station_id, names),
    )


def _status(sid: str, eff: EffectiveProtocols, observed: bool) -> str:
    if sid in eff.unresolved:
        return "undecided"
    if sid in eff.disputed:
        return "disputed"
    if sid in eff.excluded:
        return "excluded"
    if sid in eff.by_station:
        return "counted"
    return "excluded" if observed else "not_observed"  # versions without figures count nowhere


def _observer_names(hq: ElectionStore) -> dict[str, str]:
    with hq.engine.connect() as conn:
        return dict(conn.execute(select(m.Observer.id, m.Observer.name)).all())  # type: ignore[arg-type]


def _protocols(hq: ElectionStore, sid: str) -> list[tuple[str, str | None, str, str, dict[str, int | None]]]:
    p, v, pk = m.Protocol, m.ProtocolValue, m.Package
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(p.id, p.observer_id, p.source, pk.file_name)
            .outerjoin(pk, pk.id == p.package_id)
            .where(p.station_id == sid)
            .order_by(p.created_at)
        ).all()
        values: dict[str, dict[str, int | None]] = {r.id: {} for r in rows}
        for pid, key, value in conn.execute(select(v.protocol_id, v.key, v.value).where(v.protocol_id.in_(values))):
            values[pid][key] = value
    return [(r.id, r.observer_id, r.source, r.file_name or "", values[r.id]) for r in rows]


def _turnout_reports(hq: ElectionStore, sid: str, names: dict[str, str]) -> tuple[StoryTurnout, ...]:
    t = m.TurnoutReport
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(t.observer_id, t.slot, t.announced, t.observed).where(t.station_id == sid).order_by(t.slot)
        ).all()
    return tuple(StoryTurnout(names.get(r.observer_id or "", ""), r.slot, r.announced, r.observed) for r in rows)


def _violations(
    hq: ElectionStore, sid: str, names: dict[str, str], evidence: list[EvidenceInfo]
) -> tuple[StoryViolation, ...]:
    v = m.Violation
    rank = {"high": 0, "medium": 1, "low": 2}
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(v.id, v.occurred_at, v.category, v.severity, v.description, v.observer_id).where(
                v.station_id == sid, v.deleted_at.is_(None)
            )
        ).all()
    out = [
        StoryViolation(
            r.occurred_at,
            r.category,
            r.severity,
            r.description,
            names.get(r.observer_id or "", ""),
            tuple(e for e in evidence if e.violation_id == r.id),
        )
        for r in rows
    ]
    out.sort(key=lambda x: (rank.get(x.severity, 3), x.occurred_at))  # the serious ones first
    return tuple(out)


def _checklist(hq: ElectionStore, sid: str, names: dict[str, str]) -> tuple[tuple[str, str, str, str | None, str], ...]:
    c = m.ChecklistAnswer
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(c.observer_id, c.checklist, c.question, c.answer, c.note)
            .where(c.station_id == sid)
            .order_by(c.checklist, c.question)
        ).all()
    return tuple((names.get(r.observer_id or "", ""), r.checklist, r.question, r.answer, r.note) for r in rows)


def _packages(hq: ElectionStore, code: str, sid: str) -> tuple[StoryPackage, ...]:
    pk = m.Package
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(pk.file_name, pk.signer_name, pk.key_fingerprint, pk.outcome, pk.merged_at, pk.reason)
            .where(pk.station_code == code)
            .order_by(pk.created_at)
        ).all()
    return tuple(
        StoryPackage(r.file_name, r.signer_name, r.key_fingerprint or "", r.outcome, r.merged_at, r.reason)
        for r in rows
    )


def _audit(hq: ElectionStore, sid: str, names: dict[str, str]) -> tuple[StoryAudit, ...]:
    a = m.AuditEntry
    with hq.engine.connect() as conn:
        rows = conn.execute(
            select(a.created_at, a.observer_id, a.record_table, a.field, a.action, a.old, a.new)
            .where(a.station_id == sid)
            .order_by(a.created_at)
        ).all()
    return tuple(
        StoryAudit(r.created_at, names.get(r.observer_id or "", ""), r.record_table, r.field, r.action, r.old, r.new)
        for r in rows
    )
