"""The coordinator's election-night overview: what has arrived and what needs attention, in one read.

Every counter comes from the same function the command line prints it from, so the
window and ``baqylau conflicts`` / ``check`` / ``violations`` / ``gaps`` never disagree:

- counted, disputed, undecided, excluded: :func:`db.conflicts.effective_protocols` (``conflicts``);
- control relations broken (official, observed): :func:`db.aggregate_checks.check_failures` (``check``);
- violations: :func:`db.aggregate_checks.violations_by_category_region` (``violations``);
- stations with a turnout gap: :func:`db.aggregate.turnout_gaps` (``gaps``).

Held and refused packages are the import log's (``packages`` table, as ``merge`` reports them).
It takes seconds on a large HQ file: the window reads it in the background.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from db import models as m
from db.aggregate import turnout_gaps
from db.aggregate_checks import check_failures, violations_by_category_region
from db.conflicts import effective_protocols
from db.merge import HELD, MERGED, REFUSED
from db.store import ElectionStore

GAP_THRESHOLD_PP = 5.0  # a turnout gap worth a phone call, in percentage points (either sign)
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class RegionProgress:
    """Stations of a region on the station list, and how many of them observers reported from."""

    region: str
    expected: int
    reported: int


@dataclass(frozen=True)
class Overview:
    stations: int
    counted: int
    disputed: int
    undecided: int
    excluded: int
    merged_packages: int
    held_packages: int
    refused_packages: int
    violations: int
    violations_by_severity: dict[str, int]  # SEVERITIES -> records
    checks_official: int  # official results breaking a control relation (``check``)
    checks_observed: int  # observed protocol versions breaking one
    check_stations: frozenset[str]  # the stations of those protocols
    gaps_total: int  # stations with both turnouts (``gaps``)
    gaps_over: int  # of them, |gap| > threshold
    gap_stations: frozenset[str]  # those stations' ids (what the counter opens)
    gap_threshold: float
    regions: tuple[RegionProgress, ...]
    timeline: tuple[tuple[datetime, int], ...]  # packages merged per hour (UTC), in time order

    @property
    def reported(self) -> int:
        return sum(r.reported for r in self.regions)


def read_overview(hq: ElectionStore, gap_threshold: float = GAP_THRESHOLD_PP) -> Overview:
    """Everything the overview tab shows, for the file as it is now."""
    eff = effective_protocols(hq)
    failures = check_failures(hq)
    official_failures = sum(1 for f in failures if f.source == "official")
    gaps = turnout_gaps(hq)
    outcomes, timeline = _packages(hq)
    over = [g.station_id for g in gaps if abs(g.gap_pp) > gap_threshold]
    return Overview(
        stations=hq_station_count(hq),
        counted=len(eff.by_station),
        disputed=len(eff.disputed),
        undecided=len(eff.unresolved),
        excluded=len(eff.excluded),
        merged_packages=outcomes[MERGED],
        held_packages=outcomes[HELD],
        refused_packages=outcomes[REFUSED],
        violations=sum(v.count for v in violations_by_category_region(hq)),
        violations_by_severity=_severities(hq),
        checks_official=official_failures,
        checks_observed=len(failures) - official_failures,
        check_stations=frozenset(f.station_id for f in failures),
        gaps_total=len(gaps),
        gaps_over=len(over),
        gap_stations=frozenset(over),
        gap_threshold=gap_threshold,
        regions=_regions(hq),
        timeline=timeline,
    )


@dataclass(frozen=True)
class RefusedPackage:
    """A refused file in the package log: what the "refused" counter opens."""

    file_name: str
    at: datetime  # when it was last refused (aware UTC)
    reason: str  # translated when it was refused
    station_code: str
    signer: str


def refused_packages(hq: ElectionStore) -> list[RefusedPackage]:
    """Every refusal kept in the package log (db.merge), newest first."""
    pk = m.Package
    stmt = (
        select(pk.file_name, pk.updated_at, pk.reason, pk.station_code, pk.signer_name)
        .where(pk.outcome == REFUSED)
        .order_by(pk.updated_at.desc(), pk.file_name)
    )
    with hq.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [RefusedPackage(r[0] or "", r[1], r[2] or "", r[3] or "", r[4] or "") for r in rows]


def hq_station_count(hq: ElectionStore) -> int:
    with hq.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.Station)).scalar_one())


def _severities(hq: ElectionStore) -> dict[str, int]:
    v = m.Violation
    with hq.engine.connect() as conn:
        found = dict(conn.execute(select(v.severity, func.count()).group_by(v.severity)).all())
    return {s: int(found.get(s, 0)) for s in SEVERITIES}


def _regions(hq: ElectionStore) -> tuple[RegionProgress, ...]:
    s, p = m.Station, m.Protocol
    with hq.engine.connect() as conn:
        expected = dict(conn.execute(select(s.region, func.count()).group_by(s.region)).all())
        reported = dict(
            conn.execute(
                select(s.region, func.count(func.distinct(p.station_id)))
                .join(p, p.station_id == s.id)
                .group_by(s.region)
            ).all()
        )
    return tuple(RegionProgress(r, int(n), int(reported.get(r, 0))) for r, n in sorted(expected.items()) if r)


def _packages(hq: ElectionStore) -> tuple[Counter[str], tuple[tuple[datetime, int], ...]]:
    pk = m.Package
    with hq.engine.connect() as conn:
        outcomes: Counter[str] = Counter(
            dict(conn.execute(select(pk.outcome, func.count()).group_by(pk.outcome)).all())
        )
        merged_at = conn.execute(select(pk.merged_at).where(pk.outcome == MERGED, pk.merged_at.is_not(None))).scalars()
        hours = Counter(t.replace(minute=0, second=0, microsecond=0) for t in merged_at if t is not None)
    return outcomes, tuple(sorted(hours.items()))
