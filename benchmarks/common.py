"""Timing helpers shared by the benchmarks: medians, ratios, a results row."""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class Row:
    """One measured line of the results table."""

    name: str
    size: int
    ours_s: float
    baseline_s: float | None
    target: str  # e.g. "<= 2x baseline"
    limit_ratio: float | None  # the ratio the target allows; None: absolute target
    limit_s: float | None = None  # absolute limit in seconds, if any
    runs: int = 1
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline_s is None or self.baseline_s <= 0:
            return None
        return self.ours_s / self.baseline_s

    @property
    def met(self) -> bool:
        if self.limit_ratio is not None and self.ratio is not None:
            return self.ratio <= self.limit_ratio
        if self.limit_s is not None:
            return self.ours_s <= self.limit_s
        return True

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["met"] = self.met
        return d


def median_time(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs; ``setup`` runs untimed before each."""
    times: list[float] = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds:.2f} s"
