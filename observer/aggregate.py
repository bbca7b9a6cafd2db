"""Aggregation maths over per-station arrays: totals, turnout, shares, comparison.

Pure numpy, no database: ``db.aggregate`` reads the figures into a
:class:`StationArrays` (one row per station, one column per template line and
party, ``-1`` where a figure is missing) and everything here works on whole
columns at once, so 100,000 stations take milliseconds.

Ratios follow the template: turnout is ``voted / registered``, the invalid share
is ``invalid / ballots_cast``, a party's share is ``party / share_base``. Each
ratio is summed only over the stations that give every figure it needs, so a
station without, say, an invalid-ballot count does not drag the invalid share
down. For the linear expressions templates use, this equals evaluating the
expression on the summed lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import Literal, Mapping, Sequence

import numpy as np

from observer.expressions import Relation, Term
from observer.template import ElectionTemplate

MISSING = -1
Level = Literal["national", "region", "district"]
LEVELS: tuple[str, ...] = ("national", "region", "district")
NATIONAL_UNIT = "national"


@dataclass(frozen=True)
class StationArrays:
    """Figures of many stations, aligned by row.

    ``values`` has one column per key of ``keys`` (template lines then parties),
    ``-1`` where missing. The observed-only arrays are None for official figures.
    """

    source: str  # "official" | "observed"
    keys: tuple[str, ...]
    station_ids: np.ndarray  # object (str)
    codes: np.ndarray  # object (str)
    regions: np.ndarray  # object (str), ISO codes
    districts: np.ndarray  # object (str)
    registered: np.ndarray  # int64: voters on the station list (or the official figure when the list lacks it), -1
    values: np.ndarray  # int64 (n, len(keys))
    has_figures: np.ndarray  # bool: the station has figures that count
    headcount: np.ndarray | None = None  # int64: observers' own count of voters, -1
    announced: np.ndarray | None = None  # int64: commission's announced turnout at the last reporting slot, -1
    announced_slot: np.ndarray | None = None  # object: that slot ("20:00"), ""
    disputed: np.ndarray | None = None  # bool: versions differ (unresolved) or marked disputed
    not_counted: np.ndarray | None = None  # bool: has figures that the rules or a dispute leave out
    has_violations: np.ndarray | None = None  # bool
    breaks_check: np.ndarray | None = None  # bool: the counted figures break an error-level control relation

    def __len__(self) -> int:
        return len(self.codes)

    def column(self, key: str) -> np.ndarray:
        return self.values[:, self.keys.index(key)]

    def subset(self, mask: np.ndarray) -> "StationArrays":
        """The same arrays restricted to the rows where ``mask`` is true."""
        changes = {
            name: getattr(self, name)[mask]
            for name in (
                "station_ids", "codes", "regions", "districts", "registered", "values", "has_figures", "headcount",
                "announced", "announced_slot", "disputed", "not_counted", "has_violations", "breaks_check",
            )
            if getattr(self, name) is not None
        }
        return replace(self, **changes)


# ---- expressions over columns ---------------------------------------------------


def evaluate_term(term: Term, arrays: StationArrays, party_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The term per station and whether every figure it reads is present there."""
    return _eval(term.node, arrays, tuple(party_keys))


def _eval(node: ast.expr, arrays: StationArrays, party_keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    n = len(arrays)
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int)  # the template grammar admits whole numbers only
        return np.full(n, node.value, dtype=np.int64), np.ones(n, dtype=bool)
    if isinstance(node, ast.Name):
        col = arrays.column(node.id)
        return col, col >= 0
    if isinstance(node, ast.Call):  # sum(parties): the grammar allows no other call
        cols = arrays.values[:, [arrays.keys.index(k) for k in party_keys]]
        return cols.sum(axis=1), np.asarray((cols >= 0).all(axis=1))
    if isinstance(node, ast.UnaryOp):
        v, ok = _eval(node.operand, arrays, party_keys)
        return -v, ok
    if isinstance(node, ast.BinOp):
        lv, lok = _eval(node.left, arrays, party_keys)
        rv, rok = _eval(node.right, arrays, party_keys)
        if isinstance(node.op, ast.Add):
            out = lv + rv
        elif isinstance(node.op, ast.Sub):
            out = lv - rv
        else:
            out = lv * rv
        return out, lok & rok
    raise ValueError(f"unsupported expression node {ast.dump(node)}")  # parse_term already refused it


