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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from observer.definitions import DISPUTED, EXCLUDED, NOT_OBSERVED, UNDECIDED, StationCounts, station_status
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
    status: np.ndarray | None = None  # int8: observer.definitions status code (not observed ... excluded)

    def __len__(self) -> int:
        return len(self.codes)

    def column(self, key: str) -> np.ndarray:
        return self.values[:, self.keys.index(key)]

    def subset(self, mask: np.ndarray) -> StationArrays:
        """The same arrays restricted to the rows where ``mask`` is true."""
        changes = {
            name: getattr(self, name)[mask]
            for name in (
                "station_ids",
                "codes",
                "regions",
                "districts",
                "registered",
                "values",
                "has_figures",
                "headcount",
                "announced",
                "announced_slot",
                "disputed",
                "not_counted",
                "has_violations",
                "breaks_check",
                "status",
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
    ops = {
        "==": np.equal,
        "!=": np.not_equal,
        "<=": np.less_equal,
        ">=": np.greater_equal,
        "<": np.less,
        ">": np.greater,
    }
    return lok & rok & ~ops[relation.op](lv, rv)


def failing_checks(
    template: ElectionTemplate, arrays: StationArrays, severities: Sequence[str] = ("error",)
) -> np.ndarray:
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


def _pct(num: float, den: float) -> float | None:
    """A percentage as a plain float (numpy scalars would leak into JSON and comparisons)."""
    return 100.0 * float(num) / float(den) if den > 0 else None


# ---- per-station quantities, summed once per district and rolled up ----------------
#
# Every figure of a unit is a sum over its stations (a line, a ratio's numerator or
# denominator, a count of stations), so each source is turned once into a matrix of
# per-station quantities, summed per district with one bincount, and the region and
# national rows are sums of district rows: three levels cost one pass over the stations.


class _Quantities:
    """Named per-station quantities, one float64 row each (float64 holds counts exactly).

    Stored as quantities x stations, written in place into one preallocated
    matrix: every row is one contiguous pass, and no temporary copies are made.
    """

    def __init__(self, n: int, capacity: int) -> None:
        self.n = n
        self.index: dict[str, int] = {}
        self._matrix = np.empty((capacity, n), dtype=np.float64)

    def add(self, name: str, values: np.ndarray) -> None:
        row = len(self.index)
        self.index[name] = row
        self._matrix[row] = values  # converts bool/int to float64 while copying

    def matrix(self) -> np.ndarray:
        return self._matrix[: len(self.index)]


def _figure_quantities(template: ElectionTemplate, arrays: StationArrays) -> _Quantities:
    q = _Quantities(len(arrays), 2 * len(arrays.keys) + 2 * len(template.party_keys) + 6)
    present = arrays.values >= 0
    for j, key in enumerate(arrays.keys):
        q.add(f"sum:{key}", np.where(present[:, j], arrays.values[:, j], 0))
        q.add(f"given:{key}", present[:, j])
    pk = template.party_keys
    reg_v, reg_ok = evaluate_term(template.registered, arrays, pk)
    voted_v, voted_ok = evaluate_term(template.voted, arrays, pk)
    base_v, base_ok = evaluate_term(template.share_base, arrays, pk)
    cast_v, cast_ok = evaluate_term(template.ballots_cast, arrays, pk)
    inv_v, inv_ok = evaluate_term(template.invalid, arrays, pk)
    q.add("registered", np.where(reg_ok, reg_v, 0))
    t = reg_ok & voted_ok
    q.add("turnout:num", np.where(t, voted_v, 0))
    q.add("turnout:den", np.where(t, reg_v, 0))
    i = cast_ok & inv_ok
    q.add("invalid:num", np.where(i, inv_v, 0))
    q.add("invalid:den", np.where(i, cast_v, 0))
    for key in pk:
        col = arrays.column(key)
        m = base_ok & (col >= 0)
        q.add(f"party:{key}:num", np.where(m, col, 0))
        q.add(f"party:{key}:den", np.where(m, base_v, 0))
    q.add("stations", np.ones(len(arrays)))
    return q


def _district_sums(matrix: np.ndarray, starts: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(districts x quantities) sums of a quantities x stations matrix whose stations are sorted by district.

    np.add.reduceat adds up each district's run of stations, reading every
    quantity once, in order. With a mask only the chosen stations are gathered
    (few when they are the observed ones) and the run starts are moved to match;
    districts left with no station get 0 (reduceat would repeat a neighbour).
    """
    groups = len(starts)
    if mask is None:
        chosen, first = matrix, starts
    else:
        picked = np.flatnonzero(mask)
        chosen, first = matrix[:, picked], np.searchsorted(picked, starts)
    total = chosen.shape[1]
    out = np.zeros((matrix.shape[0], groups))
    if total == 0 or groups == 0:
        return out.T
    sizes = np.diff(np.append(first, total))
    # Starts past the last station belong to empty trailing districts: leave them at 0.
    live = int(np.searchsorted(first, total))
    out[:, :live] = np.add.reduceat(chosen, first[:live], axis=1)
    out[:, sizes == 0] = 0.0
    return out.T


def _totals(template: ElectionTemplate, keys: Sequence[str], q: _Quantities, row: np.ndarray, national: bool) -> Totals:
    ix = q.index

    def count(name: str) -> int:
        return int(round(float(row[ix[name]])))

    values = {key: (count(f"sum:{key}") if row[ix[f"given:{key}"]] > 0 else None) for key in keys}
    shares = {key: _pct(row[ix[f"party:{key}:num"]], row[ix[f"party:{key}:den"]]) for key in template.party_keys}
    return Totals(
        stations=count("stations"),
        registered=count("registered"),
        lines={key: values[key] for key in template.line_keys},
        parties={key: values[key] for key in template.party_keys},
        turnout_pct=_pct(row[ix["turnout:num"]], row[ix["turnout:den"]]),
        invalid_pct=_pct(row[ix["invalid:num"]], row[ix["invalid:den"]]),
        party_pct=shares,
        passes_threshold=(
            {key: (share is not None and share >= template.threshold_pct) for key, share in shares.items()}
            if national
            else {}
        ),
    )


@dataclass(frozen=True)
class _Levels:
    """The units of each level and how district rows roll up into them."""

    units: dict[str, list[tuple[str, str]]]
    district_of_station: np.ndarray
    rollup: dict[str, np.ndarray]  # level -> unit index of each district


def _levels(arrays: StationArrays) -> _Levels:
    districts, inv = unit_index(arrays, "district")
    regions = sorted({r for r, _ in districts})
    region_no = {r: i for i, r in enumerate(regions)}
    return _Levels(
        units={"national": [("", "")], "region": [(r, "") for r in regions], "district": districts},
        district_of_station=inv,
        rollup={
            "national": np.zeros(len(districts), dtype=np.int64),
            "region": np.array([region_no[r] for r, _ in districts], dtype=np.int64),
            "district": np.arange(len(districts), dtype=np.int64),
        },
    )


def _roll(district_sums: np.ndarray, to_unit: np.ndarray, units: int) -> np.ndarray:
    out = np.zeros((units, district_sums.shape[1]))
    np.add.at(out, to_unit, district_sums)
    return out


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


# ---- comparison -----------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Observed against official for one unit.

    Station counts follow :mod:`observer.definitions`: observed (any record) >=
    counted + not counted (= disputed + undecided + excluded); coverage is counted / total.
    """

    stations_total: int  # stations in the unit (station list and official results)
    stations_observed: int  # stations with any observer record
    stations_counted: int  # stations whose observed figures count
    registered_total: int
    registered_counted: int  # voters on the lists of the counted stations
    coverage_stations_pct: float | None  # counted / total
    coverage_registered_pct: float | None
    disputed: int  # marked disputed by a coordinator
    undecided: int  # versions differ, nobody has decided
    excluded: int  # left out by the inclusion rules
    unmatched: int  # counted observed stations the official results do not cover
    headcount_turnout_pct: float | None  # observers' own head-count / registered
    announced_turnout_pct: float | None  # commission's announced figure at the last reporting slot / registered
    diff_pp: Mapping[str, float | None]  # observed minus official (same stations), percentage points

    @property
    def not_counted(self) -> int:
        return self.disputed + self.undecided + self.excluded

    @property
    def counts(self) -> StationCounts:
        return StationCounts(
            self.stations_total,
            self.stations_observed,
            self.stations_counted,
            self.disputed,
            self.undecided,
            self.excluded,
            self.registered_total,
            self.registered_counted,
        )


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


def _comparison_quantities(template: ElectionTemplate, official: StationArrays, observed: StationArrays) -> _Quantities:
    n = len(observed)
    counted = observed.has_figures
    q = _Quantities(n, 13)
    reg = observed.registered
    status = statuses(observed)
    q.add("total", np.ones(n))
    q.add("observed", status != NOT_OBSERVED)
    q.add("counted", counted)
    q.add("reg_total", np.where(reg >= 0, reg, 0))
    q.add("reg_counted", np.where(counted & (reg >= 0), reg, 0))
    q.add("disputed", status == DISPUTED)
    q.add("undecided", status == UNDECIDED)
    q.add("excluded", status == EXCLUDED)
    q.add("unmatched", counted & ~official.has_figures)
    # Own counts (head-count, announced figure) over the registered voters: the observed
    # protocol's figure, or the station list's where the observers have no protocol. A
    # disputed station still counts here: the head-count does not depend on which
    # protocol version is right.
    reg_v, reg_ok = evaluate_term(template.registered, observed, template.party_keys)
    denominator = np.where(reg_ok, reg_v, reg)
    for name, counts in (("headcount", observed.headcount), ("announced", observed.announced)):
        c = counts if counts is not None else np.full(n, MISSING, dtype=np.int64)
        m = (c >= 0) & (denominator > 0)
        q.add(f"{name}:num", np.where(m, c, 0))
        q.add(f"{name}:den", np.where(m, denominator, 0))
    return q


def statuses(observed: StationArrays) -> np.ndarray:
    """Each station's status (observer.definitions); built from the flags for arrays read without one."""
    if observed.status is not None:
        return observed.status
    n = len(observed)
    zeros = np.zeros(n, dtype=bool)
    disputed = observed.disputed if observed.disputed is not None else zeros
    not_counted = observed.not_counted if observed.not_counted is not None else zeros
    status = station_status(observed.has_figures, observed.has_figures, zeros, disputed, not_counted & ~disputed)
    return status


_NUMERIC_FIELDS = (
    "registered",
    "values",
    "has_figures",
    "headcount",
    "announced",
    "disputed",
    "not_counted",
    "status",
)


def _numbers_in_order(arrays: StationArrays | None, order: np.ndarray) -> StationArrays | None:
    """The arrays totals read, reordered; the text arrays (ids, codes, names) are left as they were.

    Only for the sums below: reordering 100,000 Python strings costs as much as
    the sums themselves, and no total reads them.
    """
    if arrays is None:
        return None
    return replace(arrays, **{f: getattr(arrays, f)[order] for f in _NUMERIC_FIELDS if getattr(arrays, f) is not None})


def aggregate_levels_arrays(
    template: ElectionTemplate,
    levels: Sequence[str],
    source: str,
    *,
    official: StationArrays | None = None,
    observed: StationArrays | None = None,
) -> dict[str, list[UnitResult]]:
    """Aggregate one or both sources at several levels; with both, the arrays must be aligned by station."""
    if source not in ("official", "observed", "both"):
        raise ValueError(f"unknown source {source!r}")
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
    base = official if official is not None else observed
    if base is None:
        raise ValueError("no station arrays given")
    if source == "both":
        if official is None or observed is None:
            raise ValueError("both sources need both arrays")
        if not np.array_equal(official.station_ids, observed.station_ids):
            raise ValueError("official and observed arrays are not aligned by station")
    lv = _levels(base)
    # Stations in district order, once: every later sum then reads contiguous runs.
    order = np.argsort(lv.district_of_station, kind="stable")
    starts = np.searchsorted(lv.district_of_station[order], np.arange(len(lv.units["district"])))
    official = _numbers_in_order(official, order)
    observed = _numbers_in_order(observed, order)
    keys = base.keys

    def per_level(q: _Quantities, mask: np.ndarray | None) -> dict[str, np.ndarray]:
        district_sums = _district_sums(q.matrix(), starts, mask)
        return {level: _roll(district_sums, lv.rollup[level], len(lv.units[level])) for level in levels}

    out: dict[str, list[UnitResult]] = {}
    if source in ("official", "observed"):
        arrays = official if source == "official" else observed
        assert arrays is not None
        q = _figure_quantities(template, arrays)
        sums = per_level(q, arrays.has_figures)
        for level in levels:
            results = []
            for (r, d), row in zip(lv.units[level], sums[level]):
                t = _totals(template, keys, q, row, level == "national")
                if not t.stations:
                    continue
                name = _unit_name(level, r, d)
                if source == "official":
                    results.append(UnitResult(level, name, r, d, official=t))
                else:
                    results.append(UnitResult(level, name, r, d, observed=t))
            out[level] = results
        return out

    assert official is not None and observed is not None
    matched = observed.has_figures & official.has_figures
    q_obs = _figure_quantities(template, observed)
    q_off = _figure_quantities(template, official)
    q_cmp = _comparison_quantities(template, official, observed)
    obs_sums = per_level(q_obs, matched)
    same_sums = per_level(q_off, matched)
    all_sums = per_level(q_off, official.has_figures)
    cmp_sums = per_level(q_cmp, None)
    ci = q_cmp.index
    for level in levels:
        national = level == "national"
        results = []
        for g, (r, d) in enumerate(lv.units[level]):
            c = cmp_sums[level][g]
            o = _totals(template, keys, q_obs, obs_sums[level][g], national)
            f = _totals(template, keys, q_off, same_sums[level][g], national)
            a = _totals(template, keys, q_off, all_sums[level][g], national)
            stations_counted = int(c[ci["counted"]])
            if not stations_counted and not a.stations:
                continue
            diffs: dict[str, float | None] = {
                "turnout": _diff(o.turnout_pct, f.turnout_pct),
                "invalid": _diff(o.invalid_pct, f.invalid_pct),
            }
            for key in template.party_keys:
                diffs[key] = _diff(o.party_pct[key], f.party_pct[key])
            comp = Comparison(
                stations_total=int(c[ci["total"]]),
                stations_observed=int(c[ci["observed"]]),
                stations_counted=stations_counted,
                registered_total=int(round(c[ci["reg_total"]])),
                registered_counted=int(round(c[ci["reg_counted"]])),
                coverage_stations_pct=_pct(c[ci["counted"]], c[ci["total"]]),
                coverage_registered_pct=_pct(c[ci["reg_counted"]], c[ci["reg_total"]]),
                disputed=int(c[ci["disputed"]]),
                undecided=int(c[ci["undecided"]]),
                excluded=int(c[ci["excluded"]]),
                unmatched=int(c[ci["unmatched"]]),
                headcount_turnout_pct=_pct(c[ci["headcount:num"]], c[ci["headcount:den"]]),
                announced_turnout_pct=_pct(c[ci["announced:num"]], c[ci["announced:den"]]),
                diff_pp=diffs,
            )
            results.append(
                UnitResult(
                    level, _unit_name(level, r, d), r, d, observed=o, official=f, official_all=a, comparison=comp
                )
            )
        out[level] = results
    return out


def aggregate_arrays(
    template: ElectionTemplate,
    level: str,
    source: str,
    *,
    official: StationArrays | None = None,
    observed: StationArrays | None = None,
) -> list[UnitResult]:
    """Aggregate one or both sources at one level (see :func:`aggregate_levels_arrays`)."""
    return aggregate_levels_arrays(template, (level,), source, official=official, observed=observed)[level]


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
    gap_pp: float  # observed (head-count where there is one, else the protocol) minus official (definitions.gap_pp)


def turnout_gaps(template: ElectionTemplate, official: StationArrays, observed: StationArrays) -> list[StationGap]:
    """Observed stations ranked by how far the official turnout exceeds what the observers saw.

    The gap has the one sign of :func:`observer.definitions.gap_pp` (observed minus
    official), so the stations listed first have the most negative gaps.
    """
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
    gap = own - off_pct
    idx = np.flatnonzero(seen)
    idx = idx[np.argsort(gap[idx], kind="stable")]
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
