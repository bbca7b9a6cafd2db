"""Everything the report shows, collected from the HQ file into plain dataclasses.

The PDF code (``reports/build.py``) only formats what is here; it never touches
the database. Figures come from the coordinator's aggregation
(``db.aggregate.station_tables`` read once, then ``observer.aggregate``), so the
report prints exactly the totals the coordinator's screens show, under the same
inclusion rules and conflict decisions (``db.conflicts``). The few things the
aggregation does not provide (turnout per reporting time, spoiled-ballot
reasons, violation records, the import log) are read through the store.

Observed and official figures are compared over the *same* stations: a unit's
"observed" total covers the stations with a counted observer protocol and an
official result, "official, same stations" the official figures of exactly
those, and "official, all stations" every station with an official result.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from db import models as m
from db.aggregate import rules_note, station_tables
from db.conflicts import station_conflicts
from db.reuse import IDENTICAL, find_reused_evidence
from db.store import ElectionStore
from observer.aggregate import StationArrays, Totals, UnitResult, aggregate_levels_arrays, evaluate_term, failing_checks
from observer.checks import percent, rule_text
from observer.errors import EvidenceError
from observer.evidence import inspect_evidence
from observer.fmt import formatter
from observer.i18n import tr
from observer.regions import region_name, station_local_time
from observer.template import ElectionTemplate

# A gap between observed and official turnout larger than this (percentage points)
# is flagged in the station annex; small gaps come from late voters and rounding.
GAP_FLAG_PP = 5.0
SERIOUS_CASES = 12
THUMBS_PER_CASE = 3
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


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
    reused_photos: list[ReusedPhoto] = field(default_factory=list)

    def category_name(self, code: str) -> str:
        cat = self.template.category(code)
        return cat.labels.get(self.lang) if cat else code

    def spoiled_name(self, code: str) -> str:
        reason = next((r for r in self.template.spoiled_reasons if r.code == code), None)
        return reason.labels.get(self.lang) if reason else code

    def party_name(self, key: str) -> str:
        party = next(p for p in self.template.parties if p.key == key)
        return party.short_name(self.lang)


# ---- collection -------------------------------------------------------------


def _pct_array(part: np.ndarray, part_ok: np.ndarray, whole: np.ndarray, whole_ok: np.ndarray) -> list[float | None]:
    ok = part_ok & whole_ok & (whole > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(ok, 100.0 * part / np.maximum(whole, 1), np.nan)
    return [None if np.isnan(v) else float(v) for v in values]


def _unit(result: UnitResult, name: str, template: ElectionTemplate) -> UnitRow:
    comp = result.comparison
    return UnitRow(
        result.region,
        name,
        comp.stations_total if comp else 0,
        comp.stations_observed if comp else 0,
        Figures.of(result.observed, template),
        Figures.of(result.official, template),
        Figures.of(result.official_all, template),
    )


def _station_rows(
    template: ElectionTemplate,
    official: StationArrays,
    observed: StationArrays,
    touched: np.ndarray,
    violations: Mapping[str, int],
    lang: str,
) -> list[StationRow]:
    """The annex: every station with any observer record, computed column-wise."""
    pk = template.party_keys
    o_reg, o_reg_ok = evaluate_term(template.registered, observed, pk)
    o_vot, o_vot_ok = evaluate_term(template.voted, observed, pk)
    o_cast, o_cast_ok = evaluate_term(template.ballots_cast, observed, pk)
    o_inv, o_inv_ok = evaluate_term(template.invalid, observed, pk)
    f_reg, f_reg_ok = evaluate_term(template.registered, official, pk)
    f_vot, f_vot_ok = evaluate_term(template.voted, official, pk)
    f_cast, f_cast_ok = evaluate_term(template.ballots_cast, official, pk)
    f_inv, f_inv_ok = evaluate_term(template.invalid, official, pk)
    # Only the annex's stations (a tenth of the file at 100,000) are turned into Python values.
    idx = np.flatnonzero(touched)
    counted = observed.has_figures[idx]
    o_reg, o_reg_ok, o_vot, o_vot_ok = o_reg[idx], o_reg_ok[idx], o_vot[idx], o_vot_ok[idx]
    o_cast, o_cast_ok, o_inv, o_inv_ok = o_cast[idx], o_cast_ok[idx], o_inv[idx], o_inv_ok[idx]
    f_reg, f_reg_ok, f_vot, f_vot_ok = f_reg[idx], f_reg_ok[idx], f_vot[idx], f_vot_ok[idx]
    f_cast, f_cast_ok, f_inv, f_inv_ok = f_cast[idx], f_cast_ok[idx], f_inv[idx], f_inv_ok[idx]
    # Without a counted protocol the station list's voter number still describes the station.
    reg = np.where(counted & o_reg_ok, o_reg, observed.registered[idx])
    o_turn = _pct_array(o_vot, o_vot_ok & counted, reg, reg >= 0)
    f_turn = _pct_array(f_vot, f_vot_ok, np.where(f_reg_ok, f_reg, official.registered[idx]), np.ones(len(idx), bool))
    o_invp = _pct_array(o_inv, o_inv_ok & counted, o_cast, o_cast_ok)
    f_invp = _pct_array(f_inv, f_inv_ok, f_cast, f_cast_ok)
    not_counted = observed.not_counted[idx] if observed.not_counted is not None else np.zeros(len(idx), bool)
    breaks = observed.breaks_check[idx] if observed.breaks_check is not None else np.zeros(len(idx), bool)
    has_official = official.has_figures[idx]
    rows: list[StationRow] = []
    for k, i in enumerate(idx.tolist()):
        sid = str(observed.station_ids[i])
        rows.append(
            StationRow(
                code=str(observed.codes[i]),
                region=str(observed.regions[i]),
                registered=int(reg[k]) if reg[k] >= 0 else None,
                observed_voted=int(o_vot[k]) if counted[k] and o_vot_ok[k] else None,
                official_voted=int(f_vot[k]) if f_vot_ok[k] else None,
                observed_turnout=o_turn[k],
                official_turnout=f_turn[k],
                observed_invalid=o_invp[k],
                official_invalid=f_invp[k],
                violations=violations.get(sid, 0),
                failed_checks=int(breaks[k]),
                disputed=bool(not_counted[k]),
                has_official=bool(has_official[k]),
            )
        )
    order = {code: formatter(lang).sort_key(region_name(code, lang)) for code in {r.region for r in rows}}
    rows.sort(key=lambda r: (order[r.region], _natural(r.code)))
    return rows


@dataclass(frozen=True)
class Snapshot:
    """What is read from the HQ file once and shared by the figures and the fingerprint.

    ``announced``/``counted`` are (stations x slots): the commission's announced count and
    the observers' head-count at each reporting time, ``-1`` where there is none. Two
    observers at one station report the same announcement and their head-counts differ;
    the higher count missed fewer voters (as in db.aggregate), so each cell is the maximum.
    A head-count of 0 hours after opening means the counter was not used, not that nobody
    came, so it is left out.
    """

    official: StationArrays
    observed: StationArrays
    slots: tuple[str, ...]
    announced: np.ndarray
    counted: np.ndarray
    reported: np.ndarray  # bool per station: any turnout report at all

    @property
    def row_of(self) -> dict[str, int]:
        return {str(sid): i for i, sid in enumerate(self.observed.station_ids)}


_TURNOUT_CELLS = (
    # Per station and reporting time, over the observers there: the highest announced
    # count (>= 0) and the highest head-count (> 0: a count of 0 means the counter was
    # not used). Non-integer cells (a damaged file) count as missing.
    "SELECT station_id, slot, "
    "MAX(CASE WHEN typeof(announced) = 'integer' AND announced >= 0 THEN announced END), "
    "MAX(CASE WHEN typeof(observed) = 'integer' AND observed > 0 THEN observed END) "
    "FROM turnout_reports GROUP BY station_id, slot"
)


def _turnout_cells(store: ElectionStore) -> list[tuple[str, str, int | None, int | None]]:
    """The turnout table folded to one row per (station, slot) by SQLite, not row by row in Python."""
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(_TURNOUT_CELLS)]  # type: ignore[misc]


def read_snapshot(store: ElectionStore) -> Snapshot:
    official, observed = station_tables(store)
    n = len(observed)
    row_of = {str(sid): i for i, sid in enumerate(observed.station_ids)}
    slots: list[str] = list(store.template.reporting_times)
    col = {slot: j for j, slot in enumerate(slots)}
    announced = np.full((n, len(slots)), -1, dtype=np.int64)
    counted = np.full((n, len(slots)), -1, dtype=np.int64)
    reported = np.zeros(n, dtype=bool)
    rows = [r for r in _turnout_cells(store) if r[0] in row_of]
    if rows:
        for slot in sorted({r[1] for r in rows} - set(col)):  # slots the template does not list (an older template)
            col[slot] = len(slots)
            slots.append(slot)
        width = len(slots)
        if width > announced.shape[1]:
            announced = np.hstack([announced, np.full((n, width - announced.shape[1]), -1, dtype=np.int64)])
            counted = np.hstack([counted, np.full((n, width - counted.shape[1]), -1, dtype=np.int64)])
        known = [(row_of[sid], col[slot], a, c) for sid, slot, a, c in rows]
        if known:
            i = np.fromiter((k[0] for k in known), dtype=np.int64, count=len(known))
            j = np.fromiter((k[1] for k in known), dtype=np.int64, count=len(known))
            reported[i] = True
            a_val = np.fromiter((-1 if k[2] is None else k[2] for k in known), dtype=np.int64, count=len(known))
            c_val = np.fromiter((-1 if k[3] is None else k[3] for k in known), dtype=np.int64, count=len(known))
            announced[i, j] = a_val  # one row per (station, slot): the maxima are taken in SQL
            counted[i, j] = c_val
    order = sorted(range(len(slots)), key=lambda k: slots[k])
    return Snapshot(
        official, observed, tuple(slots[k] for k in order), announced[:, order], counted[:, order], reported
    )


def _hours(snap: Snapshot) -> list[HourPoint]:
    """Turnout by reporting time: the aggregation keeps only the last slot, the report wants each."""
    reg = snap.observed.registered
    out: list[HourPoint] = []
    for j, slot in enumerate(snap.slots):
        a = (snap.announced[:, j] >= 0) & (reg > 0)
        c = (snap.counted[:, j] >= 0) & (reg > 0)
        if a.any() or c.any():
            out.append(
                HourPoint(
                    slot,
                    int(a.sum()),
                    int(reg[a].sum()),
                    int(snap.announced[a, j].sum()),
                    int(c.sum()),
                    int(reg[c].sum()),
                    int(snap.counted[c, j].sum()),
                )
            )
    return out


def collect(store: ElectionStore, lang: str, organisation: str = "", snapshot: Snapshot | None = None) -> ReportData:
    """Compute every figure of the report (from ``snapshot`` if it was already read)."""
    template = store.template
    snap = snapshot or read_snapshot(store)
    official, observed = snap.official, snap.observed
    row_of = snap.row_of
    n = len(observed)
    touched = observed.has_figures | snap.reported
    for extra in (observed.not_counted, observed.has_violations):
        if extra is not None:
            touched |= extra
    if observed.headcount is not None:
        touched |= observed.headcount >= 0
    hours = _hours(snap)

    spoiled: dict[str, int] = defaultdict(int)
    for row in store.iter_table(m.SpoiledCount, "station_id", "reason", "count"):
        i = row_of.get(row.station_id)
        if i is not None and row.count > 0:
            touched[i] = True
            spoiled[row.reason] += row.count

    violations = store.violations()
    viol_per_station: dict[str, int] = defaultdict(int)
    by_cat: dict[str, int] = defaultdict(int)
    by_region: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for v in violations:
        i = row_of.get(v.station_id)
        if i is None:
            continue
        viol_per_station[v.station_id] += 1
        by_cat[v.category] += 1
        by_region[str(observed.regions[i])][v.category] += 1

    # Protocol rows without figures still mean an observer was there.
    protocols_obtained: set[str] = set()
    for row in store.iter_table(m.Protocol, "station_id", "source"):
        i = row_of.get(row.station_id)
        if i is not None:
            touched[i] = True
            if row.source == "posted_copy" and observed.has_figures[i]:
                protocols_obtained.add(row.station_id)

    # Both levels in one pass over the station arrays.
    levels = aggregate_levels_arrays(template, ("national", "region"), "both", official=official, observed=observed)
    national, by_region_units = levels["national"], levels["region"]
    touched_regions = {str(r) for r in observed.regions[touched]}
    regions = [
        _unit(u, region_name(u.region, lang) if u.region else tr("report.region.unknown", lang), template)
        for u in by_region_units
        if u.region in touched_regions
    ]
    regions.sort(key=lambda u: formatter(lang).sort_key(u.name))  # the language's alphabet (Қ after К in kk)
    nat = (
        _unit(national[0], tr("report.national", lang), template)
        if national
        else UnitRow("", tr("report.national", lang), n, 0, Figures(), Figures(), Figures())
    )

    # Per control relation, at how many counted stations it fails.
    fails = failing_checks(template, observed, ("error", "warning"))
    checks_of = [c for c in template.checks if c.severity in ("error", "warning")]
    per_check = fails[observed.has_figures].sum(axis=0) if n else np.zeros(len(checks_of), int)
    check_stats = [
        CheckStat(rule_text(c, template, lang), c.severity, int(per_check[j])) for j, c in enumerate(checks_of)
    ]

    disputed: list[Disputed] = []
    for conflict in station_conflicts(store):
        i = row_of.get(conflict.station_id)
        res = conflict.resolution
        who = ""
        if res is not None and res.status == "chosen":
            version = next((v for v in conflict.versions if v.protocol_id == res.protocol_id), None)
            who = version.observer_name if version else ""
        disputed.append(
            Disputed(
                conflict.station_code,
                str(observed.regions[i]) if i is not None else "",
                len(conflict.versions),
                len(conflict.differing_keys),
                tuple(template.voted.evaluate(v.values, template.party_keys) for v in conflict.versions),
                res.status if res is not None else "unresolved",
                who,
                res.reason if res is not None else "",
            )
        )
    disputed.sort(key=lambda d: (formatter(lang).sort_key(region_name(d.region, lang)), _natural(d.station_code)))

    imports: dict[str, list[datetime | None]] = defaultdict(list)
    for row in store.iter_table(m.Package, "outcome", "merged_at", "created_at"):
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

    codes = {
        str(sid): (str(c), str(r))
        for sid, c, r in zip(observed.station_ids.tolist(), observed.codes.tolist(), observed.regions.tolist())
    }
    not_counted = int(observed.not_counted.sum()) if observed.not_counted is not None else 0
    return ReportData(
        lang=lang,
        template=template,
        election=template.names.get(lang),
        election_date=template.date,
        organisation=organisation,
        stations_total=n,
        stations_observed=int(touched.sum()),
        protocols_obtained=len(protocols_obtained),
        national=nat,
        regions=regions,
        hours=hours,
        violations_total=sum(by_cat.values()),
        violations_by_category=dict(sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))),
        violations_by_region={r: dict(c) for r, c in by_region.items()},
        spoiled_reasons=dict(sorted(spoiled.items(), key=lambda kv: (-kv[1], kv[0]))),
        cases=_serious_cases(store, violations, codes),
        stations=_station_rows(template, official, observed, touched, viol_per_station, lang),
        disputed=disputed,
        imports=import_rows,
        check_stats=check_stats,
        inclusion_rule=rules_note(store, lang),
        not_counted=not_counted,
        generated_at=datetime.now(UTC),
        reused_photos=_reused_photos(store),
    )


def _reused_photos(store: ElectionStore) -> list[ReusedPhoto]:
    """Every pair of stations that share a photo, identical files first (the order of db.reuse)."""
    return [
        ReusedPhoto(
            p.a.station_code,
            p.a.observer_name,
            p.a.original_name,
            p.b.station_code,
            p.b.observer_name,
            p.b.original_name,
            p.kind == IDENTICAL,
            p.distance,
        )
        for p in find_reused_evidence(store)
    ]


def _natural(code: str) -> tuple[int, str]:
    """Sort station numbers as numbers when they are numbers ("9" before "10")."""
    digits = "".join(ch for ch in code if ch.isdigit())
    return (int(digits) if digits and len(digits) < 18 else 0, code)


def _serious_cases(store: ElectionStore, violations: list[Any], codes: Mapping[str, tuple[str, str]]) -> list[Case]:
    """The most serious violations: high severity first, then those with evidence, then by time."""
    ranked = sorted(
        (v for v in violations if v.station_id in codes),
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
        code, region = codes[v.station_id]
        out.append(
            Case(
                code,
                region,
                station_local_time(v.occurred_at, region),
                v.category,
                v.severity,
                v.description,
                v.action,
                tuple(thumbs),
                v.evidence_count,
            )
        )
    return out


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Size of a stored thumbnail, or None if it does not decode (then it is skipped)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
