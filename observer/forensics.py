"""Election forensics: statistical fingerprints of falsification in station results.

Pure numpy (no Qt, SQL or ReportLab) so the same code serves the command line,
the coordinator's GUI and the PDF report, and runs on 100,000 stations in
seconds. Methods and their assumptions are written up in docs/forensics.md;
the formulas come from docs/domain.md §6:

* Klimek et al. 2012: turnout × leader-share fingerprint weighted by voters.
* Shpilkin: voter-weighted turnout histogram, leader's excess over the shape of
  the other parties' votes.
* Kobak, Shpilkin & Pshenichnikov 2016: excess of round (integer, multiple of
  5) percentages against a binomial-resampling Monte-Carlo null.
* Beber & Scacco 2012 last-digit test; Mebane's second-digit Benford (2BL).
* Parallel vote tabulation from the observed sample (stratified ratio estimator).
* Observed vs official at the same stations.

Every figure carries the sample it used and its uncertainty, because a number
without them is not evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from observer.errors import BaqylauError
from observer.i18n import tr
from observer.regions import region_name

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

Z95 = 1.959963984540054
Z99 = 2.5758293035489004
CONFIDENCE_LEVELS: tuple[float, ...] = (0.95, 0.99)
_Z = {0.95: Z95, 0.99: Z99}

# Second significant digit under Benford's law, P(d) = sum_k log10(1 + 1/(10k + d)).
BENFORD_2ND: FloatArray = np.array(
    [sum(math.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10)], dtype=np.float64
)
BENFORD_2ND_MEAN = float(np.dot(np.arange(10), BENFORD_2ND))  # 4.187...
UNIFORM_DIGITS: FloatArray = np.full(10, 0.1)

# The unit code of the whole country in per-unit tables. Not "": stations imported
# without a region have region "" and form a stratum of their own.
NATIONAL = "*"


class ForensicsError(BaqylauError):
    """The data cannot be analysed (no stations, inconsistent arrays)."""

    key = "forensics.error"


# ---------------------------------------------------------------------------
# small statistics helpers (scipy is not a dependency)


def _gamma_series(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x) by its power series (x < a + 1)."""
    term = 1.0 / a
    total = term
    ap = a
    for _ in range(10_000):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-16:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_cf(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) by Lentz's continued fraction (x >= a + 1)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for a chi-square variable with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if not math.isfinite(x):
        return 0.0 if x > 0 else 1.0
    if x <= 0:
        return 1.0
    a, half = df / 2.0, x / 2.0
    if half < a + 1.0:
        return max(0.0, min(1.0, 1.0 - _gamma_series(a, half)))
    return max(0.0, min(1.0, _gamma_cf(a, half)))


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal variable."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_sided_p(z: float) -> float:
    return min(1.0, 2.0 * normal_sf(abs(z)))


def chi_square(counts: NDArray[Any], probs: FloatArray) -> tuple[float, int, float]:
    """Pearson goodness of fit: (statistic, degrees of freedom, p-value)."""
    n = float(np.sum(counts))
    if n <= 0:
        return float("nan"), len(probs) - 1, float("nan")
    expected = n * probs
    stat = float(np.sum((counts - expected) ** 2 / expected))
    df = len(probs) - 1
    return stat, df, chi2_sf(stat, df)


def _ratio_se(y: FloatArray, x: FloatArray) -> float:
    """Delta-method standard error of sum(y)/sum(x) over exchangeable stations."""
    n = len(x)
    sx = float(np.sum(x))
    if n < 2 or sx <= 0:
        return float("nan")
    r = float(np.sum(y)) / sx
    d = y - r * x
    return math.sqrt(n / (n - 1) * float(np.sum((d - d.mean()) ** 2))) / sx


# ---------------------------------------------------------------------------
# input


