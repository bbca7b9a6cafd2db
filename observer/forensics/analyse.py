"""Every method together on one election: what the CLI, the GUI and the report run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from observer.forensics.compare import compare
from observer.forensics.digits import digit_tests
from observer.forensics.fingerprint import fingerprint, high_mass, leader_key, station_shares
from observer.forensics.integer import fine_histogram, integer_percent_tests
from observer.forensics.model import (
    Comparison,
    DigitTest,
    ForensicsError,
    ForensicsResult,
    IntegerPercentTest,
    ObservedExcess,
    Options,
    PvtResult,
    RegionSummary,
    StationReturns,
    TurnoutDistribution,
)
from observer.forensics.pvt import observed_excess, pvt
from observer.forensics.shpilkin import turnout_distribution
from observer.forensics.stats import holm


def region_summaries(
    data: StationReturns, leader: str, options: Options, integer: Sequence[IntegerPercentTest]
) -> tuple[RegionSummary, ...]:
    regions = np.asarray(data.regions, dtype=str)
    t_int = next(t for t in integer if t.quantity == "turnout" and t.step == 1)
    l_int = next(t for t in integer if t.quantity == "leader" and t.step == 1)
    out = []
    for code in sorted(set(regions.tolist())):
        part = data.subset(regions == code)
        s = station_shares(part, leader)
        mass, mass_se, _ = high_mass(part, leader, options.thresholds[0])
        dist = turnout_distribution(part, leader, options)
        out.append(
            RegionSummary(
                code,
                len(part),
                int(s.voted.sum()),
                100.0 * float(s.voted.sum() / s.registered.sum()) if s.registered.sum() > 0 else float("nan"),
                100.0 * float(s.leader.sum() / s.ballots.sum()) if s.ballots.sum() > 0 else float("nan"),
                mass,
                mass_se,
                dist.excess,
                dist.excess_se,
                t_int.group("region", code),
                l_int.group("region", code),
            )
        )
    return tuple(out)


def analyse(
    official: StationReturns,
    observed: StationReturns | None = None,
    *,
    level: str = "national",
    options: Options = Options(),
    population: StationReturns | None = None,
) -> ForensicsResult:
    """Run every method on the official results (and the observed sample, if any).

    ``level="region"`` adds a per-region summary (fingerprint mass, Shpilkin
    excess, round-percent counts from one pass). ``population`` is
    the full station list the PVT expands to (default: the official stations).
    """
    if level not in ("national", "region"):
        raise ForensicsError("forensics.error.level", level=level)
    if len(official) == 0:
        raise ForensicsError("forensics.error.empty")
    leader = leader_key(official)
    fp = fingerprint(official, leader, options)
    if fp.sample.stations == 0:
        raise ForensicsError("forensics.error.empty")
    dist = turnout_distribution(official, leader, options)

    groupings: dict[str, NDArray[Any]] = {}
    if level == "region":
        groupings["region"] = np.asarray(official.regions, dtype=str)
    has_sample = observed is not None and len(observed) > 0
    if has_sample:
        assert observed is not None
        seen = np.isin(np.asarray(official.codes, dtype=str), np.asarray(observed.codes, dtype=str))
        groupings["observation"] = np.where(seen, "observed", "unobserved")
    # One pass gives the national, regional and observed/unobserved counts.
    integer = integer_percent_tests(official, leader, options, groupings)
    integer = with_holm(integer, level == "region")
    comparison: Comparison | None = None
    pvt_result: PvtResult | None = None
    excess: ObservedExcess | None = None
    if has_sample:
        assert observed is not None
        pop = population if population is not None else official
        comparison = compare(observed, official, leader, options, integer)
        pvt_result = pvt(observed, pop, official)
        excess = observed_excess(observed, pop, official, leader, _shpilkin_over(official, observed, dist, options))
    return ForensicsResult(
        leader,
        official.party_keys,
        level,
        options,
        fp,
        dist,
        integer,
        fine_histogram(official.voted, official.registered, options.min_size),
        fine_histogram(official.party(leader), official.ballots, options.min_size),
        digits_with_holm(digit_tests(official, options)),
        pvt_result,
        comparison,
        region_summaries(official, leader, options, integer) if level == "region" else (),
        excess,
        len(official),
        len(observed) if observed is not None else 0,
    )


def _shpilkin_over(
    official: StationReturns, observed: StationReturns, national: TurnoutDistribution, options: Options
) -> tuple[float, float]:
    """Shpilkin's (excess, SE) over the regions the observers covered, to set beside their own estimate."""
    regions = np.asarray(official.regions, dtype=str)
    covered = np.isin(regions, np.asarray(observed.regions, dtype=str))
    if covered.all():
        return national.excess, national.excess_se
    dist = turnout_distribution(official.subset(covered), national.leader, options)
    return dist.excess, dist.excess_se


def with_holm(tests: Sequence[IntegerPercentTest], regional: bool) -> tuple[IntegerPercentTest, ...]:
    """Holm-adjusted p beside the raw one, per family of tests run together.

    Families: the national counts of all (six) tests; and, by region, the
    turnout and leader-share whole-percent counts of every region (the regional
    table shows those).
    """
    national = holm([t.national.p_value for t in tests])
    shown = [i for i, t in enumerate(tests) if t.step == 1 and t.quantity in ("turnout", "leader")]
    cells = [(i, j) for i in shown for j, g in enumerate(tests[i].groups) if g.kind == "region"] if regional else []
    regional_p = dict(zip(cells, holm([tests[i].groups[j].p_value for i, j in cells])))
    out = []
    for i, t in enumerate(tests):
        groups = tuple(replace(g, p_holm=regional_p.get((i, j), g.p_holm)) for j, g in enumerate(t.groups))
        out.append(replace(t, national=replace(t.national, p_holm=national[i]), groups=groups))
    return tuple(out)


def digits_with_holm(tests: Sequence[DigitTest]) -> tuple[DigitTest, ...]:
    """The chi-square p of every digit test (all parties, both tests) adjusted as one family (Holm)."""
    adjusted = holm([t.p_value for t in tests])
    return tuple(replace(t, p_holm=p) for t, p in zip(tests, adjusted))
