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
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from db import dbapi
from db.aggregate import rules_note, station_tables
from db.conflicts import StationConflict, effective_protocols, station_conflicts
from db.reuse import IDENTICAL, ReusePair, find_reused_evidence
from db.store import ElectionStore
from observer.aggregate import (
    StationArrays,
    UnitResult,
    aggregate_levels_arrays,
    evaluate_term,
    failing_checks,
    statuses,
)
from observer.checks import rule_text
from observer.definitions import NOT_OBSERVED, StationCounts
from observer.errors import EvidenceError, StorageError
from observer.evidence import inspect_evidence
from observer.fmt import formatter
from observer.i18n import tr
from observer.regionmap import MapError, template_map
from observer.regions import region_name
from observer.template import ElectionTemplate
from reports.model import (  # noqa: F401 - the model is imported from here by sections and tests
    GAP_FLAG_PP,
    SERIOUS_CASES,
    THUMBS_PER_CASE,
    Case,
    CheckStat,
    Disputed,
    Figures,
    HourPoint,
    ImportSummary,
    ReportData,
    ReusedPhoto,
    SpoiledTable,
    StationRow,
    Thumb,
    UnitRow,
)

_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


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
        comp.stations_counted if comp else 0,
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
    position: Mapping[str, int],
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
    rows.sort(key=lambda r: (position.get(r.region, len(position)), _natural(r.code)))
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
    # Reads the figures and the fingerprint both need, made once (see conflicts_of / reuse_of).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def row_of(self) -> dict[str, int]:
        """Station id -> row of the arrays (made once: 100,000 entries)."""
        if "row_of" not in self.memo:
            self.memo["row_of"] = {str(sid): i for i, sid in enumerate(self.observed.station_ids.tolist())}
        found: dict[str, int] = self.memo["row_of"]
        return found


def conflicts_of(store: ElectionStore, snap: Snapshot) -> list[StationConflict]:
    """``db.conflicts.station_conflicts``, read once per snapshot (the figures and the fingerprint)."""
    if "conflicts" not in snap.memo:
        snap.memo["conflicts"] = station_conflicts(store)
    found: list[StationConflict] = snap.memo["conflicts"]
    return found


def spoiled_of(store: ElectionStore, snap: Snapshot) -> list[tuple[str, str | None, str, int]]:
    """Every spoiled-ballot tally (station id, observer id, reason, count), read once per snapshot."""
    if "spoiled" not in snap.memo:
        snap.memo["spoiled"] = [
            (r.station_id, r.observer_id, r.reason, r.count)
            for r in store.iter_table("spoiled_counts", "station_id", "observer_id", "reason", "count")
        ]
    found: list[tuple[str, str | None, str, int]] = snap.memo["spoiled"]
    return found


def reuse_of(store: ElectionStore, snap: Snapshot) -> list[ReusePair]:
    """``db.reuse.find_reused_evidence``, computed once per snapshot (~0.5 s at 100,000 stations)."""
    if "reuse" not in snap.memo:
        snap.memo["reuse"] = find_reused_evidence(store)
    found: list[ReusePair] = snap.memo["reuse"]
    return found


_TURNOUT_CELLS = (
    # Per station and reporting time, over the observers there: the highest announced
    # count (>= 0) and the highest head-count (> 0: a count of 0 means the counter was
    # not used). Non-integer cells (a damaged file) count as missing.
    "SELECT station_id, slot, "
    "MAX(CASE WHEN typeof(announced) = 'integer' AND announced >= 0 THEN announced END), "
    "MAX(CASE WHEN typeof(observed) = 'integer' AND observed > 0 THEN observed END) "
    "FROM turnout_reports GROUP BY station_id, slot"
)
# PostgreSQL's columns are typed: an integer column holds nothing else, so no typeof().
_TURNOUT_CELLS_PG = (
    "SELECT station_id, slot, MAX(CASE WHEN announced >= 0 THEN announced END), "
    "MAX(CASE WHEN observed > 0 THEN observed END) FROM turnout_reports GROUP BY station_id, slot"
)


def _turnout_cells(store: ElectionStore) -> list[tuple[str, str, int | None, int | None]]:
    """The turnout table folded to one row per (station, slot) by the database, not row by row in Python."""
    with store.engine.connect() as conn:
        return dbapi.rows(conn, _TURNOUT_CELLS_PG if dbapi.is_postgres(conn) else _TURNOUT_CELLS)


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


def region_order(codes: set[str] | list[str], lang: str) -> list[str]:
    """The one order of regions in every section of the report (by name in the report's language)."""
    # The language's alphabet (Ақмола before Атырау in Kazakh), one order for every section.
    key = formatter(lang).sort_key
    return sorted(codes, key=lambda code: (code == "", key(region_name(code, lang)) if code else ((), "")))


