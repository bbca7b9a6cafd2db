"""Parallel vote tabulation from the observers' sample: stratified combined ratio estimates (Cochran 1977, ch. 6).

Also the observers' own estimate of the leader's excess votes: the official
total minus the total the observed stations imply, set beside Shpilkin's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from observer.forensics.model import NATIONAL, ObservedExcess, PvtEstimate, PvtResult, Sample, StationReturns
from observer.forensics.stats import FloatArray, IntArray


@dataclass(frozen=True)
class _Stratum:
    code: str
    y: FloatArray
    x: FloatArray
    size: int  # N_h: stations of the region in the station list


def _pvt_quantities(data: StationReturns) -> dict[str, tuple[IntArray, IntArray]]:
    """quantity -> (numerator, denominator) per station; -1 anywhere means missing."""
    q: dict[str, tuple[IntArray, IntArray]] = {
        "turnout": (data.voted, data.registered),
        "invalid": (data.invalid, data.ballots),
    }
    for key in data.party_keys:
        q[key] = (data.party(key), data.ballots)
    return q


def _strata(
    y_all: IntArray, x_all: IntArray, regions: NDArray[np.str_], covered: Sequence[str], n_pop: dict[str, int]
) -> list[_Stratum]:
    """The observed stations with both figures, by region; N_h never below the observed n_h."""
    valid = (y_all >= 0) & (x_all > 0)
    out = []
    for code in covered:
        m = valid & (regions == code)
        n_h = int(m.sum())
        if n_h:
            out.append(
                _Stratum(code, y_all[m].astype(np.float64), x_all[m].astype(np.float64), max(n_pop.get(code, n_h), n_h))
            )
    return out


def _combined_ratio(strata: Sequence[_Stratum]) -> tuple[float, float, float]:
    """Cochran's combined ratio estimator: (R̂, SE(R̂), X̂).

    R̂ = Σ N_h ȳ_h / Σ N_h x̄_h, V(R̂) = Σ N_h² (1 − n_h/N_h) s²_d,h / n_h / X̂², d = y − R̂x.
    A region with a single observed station borrows the pooled within-region
    variance of d (its own cannot be estimated): a documented collapse rule.
    """
    y_hat = sum(s.size * float(s.y.mean()) for s in strata)
    x_hat = sum(s.size * float(s.x.mean()) for s in strata)
    if x_hat <= 0:
        return math.nan, math.nan, x_hat
    r_hat = y_hat / x_hat
    pooled_num, pooled_den = 0.0, 0
    for s in strata:
        if len(s.y) >= 2:
            d = s.y - r_hat * s.x
            pooled_num += float(np.sum((d - d.mean()) ** 2))
            pooled_den += len(s.y) - 1
    pooled = pooled_num / pooled_den if pooled_den else math.nan
    var = 0.0
    for s in strata:
        n_h = len(s.y)
        s2 = float(np.var(s.y - r_hat * s.x, ddof=1)) if n_h >= 2 else pooled
        var += s.size**2 * (1 - n_h / s.size) * s2 / n_h
    se = math.sqrt(var) / x_hat if math.isfinite(var) else math.nan
    return r_hat, se, x_hat


def _separate_ratio(s: _Stratum) -> tuple[float, float]:
    """One region's own ratio ȳ_h / x̄_h and its SE (not estimable from one station)."""
    n_h = len(s.y)
    r_h = float(s.y.sum() / s.x.sum())
    if n_h < 2:
        return r_h, math.nan
    s2 = float(np.var(s.y - r_h * s.x, ddof=1))
    return r_h, math.sqrt((1 - n_h / s.size) * s2 / n_h) / float(s.x.mean())


def _population_sizes(population: StationReturns) -> tuple[dict[str, int], int]:
    codes, counts = np.unique(np.asarray(population.regions, dtype=str), return_counts=True)
    return dict(zip(codes.tolist(), counts.tolist())), len(codes)


