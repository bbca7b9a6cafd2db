"""The report's data model: plain dataclasses of everything the report shows (``reports.data`` fills them).

Sections (``reports/sections``) only format these; tests read the same objects to check that
every total equals the sum of its rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from observer.aggregate import Totals
from observer.checks import percent
from observer.definitions import StationCounts, gap_pp
from observer.regionmap import RegionMap
from observer.template import ElectionTemplate

GAP_FLAG_PP = 5.0
SERIOUS_CASES = 12
THUMBS_PER_CASE = 3


@dataclass(frozen=True)
class Figures:
    """One unit's totals from one source, as the report prints them."""

    stations: int = 0
    turnout_pct: float | None = None
    invalid_pct: float | None = None
    invalid: int | None = None
    parties: Mapping[str, int | None] = field(default_factory=dict)
    shares: Mapping[str, float | None] = field(default_factory=dict)

    def party_pct(self, key: str) -> float | None:
        return self.shares.get(key)

    @classmethod
    def of(cls, totals: Totals | None, template: ElectionTemplate) -> Figures:
        if totals is None or not totals.stations:
            return cls()
        lines = {**totals.lines, **totals.parties}
        return cls(
            totals.stations,
            totals.turnout_pct,
            totals.invalid_pct,
            template.invalid.evaluate(lines, template.party_keys),
            dict(totals.parties),
            dict(totals.party_pct),
        )


@dataclass(frozen=True)
class UnitRow:
    """One region (or the whole country) in the turnout/invalid/results tables."""

    code: str
    name: str
    stations_total: int
    stations_counted: int  # stations whose observed protocol counts
    observed: Figures  # counted observer protocols (of stations that also have an official result)
    official_same: Figures  # official results of the same stations
    official_all: Figures  # official results of every station in the unit

    @property
    def turnout_gap_pp(self) -> float | None:
        return gap_pp(self.observed.turnout_pct, self.official_same.turnout_pct)


@dataclass(frozen=True)
class StationRow:
    """One observed station in the annex."""

    code: str
    region: str
    registered: int | None
    observed_voted: int | None
    official_voted: int | None
    observed_turnout: float | None
    official_turnout: float | None
    observed_invalid: float | None
    official_invalid: float | None
    violations: int
    failed_checks: int
    disputed: bool
    has_official: bool

    @property
    def gap_pp(self) -> float | None:
        return gap_pp(self.observed_turnout, self.official_turnout)

    @property
    def flags(self) -> tuple[str, ...]:
        """Flag codes (explained by ``report.flag.<code>``)."""
        out: list[str] = []
        if self.disputed:
            out.append("D")
        if self.failed_checks:
            out.append("C")
        gap = self.gap_pp
        if gap is not None and abs(gap) > GAP_FLAG_PP:
            out.append("G")
        if not self.has_official:
            out.append("N")
        if self.violations:
            out.append("V")
        return tuple(out)


@dataclass(frozen=True)
class HourPoint:
    """Turnout at one reporting time; each series over the stations that have it."""

    slot: str
    stations: int  # stations with an announced figure
    registered: int  # their voters on the lists
    announced: int  # commission's announced count at the slot
    counted_stations: int  # stations where the observer kept a head-count
    counted_registered: int
    observed: int  # observers' own head-count at the slot

    @property
    def announced_pct(self) -> float | None:
        return percent(self.announced, self.registered)

    @property
    def observed_pct(self) -> float | None:
        return percent(self.observed, self.counted_registered)


@dataclass(frozen=True)
class Thumb:
    jpeg: bytes
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class Case:
    """A serious violation as printed in the report (user text not yet escaped)."""

    station_code: str
    region: str
    occurred_at: datetime  # on the station's clock
    category: str
    severity: str
    description: str
    action: str
    thumbs: tuple[Thumb, ...]
    evidence_count: int


@dataclass(frozen=True)
class Disputed:
    station_code: str
    region: str
    versions: int
    differing: int  # how many lines and parties differ between the versions
    voted: tuple[int | None, ...]  # the turnout figure ("voted") of each version, as the reader checks it first
    status: str  # chosen | disputed | unresolved
    chosen_from: str  # observer whose version counts ("" if none)
    reason: str


@dataclass(frozen=True)
class ImportSummary:
    outcome: str
    packages: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class CheckStat:
    rule: str  # the relation in words, in the report language
    severity: str
    failed: int


@dataclass(frozen=True)
class ReusedPhoto:
    """One photo submitted for two stations (db.reuse), as the report lists it."""

    station_a: str
    observer_a: str
    file_a: str
    station_b: str
    observer_b: str
    file_b: str
    identical: bool  # the same bytes; otherwise a near-duplicate
    distance: int  # differing bits of 64 between the two photos' hashes (0 for identical files)


@dataclass(frozen=True)
class SpoiledTable:
    """Why ballots were invalid, over exactly the stations and protocols of the invalid-ballot total.

    Per station one observer's tally: the observer whose protocol counts. The rows
    add up to ``total`` (the observed invalid ballots of the national row):
    ``reasons`` + ``unrecorded`` (no tally, or a tally short of the protocol's
    figure) + ``mismatched`` (stations whose tally exceeds their protocol's figure:
    their ballots are shown here rather than split by a tally that contradicts it).
    """

    reasons: dict[str, int]  # reason code -> ballots, largest first
    unrecorded: int
    mismatched: int
    mismatched_stations: int
    total: int

    @property
    def rows_sum(self) -> int:
        return sum(self.reasons.values()) + self.unrecorded + self.mismatched


@dataclass
class ReportData:
    lang: str
    template: ElectionTemplate
    election: str
    election_date: str
    organisation: str
    counts: StationCounts  # observer.definitions, national: the same figures as `aggregate`
    national: UnitRow
    regions: list[UnitRow]
    hours: list[HourPoint]
    violations_total: int
    violations_by_category: dict[str, int]
    violations_by_region: dict[str, dict[str, int]]  # region code -> category -> count, every region in order
    spoiled: SpoiledTable
    cases: list[Case]
    stations: list[StationRow]
    disputed: list[Disputed]
    imports: list[ImportSummary]
    check_stats: list[CheckStat]
    inclusion_rule: str
    data_time: datetime | None  # the latest merge, decision or import: the report's only timestamp
    fingerprint: str = ""
    reused_photos: list[ReusedPhoto] = field(default_factory=list)
    region_map: RegionMap | None = None  # the template's map of the regions (observer.regionmap)
    map_problem: str = ""  # why the template's map could not be drawn (a refused file), in the report's language

    @property
    def stations_total(self) -> int:
        return self.counts.total

    @property
    def stations_observed(self) -> int:
        return self.counts.observed

    @property
    def has_observations(self) -> bool:
        """False for an official-results-only file: the observation sections are left out."""
        return self.counts.observed > 0

    def category_name(self, code: str) -> str:
        cat = self.template.category(code)
        return cat.labels.get(self.lang) if cat else code

    def spoiled_name(self, code: str) -> str:
        reason = next((r for r in self.template.spoiled_reasons if r.code == code), None)
        return reason.labels.get(self.lang) if reason else code

    def party_name(self, key: str) -> str:
        party = next(p for p in self.template.parties if p.key == key)
        return party.short_name(self.lang)