@dataclass(frozen=True)
class StationReturns:
    """Per-station counts aligned by station; -1 marks a missing value.

    ``voted`` is the template's turnout numerator (ballots issued), ``ballots``
    its party-share base, ``parties`` one column per party in ``party_keys``.
    """

    codes: NDArray[Any]
    regions: NDArray[Any]
    registered: IntArray
    voted: IntArray
    ballots: IntArray
    invalid: IntArray
    parties: IntArray  # shape (stations, parties)
    party_keys: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.codes)
        for name in ("regions", "registered", "voted", "ballots", "invalid"):
            if len(getattr(self, name)) != n:
                raise ForensicsError("forensics.error.shape", what=name, got=len(getattr(self, name)), expected=n)
        if self.parties.ndim != 2 or self.parties.shape != (n, len(self.party_keys)):
            raise ForensicsError("forensics.error.shape", what="parties", got=str(self.parties.shape), expected=n)

    @classmethod
    def build(
        cls,
        codes: Sequence[str] | NDArray[Any],
        regions: Sequence[str] | NDArray[Any],
        registered: Iterable[int],
        voted: Iterable[int],
        ballots: Iterable[int],
        invalid: Iterable[int],
        parties: Mapping[str, Iterable[int]],
    ) -> StationReturns:
        """From plain sequences; anything negative counts as missing."""

        def ints(values: Iterable[int]) -> IntArray:
            arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.int64)
            return np.where(arr < 0, -1, arr)

        keys = tuple(parties)
        cols = [ints(parties[k]) for k in keys]
        n = len(codes)
        for key, col in zip(keys, cols):
            if len(col) != n:
                raise ForensicsError("forensics.error.shape", what=key, got=len(col), expected=n)
        matrix = np.stack(cols, axis=1) if cols else np.zeros((n, 0), dtype=np.int64)
        return cls(
            np.asarray(codes, dtype=object),
            np.asarray(regions, dtype=object),
            ints(registered),
            ints(voted),
            ints(ballots),
            ints(invalid),
            matrix,
            keys,
        )

    def __len__(self) -> int:
        return len(self.codes)

    def subset(self, which: NDArray[Any]) -> StationReturns:
        """The stations picked by a boolean mask or an index array, in that order."""
        return StationReturns(
            self.codes[which],
            self.regions[which],
            self.registered[which],
            self.voted[which],
            self.ballots[which],
            self.invalid[which],
            self.parties[which],
            self.party_keys,
        )

    def party(self, key: str) -> IntArray:
        return self.parties[:, self.party_keys.index(key)]


@dataclass(frozen=True)
class Options:
    """Tuning of the tests; the defaults are the ones documented in docs/forensics.md."""

    min_size: int = 100  # integer-percent test: smallest denominator (registered / share base)
    last_digit_min: int = 100  # last-digit test: smallest count (Beber & Scacco: the last digit is noise)
    second_digit_min: int = 10  # 2BL: a count needs a second digit
    min_digit_counts: int = 50  # fewer usable counts than this: the digit test is not run
    bins: int = 100  # fingerprint/turnout histogram: 1 percentage point per bin
    thresholds: tuple[int, ...] = (80, 90, 95)
    smoothing: int = 5  # bins in the moving average that finds the turnout mode
    top_gaps: int = 20


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Sample:
    """Which stations a figure used: the source, how many, how many were left out and why."""

    source: str  # "official" | "observed" | "paired"
    stations: int
    excluded: int
    voters: int
    rule: str  # i18n key of the inclusion rule
    cutoff: int = 0  # the rule's smallest count, shown as {cutoff} in its text

    def text(self, lang: str | None = None) -> str:
        # Digit tests count numbers, not voters: they get the shorter sentence.
        return tr(
            "forensics.sample" if self.voters else "forensics.sample.counts",
            lang,
            source=tr(f"forensics.source.{self.source}", lang),
            stations=_fmt_int(self.stations),
            excluded=_fmt_int(self.excluded),
            voters=_fmt_int(self.voters),
            rule=tr(self.rule, lang, cutoff=self.cutoff),
        )


@dataclass(frozen=True)
class ThresholdMass:
    """Share of voters (and of the leader's votes) at stations with turnout and leader share both >= threshold."""

    threshold: int
    stations: int
    voters_share: float  # percent of all voters in the sample
    voters_se: float  # percentage points
    leader_share: float  # percent of the leader's votes
    leader_se: float


