"""Observed vs official at the same stations, and the forensic signs at observed vs unobserved stations."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from observer.forensics.fingerprint import high_mass, station_shares
from observer.forensics.integer import integer_percent_tests
from observer.forensics.model import (
    Comparison,
    GapAtStation,
    GroupSigns,
    IntegerPercentTest,
    Options,
    PairedGap,
    Sample,
    StationReturns,
)
from observer.forensics.stats import IntArray, two_sided_p


def _paired(quantity: str, y_off: IntArray, x_off: IntArray, y_obs: IntArray, x_obs: IntArray) -> PairedGap | None:
    ok = (y_off >= 0) & (x_off > 0) & (y_obs >= 0) & (x_obs > 0)
    if not ok.any():
        return None
    yo, xo = y_off[ok].astype(np.float64), x_off[ok].astype(np.float64)
    yb, xb = y_obs[ok].astype(np.float64), x_obs[ok].astype(np.float64)
    r_off = float(yo.sum() / xo.sum())
    r_obs = float(yb.sum() / xb.sum())
    # Influence of each station on the difference of the two ratios (delta method, paired).
    z = (yo - r_off * xo) / xo.sum() - (yb - r_obs * xb) / xb.sum()
    n = len(z)
    se = math.sqrt(n / (n - 1) * float(np.sum((z - z.mean()) ** 2))) if n > 1 else float("nan")
    # The project's one sign (observer.definitions.gap_pp): observed minus official.
    station_gap = 100.0 * (yb / xb - yo / xo)
    return PairedGap(
        quantity,
        n,
        100 * r_off,
        100 * r_obs,
        100 * (r_obs - r_off),
        100 * se,
        float(np.median(station_gap)),
        int(np.count_nonzero(np.abs(station_gap) >= 1.0)),
        int(np.count_nonzero(np.abs(station_gap) >= 5.0)),
    )


def _group_signs(
    official: StationReturns,
    is_observed: NDArray[np.bool_],
    leader: str,
    options: Options,
    integer: Sequence[IntegerPercentTest] | None,
) -> GroupSigns:
    """Forensic signs in the official results at observed vs unobserved stations."""
    thr = options.thresholds[0]
    m_obs, se_obs, _ = high_mass(official.subset(is_observed), leader, thr)
    m_un, se_un, _ = high_mass(official.subset(~is_observed), leader, thr)
    denom = math.hypot(se_obs, se_un)
    z = (m_un - m_obs) / denom if denom > 0 and math.isfinite(denom) else float("nan")

    def mean_turnout(mask: NDArray[np.bool_]) -> float:
        s = station_shares(official.subset(mask), leader)
        return 100.0 * float(s.voted.sum() / s.registered.sum()) if s.registered.sum() > 0 else float("nan")

    int_obs = int_un = None
    tests = (
        integer
        if integer is not None
        else integer_percent_tests(
            official, leader, options, {"observation": np.where(is_observed, "observed", "unobserved")}
        )
    )
    either = next((t for t in tests if t.quantity == "either" and t.step == 1), None)
    if either is not None:
        int_obs = either.group("observation", "observed")
        int_un = either.group("observation", "unobserved")
    return GroupSigns(
        thr,
        m_obs,
        se_obs,
        m_un,
        se_un,
        z,
        two_sided_p(z) if math.isfinite(z) else float("nan"),
        mean_turnout(is_observed),
        mean_turnout(~is_observed),
        int_obs,
        int_un,
    )


def compare(
    observed: StationReturns,
    official: StationReturns,
    leader: str,
    options: Options = Options(),
    integer: Sequence[IntegerPercentTest] | None = None,
) -> Comparison | None:
    """Observed minus official at the stations both cover, and signs at unobserved stations.

    ``integer`` may pass integer-percent tests already run with the grouping
    "observation" (observed/unobserved) so they are not computed again.
    """
    obs_codes = np.asarray(observed.codes, dtype=str)
    off_codes = np.asarray(official.codes, dtype=str)
    _, i_off, i_obs = np.intersect1d(off_codes, obs_codes, assume_unique=False, return_indices=True)
    if not len(i_off):
        return None
    # intersect1d's indices put both sides in the same (sorted) order of codes.
    off = official.subset(i_off)
    obs = observed.subset(i_obs)
    gaps = [
        _paired("turnout", off.voted, off.registered, obs.voted, obs.registered),
        _paired("leader", off.party(leader), off.ballots, obs.party(leader), obs.ballots)
        if leader in obs.party_keys
        else None,
        _paired("invalid", off.invalid, off.ballots, obs.invalid, obs.ballots),
    ]
    ok = (off.registered > 0) & (off.voted >= 0) & (obs.registered > 0) & (obs.voted >= 0)
    t_off = np.where(ok, off.voted / np.maximum(off.registered, 1), np.nan) * 100
    t_obs = np.where(ok, obs.voted / np.maximum(obs.registered, 1), np.nan) * 100
    station_gap = t_obs - t_off  # observed minus official, as observer.definitions.gap_pp
    order = np.argsort(-np.nan_to_num(np.abs(station_gap), nan=-1.0))[: options.top_gaps]
    largest = tuple(
        GapAtStation(str(off.codes[i]), str(off.regions[i]), float(t_obs[i]), float(t_off[i]), float(station_gap[i]))
        for i in order
        if ok[i]
    )

    signs = _group_signs(official, np.isin(off_codes, obs_codes), leader, options, integer)
    paired = [g for g in gaps if g is not None]
    n_pairs = len(i_off)
    voters = int(np.maximum(off.voted, 0).sum())
    return Comparison(
        tuple(paired),
        largest,
        signs,
        Sample("paired", n_pairs, len(observed) - n_pairs, voters, "forensics.rule.paired"),
    )