def pvt(sample: StationReturns, population: StationReturns, official: StationReturns | None = None) -> PvtResult:
    """Stratified (by region) combined ratio estimates from the observed stations.

    Design: the stations where observers obtained the figures are treated as a
    simple random sample without replacement within each region (stratum) of
    the station list ``population``; stratum totals are expanded by N_h / n_h,
    so every station weighs by its size (registered voters for turnout, ballots
    for shares). Regions without an observed station are outside the estimate;
    the official figure it is compared with is taken over the same (covered) regions.
    """
    n_pop, n_regions = _population_sizes(population)
    pop_regions = np.asarray(population.regions, dtype=str)
    s_regions = np.asarray(sample.regions, dtype=str)
    covered = sorted(set(s_regions.tolist()))
    reg_pop = np.maximum(population.registered, 0)
    reg_total = float(reg_pop.sum())
    obs_reg = float(np.maximum(sample.registered, 0).sum())
    off_q = _pvt_quantities(official) if official is not None else {}
    off_regions = np.asarray(official.regions, dtype=str) if official is not None else np.array([], dtype=str)

    def official_ratio(quantity: str, regions: Sequence[str]) -> float | None:
        if quantity not in off_q:
            return None
        y, x = off_q[quantity]
        ok = (y >= 0) & (x > 0) & np.isin(off_regions, list(regions))
        sx = float(x[ok].sum())
        return 100.0 * float(y[ok].sum()) / sx if sx > 0 else None

    estimates: list[PvtEstimate] = []
    for quantity, (y_all, x_all) in _pvt_quantities(sample).items():
        strata = _strata(y_all, x_all, s_regions, covered, n_pop)
        if not strata:
            continue
        r_hat, se, x_hat = _combined_ratio(strata)
        if x_hat <= 0:
            continue
        n_total = sum(len(s.y) for s in strata)
        codes = [s.code for s in strata]
        estimates.append(
            PvtEstimate(
                NATIONAL, quantity, 100 * r_hat, 100 * se, n_total, official_ratio(quantity, codes), n_total < 30
            )
        )
        for s in strata:
            r_h, se_h = _separate_ratio(s)
            estimates.append(
                PvtEstimate(
                    s.code, quantity, 100 * r_h, 100 * se_h, len(s.y), official_ratio(quantity, [s.code]), len(s.y) < 30
                )
            )

    n_sample = len(sample)
    return PvtResult(
        tuple(estimates),
        len(covered),
        n_regions,
        n_sample,
        len(population),
        100.0 * obs_reg / reg_total if reg_total else math.nan,
        100.0 * float(reg_pop[np.isin(pop_regions, covered)].sum()) / reg_total if reg_total else math.nan,
        Sample("observed", n_sample, 0, int(np.maximum(sample.voted, 0).sum()), "forensics.rule.pvt"),
    )


def observed_excess(
    sample: StationReturns,
    population: StationReturns,
    official: StationReturns,
    leader: str,
    shpilkin: tuple[float, float],
) -> ObservedExcess | None:
    """The leader's official votes minus what the observed stations imply, in the regions observers covered.

    The implied total is Cochran's combined ratio estimate of the leader's votes
    per registered voter (observers' counts ÷ registered voters, stratified by
    region) times the registered voters of the official stations there.
    Assumptions: the observed stations are a random sample within each region,
    and the observers' counts are the true counts. ``shpilkin`` is Shpilkin's
    (excess, SE) over the same regions, for the comparison.
    """
    if leader not in sample.party_keys:
        return None
    n_pop, n_regions = _population_sizes(population)
    s_regions = np.asarray(sample.regions, dtype=str)
    covered = sorted(set(s_regions.tolist()))
    strata = _strata(sample.party(leader), sample.registered, s_regions, covered, n_pop)
    if not strata:
        return None
    r_hat, se_r, _ = _combined_ratio(strata)
    codes = [s.code for s in strata]
    off_lead = official.party(leader)
    in_cov = np.isin(np.asarray(official.regions, dtype=str), codes)
    ok = in_cov & (off_lead >= 0) & (official.registered > 0)
    registered = float(official.registered[ok].sum())
    official_total = float(off_lead[ok].sum())
    implied = r_hat * registered
    all_reg = float(np.maximum(official.registered, 0).sum())
    used = sum(len(s.y) for s in strata)
    return ObservedExcess(
        leader=leader,
        official=official_total,
        implied=implied,
        excess=official_total - implied,
        se=se_r * registered,
        stations=used,
        strata=len(strata),
        regions=n_regions,
        registered=registered,
        covered_share=100.0 * registered / all_reg if all_reg else math.nan,
        shpilkin_excess=shpilkin[0],
        shpilkin_se=shpilkin[1],
        sample=Sample(
            "observed", used, len(sample) - used, int(np.maximum(sample.voted, 0).sum()), "forensics.rule.pvt"
        ),
    )
