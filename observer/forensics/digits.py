"""Digit tests: the last digit (Beber & Scacco 2012) and the second digit under Benford's law (Mebane's 2BL)."""

from __future__ import annotations

import math

import numpy as np

from observer.forensics.model import DigitTest, Options, Sample, StationReturns
from observer.forensics.stats import FloatArray, IntArray, chi_square, two_sided_p

# Second significant digit under Benford's law, P(d) = sum_k log10(1 + 1/(10k + d)).
BENFORD_2ND: FloatArray = np.array(
    [sum(math.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10)], dtype=np.float64
)
BENFORD_2ND_MEAN = float(np.dot(np.arange(10), BENFORD_2ND))  # 4.187...
UNIFORM_DIGITS: FloatArray = np.full(10, 0.1)
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