def relation_failures(relation: Relation, arrays: StationArrays, party_keys: Sequence[str]) -> np.ndarray:
    """True where the station gives every figure of the relation and it does not hold."""
    lv, lok = evaluate_term(relation.left, arrays, party_keys)
    rv, rok = evaluate_term(relation.right, arrays, party_keys)
    ops = {"==": np.equal, "!=": np.not_equal, "<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater}
    return lok & rok & ~ops[relation.op](lv, rv)


def failing_checks(template: ElectionTemplate, arrays: StationArrays, severities: Sequence[str] = ("error",)) -> np.ndarray:
    """Boolean matrix (stations x checks of the given severities): where each check fails."""
    checks = [c for c in template.checks if c.severity in severities]
    out = np.zeros((len(arrays), len(checks)), dtype=bool)
    for j, check in enumerate(checks):
        out[:, j] = relation_failures(check.relation, arrays, template.party_keys)
    return out


# ---- grouping -------------------------------------------------------------------


def factorize(labels: Sequence[str] | np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct labels in sorted order and each row's index into them.

    dict.fromkeys and map run in C; np.unique on an object array would sort
    all 100,000 Python strings by Python comparison, several times slower.
    """
    uniques = sorted(dict.fromkeys(labels))
    lookup = {label: i for i, label in enumerate(uniques)}
    return uniques, np.fromiter(map(lookup.__getitem__, labels), dtype=np.int64, count=len(labels))


def unit_index(arrays: StationArrays, level: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(region, district) of each unit at ``level`` and each station's unit number."""
    n = len(arrays)
    if level == "national":
        return [("", "")], np.zeros(n, dtype=np.int64)
    if level == "region":
        uniques, inv = factorize(arrays.regions)
        return [(r, "") for r in uniques], inv
    if level == "district":
        # District names repeat across regions ("Центральный"), so the unit is the pair.
        pairs = [f"{r}\x1f{d}" for r, d in zip(arrays.regions, arrays.districts)]
        uniques, inv = factorize(pairs)
        return [tuple(u.split("\x1f", 1)) for u in uniques], inv  # type: ignore[misc]
    raise ValueError(f"unknown level {level!r}")


def _group_sum(inv: np.ndarray, groups: int, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-group sums of int values where mask; exact (float64 holds integers to 2**53)."""
    sums = np.bincount(inv[mask], weights=values[mask].astype(np.float64), minlength=groups)
    return np.rint(sums).astype(np.int64)


def _pct(num: np.ndarray, den: np.ndarray) -> list[float | None]:
    return [100.0 * float(a) / float(b) if b > 0 else None for a, b in zip(num, den)]


# ---- totals ---------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """One unit's figures from one source."""

    stations: int  # stations whose figures are summed
    registered: int  # voters on the lists at those stations (template's "registered" expression)
    lines: Mapping[str, int | None]  # each protocol line summed over the stations that give it
    parties: Mapping[str, int | None]
    turnout_pct: float | None
    invalid_pct: float | None
    party_pct: Mapping[str, float | None]  # on the template's share base
    passes_threshold: Mapping[str, bool] = field(default_factory=dict)  # national level only


def group_totals(
    template: ElectionTemplate, arrays: StationArrays, inv: np.ndarray, groups: int, mask: np.ndarray, *, national: bool
) -> list[Totals]:
    """Totals of each group over the stations where ``mask`` is true."""
    k = len(arrays.keys)
    sel_inv = inv[mask]
    chosen = arrays.values[mask]
    present = chosen >= 0
    # One bincount over (group, column) pairs sums every column of every group at once.
    cell = (sel_inv[:, None] * k + np.arange(k)).ravel()
    sums = np.bincount(cell, weights=np.where(present, chosen, 0).ravel().astype(np.float64), minlength=groups * k)
    counts = np.bincount(cell, weights=present.ravel().astype(np.float64), minlength=groups * k)
    sums_int = np.rint(sums).astype(np.int64).reshape(groups, k).tolist()
    given = (counts > 0).reshape(groups, k).tolist()
    line_sums = {
        key: [sums_int[g][j] if given[g][j] else None for g in range(groups)] for j, key in enumerate(arrays.keys)
    }
    stations = np.bincount(sel_inv, minlength=groups)

    pk = template.party_keys
    reg_v, reg_ok = evaluate_term(template.registered, arrays, pk)
    voted_v, voted_ok = evaluate_term(template.voted, arrays, pk)
    base_v, base_ok = evaluate_term(template.share_base, arrays, pk)
    cast_v, cast_ok = evaluate_term(template.ballots_cast, arrays, pk)
    inv_v, inv_ok = evaluate_term(template.invalid, arrays, pk)

    registered = _group_sum(inv, groups, reg_v, mask & reg_ok)
    t_mask = mask & reg_ok & voted_ok
    turnout = _pct(_group_sum(inv, groups, voted_v, t_mask), _group_sum(inv, groups, reg_v, t_mask))
    i_mask = mask & cast_ok & inv_ok
    invalid = _pct(_group_sum(inv, groups, inv_v, i_mask), _group_sum(inv, groups, cast_v, i_mask))
    party_pct: dict[str, list[float | None]] = {}
    for key in pk:
        col = arrays.column(key)
        p_mask = mask & base_ok & (col >= 0)
        party_pct[key] = _pct(_group_sum(inv, groups, col, p_mask), _group_sum(inv, groups, base_v, p_mask))

    out: list[Totals] = []
    for g in range(groups):
        shares = {key: party_pct[key][g] for key in pk}
        passes = (
            {key: (share is not None and share >= template.threshold_pct) for key, share in shares.items()} if national else {}
        )
        out.append(
            Totals(
                stations=int(stations[g]),
                registered=int(registered[g]),
                lines={key: line_sums[key][g] for key in template.line_keys},
                parties={key: line_sums[key][g] for key in pk},
                turnout_pct=turnout[g],
                invalid_pct=invalid[g],
                party_pct=shares,
                passes_threshold=passes,
            )
        )
    return out


# ---- comparison -----------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Observed against official for one unit."""

    stations_total: int  # stations in the unit (station list and official results)
    stations_observed: int  # stations whose observed figures count
    registered_total: int
    registered_observed: int
    coverage_stations_pct: float | None
    coverage_registered_pct: float | None
    not_counted: int  # stations with observed figures left out (disputed, unresolved, excluded by the rules)
    disputed: int  # of which disputed or unresolved
    unmatched: int  # counted observed stations the official results do not cover
    headcount_turnout_pct: float | None  # observers' own head-count / registered
    announced_turnout_pct: float | None  # commission's announced figure at the last reporting slot / registered
    diff_pp: Mapping[str, float | None]  # observed minus official (same stations), percentage points


@dataclass(frozen=True)
class UnitResult:
    """One row of an aggregate table: a country, a region or a district."""

    level: str
    unit: str  # "national", the region's ISO code, or "<region code> / <district>"
    region: str
    district: str
    observed: Totals | None = None
    official: Totals | None = None  # with "both": over the same stations as ``observed``
    official_all: Totals | None = None  # with "both": over every station with official figures
    comparison: Comparison | None = None


def _unit_name(level: str, region: str, district: str) -> str:
    if level == "national":
        return NATIONAL_UNIT
    if level == "region":
        return region
    return f"{region} / {district}"


def aggregate_arrays(
    template: ElectionTemplate,
    level: str,
    source: str,
    *,
    official: StationArrays | None = None,
    observed: StationArrays | None = None,
) -> list[UnitResult]:
    """Aggregate one or both sources at ``level``; with both, the arrays must be aligned by station."""
    if source not in ("official", "observed", "both"):
        raise ValueError(f"unknown source {source!r}")
    base = official if official is not None else observed
    if base is None:
        raise ValueError("no station arrays given")
    if source == "both":
        if official is None or observed is None:
            raise ValueError("both sources need both arrays")
        if not np.array_equal(official.station_ids, observed.station_ids):
            raise ValueError("official and observed arrays are not aligned by station")
    units, inv = unit_index(base, level)
    groups = len(units)
    national = level == "national"

    if source == "official":
        assert official is not None
        totals = group_totals(template, official, inv, groups, official.has_figures, national=national)
        return [
            UnitResult(level, _unit_name(level, r, d), r, d, official=t)
            for (r, d), t in zip(units, totals)
            if t.stations
        ]
    if source == "observed":
        assert observed is not None
        totals = group_totals(template, observed, inv, groups, observed.has_figures, national=national)
        return [
            UnitResult(level, _unit_name(level, r, d), r, d, observed=t)
            for (r, d), t in zip(units, totals)
            if t.stations
        ]

    assert official is not None and observed is not None
    counted = observed.has_figures
    matched = counted & official.has_figures
    obs = group_totals(template, observed, inv, groups, matched, national=national)
    off_same = group_totals(template, official, inv, groups, matched, national=national)
    off_all = group_totals(template, official, inv, groups, official.has_figures, national=national)

    ones = np.ones(len(base), dtype=bool)
    stations_total = np.bincount(inv, minlength=groups)
    stations_obs = np.bincount(inv[counted], minlength=groups)
    reg = base.registered
    reg_total = _group_sum(inv, groups, reg, ones & (reg >= 0))
    reg_obs = _group_sum(inv, groups, reg, counted & (reg >= 0))
    not_counted = np.bincount(inv[observed.not_counted], minlength=groups) if observed.not_counted is not None else np.zeros(groups, np.int64)
    disputed = np.bincount(inv[observed.disputed], minlength=groups) if observed.disputed is not None else np.zeros(groups, np.int64)
    unmatched = np.bincount(inv[counted & ~official.has_figures], minlength=groups)
    head_pct = _own_count_pct(observed.headcount, observed, template, inv, groups)
    ann_pct = _own_count_pct(observed.announced, observed, template, inv, groups)

    out: list[UnitResult] = []
    for g, (r, d) in enumerate(units):
        if not stations_obs[g] and not off_all[g].stations:
            continue
        o, f = obs[g], off_same[g]
        diffs: dict[str, float | None] = {"turnout": _diff(o.turnout_pct, f.turnout_pct), "invalid": _diff(o.invalid_pct, f.invalid_pct)}
        for key in template.party_keys:
            diffs[key] = _diff(o.party_pct[key], f.party_pct[key])
        comp = Comparison(
            stations_total=int(stations_total[g]),
            stations_observed=int(stations_obs[g]),
            registered_total=int(reg_total[g]),
            registered_observed=int(reg_obs[g]),
            coverage_stations_pct=_pct1(stations_obs[g], stations_total[g]),
            coverage_registered_pct=_pct1(reg_obs[g], reg_total[g]),
            not_counted=int(not_counted[g]),
            disputed=int(disputed[g]),
            unmatched=int(unmatched[g]),
            headcount_turnout_pct=head_pct[g],
            announced_turnout_pct=ann_pct[g],
            diff_pp=diffs,
        )
        out.append(UnitResult(level, _unit_name(level, r, d), r, d, observed=o, official=f, official_all=off_all[g], comparison=comp))
    return out


def _own_count_pct(
    counts: np.ndarray | None, observed: StationArrays, template: ElectionTemplate, inv: np.ndarray, groups: int
) -> list[float | None]:
    """A per-station voter count (head-count, announced figure) as a share of the registered voters.

    The denominator is the observed protocol's registered figure, or the station
    list's where the observers have no protocol; only stations with both count.
    A station whose protocol is disputed still counts here: the head-count is
    the observers' own and does not depend on which protocol version is right.
    """
    if counts is None:
        return [None] * groups
    reg_v, reg_ok = evaluate_term(template.registered, observed, template.party_keys)
    reg = np.where(reg_ok, reg_v, observed.registered)
    m = (counts >= 0) & (reg > 0)
    return _pct(_group_sum(inv, groups, counts, m), _group_sum(inv, groups, reg, m))


def _pct1(part: int | np.integer, whole: int | np.integer) -> float | None:
    return 100.0 * float(part) / float(whole) if whole > 0 else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


# ---- per-station gaps -------------------------------------------------------------


@dataclass(frozen=True)
class StationGap:
    """One station's turnout by the observers and by the official result."""

    station_id: str
    code: str
    region: str
    district: str
    observed_turnout_pct: float | None  # from the observed protocol
    headcount_turnout_pct: float | None  # from the observers' own count
    official_turnout_pct: float
    gap_pp: float  # official minus observed (head-count where there is one, else the protocol)


def turnout_gaps(template: ElectionTemplate, official: StationArrays, observed: StationArrays) -> list[StationGap]:
    """Observed stations ranked by how far the official turnout exceeds what the observers saw."""
    pk = template.party_keys
    o_reg, o_reg_ok = evaluate_term(template.registered, observed, pk)
    o_vot, o_vot_ok = evaluate_term(template.voted, observed, pk)
    f_reg, f_reg_ok = evaluate_term(template.registered, official, pk)
    f_vot, f_vot_ok = evaluate_term(template.voted, official, pk)
    with np.errstate(divide="ignore", invalid="ignore"):
        obs_pct = np.where(o_reg_ok & o_vot_ok & (o_reg > 0), 100.0 * o_vot / np.maximum(o_reg, 1), np.nan)
        off_pct = np.where(f_reg_ok & f_vot_ok & (f_reg > 0), 100.0 * f_vot / np.maximum(f_reg, 1), np.nan)
        head = observed.headcount if observed.headcount is not None else np.full(len(observed), MISSING)
        reg_for_head = np.where(o_reg_ok & (o_reg > 0), o_reg, np.where(f_reg_ok, f_reg, observed.registered))
        head_pct = np.where((head >= 0) & (reg_for_head > 0), 100.0 * head / np.maximum(reg_for_head, 1), np.nan)
    own = np.where(np.isnan(head_pct), obs_pct, head_pct)
    seen = (observed.has_figures | (head >= 0)) & official.has_figures & ~np.isnan(off_pct) & ~np.isnan(own)
    gap = off_pct - own
    idx = np.flatnonzero(seen)
    idx = idx[np.argsort(-gap[idx], kind="stable")]
    return [
        StationGap(
            str(observed.station_ids[i]),
            str(observed.codes[i]),
            str(observed.regions[i]),
            str(observed.districts[i]),
            None if np.isnan(obs_pct[i]) else float(obs_pct[i]),
            None if np.isnan(head_pct[i]) else float(head_pct[i]),
            float(off_pct[i]),
            float(gap[i]),
        )
        for i in idx
    ]
