"""Integer percentages (Kobak, Shpilkin & Pshenichnikov 2016) against their exact null distribution.

The null redraws each station's count as Binomial(n, x/n); the number of round
stations in a group is then a sum of independent Bernoullis (Poisson-binomial),
computed exactly here, not simulated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from observer.forensics.model import NATIONAL, IntegerPercentTest, Options, RoundCount, Sample, StationReturns
from observer.forensics.stats import FloatArray, IntArray


def round_percent(count: IntArray, total: IntArray, step: int = 1) -> NDArray[np.bool_]:
    """Whether ``count`` is exactly round(k·total/100) for a whole k in 1..99 that is a multiple of ``step``.

    Exact integer arithmetic (half rounds up) so float error never makes or
    breaks a hit. Meaningful for total >= 100, where each k maps to its own count.
    """
    count = count.astype(np.int64)
    total = np.maximum(total.astype(np.int64), 1)
    k = (200 * count + total) // (2 * total)  # nearest whole percent
    hit = count == (2 * k * total + 100) // 200
    return hit & (k >= 1) & (k <= 99) & (k % step == 0)


_TABLE_MAX = 1 << 16  # log-factorials up to here come from a table (0.5 MB); larger n from Stirling's series
_LOG_FACTORIALS: FloatArray = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, _TABLE_MAX + 1, dtype=np.float64)))])


def log_factorial(values: IntArray) -> FloatArray:
    """ln(n!) elementwise.

    A table would be exact for any n, but a hostile file with one station of
    10^8 voters must not make us allocate a gigabyte; beyond 65,536 Stirling's
    series with three correction terms is exact to double precision.
    """
    v = np.asarray(values, dtype=np.int64)
    out = _LOG_FACTORIALS[np.minimum(v, _TABLE_MAX)]
    big = v > _TABLE_MAX
    if big.any():
        n = v[big].astype(np.float64)
        out = out.copy()
        out[big] = n * np.log(n) - n + 0.5 * np.log(2 * np.pi * n) + 1 / (12 * n) - 1 / (360 * n**3) + 1 / (1260 * n**5)
    return out


def round_probabilities(count: IntArray, total: IntArray) -> tuple[FloatArray, FloatArray]:
    """Per station, the probability that a binomial redraw lands on a round percent.

    The null of Kobak et al. redraws each station's count as Binomial(total,
    count/total). Whether the redraw is a whole percent (or a multiple of 5 %)
    depends on nothing else, so the exact probability of that event is the sum
    of the binomial probabilities of the ≤ 99 counts that are round. Returns
    (P(whole percent), P(multiple of 5 %)).
    """
    n = total.astype(np.int64)
    x = count.astype(np.int64)
    p = x / n
    p_int = np.zeros(len(n))
    p_five = np.zeros(len(n))
    if not len(n):
        return p_int, p_five
    # Only the round counts within 12 SD + 40 of the station's count matter: by
    # Chernoff's bound each one further out has probability below e^-60, so the
    # window (~30 of the 99 percents at a station of 1,500 voters) loses nothing a
    # double can hold. k0 is the station's own nearest whole percent.
    sd = np.sqrt(n * p * (1.0 - p))
    half = np.minimum(np.ceil((12.0 * sd + 40.0) * 100.0 / np.maximum(n, 1)).astype(np.int64) + 1, 99)
    k0 = (200 * x + n) // (2 * np.maximum(n, 1))
    order = np.argsort(half, kind="stable")
    # Stations with the same window go together, at most ~1M cells per work array (8 MB).
    for group in np.split(order, np.flatnonzero(np.diff(half[order])) + 1):
        w = int(half[group[0]])
        width = min(2 * w + 1, 99)
        rows = max(1, 1_000_000 // width)
        for chunk in range(0, len(group), rows):
            idx = group[chunk : chunk + rows]
            _round_window(idx, w, width, n, p, k0, p_int, p_five)
    return np.clip(p_int, 0.0, 1.0), np.clip(np.minimum(p_five, p_int), 0.0, 1.0)


def _round_window(
    idx: IntArray, w: int, width: int, n: IntArray, p: FloatArray, k0: IntArray, p_int: FloatArray, p_five: FloatArray
) -> None:
    """``round_probabilities`` for the stations ``idx``, over ``width`` whole percents around k0."""
    first = np.clip(k0[idx] - w, 1, 100 - width)
    ks = first[:, None] + np.arange(width)[None, :]
    nn = n[idx, None]
    pp = p[idx, None]
    xs = (2 * ks * nn + 100) // 200
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logpmf = (
            log_factorial(nn) - log_factorial(xs) - log_factorial(nn - xs) + xs * np.log(pp) + (nn - xs) * np.log1p(-pp)
        )
        pmf = np.exp(logpmf)
    pmf[np.isnan(pmf)] = 0.0
    p_int[idx] = pmf.sum(axis=1)
    p_five[idx] = np.where(ks % 5 == 0, pmf, 0.0).sum(axis=1)


def _eligible(count: IntArray, total: IntArray, min_size: int) -> NDArray[np.bool_]:
    # A count of 0 or of the whole denominator is a trivial 0 % / 100 %, not a chosen round number.
    return (total >= min_size) & (count > 0) & (count < total)


_LEAF = 64  # stations per block whose distribution is built by the direct recursion
# Probabilities below this are FFT rounding noise (~1e-16 of the largest); columns where
# every block is below it are dropped, which keeps the arrays near the mean ± a few
# dozen SD instead of the whole 0..n range. Mass dropped: < 1e-12 in all.
_NEGLIGIBLE = 1e-17


def _convolve_rows(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row i of ``a`` times row i of ``b`` as polynomials (FFT), negative rounding noise clipped."""
    out_width = a.shape[1] + b.shape[1] - 1
    size = 1 << (out_width - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(a, n=size, axis=1) * np.fft.rfft(b, n=size, axis=1), n=size, axis=1)[:, :out_width]
    return np.clip(out, 0.0, None, out=out)


