"""What the forensic methods take and return: plain frozen dataclasses, no formatting.

One result model serves every view (command-line text, the GUI's HTML, the PDF
report): :mod:`observer.forensics.present` turns it into words and figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from observer.errors import BaqylauError
from observer.forensics.stats import CONFIDENCE_LEVELS, Z_OF, FloatArray, IntArray

# The unit code of the whole country in per-unit tables. Not "": stations imported
# without a region have region "" and form a stratum of their own.
NATIONAL = "*"


class ForensicsError(BaqylauError):
    """The data cannot be analysed (no stations, inconsistent arrays)."""

    key = "forensics.error"


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
    p_holm: float = math.nan  # p adjusted (Holm) over the family of tests it was run with

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
    p_holm: float = math.nan  # chi-square p adjusted (Holm) over every digit test run together

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
        return Z_OF[level] * self.se

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
    """Observed minus official at the same stations (observer.definitions.gap_pp's sign), in percentage points."""

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
class ObservedExcess:
    """The leader's excess votes by the observers' own sample, beside Shpilkin's, over the regions they covered.

    ``excess`` = official leader votes − the leader votes the observed stations
    imply (their votes per registered voter, stratified by region, times the
    registered voters). Assumptions: the observed stations are a random sample
    within each region, and the observers' counts are the true counts.
    """

    leader: str
    official: float  # the leader's official votes in the covered regions
    implied: float  # the leader's votes the observed stations imply there
    excess: float
    se: float
    stations: int  # observed stations used
    strata: int  # regions with an observed station
    regions: int  # regions in the station list
    registered: float  # registered voters the estimate scales to
    covered_share: float  # percent of all registered voters in the covered regions
    shpilkin_excess: float  # Shpilkin's estimate over the same regions
    shpilkin_se: float
    sample: Sample

    def margin(self, level: float = 0.95) -> float:
        return Z_OF[level] * self.se

    def shpilkin_margin(self, level: float = 0.95) -> float:
        return Z_OF[level] * self.shpilkin_se

    @property
    def disagree(self) -> bool | None:
        """Whether the two 95 % intervals do not overlap (None if either is not estimable)."""
        a, b = self.margin(), self.shpilkin_margin()
        if not all(math.isfinite(v) for v in (a, b, self.excess, self.shpilkin_excess)):
            return None
        return bool(abs(self.excess - self.shpilkin_excess) > a + b)


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
    observed_excess: ObservedExcess | None = None
    official_stations: int = 0  # stations with official results
    observed_stations: int = 0  # observed stations with counted protocols

    def integer_test(self, quantity: str, step: int = 1) -> IntegerPercentTest:
        return next(t for t in self.integer if t.quantity == quantity and t.step == step)


# serialisation (JSON for the CLI and any other tool)


def to_plain(value: Any) -> Any:
    """Dataclasses and numpy values as JSON-ready Python objects (NaN becomes None)."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, TurnoutDistribution):
            out["excess_share"] = to_plain(value.excess_share)
        if isinstance(value, RoundCount):
            out["ratio"] = to_plain(value.ratio)
        if isinstance(value, ObservedExcess):
            out["margin95"] = to_plain(value.margin(0.95))
            out["shpilkin_margin95"] = to_plain(value.shpilkin_margin(0.95))
            out["disagree"] = value.disagree
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