def data_time(store: ElectionStore) -> datetime | None:
    """When the data last changed: the latest merge, conflict decision or official import.

    The report prints this, and uses it as the PDF's creation date, instead of the
    clock: the same data gives the same file, byte for byte (docs/report.md).
    """
    with store.engine.connect() as conn:
        found = [
            conn.exec_driver_sql(sql).scalar()
            for sql in ("SELECT max(merged_at) FROM packages", "SELECT max(decided_at) FROM resolutions")
        ]
    found.append(store.meta("official_imported_at"))
    times: list[datetime] = []
    for value in found:
        if isinstance(value, datetime):
            times.append(value)
        elif isinstance(value, str) and value:
            try:
                times.append(datetime.fromisoformat(value))
            except ValueError:
                continue
    return max((t if t.tzinfo else t.replace(tzinfo=UTC) for t in times), default=None)


def _spoiled_table(store: ElectionStore, snap: Snapshot, template: ElectionTemplate) -> SpoiledTable:
    """The reasons over the stations in the observed invalid total, from the counting observer's tally."""
    official, observed = snap.official, snap.observed
    pk = template.party_keys
    inv, inv_ok = evaluate_term(template.invalid, observed, pk)
    # The stations whose invalid ballots are in the national "observed" row (observer.aggregate).
    in_total = observed.has_figures & official.has_figures & inv_ok
    row_of = snap.row_of
    counting = {sid: pid for sid, pid in effective_protocols(store).by_station.items()}
    observer_of: dict[str, str | None] = {}
    for row in store.iter_table("protocols", "id", "observer_id"):
        observer_of[row.id] = row.observer_id
    tallies: dict[int, dict[str, int]] = defaultdict(dict)
    for station_id, observer_id, reason, count in spoiled_of(store, snap):
        i = row_of.get(station_id)
        if i is None or not in_total[i] or count <= 0:
            continue
        pid = counting.get(station_id)
        if pid is None or observer_of.get(pid) != observer_id:
            continue  # another observer's tally of the same ballots
        tallies[i][reason] = tallies[i].get(reason, 0) + int(count)
    reasons: dict[str, int] = defaultdict(int)
    unrecorded = mismatched = mismatched_stations = 0
    for i in np.flatnonzero(in_total).tolist():
        tally = tallies.get(i, {})
        invalid = int(inv[i])
        if sum(tally.values()) > invalid:
            mismatched += invalid
            mismatched_stations += 1
            continue
        for reason, n in tally.items():
            reasons[reason] += n
        unrecorded += invalid - sum(tally.values())
    return SpoiledTable(
        dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        unrecorded,
        mismatched,
        mismatched_stations,
        int(inv[in_total].sum()),
    )


def collect(store: ElectionStore, lang: str, organisation: str = "", snapshot: Snapshot | None = None) -> ReportData:
    """Compute every figure of the report (from ``snapshot`` if it was already read)."""
    template = store.template
    snap = snapshot or read_snapshot(store)
    official, observed = snap.official, snap.observed
    row_of = snap.row_of
    n = len(observed)
    status = statuses(observed)
    # "Observed" (observer.definitions): any observer record; the annex lists exactly these stations.
    touched = status != NOT_OBSERVED
    hours = _hours(snap)

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

    # Both levels in one pass over the station arrays.
    levels = aggregate_levels_arrays(template, ("national", "region"), "both", official=official, observed=observed)
    national, by_region_units = levels["national"], levels["region"]
    # Every region of the station list, in one order for every section.
    all_regions = region_order({str(r) for r in observed.regions}, lang)
    units = {u.region: u for u in by_region_units}
    regions = [_region_row(code, units.get(code), observed, lang, template) for code in all_regions]
    nat = (
        _unit(national[0], tr("report.national", lang), template)
        if national
        else UnitRow("", tr("report.national", lang), n, 0, Figures(), Figures(), Figures())
    )
    counts = (
        national[0].comparison.counts
        if national and national[0].comparison
        else StationCounts.of(status, observed.registered)
    )

    # Per control relation, at how many counted stations it fails.
    fails = failing_checks(template, observed, ("error", "warning"))
    checks_of = [c for c in template.checks if c.severity in ("error", "warning")]
    per_check = fails[observed.has_figures].sum(axis=0) if n else np.zeros(len(checks_of), int)
    check_stats = [
        CheckStat(rule_text(c, template, lang), c.severity, int(per_check[j])) for j, c in enumerate(checks_of)
    ]

    codes = {
        str(sid): (str(c), str(r))
        for sid, c, r in zip(observed.station_ids.tolist(), observed.codes.tolist(), observed.regions.tolist())
    }
    position = {code: k for k, code in enumerate(all_regions)}
    return ReportData(
        lang=lang,
        template=template,
        election=template.names.get(lang),
        election_date=template.date,
        organisation=organisation,
        counts=counts,
        national=nat,
        regions=regions,
        hours=hours,
        violations_total=sum(by_cat.values()),
        violations_by_category=dict(sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))),
        violations_by_region={r: dict(by_region.get(r, {})) for r in all_regions},
        spoiled=_spoiled_table(store, snap, template),
        cases=_serious_cases(store, violations, codes),
        stations=_station_rows(template, official, observed, touched, viol_per_station, position),
        disputed=_disputed(conflicts_of(store, snap), template, observed, row_of, position),
        imports=_imports(store),
        check_stats=check_stats,
        inclusion_rule=rules_note(store, lang),
        data_time=data_time(store),
        reused_photos=_reused_photos(reuse_of(store, snap)),
        **_region_map(store, lang),
    )