@dataclass(frozen=True)
class Fingerprint:
    leader: str
    turnout_edges: FloatArray  # percent, bins + 1
    share_edges: FloatArray
    voters: FloatArray  # (turnout bin, share bin) -> voters
    masses: tuple[ThresholdMass, ...]
    turnout_leader_corr: float  # voter-weighted correlation of turnout and leader share
    sample: Sample


@dataclass(frozen=True)
class TurnoutDistribution:
    """Shpilkin's turnout histogram with the leader's excess over the others' shape."""

    leader: str
    edges: FloatArray  # percent
    voters: FloatArray  # ballots issued per bin
    leader_votes: FloatArray
    other_votes: FloatArray
    expected_leader: FloatArray  # leader votes if above the mode they followed the others' shape
    mode_pct: float  # turnout at the peak of the others' votes (bin centre)
    ratio: float  # leader / others at and below the mode
    excess: float  # leader votes above the expected curve
    excess_se: float
    leader_total: int
    sample: Sample

    @property
    def excess_share(self) -> float:
        """Excess as a percent of the leader's total votes."""
        return 100.0 * self.excess / self.leader_total if self.leader_total else float("nan")


@dataclass(frozen=True)
class RoundCount:
    """Observed vs expected number of stations with a round percent, in one group of stations."""

    kind: str  # "national" | "region" | "observation"
    group: str  # NATIONAL, a region code, "observed" / "unobserved"
    stations: int
    observed: int
    expected: float
    low: float  # 2.5th percentile of the exact null distribution
    high: float  # 97.5th
    p_value: float  # one-sided: P(count >= observed) under the null

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else float("nan")


@dataclass(frozen=True)
class IntegerPercentTest:
    quantity: str  # "turnout" | "leader" | "either"
    step: int  # 1: whole percent, 5: multiple of 5 %
    national: RoundCount
    groups: tuple[RoundCount, ...]

    def group(self, kind: str, label: str) -> RoundCount | None:
        return next((g for g in self.groups if g.kind == kind and g.group == label), None)

    sample: Sample


@dataclass(frozen=True)
class DigitTest:
    party: str
    test: str  # "last" | "second"
    counts: IntArray  # 10 digits
    expected: FloatArray  # probabilities
    n: int
    chi2: float
    df: int
    p_value: float
    mean: float
    expected_mean: float
    mean_p: float
    repeat_share: float  # last digit test only: last two digits equal (expected 10 %)
    repeat_p: float
    sample: Sample

    @property
    def caveat_key(self) -> str:
        return f"forensics.caveat.{self.test}"


@dataclass(frozen=True)
class PvtEstimate:
    unit: str  # NATIONAL or region code
    quantity: str  # "turnout" | "invalid" | party key
    value: float  # percent
    se: float  # percentage points
    stations: int
    official: float | None  # percent over the same regions' official results
    small_sample: bool  # fewer than 30 stations: the normal interval is optimistic

    def margin(self, level: float = 0.95) -> float:
        return _Z[level] * self.se

    def inside(self, level: float = 0.95) -> bool | None:
        if self.official is None or not math.isfinite(self.se):
            return None
        return bool(abs(self.official - self.value) <= self.margin(level))


@dataclass(frozen=True)
class PvtResult:
    estimates: tuple[PvtEstimate, ...]
    strata: int  # regions with at least one observed station
    regions: int  # regions in the station list
    sampled_stations: int
    population_stations: int
    registered_coverage: float  # percent of registered voters in the sampled stations
    covered_registered_share: float  # percent of registered voters living in covered regions
    sample: Sample

    def national(self) -> list[PvtEstimate]:
        return [e for e in self.estimates if e.unit == NATIONAL]

    def regional(self, code: str) -> list[PvtEstimate]:
        return [e for e in self.estimates if e.unit == code]


@dataclass(frozen=True)
class PairedGap:
    """Official minus observed at the same stations, in percentage points."""

    quantity: str  # "turnout" | "leader" | "invalid"
    stations: int
    official: float
    observed: float
    gap: float
    se: float
    median_station_gap: float
    stations_over_1pp: int
    stations_over_5pp: int


