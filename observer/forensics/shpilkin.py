"""Shpilkin's voter-weighted turnout histogram and the leader's excess over the others' shape."""

from __future__ import annotations

import math

import numpy as np

from observer.forensics.fingerprint import bin_index, station_shares
from observer.forensics.model import Options, Sample, StationReturns, TurnoutDistribution


def turnout_distribution(
    data: StationReturns, leader: str, options: Options = Options(), source: str = "official"
) -> TurnoutDistribution:
    """Voter-weighted turnout histogram and the leader's excess above the mode.

    Assumption: in a clean count the leader's votes, binned by turnout, follow
    the same shape as the other parties' votes; their ratio is measured at and
    below the mode (where ballot stuffing, which raises turnout, has not yet
    moved stations) and any leader votes above ``ratio × others`` in the bins
    above the mode are counted as excess.
    """
    s = station_shares(data, leader)
    bins = options.bins
    idx = bin_index(s.turnout, bins)
    others = s.ballots - s.leader
    voters = np.bincount(idx, weights=s.voted, minlength=bins).astype(np.float64, copy=False)
    lead = np.bincount(idx, weights=s.leader, minlength=bins).astype(np.float64, copy=False)
    oth = np.bincount(idx, weights=others, minlength=bins).astype(np.float64, copy=False)
    edges = np.linspace(0.0, 100.0, bins + 1)
    sample = Sample(source, int(s.mask.sum()), int((~s.mask).sum()), int(s.voted.sum()), "forensics.rule.shares")
    if not len(idx) or oth.sum() <= 0:
        nan = float("nan")
        return TurnoutDistribution(
            leader, edges, voters, lead, oth, lead.copy(), nan, nan, nan, nan, int(s.leader.sum()), sample
        )
    w = max(1, options.smoothing)
    smooth = np.convolve(oth, np.ones(w) / w, mode="same")
    mode = int(np.argmax(smooth))
    low_st = idx <= mode
    high_st = ~low_st
    d_low = float(others[low_st].sum())
    ratio = float(s.leader[low_st].sum()) / d_low if d_low > 0 else float("nan")
    expected = lead.copy()
    expected[mode + 1 :] = ratio * oth[mode + 1 :]
    resid = s.leader - ratio * others
    excess = float(resid[high_st].sum())
    # Linearised (delta-method) variance over stations: the estimate is A - (C/D)·B
    # with A, B the leader/others totals above the mode and C, D below it.
    b_high = float(others[high_st].sum())
    z = np.where(high_st, resid, -(b_high / d_low) * resid if d_low > 0 else 0.0)
    n = len(z)
    se = math.sqrt(n / (n - 1) * float(np.sum((z - z.mean()) ** 2))) if n > 1 else float("nan")
    mode_pct = float((edges[mode] + edges[mode + 1]) / 2)
    return TurnoutDistribution(
        leader, edges, voters, lead, oth, expected, mode_pct, ratio, excess, se, int(s.leader.sum()), sample
    )
