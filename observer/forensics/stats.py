"""Small statistics helpers: chi-square and normal tails, a ratio's standard error, Holm's adjustment.

scipy is not a dependency: the regularised incomplete gamma function is our own
(series below a + 1, Lentz's continued fraction above), tested against table values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

Z95 = 1.959963984540054
Z99 = 2.5758293035489004
CONFIDENCE_LEVELS: tuple[float, ...] = (0.95, 0.99)
Z_OF = {0.95: Z95, 0.99: Z99}

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


def ratio_se(y: FloatArray, x: FloatArray) -> float:
    """Delta-method standard error of sum(y)/sum(x) over exchangeable stations."""
    n = len(x)
    sx = float(np.sum(x))
    if n < 2 or sx <= 0:
        return float("nan")
    r = float(np.sum(y)) / sx
    d = y - r * x
    return math.sqrt(n / (n - 1) * float(np.sum((d - d.mean()) ** 2))) / sx


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (Holm 1979).

    The k-th smallest of m p-values is multiplied by m − k + 1, then made
    non-decreasing and capped at 1; rejecting where the adjusted p < α keeps the
    chance of any false alarm in the family at or below α. NaN (a test that could
    not be run) stays NaN and does not count towards m.
    """
    out = [math.nan] * len(p_values)
    finite = sorted((p, i) for i, p in enumerate(p_values) if math.isfinite(p))
    m = len(finite)
    running = 0.0
    for k, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out
