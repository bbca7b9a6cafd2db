"""Election forensics: statistical fingerprints of falsification in station results.

Pure numpy (no Qt, SQL or ReportLab), so the same code serves the command line,
the coordinator's GUI and the PDF report, and runs on 100,000 stations in about
a second. One module per method; methods, assumptions and sources are written
up in docs/forensics.md:

* ``fingerprint``: Klimek et al. 2012, turnout × leader-share fingerprint weighted by voters.
* ``shpilkin``: voter-weighted turnout histogram, the leader's excess over the shape of the others' votes.
* ``integer``: Kobak, Shpilkin & Pshenichnikov 2016, excess of round (whole, multiple of 5) percentages
  against their exact Poisson-binomial null distribution (binomial redraw of each station; no simulation).
* ``digits``: Beber & Scacco 2012 last-digit test; Mebane's second-digit Benford test (2BL).
* ``pvt``: parallel vote tabulation from the observed sample (stratified combined ratio estimator),
  and the observers' own estimate of the leader's excess votes.
* ``compare``: observed vs official at the same stations.
* ``analyse``: all of them together, with Holm's adjustment for each family of tests.
* ``model``: the one result model; ``notes`` and ``present``: its words and its view for text, HTML and PDF.

Every figure carries the sample it used and its uncertainty, because a number
without them is not evidence.
"""

from observer.forensics.analyse import analyse, digits_with_holm, region_summaries, with_holm
from observer.forensics.compare import compare
from observer.forensics.digits import (
    BENFORD_2ND,
    BENFORD_2ND_MEAN,
    UNIFORM_DIGITS,
    digit_tests,
    last_digit_test,
    second_digit_test,
)
from observer.forensics.fingerprint import fingerprint, high_mass, leader_key
from observer.forensics.integer import (
    fine_histogram,
    integer_percent_tests,
    log_factorial,
    poisson_binomial_pmf,
    round_percent,
    round_probabilities,
)
from observer.forensics.model import (
    NATIONAL,
    Comparison,
    DigitTest,
    Fingerprint,
    ForensicsError,
    ForensicsResult,
    GapAtStation,
    GroupSigns,
    IntegerPercentTest,
    ObservedExcess,
    Options,
    PairedGap,
    PvtEstimate,
    PvtResult,
    RegionSummary,
    RoundCount,
    Sample,
    StationReturns,
    ThresholdMass,
    TurnoutDistribution,
    to_plain,
)
from observer.forensics.notes import figure_notes, sample_text, unit_name, verdict
from observer.forensics.pvt import observed_excess, pvt
from observer.forensics.shpilkin import turnout_distribution
from observer.forensics.stats import (
    CONFIDENCE_LEVELS,
    Z95,
    Z99,
    chi2_sf,
    chi_square,
    holm,
    normal_sf,
    two_sided_p,
)

__all__ = [
    "BENFORD_2ND",
    "BENFORD_2ND_MEAN",
    "CONFIDENCE_LEVELS",
    "NATIONAL",
    "UNIFORM_DIGITS",
    "Z95",
    "Z99",
    "Comparison",
    "DigitTest",
    "Fingerprint",
    "ForensicsError",
    "ForensicsResult",
    "GapAtStation",
    "GroupSigns",
    "IntegerPercentTest",
    "ObservedExcess",
    "Options",
    "PairedGap",
    "PvtEstimate",
    "PvtResult",
    "RegionSummary",
    "RoundCount",
    "Sample",
    "StationReturns",
    "ThresholdMass",
    "TurnoutDistribution",
    "analyse",
    "chi2_sf",
    "chi_square",
    "compare",
    "digit_tests",
    "digits_with_holm",
    "figure_notes",
    "fine_histogram",
    "fingerprint",
    "high_mass",
    "holm",
    "integer_percent_tests",
    "last_digit_test",
    "leader_key",
    "log_factorial",
    "normal_sf",
    "observed_excess",
    "poisson_binomial_pmf",
    "pvt",
    "region_summaries",
    "round_percent",
    "round_probabilities",
    "sample_text",
    "second_digit_test",
    "to_plain",
    "turnout_distribution",
    "two_sided_p",
    "unit_name",
    "verdict",
    "with_holm",
]