@dataclass(frozen=True)
class GapAtStation:
    code: str
    region: str
    observed_turnout: float
    official_turnout: float
    gap: float


@dataclass(frozen=True)
class GroupSigns:
    """Forensic signs at observed vs unobserved stations (official figures for both)."""

    threshold: int
    observed_mass: float  # percent of voters at stations >= threshold on turnout and leader share
    observed_se: float
    unobserved_mass: float
    unobserved_se: float
    z: float
    p_value: float  # two-sided test of equal mass
    mean_turnout_observed: float
    mean_turnout_unobserved: float
    integer_observed: RoundCount | None
    integer_unobserved: RoundCount | None


@dataclass(frozen=True)
class Comparison:
    gaps: tuple[PairedGap, ...]
    largest: tuple[GapAtStation, ...]
    signs: GroupSigns
    sample: Sample


@dataclass(frozen=True)
class RegionSummary:
    region: str
    stations: int
    voters: int
    turnout: float
    leader_share: float
    high_mass: float  # percent of voters at stations >= first threshold on both axes
    high_mass_se: float
    shpilkin_excess: float
    shpilkin_se: float
    integer_turnout: RoundCount | None
    integer_leader: RoundCount | None


@dataclass(frozen=True)
class ForensicsResult:
    leader: str
    party_keys: tuple[str, ...]
    level: str
    options: Options
    fingerprint: Fingerprint
    turnout: TurnoutDistribution
    integer: tuple[IntegerPercentTest, ...]
    fine_turnout_hist: IntArray  # stations per 0.1 % of turnout (Kobak's high-resolution view)
    fine_leader_hist: IntArray
    digits: tuple[DigitTest, ...]
    pvt: PvtResult | None
    comparison: Comparison | None
    regions: tuple[RegionSummary, ...] = field(default=())

    def integer_test(self, quantity: str, step: int = 1) -> IntegerPercentTest:
        return next(t for t in self.integer if t.quantity == quantity and t.step == step)


# ---------------------------------------------------------------------------
# station-level quantities


@dataclass(frozen=True)
class _Shares:
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


def _shares(data: StationReturns, leader: str) -> _Shares:
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
    return _Shares(ok, reg, vot, bal, led, vot / reg, led / bal)


def _at_or_above(s: _Shares, threshold: int) -> NDArray[np.bool_]:
    """Turnout and leader share both >= threshold %, compared on the whole counts.

    The counts are integers held exactly in float64, so 400 of 500 is exactly
    80 % here, where 0.8 * 100 in floating point might fall a hair short.
    """
    return (100 * s.voted >= threshold * s.registered) & (100 * s.leader >= threshold * s.ballots)


def _bin_index(fraction: FloatArray, bins: int) -> IntArray:
    # 100 % falls into the last bin rather than a bin of its own.
    return np.minimum((fraction * bins).astype(np.int64), bins - 1)


# ---------------------------------------------------------------------------
# 1. Klimek fingerprint


