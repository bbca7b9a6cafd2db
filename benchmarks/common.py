"""Timing helpers shared by the benchmarks: medians, ratios, a results row."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    unit: str = "s"  # "MB" for the memory row, whose ours_s/limit_s then hold megabytes

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


SHORT_S = 1.0  # a run shorter than this is repeated at least SHORT_REPEAT times
SHORT_REPEAT = 5
LONG_S = 60.0  # a run longer than this is not repeated: the full run must fit in ~30 minutes


def median_runs(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> tuple[float, int]:
    """Median wall time of ``fn`` and how many runs it took.

    Short jobs are noisier, so one that finishes its first run in under a
    second is run at least SHORT_REPEAT times; one that takes over a minute
    (the national-size merge) runs once; ``repeat`` 1 (the smoke run) stays
    one run.
    """
    first = median_time(fn, 1, setup)
    if first >= LONG_S:
        return first, 1
    runs = repeat if repeat <= 1 or first >= SHORT_S else max(repeat, SHORT_REPEAT)
    if runs <= 1:
        return first, 1
    rest = [median_time(fn, 1, setup) for _ in range(runs - 1)]
    return statistics.median([first, *rest]), runs


def alternate_runs(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    repeat: int,
    ours_setup: Callable[[], object] | None = None,
    baseline_setup: Callable[[], object] | None = None,
) -> tuple[float, float, int]:
    """Medians of both and how many runs each, run alternately (each ``setup`` untimed before its run).

    A change of the shared machine's load then hits both sides alike. Short jobs get at least
    SHORT_REPEAT runs, as in median_runs.
    """
    mine, base = [median_time(ours, 1, ours_setup)], [median_time(baseline, 1, baseline_setup)]
    runs = repeat if repeat <= 1 or mine[0] >= SHORT_S else max(repeat, SHORT_REPEAT)
    for _ in range(runs - 1):
        base.append(median_time(baseline, 1, baseline_setup))
        mine.append(median_time(ours, 1, ours_setup))
    return statistics.median(mine), statistics.median(base), runs


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass(frozen=True)
class Context:
    """What every benchmark gets from ``benchmarks.run``."""

    sizes: tuple[int, ...]  # stations in the data sets to measure
    repeat: int  # runs per timing (short ones get more, see median_runs)
    work: Path  # scratch folder for this run's files
    log: Callable[[str], None] = print
    seed: int = 1


def row_from_dict(d: dict[str, object]) -> Row:
    """A Row read back from results.json (the derived ``ratio`` and ``met`` are recomputed)."""
    names = {f for f in Row.__dataclass_fields__}
    return Row(**{k: v for k, v in d.items() if k in names})  # type: ignore[arg-type]
