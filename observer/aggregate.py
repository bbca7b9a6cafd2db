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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from observer.definitions import DISPUTED, EXCLUDED, NOT_OBSERVED, UNDECIDED, StationCounts
from observer.rollup import Grouping, Quantities, pct
from observer.station_arrays import (
    MISSING,
    StationArrays,
    evaluate_term,
    factorize,
    failing_checks,
    relation_failures,
    statuses,
    unit_index,
)
from observer.template import ElectionTemplate
from observer.turnout_gaps import StationGap, turnout_gaps

# The arrays, the expressions over them and the gaps live in their own modules;
# their names stay importable from here, where callers have always found them.
__all__ = [
    "LEVELS",
    "MISSING",
    "NATIONAL_UNIT",
    "Comparison",
    "Level",
    "StationArrays",
    "StationGap",
    "Totals",
    "UnitResult",
    "aggregate_arrays",
    "aggregate_levels_arrays",
    "evaluate_term",
    "factorize",
    "failing_checks",
    "relation_failures",
    "statuses",
    "turnout_gaps",
    "unit_index",
]

Level = Literal["national", "region", "district"]
LEVELS: tuple[str, ...] = ("national", "region", "district")
NATIONAL_UNIT = "national"


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


# ---- the quantities each figure is summed from -------------------------------------


def _figure_quantities(template: ElectionTemplate, arrays: StationArrays) -> Quantities:
    q = Quantities(len(arrays), 2 * len(arrays.keys) + 2 * len(template.party_keys) + 6)
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


def _totals(template: ElectionTemplate, q: Quantities, row: Sequence[float], national: bool) -> Totals:
    """A unit's figures from its row of summed quantities (:func:`_figure_quantities`)."""
    ix = q.index
    line_keys, party_keys = template.line_keys, template.party_keys  # properties that build a tuple each time

    def count(name: str) -> int:
        return int(round(float(row[ix[name]])))

    values = {key: (count(f"sum:{key}") if row[ix[f"given:{key}"]] > 0 else None) for key in (*line_keys, *party_keys)}
    shares = {key: pct(row[ix[f"party:{key}:num"]], row[ix[f"party:{key}:den"]]) for key in party_keys}
    return Totals(
        stations=count("stations"),
        registered=count("registered"),
        lines={key: values[key] for key in line_keys},
        parties={key: values[key] for key in party_keys},
        turnout_pct=pct(row[ix["turnout:num"]], row[ix["turnout:den"]]),
        invalid_pct=pct(row[ix["invalid:num"]], row[ix["invalid:den"]]),
        party_pct=shares,
        passes_threshold=(
            {key: (share is not None and share >= template.threshold_pct) for key, share in shares.items()}
            if national
            else {}
        ),
    )


def _comparison_quantities(template: ElectionTemplate, official: StationArrays, observed: StationArrays) -> Quantities:
    n = len(observed)
    counted = observed.has_figures
    q = Quantities(n, 13)
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


# ---- aggregation -----------------------------------------------------------------


def aggregate_levels_arrays(
    template: ElectionTemplate,
    levels: Sequence[str],
    source: str,
    *,
    official: StationArrays | None = None,
    observed: StationArrays | None = None,
) -> dict[str, list[UnitResult]]:
    """Aggregate one or both sources at several levels; with both, the arrays must be aligned by station."""
    grouping = Grouping.of(_base_arrays(levels, source, official, observed), levels)
    official, observed = grouping.in_order(official), grouping.in_order(observed)
    if source == "both":
        assert official is not None and observed is not None
        return _compared(template, grouping, official, observed)
    arrays = official if source == "official" else observed
    assert arrays is not None
    return _one_source(template, grouping, arrays, source)


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


def _base_arrays(
    levels: Sequence[str], source: str, official: StationArrays | None, observed: StationArrays | None
) -> StationArrays:
    """The arrays the units are read from, once the request is checked (a ValueError names what is wrong)."""
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
        same = official.station_ids is observed.station_ids  # one read of the station list: no compare
        if not same and not np.array_equal(official.station_ids, observed.station_ids):
            raise ValueError("official and observed arrays are not aligned by station")
    return base