def fingerprint(
    data: StationReturns, leader: str, options: Options = Options(), source: str = "official"
) -> Fingerprint:
    s = _shares(data, leader)
    bins = options.bins
    ti = _bin_index(s.turnout, bins)
    si = _bin_index(s.share, bins)
    grid = (
        np.bincount(ti * bins + si, weights=s.voted, minlength=bins * bins)
        .astype(np.float64, copy=False)
        .reshape(bins, bins)
    )
    total_v = float(s.voted.sum())
    total_l = float(s.leader.sum())
    masses = []
    for thr in options.thresholds:
        hit = _at_or_above(s, thr)
        masses.append(
            ThresholdMass(
                thr,
                int(hit.sum()),
                100.0 * float(s.voted[hit].sum()) / total_v if total_v else float("nan"),
                100.0 * _ratio_se(s.voted * hit, s.voted),
                100.0 * float(s.leader[hit].sum()) / total_l if total_l else float("nan"),
                100.0 * _ratio_se(s.leader * hit, s.leader),
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
    s = _shares(data, leader)
    if not len(s.voted) or s.voted.sum() <= 0:
        return float("nan"), float("nan"), 0
    hit = _at_or_above(s, threshold)
    return 100.0 * float(s.voted[hit].sum() / s.voted.sum()), 100.0 * _ratio_se(s.voted * hit, s.voted), len(s.voted)


# ---------------------------------------------------------------------------
# 2. Shpilkin


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
    s = _shares(data, leader)
    bins = options.bins
    idx = _bin_index(s.turnout, bins)
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


# ---------------------------------------------------------------------------
# 3. Integer percentages (Kobak, Shpilkin & Pshenichnikov 2016)


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
    q: NDArray[np.float64] = np.zeros(blocks * _LEAF)
    q[:n] = p  # padding trials have p = 0: they multiply by 1
    q = q.reshape(blocks, _LEAF)
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


# ---------------------------------------------------------------------------
# 4. digit tests


def _second_digit(values: IntArray) -> IntArray:
    v = values.astype(np.int64)
    digits = np.floor(np.log10(np.maximum(v, 1))).astype(np.int64)
    # log10 can land a hair below an exact power of ten; correct by comparing with integers.
    digits = np.where(10 ** (digits + 1) <= v, digits + 1, digits)
    digits = np.where(10**digits > v, digits - 1, digits)
    return (v // 10 ** (digits - 1)) % 10


def last_digit_test(
    counts: IntArray, party: str, options: Options = Options(), source: str = "official"
) -> DigitTest | None:
    """Beber & Scacco: last digits of counts >= ``last_digit_min`` should be uniform."""
    ok = counts >= options.last_digit_min
    values = counts[ok]
    if len(values) < options.min_digit_counts:
        return None
    digits = values % 10
    hist = np.bincount(digits, minlength=10).astype(np.int64)
    stat, df, p = chi_square(hist, UNIFORM_DIGITS)
    n = len(values)
    mean = float(digits.mean())
    mean_p = two_sided_p((mean - 4.5) / (math.sqrt(8.25) / math.sqrt(n)))
    # Fabricators repeat digits too rarely: last two digits equal should happen 10 % of the time.
    repeats = float(np.mean((values // 10) % 10 == digits))
    repeat_p = two_sided_p((repeats - 0.1) / math.sqrt(0.09 / n))
    sample = Sample(source, n, int((~ok).sum()), 0, "forensics.rule.last", options.last_digit_min)
    return DigitTest(
        party, "last", hist, UNIFORM_DIGITS, n, stat, df, p, mean, 4.5, mean_p, 100.0 * repeats, repeat_p, sample
    )


def second_digit_test(
    counts: IntArray, party: str, options: Options = Options(), source: str = "official"
) -> DigitTest | None:
    """Mebane's 2BL: second significant digits of counts >= 10 against Benford's law."""
    ok = counts >= max(10, options.second_digit_min)
    values = counts[ok]
    if len(values) < options.min_digit_counts:
        return None
    digits = _second_digit(values)
    hist = np.bincount(digits, minlength=10).astype(np.int64)
    stat, df, p = chi_square(hist, BENFORD_2ND)
    n = len(values)
    mean = float(digits.mean())
    sd = math.sqrt(float(np.dot((np.arange(10) - BENFORD_2ND_MEAN) ** 2, BENFORD_2ND)))
    mean_p = two_sided_p((mean - BENFORD_2ND_MEAN) / (sd / math.sqrt(n)))
    sample = Sample(source, n, int((~ok).sum()), 0, "forensics.rule.second", max(10, options.second_digit_min))
    nan = float("nan")
    return DigitTest(
        party, "second", hist, BENFORD_2ND, n, stat, df, p, mean, BENFORD_2ND_MEAN, mean_p, nan, nan, sample
    )


def digit_tests(data: StationReturns, options: Options = Options(), source: str = "official") -> tuple[DigitTest, ...]:
    out: list[DigitTest] = []
    for key in data.party_keys:
        counts = data.party(key)
        counts = counts[counts >= 0]
        for test in (last_digit_test(counts, key, options, source), second_digit_test(counts, key, options, source)):
            if test is not None:
                out.append(test)
    return tuple(out)


# ---------------------------------------------------------------------------
# 5. parallel vote tabulation


def _pvt_quantities(data: StationReturns) -> dict[str, tuple[IntArray, IntArray]]:
    """quantity -> (numerator, denominator) per station; -1 anywhere means missing."""
    q: dict[str, tuple[IntArray, IntArray]] = {
        "turnout": (data.voted, data.registered),
        "invalid": (data.invalid, data.ballots),
    }
    for key in data.party_keys:
        q[key] = (data.party(key), data.ballots)
    return q


def pvt(sample: StationReturns, population: StationReturns, official: StationReturns | None = None) -> PvtResult:
    """Stratified (by region) combined ratio estimates from the observed stations.

    Design: the stations where observers obtained the figures are treated as a
    simple random sample without replacement within each region (stratum) of
    the station list ``population``; stratum totals are expanded by N_h / n_h,
    so every station weighs by its size (registered voters for turnout, ballots
    for shares). Variance: Cochran's combined ratio estimator,
    V = Σ N_h² (1 − f_h) s²_d,h / n_h / X̂², d = y − R̂x. Regions without an
    observed station are outside the estimate; the official figure it is
    compared with is taken over the same (covered) regions.
    """
    pop_regions = np.asarray(population.regions, dtype=str)
    region_codes, pop_counts = np.unique(pop_regions, return_counts=True)
    n_pop = dict(zip(region_codes.tolist(), pop_counts.tolist()))
    s_regions = np.asarray(sample.regions, dtype=str)
    covered = sorted(set(s_regions.tolist()))
    reg_pop = np.maximum(population.registered, 0)
    covered_mask = np.isin(pop_regions, covered)
    reg_total = float(reg_pop.sum())
    obs_reg = float(np.maximum(sample.registered, 0).sum())
    estimates: list[PvtEstimate] = []
    off_q = _pvt_quantities(official) if official is not None else {}
    off_regions = np.asarray(official.regions, dtype=str) if official is not None else np.array([], dtype=str)

    def official_ratio(quantity: str, regions: Sequence[str]) -> float | None:
        if quantity not in off_q:
            return None
        y, x = off_q[quantity]
        ok = (y >= 0) & (x > 0) & np.isin(off_regions, list(regions))
        sx = float(x[ok].sum())
        return 100.0 * float(y[ok].sum()) / sx if sx > 0 else None

    for quantity, (y_all, x_all) in _pvt_quantities(sample).items():
        valid = (y_all >= 0) & (x_all > 0)
        y_num = y_all.astype(np.float64)
        x_num = x_all.astype(np.float64)
        strata = []
        for code in covered:
            m = valid & (s_regions == code)
            n_h = int(m.sum())
            if n_h == 0:
                continue
            strata.append((code, y_num[m], x_num[m], max(n_pop.get(code, n_h), n_h)))
        if not strata:
            continue
        y_hat = sum(big_n * y.mean() for _, y, _, big_n in strata)
        x_hat = sum(big_n * x.mean() for _, _, x, big_n in strata)
        if x_hat <= 0:
            continue
        r_hat = float(y_hat / x_hat)
        # Pooled variance of residuals stands in for strata with a single station,
        # whose own variance cannot be estimated (a documented collapse rule).
        pooled_num, pooled_den = 0.0, 0
        for _, y, x, _ in strata:
            if len(y) >= 2:
                d = y - r_hat * x
                pooled_num += float(np.sum((d - d.mean()) ** 2))
                pooled_den += len(y) - 1
        pooled = pooled_num / pooled_den if pooled_den else float("nan")
        var = 0.0
        for _, y, x, big_n in strata:
            n_h = len(y)
            s2 = float(np.var(y - r_hat * x, ddof=1)) if n_h >= 2 else pooled
            var += big_n**2 * (1 - n_h / big_n) * s2 / n_h
        se = math.sqrt(var) / x_hat if math.isfinite(var) else float("nan")
        n_total = sum(len(y) for _, y, _, _ in strata)
        codes = [code for code, *_ in strata]
        estimates.append(
            PvtEstimate(
                NATIONAL, quantity, 100 * r_hat, 100 * se, n_total, official_ratio(quantity, codes), n_total < 30
            )
        )
        for code, y, x, big_n in strata:
            n_h = len(y)
            r_h = float(y.sum() / x.sum())
            if n_h >= 2:
                s2 = float(np.var(y - r_h * x, ddof=1))
                se_h = math.sqrt((1 - n_h / big_n) * s2 / n_h) / float(x.mean())
            else:
                se_h = float("nan")
            estimates.append(
                PvtEstimate(code, quantity, 100 * r_h, 100 * se_h, n_h, official_ratio(quantity, [code]), n_h < 30)
            )

    n_sample = len(sample)
    return PvtResult(
        tuple(estimates),
        len(covered),
        len(region_codes),
        n_sample,
        len(population),
        100.0 * obs_reg / reg_total if reg_total else float("nan"),
        100.0 * float(reg_pop[covered_mask].sum()) / reg_total if reg_total else float("nan"),
        Sample("observed", n_sample, 0, int(np.maximum(sample.voted, 0).sum()), "forensics.rule.pvt"),
    )


# ---------------------------------------------------------------------------
# 6. observed vs official at the same stations


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
    station_gap = 100.0 * (yo / xo - yb / xb)
    return PairedGap(
        quantity,
        n,
        100 * r_off,
        100 * r_obs,
        100 * (r_off - r_obs),
        100 * se,
        float(np.median(station_gap)),
        int(np.count_nonzero(np.abs(station_gap) >= 1.0)),
        int(np.count_nonzero(np.abs(station_gap) >= 5.0)),
    )


def compare(
    observed: StationReturns,
    official: StationReturns,
    leader: str,
    options: Options = Options(),
    integer: Sequence[IntegerPercentTest] | None = None,
) -> Comparison | None:
    """Official minus observed at the stations both cover, and signs at unobserved stations.

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
    station_gap = t_off - t_obs
    order = np.argsort(-np.nan_to_num(np.abs(station_gap), nan=-1.0))[: options.top_gaps]
    largest = tuple(
        GapAtStation(str(off.codes[i]), str(off.regions[i]), float(t_obs[i]), float(t_off[i]), float(station_gap[i]))
        for i in order
        if ok[i]
    )

    is_observed = np.isin(off_codes, obs_codes)
    thr = options.thresholds[0]
    m_obs, se_obs, _ = high_mass(official.subset(is_observed), leader, thr)
    m_un, se_un, _ = high_mass(official.subset(~is_observed), leader, thr)
    denom = math.hypot(se_obs, se_un)
    z = (m_un - m_obs) / denom if denom > 0 and math.isfinite(denom) else float("nan")

    def mean_turnout(mask: NDArray[np.bool_]) -> float:
        s = _shares(official.subset(mask), leader)
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
    signs = GroupSigns(
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
    paired = [g for g in gaps if g is not None]
    n_pairs = len(i_off)
    voters = int(np.maximum(off.voted, 0).sum())
    return Comparison(
        tuple(paired),
        largest,
        signs,
        Sample("paired", n_pairs, len(observed) - n_pairs, voters, "forensics.rule.paired"),
    )


# ---------------------------------------------------------------------------
# everything together


def region_summaries(
    data: StationReturns, leader: str, options: Options, integer: Sequence[IntegerPercentTest]
) -> tuple[RegionSummary, ...]:
    regions = np.asarray(data.regions, dtype=str)
    t_int = next(t for t in integer if t.quantity == "turnout" and t.step == 1)
    l_int = next(t for t in integer if t.quantity == "leader" and t.step == 1)
    out = []
    for code in sorted(set(regions.tolist())):
        part = data.subset(regions == code)
        s = _shares(part, leader)
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
    comparison = None
    pvt_result = None
    if has_sample:
        assert observed is not None
        comparison = compare(observed, official, leader, options, integer)
        pvt_result = pvt(observed, population if population is not None else official, official)
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
        digit_tests(official, options),
        pvt_result,
        comparison,
        region_summaries(official, leader, options, integer) if level == "region" else (),
    )


# ---------------------------------------------------------------------------
# words: method / sample / uncertainty for each figure


def unit_name(code: str, lang: str | None = None) -> str:
    """Display name of a unit: the whole country, a region, or stations without a region."""
    if code == NATIONAL:
        return tr("forensics.national", lang)
    return region_name(code, lang) if code else tr("forensics.region.unknown", lang)


def _fmt_int(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def _fmt(value: float, digits: int = 1) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def figure_notes(figure: Any, lang: str | None = None, party_name: Any = None) -> dict[str, str]:
    """Method, sample and uncertainty of a figure as three sentences in ``lang``.

    ``party_name`` maps a party key to its display name (defaults to the key).
    """
    name = party_name or (lambda key: key)
    if isinstance(figure, Fingerprint):
        return {
            "method": tr("forensics.method.fingerprint", lang, leader=name(figure.leader)),
            "sample": figure.sample.text(lang),
            "uncertainty": tr("forensics.uncertainty.ratio", lang),
        }
    if isinstance(figure, TurnoutDistribution):
        return {
            "method": tr("forensics.method.shpilkin", lang, leader=name(figure.leader), mode=_fmt(figure.mode_pct)),
            "sample": figure.sample.text(lang),
            "uncertainty": tr(
                "forensics.uncertainty.shpilkin",
                lang,
                se=_fmt_int(int(round(figure.excess_se))) if math.isfinite(figure.excess_se) else "—",
            ),
        }
    if isinstance(figure, IntegerPercentTest):
        return {
            "method": tr(f"forensics.method.integer.{figure.quantity}", lang, step=figure.step),
            "sample": figure.sample.text(lang),
            "uncertainty": tr("forensics.uncertainty.integer", lang),
        }
    if isinstance(figure, DigitTest):
        return {
            "method": tr(f"forensics.method.digit.{figure.test}", lang, party=name(figure.party)),
            "sample": figure.sample.text(lang),
            "uncertainty": tr("forensics.uncertainty.digit", lang, df=figure.df),
            "caveat": tr(figure.caveat_key, lang),
        }
    if isinstance(figure, PvtResult):
        return {
            "method": tr("forensics.method.pvt", lang),
            "sample": tr(
                "forensics.sample.pvt",
                lang,
                stations=_fmt_int(figure.sampled_stations),
                population=_fmt_int(figure.population_stations),
                strata=figure.strata,
                regions=figure.regions,
                coverage=_fmt(figure.registered_coverage),
                covered=_fmt(figure.covered_registered_share),
            ),
            "uncertainty": tr("forensics.uncertainty.pvt", lang),
        }
    if isinstance(figure, Comparison):
        return {
            "method": tr("forensics.method.comparison", lang, threshold=figure.signs.threshold),
            "sample": figure.sample.text(lang),
            "uncertainty": tr("forensics.uncertainty.paired", lang),
        }
    raise TypeError(f"no notes for {type(figure).__name__}")


def verdict(test: IntegerPercentTest | DigitTest, alpha: float = 0.01, lang: str | None = None) -> str:
    """One cautious sentence: is the deviation statistically significant?"""
    p = test.national.p_value if isinstance(test, IntegerPercentTest) else test.p_value
    key = "forensics.verdict.significant" if p < alpha else "forensics.verdict.not_significant"
    return tr(key, lang, p=_fmt_p(p), alpha=alpha)


# ---------------------------------------------------------------------------
# serialisation (JSON for the CLI and any other tool)


def to_plain(value: Any) -> Any:
    """Dataclasses and numpy values as JSON-ready Python objects (NaN becomes None)."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, TurnoutDistribution):
            out["excess_share"] = to_plain(value.excess_share)
        if isinstance(value, RoundCount):
            out["ratio"] = to_plain(value.ratio)
        if isinstance(value, PvtEstimate):
            for level in CONFIDENCE_LEVELS:
                tag = str(int(level * 100))
                out[f"margin{tag}"] = to_plain(value.margin(level))
                out[f"inside{tag}"] = to_plain(value.inside(level))
        return out
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value