def _region_map(store: ElectionStore, lang: str) -> dict[str, Any]:
    """The template's map for the turnout section's choropleth; a refused map file is said, not fatal."""
    try:
        hq_file = None if store.url else Path(store.path)
        return {"region_map": template_map(store.template.map_file, hq_file)}
    except MapError as exc:
        return {"region_map": None, "map_problem": exc.message(lang)}


def _region_row(
    code: str, unit: UnitResult | None, observed: StationArrays, lang: str, template: ElectionTemplate
) -> UnitRow:
    name = region_name(code, lang) if code else tr("report.region.unknown", lang)
    if unit is not None:
        return _unit(unit, name, template)
    # A region the aggregation leaves out (no official result, nothing counted) still has its row.
    total = int((observed.regions == code).sum())
    return UnitRow(code, name, total, 0, Figures(), Figures(), Figures())


def _disputed(
    conflicts: list[StationConflict],
    template: ElectionTemplate,
    observed: StationArrays,
    row_of: Mapping[str, int],
    position: Mapping[str, int],
) -> list[Disputed]:
    out: list[Disputed] = []
    for conflict in conflicts:
        i = row_of.get(conflict.station_id)
        res = conflict.resolution
        who = ""
        if res is not None and res.status == "chosen":
            version = next((v for v in conflict.versions if v.protocol_id == res.protocol_id), None)
            who = version.observer_name if version else ""
        out.append(
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
    out.sort(key=lambda d: (position.get(d.region, len(position)), _natural(d.station_code)))
    return out


def _imports(store: ElectionStore) -> list[ImportSummary]:
    imports: dict[str, list[datetime | None]] = defaultdict(list)
    for row in store.iter_table("packages", "outcome", "merged_at", "created_at"):
        imports[row.outcome].append(row.merged_at or row.created_at)
    return [
        ImportSummary(
            outcome,
            len(times),
            min((t for t in times if t is not None), default=None),
            max((t for t in times if t is not None), default=None),
        )
        for outcome, times in sorted(imports.items())
    ]


def _reused_photos(pairs: list[ReusePair]) -> list[ReusedPhoto]:
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
        for p in pairs
    ]


def _natural(code: str) -> tuple[int, str]:
    """Sort station numbers as numbers when they are numbers ("9" before "10")."""
    digits = "".join(ch for ch in code if ch.isdigit())
    return (int(digits) if digits and len(digits) < 18 else 0, code)


def _serious_cases(store: ElectionStore, violations: list[Any], codes: Mapping[str, tuple[str, str]]) -> list[Case]:
    """The most serious violations: high severity first, then those with evidence, then by time."""
    ranked = sorted(
        (v for v in violations if v.station_id in codes),
        # Ties broken by the record's own time and id: the same cases from a file and from a database,
        # whatever order rows with equal times come in.
        key=lambda v: (_SEVERITY_RANK.get(v.severity, 3), -v.evidence_count, v.occurred_at, v.created_at, v.id),
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
                # A file never received is a path that does not exist, on both backends: left out.
                # Bytes on a PostgreSQL HQ that fail their SHA-256 are left out too, as a damaged
                # file that does not decode is; a server that cannot be reached stops the report.
                try:
                    jpeg = inspect_evidence(store.evidence_path(ev)).thumbnail
                except EvidenceError:
                    jpeg = None
                except StorageError as exc:
                    if exc.key != "error.storage.evidence_damaged":
                        raise
                    jpeg = None
            size = _jpeg_size(jpeg) if jpeg else None
            if jpeg and size:
                thumbs.append(Thumb(jpeg, ev.sha256, size[0], size[1]))
        code, region = codes[v.station_id]
        out.append(
            Case(
                code,
                region,
                store.template.published_time(v.occurred_at, region),
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