def _one_source(
    template: ElectionTemplate, grouping: Grouping, arrays: StationArrays, source: str
) -> dict[str, list[UnitResult]]:
    """Each level's units that have stations with figures of ``source``."""
    q = _figure_quantities(template, arrays)
    sums = grouping.sums(q, arrays.has_figures)
    out: dict[str, list[UnitResult]] = {}
    for level in grouping.levels:
        results = []
        for (r, d), row in zip(grouping.units[level], sums[level].tolist()):
            t = _totals(template, q, row, level == "national")
            if not t.stations:
                continue
            name = _unit_name(level, r, d)
            if source == "official":
                results.append(UnitResult(level, name, r, d, official=t))
            else:
                results.append(UnitResult(level, name, r, d, observed=t))
        out[level] = results
    return out


def _compared(
    template: ElectionTemplate, grouping: Grouping, official: StationArrays, observed: StationArrays
) -> dict[str, list[UnitResult]]:
    """Each level's units: observed and official over the same stations, official over all, and the comparison."""
    matched = observed.has_figures & official.has_figures
    # Observed figures are summed over the matched stations only (the observed ones, 10,000 of
    # 100,000 in the benchmark): their quantities are made for those alone.
    q_obs = _figure_quantities(template, observed.subset(matched))
    q_off = _figure_quantities(template, official)
    q_cmp = _comparison_quantities(template, official, observed)
    obs_sums = grouping.subset_sums(q_obs, matched)
    same_sums = grouping.sums(q_off, matched)
    all_sums = grouping.sums(q_off, official.has_figures)
    cmp_sums = grouping.sums(q_cmp, None)
    out: dict[str, list[UnitResult]] = {}
    for level in grouping.levels:
        national = level == "national"
        results = []
        # Rows as lists of Python floats: the same values, read without a numpy scalar per figure.
        obs_rows, same_rows = obs_sums[level].tolist(), same_sums[level].tolist()
        all_rows, cmp_rows = all_sums[level].tolist(), cmp_sums[level].tolist()
        for g, (r, d) in enumerate(grouping.units[level]):
            o = _totals(template, q_obs, obs_rows[g], national)
            f = _totals(template, q_off, same_rows[g], national)
            a = _totals(template, q_off, all_rows[g], national)
            comp = _comparison(template, q_cmp.index, cmp_rows[g], o, f)
            if not comp.stations_counted and not a.stations:
                continue
            name = _unit_name(level, r, d)
            results.append(UnitResult(level, name, r, d, observed=o, official=f, official_all=a, comparison=comp))
        out[level] = results
    return out


def _comparison(
    template: ElectionTemplate, ix: Mapping[str, int], row: Sequence[float], observed: Totals, official: Totals
) -> Comparison:
    """A unit's comparison from its row of :func:`_comparison_quantities` and its two totals on the same stations."""

    def count(name: str) -> int:
        return int(round(float(row[ix[name]])))

    diffs: dict[str, float | None] = {
        "turnout": _diff(observed.turnout_pct, official.turnout_pct),
        "invalid": _diff(observed.invalid_pct, official.invalid_pct),
    }
    for key in template.party_keys:
        diffs[key] = _diff(observed.party_pct[key], official.party_pct[key])
    return Comparison(
        stations_total=count("total"),
        stations_observed=count("observed"),
        stations_counted=count("counted"),
        registered_total=count("reg_total"),
        registered_counted=count("reg_counted"),
        coverage_stations_pct=pct(row[ix["counted"]], row[ix["total"]]),
        coverage_registered_pct=pct(row[ix["reg_counted"]], row[ix["reg_total"]]),
        disputed=count("disputed"),
        undecided=count("undecided"),
        excluded=count("excluded"),
        unmatched=count("unmatched"),
        headcount_turnout_pct=pct(row[ix["headcount:num"]], row[ix["headcount:den"]]),
        announced_turnout_pct=pct(row[ix["announced:num"]], row[ix["announced:den"]]),
        diff_pp=diffs,
    )


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b
