"""The election fingerprint (Klimek et al. 2012) and the station-level shares every method uses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from observer.forensics.model import (
    Fingerprint,
    ForensicsError,
    Options,
    Sample,
    StationReturns,
    ThresholdMass,
)
from observer.forensics.stats import FloatArray, IntArray, ratio_se

# station-level quantities


@dataclass(frozen=True)
class Shares:
    """Turnout and leader share at stations where both are defined and consistent."""

    mask: NDArray[np.bool_]
    registered: FloatArray
    voted: FloatArray
    ballots: FloatArray
    leader: FloatArray
    turnout: FloatArray  # fraction
    share: FloatArray  # fraction


def leader_key(data: StationReturns) -> str:
    """The party with most votes over all stations (missing counts ignored)."""
    if not data.party_keys:
        raise ForensicsError("forensics.error.no_parties")
    totals = np.where(data.parties < 0, 0, data.parties).sum(axis=0)
    return data.party_keys[int(np.argmax(totals))]


def station_shares(data: StationReturns, leader: str) -> Shares:
    lead = data.party(leader)
    ok = (
        (data.registered > 0)
        & (data.voted >= 0)
        & (data.ballots > 0)
        & (lead >= 0)
        & (data.voted <= data.registered)
        & (lead <= data.ballots)
    )
    reg = data.registered[ok].astype(np.float64)
    vot = data.voted[ok].astype(np.float64)
    bal = data.ballots[ok].astype(np.float64)
    led = lead[ok].astype(np.float64)
    return Shares(ok, reg, vot, bal, led, vot / reg, led / bal)


def at_or_above(s: Shares, threshold: int) -> NDArray[np.bool_]:
    """Turnout and leader share both >= threshold %, compared on the whole counts.

    The counts are integers held exactly in float64, so 400 of 500 is exactly
    80 % here, where 0.8 * 100 in floating point might fall a hair short.
    """
    return (100 * s.voted >= threshold * s.registered) & (100 * s.leader >= threshold * s.ballots)


def bin_index(fraction: FloatArray, bins: int) -> IntArray:
    # 100 % falls into the last bin rather than a bin of its own.
    return np.minimum((fraction * bins).astype(np.int64), bins - 1)


# ---------------------------------------------------------------------------
# 1. Klimek fingerprint


def fingerprint(
    data: StationReturns, leader: str, options: Options = Options(), source: str = "official"
) -> Fingerprint:
    s = station_shares(data, leader)
    bins = options.bins
    ti = bin_index(s.turnout, bins)
    si = bin_index(s.share, bins)
    grid = (
        np.bincount(ti * bins + si, weights=s.voted, minlength=bins * bins)
        .astype(np.float64, copy=False)
        .reshape(bins, bins)
    )
    total_v = float(s.voted.sum())
    total_l = float(s.leader.sum())
    masses = []
    for thr in options.thresholds:
        hit = at_or_above(s, thr)
        masses.append(
            ThresholdMass(
                thr,
                int(hit.sum()),
                100.0 * float(s.voted[hit].sum()) / total_v if total_v else float("nan"),
                100.0 * ratio_se(s.voted * hit, s.voted),
                100.0 * float(s.leader[hit].sum()) / total_l if total_l else float("nan"),
                100.0 * ratio_se(s.leader * hit, s.leader),
            )
        )
    edges = np.linspace(0.0, 100.0, bins + 1)
    return Fingerprint(
        leader,
        edges,
        edges.copy(),
        grid,
        tuple(masses),
        _weighted_corr(s.turnout, s.share, s.voted),
        Sample(source, int(s.mask.sum()), int((~s.mask).sum()), int(total_v), "forensics.rule.shares"),
    )


def _weighted_corr(x: FloatArray, y: FloatArray, w: FloatArray) -> float:
    if len(x) < 3 or w.sum() <= 0:
        return float("nan")
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    return float(cov / math.sqrt(vx * vy)) if vx > 0 and vy > 0 else float("nan")


def high_mass(data: StationReturns, leader: str, threshold: int) -> tuple[float, float, int]:
    """(percent of voters at stations >= threshold on both axes, its standard error, stations used)."""
    s = station_shares(data, leader)
    if not len(s.voted) or s.voted.sum() <= 0:
        return float("nan"), float("nan"), 0
    hit = at_or_above(s, threshold)
    return 100.0 * float(s.voted[hit].sum() / s.voted.sum()), 100.0 * ratio_se(s.voted * hit, s.voted), len(s.voted)