def _trim(pmf: FloatArray, offset: int) -> tuple[FloatArray, int]:
    """Drop the leading and trailing columns that are negligible in every row."""
    keep = np.flatnonzero(pmf.max(axis=0) > _NEGLIGIBLE)
    if not len(keep):
        return pmf, offset
    return pmf[:, keep[0] : keep[-1] + 1], offset + int(keep[0])


def poisson_binomial_pmf(p: FloatArray) -> FloatArray:
    """Exact distribution of the number of successes of independent Bernoulli(p_i) trials.

    Blocks of 64 trials get their distribution by the textbook recursion (vectorised
    across blocks), then blocks are multiplied pairwise as polynomials with the FFT
    until one is left: O(n log² n) at worst, and far less because only the columns
    that hold probability are kept (all blocks of a level share one offset). FFT
    rounding leaves absolute errors of ~1e-16; values below 1e-17 read as 0, which
    no decision here depends on (p-values are printed as "< 0.001" from 0.001 down).
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    n = len(p)
    full = np.zeros(n + 1)
    if n == 0:
        full[0] = 1.0
        return full
    blocks = -(-n // _LEAF)
    flat = np.zeros(blocks * _LEAF)
    flat[:n] = p  # padding trials have p = 0: they multiply by 1
    q = flat.reshape(blocks, _LEAF)
    pmf = np.zeros((blocks, _LEAF + 1))
    pmf[:, 0] = 1.0
    for j in range(_LEAF):
        pj = q[:, j : j + 1]
        moved = pmf[:, : j + 1] * pj
        pmf[:, : j + 2] *= 1.0 - pj
        pmf[:, 1 : j + 2] += moved
    pmf, offset = _trim(pmf, 0)  # offset: the count that column 0 stands for, in every row
    spare: list[tuple[FloatArray, int]] = []  # a block left over from a level with an odd count
    while len(pmf) > 1:
        if len(pmf) % 2:
            spare.append((pmf[-1:], offset))
            pmf = pmf[:-1]
        pmf, offset = _trim(_convolve_rows(pmf[0::2], pmf[1::2]), 2 * offset)
    for row, row_offset in spare:
        pmf, offset = _trim(_convolve_rows(pmf, row), offset + row_offset)
    values = pmf[0, : n + 1 - offset]
    full[offset : offset + len(values)] = values
    return full


def _round_count(kind: str, group: str, stations: int, observed: int, p: FloatArray) -> RoundCount:
    """The observed round-percent count of a group against its exact null distribution."""
    pmf = poisson_binomial_pmf(p)
    cdf = np.cumsum(pmf)
    total = cdf[-1]  # 1 up to rounding
    tail = float(pmf[max(observed, 0) :].sum() / total) if observed < len(pmf) else 0.0
    return RoundCount(
        kind,
        group,
        stations,
        observed,
        float(p.sum()),
        float(np.searchsorted(cdf, 0.025 * total)),
        float(np.searchsorted(cdf, 0.975 * total)),
        min(1.0, tail),
    )


def _null_probabilities(
    vot: IntArray, reg: IntArray, t_ok: NDArray[np.bool_], led: IntArray, bal: IntArray, l_ok: NDArray[np.bool_]
) -> dict[tuple[str, int], FloatArray]:
    """Per station, the probability under the null of each round-percent event (0 where not eligible)."""
    n_st = len(vot)
    pt_int, pt_five = np.zeros(n_st), np.zeros(n_st)
    pl_int, pl_five = np.zeros(n_st), np.zeros(n_st)
    if t_ok.any():
        pt_int[t_ok], pt_five[t_ok] = round_probabilities(vot[t_ok], reg[t_ok])
    if l_ok.any():
        pl_int[l_ok], pl_five[l_ok] = round_probabilities(led[l_ok], bal[l_ok])
    # Turnout and leader share are redrawn independently: "either" misses only if both miss.
    probs = {
        ("turnout", 1): pt_int,
        ("turnout", 5): pt_five,
        ("leader", 1): pl_int,
        ("leader", 5): pl_five,
        ("either", 1): 1.0 - (1.0 - pt_int) * (1.0 - pl_int),
        ("either", 5): 1.0 - (1.0 - pt_five) * (1.0 - pl_five),
    }

    return probs


def integer_percent_tests(
    data: StationReturns,
    leader: str,
    options: Options = Options(),
    groupings: Mapping[str, NDArray[Any]] | None = None,
    source: str = "official",
) -> tuple[IntegerPercentTest, ...]:
    """Round-percent counts for turnout, leader share and either, whole and multiple-of-5 percents.

    ``groupings`` maps a kind ("region", "observation") to a label per
    station; each group is tested on its own stations.

    Under the null (Kobak et al.) each station's count is redrawn as
    Binomial(total, count/total), independently, so the number of round stations
    in a group is a sum of independent Bernoullis whose probabilities
    ``round_probabilities`` gives exactly: its distribution (Poisson-binomial) is
    computed exactly instead of simulated, and so are the mean, the 2.5–97.5 %
    range and the one-sided p = P(count >= observed).
    """
    lead = data.party(leader)
    n_st = len(data)
    t_ok = _eligible(data.voted, data.registered, options.min_size) & (data.voted >= 0)
    l_ok = _eligible(lead, data.ballots, options.min_size) & (lead >= 0)
    reg = np.where(t_ok, data.registered, 1)
    vot = np.where(t_ok, data.voted, 0)
    bal = np.where(l_ok, data.ballots, 1)
    led = np.where(l_ok, lead, 0)
    obs = {
        ("turnout", 1): round_percent(vot, reg) & t_ok,
        ("turnout", 5): round_percent(vot, reg, 5) & t_ok,
        ("leader", 1): round_percent(led, bal) & l_ok,
        ("leader", 5): round_percent(led, bal, 5) & l_ok,
    }
    obs[("either", 1)] = obs[("turnout", 1)] | obs[("leader", 1)]
    obs[("either", 5)] = obs[("turnout", 5)] | obs[("leader", 5)]

    probs = _null_probabilities(vot, reg, t_ok, led, bal, l_ok)

    groups: list[tuple[str, str, NDArray[np.bool_]]] = []
    for kind, labels_per_station in (groupings or {}).items():
        labels_arr, gidx = np.unique(np.asarray(labels_per_station, dtype=str), return_inverse=True)
        groups += [(kind, str(label), gidx == i) for i, label in enumerate(labels_arr)]

    eligible = {"turnout": t_ok, "leader": l_ok, "either": t_ok | l_ok}
    excluded = {"turnout": int((~t_ok).sum()), "leader": int((~l_ok).sum()), "either": int((~(t_ok | l_ok)).sum())}
    voters = {q: int(np.where(m_, np.maximum(data.voted, 0), 0).sum()) for q, m_ in eligible.items()}
    out = []
    for (quantity, step), hits in obs.items():
        ok = eligible[quantity]
        p_all = probs[(quantity, step)]

        def count(kind: str, label: str, member: NDArray[np.bool_]) -> RoundCount:
            # Ineligible stations have p = 0: only the eligible ones enter the distribution.
            sel = member & ok  # noqa: B023 - called within the iteration
            return _round_count(kind, label, int(sel.sum()), int(np.count_nonzero(hits & member)), p_all[sel])  # noqa: B023 - called within the iteration

        out.append(
            IntegerPercentTest(
                quantity,
                step,
                count("national", NATIONAL, np.ones(n_st, dtype=bool)),
                tuple(count(kind, label, member) for kind, label, member in groups),
                Sample(
                    source,
                    int(ok.sum()),
                    excluded[quantity],
                    voters[quantity],
                    "forensics.rule.round",
                    options.min_size,
                ),
            )
        )
    return tuple(out)


def fine_histogram(count: IntArray, total: IntArray, min_size: int) -> IntArray:
    """Stations per 0.1 % of the rate (1001 bins, 0.0 .. 100.0), for the high-resolution chart."""
    ok = (total >= min_size) & (count >= 0) & (count <= total)
    pct = np.rint(1000.0 * count[ok] / total[ok]).astype(np.int64)
    return np.bincount(pct, minlength=1001)[:1001]
