"""Everything the report shows, collected from the HQ file into plain dataclasses.

The PDF code (``reports/build.py``) only formats what is here; it never touches
the database. Collection goes through the store's APIs (``iter_table``,
``violations``, ``evidence``) and all arithmetic is done once, in this module,
so the figures in the key-findings page, the tables and the charts are the
same numbers.

Which protocol counts for a station: the newest coordinator decision
(``resolutions``) wins; without one, the observers' versions are used when they
agree and the station is *disputed* (left out of the totals, listed in the
annex) when they do not. Observers' posted copies are preferred to figures
only heard announced, because a copy can be shown to anyone.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from PIL import Image, UnidentifiedImageError

from db import models as m
from db.conflicts import effective_protocols, station_conflicts
from db.store import ElectionStore
from observer.checks import _SYMBOLS, _words, percent
from observer.evidence import inspect_evidence
from observer.errors import EvidenceError
from observer.i18n import tr
from observer.regions import region_name
from observer.template import ElectionTemplate

# A gap between observed and official turnout larger than this (percentage points)
# is flagged in the station annex; small gaps come from late voters and rounding.
GAP_FLAG_PP = 5.0
SERIOUS_CASES = 12
THUMBS_PER_CASE = 3
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
_MAX_OFFICIAL_JSON = 64 * 1024

Values = dict[str, int | None]


@dataclass(frozen=True)
class Figures:
    """Sums over a set of stations from one source (observed or official)."""

    stations: int = 0
    registered: int = 0
    voted: int = 0
    ballots_cast: int = 0
    invalid: int = 0
    share_base: int = 0
    parties: Mapping[str, int] = field(default_factory=dict)

    @property
    def turnout_pct(self) -> float | None:
        return percent(self.voted, self.registered) if self.stations else None

    @property
    def invalid_pct(self) -> float | None:
        return percent(self.invalid, self.ballots_cast) if self.stations else None

    def party_pct(self, key: str) -> float | None:
        return percent(self.parties.get(key, 0), self.share_base) if self.stations else None


@dataclass(frozen=True)
class UnitRow:
    """One region (or the whole country) in the turnout/invalid/results tables."""

    code: str
    name: str
    stations_total: int
    stations_observed: int
    observed: Figures  # effective observer protocols
    official_same: Figures  # official results of the same stations
    official_all: Figures  # official results of every station in the unit

    @property
    def turnout_gap_pp(self) -> float | None:
        a, b = self.official_same.turnout_pct, self.observed.turnout_pct
        return None if a is None or b is None else a - b


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
        if self.observed_turnout is None or self.official_turnout is None:
            return None
        return self.official_turnout - self.observed_turnout

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
    occurred_at: datetime
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
    differing: tuple[str, ...]  # line labels whose figures differ
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


@dataclass
class ReportData:
    lang: str
    template: ElectionTemplate
    election: str
    election_date: str
    organisation: str
    stations_total: int
    stations_observed: int
    protocols_obtained: int
    national: UnitRow
    regions: list[UnitRow]
    hours: list[HourPoint]
    violations_total: int
    violations_by_category: dict[str, int]
    violations_by_region: dict[str, dict[str, int]]  # region code -> category -> count
    spoiled_reasons: dict[str, int]
    cases: list[Case]
    stations: list[StationRow]
    disputed: list[Disputed]
    imports: list[ImportSummary]
    check_stats: list[CheckStat]
    inclusion_rule: str
    not_counted: int  # stations with figures left out of the totals (disputed, unresolved, excluded)
    generated_at: datetime
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def category_name(self, code: str) -> str:
        cat = self.template.category(code)
        return cat.labels.get(self.lang) if cat else code

    def spoiled_name(self, code: str) -> str:
        reason = next((r for r in self.template.spoiled_reasons if r.code == code), None)
        return reason.labels.get(self.lang) if reason else code

    def party_name(self, key: str) -> str:
        party = next(p for p in self.template.parties if p.key == key)
        return party.short or party.labels.get(self.lang)


# ---- collection -------------------------------------------------------------


def _official_values(text: str, keys: set[str]) -> Values | None:
    """Parse one stored official result defensively: only known keys, only integers."""
    if len(text) > _MAX_OFFICIAL_JSON:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    out: Values = {}
    for key, value in raw.items():
        if key in keys and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[key] = value
    return out


@dataclass
class _Station:
    id: str
    code: str
    region: str
    registered: int | None
    protocols: set[str] = field(default_factory=set)
    official: Values | None = None
    touched: bool = False  # any observer record at all


def _figures(template: ElectionTemplate, rows: Iterable[Values], fallback_registered: Iterable[int | None]) -> Figures:
    pk = template.party_keys
    n = reg = voted = cast = inv = base = 0
    parties: dict[str, int] = dict.fromkeys(pk, 0)
    for values, station_reg in zip(rows, fallback_registered):
        r = template.registered.evaluate(values, pk)
        if r is None:
            r = station_reg
        v = template.voted.evaluate(values, pk)
        if r is None or v is None or r <= 0:
            continue  # a station without both figures cannot enter a turnout
        n += 1
        reg += r
        voted += v
        cast += template.ballots_cast.evaluate(values, pk) or 0
        inv += template.invalid.evaluate(values, pk) or 0
        base += template.share_base.evaluate(values, pk) or 0
        for key in pk:
            parties[key] += values.get(key) or 0
    return Figures(n, reg, voted, cast, inv, base, parties)


def collect(store: ElectionStore, lang: str, organisation: str = "") -> ReportData:
    """Read the HQ file once and compute every figure of the report."""
    template = store.template
    keys = set(template.all_keys)
    stations: dict[str, _Station] = {}
    for row in store.iter_table(m.Station):
        stations[row.id] = _Station(row.id, row.code, row.region or "", row.registered)

    eff = effective_protocols(store)
    counted = {pid: sid for sid, pid in eff.by_station.items()}
    posted: set[str] = set()
    for row in store.iter_table(m.Protocol):
        st = stations.get(row.station_id)
        if st is None:
            continue
        st.protocols.add(row.id)
        st.touched = True
        if row.source == "posted_copy":
            posted.add(row.id)
    effective: dict[str, Values] = {sid: {} for sid in eff.by_station}
    with_copy: set[str] = set()
    for row in store.iter_table(m.ProtocolValue):
        if row.value is not None and row.protocol_id in posted:
            with_copy.add(row.protocol_id)
        sid = counted.get(row.protocol_id)
        if sid is not None and row.key in keys:
            effective[sid][row.key] = row.value

    for row in store.iter_table(m.OfficialResult):
        st = stations.get(row.station_id)
        if st is not None:
            st.official = _official_values(row.values_json or "", keys)

    # Conflicts are listed in the annex whether or not the coordinator has decided them.
    disputed: list[Disputed] = []
    for conflict in station_conflicts(store):
        st = stations.get(conflict.station_id)
        res = conflict.resolution
        who = ""
        if res is not None and res.status == "chosen":
            version = next((v for v in conflict.versions if v.protocol_id == res.protocol_id), None)
            who = version.observer_name if version else ""
        disputed.append(
            Disputed(
                conflict.station_code,
                st.region if st else "",
                len(conflict.versions),
                tuple(_label(template, k, lang) for k in conflict.differing_keys),
                res.status if res is not None else "unresolved",
                who,
                res.reason if res is not None else "",
            )
        )
    disputed.sort(key=lambda d: (region_name(d.region, lang), _natural(d.station_code)))

    # Turnout by hour and spoiled-ballot reasons come straight from the observers' records.
    slot_acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for row in store.iter_table(m.TurnoutReport):
        st = stations.get(row.station_id)
        if st is None:
            continue
        st.touched = True
        if not st.registered:
            continue
        acc = slot_acc[row.slot]
        if row.announced is not None:
            acc[0] += 1
            acc[1] += st.registered
            acc[2] += row.announced
        # A head-count of 0 hours after opening means the counter was not used, not that nobody came.
        if row.observed:
            acc[3] += 1
            acc[4] += st.registered
            acc[5] += row.observed
    spoiled: dict[str, int] = defaultdict(int)
    for row in store.iter_table(m.SpoiledCount):
        if row.station_id in stations and row.count > 0:
            stations[row.station_id].touched = True
            spoiled[row.reason] += row.count

    violations = store.violations()
    viol_per_station: dict[str, int] = defaultdict(int)
    by_cat: dict[str, int] = defaultdict(int)
    by_region: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for v in violations:
        st = stations.get(v.station_id)
        if st is None:
            continue
        st.touched = True
        viol_per_station[v.station_id] += 1
        by_cat[v.category] += 1
        by_region[st.region][v.category] += 1

    # Per-station effective values, checks and the annex rows.
    pk = template.party_keys
    rows: list[StationRow] = []
    check_fail: dict[int, int] = defaultdict(int)
    protocols_obtained = 0
    not_counted = eff.not_counted
    for st in stations.values():
        if not st.touched:
            continue
        values = effective.get(st.id)
        if st.protocols & with_copy:
            protocols_obtained += 1
        failed = 0
        if values is not None:
            for i, check in enumerate(template.checks):
                holds, _, _ = check.relation.evaluate(values, pk)
                if holds is False:
                    failed += 1
                    check_fail[i] += 1
        reg_obs = template.registered.evaluate(values, pk) if values else None
        reg_obs = reg_obs if reg_obs is not None else st.registered
        voted_obs = template.voted.evaluate(values, pk) if values else None
        off = st.official
        reg_off = (template.registered.evaluate(off, pk) if off else None) or st.registered
        voted_off = template.voted.evaluate(off, pk) if off else None
        cast_obs = template.ballots_cast.evaluate(values, pk) if values else None
        inv_obs = template.invalid.evaluate(values, pk) if values else None
        cast_off = template.ballots_cast.evaluate(off, pk) if off else None
        inv_off = template.invalid.evaluate(off, pk) if off else None
        rows.append(
            StationRow(
                code=st.code,
                region=st.region,
                registered=reg_obs,
                observed_voted=voted_obs,
                official_voted=voted_off,
                observed_turnout=percent(voted_obs, reg_obs),
                official_turnout=percent(voted_off, reg_off),
                observed_invalid=percent(inv_obs, cast_obs),
                official_invalid=percent(inv_off, cast_off),
                violations=viol_per_station.get(st.id, 0),
                failed_checks=failed,
                disputed=st.id in not_counted,
                has_official=off is not None,
            )
        )
    names = {code: region_name(code, lang) for code in {r.region for r in rows}}
    rows.sort(key=lambda r: (names[r.region], _natural(r.code)))

    def unit(code: str, name: str, members: list[_Station]) -> UnitRow:
        obs = [s for s in members if s.id in effective]
        same = [s for s in obs if s.official is not None]
        offs = [s for s in members if s.official is not None]
        return UnitRow(
            code,
            name,
            len(members),
            sum(1 for s in members if s.touched),
            _figures(template, (effective[s.id] for s in obs), (s.registered for s in obs)),
            _figures(template, (s.official or {} for s in same), (s.registered for s in same)),
            _figures(template, (s.official or {} for s in offs), (s.registered for s in offs)),
        )

    members_by_region: dict[str, list[_Station]] = defaultdict(list)
    for st in stations.values():
        members_by_region[st.region].append(st)
    regions = [
        unit(code, region_name(code, lang) if code else tr("report.region.unknown", lang), members)
        for code, members in members_by_region.items()
        if any(s.touched for s in members)
    ]
    regions.sort(key=lambda u: u.name)
    national = unit("", tr("report.national", lang), list(stations.values()))

    hours = [
        HourPoint(slot, *acc)
        for slot, acc in sorted(slot_acc.items())
    ]

    imports: dict[str, list[datetime | None]] = defaultdict(list)
    for row in store.iter_table(m.Package):
        imports[row.outcome].append(row.merged_at or row.created_at)
    import_rows = [
        ImportSummary(
            outcome,
            len(times),
            min((t for t in times if t is not None), default=None),
            max((t for t in times if t is not None), default=None),
        )
        for outcome, times in sorted(imports.items())
    ]

    check_stats = [
        CheckStat(_rule_words(template, i, lang), template.checks[i].severity, check_fail.get(i, 0))
        for i in range(len(template.checks))
    ]

    cases = _serious_cases(store, violations, stations, lang)

    return ReportData(
        lang=lang,
        template=template,
        election=template.names.get(lang),
        election_date=template.date,
        organisation=organisation,
        stations_total=len(stations),
        stations_observed=sum(1 for s in stations.values() if s.touched),
        protocols_obtained=protocols_obtained,
        national=national,
        regions=regions,
        hours=hours,
        violations_total=sum(by_cat.values()),
        violations_by_category=dict(sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))),
        violations_by_region={r: dict(c) for r, c in by_region.items()},
        spoiled_reasons=dict(sorted(spoiled.items(), key=lambda kv: (-kv[1], kv[0]))),
        cases=cases,
        stations=rows,
        disputed=disputed,
        imports=import_rows,
        check_stats=check_stats,
        inclusion_rule=eff.rules.describe(lang),
        not_counted=len(not_counted),
        generated_at=datetime.now(timezone.utc),
    )


def _label(template: ElectionTemplate, key: str, lang: str) -> str:
    try:
        return template.label(key, lang)
    except KeyError:
        return key


def _rule_words(template: ElectionTemplate, index: int, lang: str) -> str:
    """The control relation in words, worded exactly as observer.checks words a failure."""
    check = template.checks[index]
    if check.labels is not None:
        return check.labels.get(lang)
    rel = check.relation
    return f"{_words(rel.left, template, lang)} {_SYMBOLS[rel.op]} {_words(rel.right, template, lang)}"


def _natural(code: str) -> tuple[int, str]:
    """Sort station numbers as numbers when they are numbers ("9" before "10")."""
    digits = "".join(ch for ch in code if ch.isdigit())
    return (int(digits) if digits and len(digits) < 18 else 0, code)


def _serious_cases(store: ElectionStore, violations: list[Any], stations: Mapping[str, _Station], lang: str) -> list[Case]:
    """The most serious violations: high severity first, then those with evidence, then by time."""
    ranked = sorted(
        (v for v in violations if v.station_id in stations),
        key=lambda v: (_SEVERITY_RANK.get(v.severity, 3), -v.evidence_count, v.occurred_at),
    )[:SERIOUS_CASES]
    out: list[Case] = []
    for v in ranked:
        thumbs: list[Thumb] = []
        for ev in store.evidence(violation_id=v.id):
            if ev.kind != "photo" or len(thumbs) >= THUMBS_PER_CASE:
                continue
            jpeg = ev.thumbnail
            if not jpeg:
                # Older records may lack a thumbnail: make one from the original,
                # validated again because the file on disk is as hostile as any input.
                try:
                    jpeg = inspect_evidence(store.evidence_path(ev)).thumbnail
                except EvidenceError:
                    jpeg = None
            size = _jpeg_size(jpeg) if jpeg else None
            if jpeg and size:
                thumbs.append(Thumb(jpeg, ev.sha256, size[0], size[1]))
        st = stations[v.station_id]
        out.append(Case(st.code, st.region, v.occurred_at, v.category, v.severity, v.description, v.action, tuple(thumbs), v.evidence_count))
    return out


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Size of a stored thumbnail, or None if it does not decode (then it is skipped)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
