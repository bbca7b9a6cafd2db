"""Run the national-scale benchmarks (issue 5): ``python -m benchmarks.run``.

    python -m benchmarks.run                      # 1k, 10k, 100k stations, 3 runs (5 for short jobs)
    python -m benchmarks.run --only import --only merge --sizes 10000
    python -m benchmarks.run --smoke              # tiny data, one run: what CI runs
    python -m benchmarks.run --show               # the tables of benchmarks/results.json again

Prints the results table and the growth table (markdown, ready for
benchmarks/README.md) and writes them to benchmarks/results.json. Data sets
are generated on first use and cached under benchmarks/work/ (see
benchmarks/data.py); the first full run spends most of its time there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.common import Context, Row, fmt_s, row_from_dict

DEFAULT_SIZES = (1_000, 10_000, 100_000)
SMOKE_SIZE = 200
RESULTS = Path(__file__).resolve().parent / "results.json"
LINEAR_EXPONENT = 1.10  # cost ~ n^x; up to this x counts as linear (fixed costs and noise bend small sizes)


def _edit(ctx: Context) -> list[Row]:
    from benchmarks import bench_edit

    return bench_edit.run(ctx.work, max(ctx.repeat, 5) if ctx.repeat > 1 else 1)


def _module(name: str) -> Callable[[Context], list[Row]]:
    def run(ctx: Context) -> list[Row]:
        module = __import__(f"benchmarks.bench_{name}", fromlist=["run"])
        rows: list[Row] = module.run(ctx)
        return rows

    return run


# In the order they run: the merge first, as its first timed run becomes the HQ file the
# others open (see benchmarks.data.merged_hq); the memory run last, in a process of its own.
BENCHES: dict[str, Callable[[Context], list[Row]]] = {
    "merge": _module("merge"),
    "import": _module("import"),
    "aggregate": _module("aggregate"),
    "table": _module("table"),
    "startup": _module("startup"),
    "edit": _edit,
    "report": _module("report"),
    "memory": _module("memory"),
}


# Row names in table order (for --add, which interleaves old and new rows).
BENCH_ORDER = (
    "official import (CSV to HQ)",
    "official import, UTF-8 ',' (summed columns)",
    "official import, compound key (region+TIK+UIK)",
    "aggregation, 3 levels, both sources",
    "stations table: open + scroll to end",
    "stations table: sort by gap",
    "app start to interactive window",
    "command start: --help, --version",
    "one field edit committed to disk",
    "PDF report incl. station annex",
    "merge station packages",
    "merge vs naive-copy floor",
    "re-merge the same packages",
    "peak RSS: import + aggregate + report",
)


@dataclass(frozen=True)
class Growth:
    """How one measured figure grows from the smallest to the largest size."""

    name: str
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    unit: str
    exponent: float | None  # cost ~ size^exponent between the smallest and the largest size

    @property
    def verdict(self) -> str:
        if self.exponent is None:
            return "—"
        if self.exponent <= LINEAR_EXPONENT:
            return "linear or better" if self.exponent > 0.85 else "sublinear"
        return "superlinear"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "sizes": list(self.sizes),
            "values": list(self.values),
            "unit": self.unit,
            "per_station": [v / n for v, n in zip(self.values, self.sizes)],
            "exponent": self.exponent,
            "verdict": self.verdict,
        }


def growth(rows: Sequence[Row]) -> list[Growth]:
    by_name: dict[str, list[Row]] = {}
    for row in rows:
        if row.size > 1:
            by_name.setdefault(row.name, []).append(row)
    out: list[Growth] = []
    for name, group in by_name.items():
        group = sorted(group, key=lambda r: r.size)
        lo, hi = group[0], group[-1]
        exponent = None
        if hi.size > lo.size and lo.ours_s > 0 and hi.ours_s > 0:
            exponent = math.log(hi.ours_s / lo.ours_s) / math.log(hi.size / lo.size)
        out.append(Growth(name, tuple(r.size for r in group), tuple(r.ours_s for r in group), lo.unit, exponent))
    return out


def _value(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:.0f} MB" if unit == "MB" else fmt_s(v)


def _per_station(v: float, n: int, unit: str) -> str:
    if unit == "MB":
        return f"{v / n * 1024:.2f} KB"
    us = v / n * 1e6
    return f"{us:.1f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def results_table(rows: Sequence[Row]) -> str:
    lines = [
        "| what | stations | ours | baseline | ratio | target | met | runs | notes |",
        "|---|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "—"
        judged = r.limit_ratio is not None or r.limit_s is not None
        met = ("yes" if r.met else "**no**") if judged else "(growth)"
        size = f"{r.size:,}" if r.size > 1 else "—"
        lines.append(
            f"| {r.name} | {size} | {_value(r.ours_s, r.unit)} | {_value(r.baseline_s, r.unit)} | {ratio} | "
            f"{r.target} | {met} | {r.runs} | {r.note} |"
        )
    return "\n".join(lines)


def growth_table(items: Sequence[Growth]) -> str:
    lines = [
        "| what | sizes | values | per station | growth (cost ~ n^x) |",
        "|---|---|---|---|---|",
    ]
    for g in items:
        sizes = " / ".join(f"{n:,}" for n in g.sizes)
        values = " / ".join(_value(v, g.unit) for v in g.values)
        per = " / ".join(_per_station(v, n, g.unit) for v, n in zip(g.values, g.sizes))
        x = f"x = {g.exponent:.2f}: {g.verdict}" if g.exponent is not None else "—"
        lines.append(f"| {g.name} | {sizes} | {values} | {per} | {x} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.show:
        saved = json.loads(args.out.read_text(encoding="utf-8"))
        _print_tables([row_from_dict(d) for d in saved.get("rows", [])])
        return 0
    sizes, repeat = _sizes_and_repeat(parser, args)
    if args.work is not None:
        data.WORK = args.work.resolve()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    combined = _measure(args, sizes, repeat, command)
    _print_tables(combined)
    print(f"\n{len(combined)} rows; this run took {time.perf_counter() - started:.0f} s on {os.cpu_count()} cores")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="comma-separated station counts (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per timing; jobs under 1 s get at least 5 (default: 3)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHES),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHES)}",
    )
    parser.add_argument("--smoke", action="store_true", help=f"tiny data ({SMOKE_SIZE} stations), one run each")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: benchmarks/results.json)")
    parser.add_argument("--work", type=Path, default=None, help="data cache folder (default: benchmarks/work)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic election (default: 1)")
    parser.add_argument(
        "--add",
        action="store_true",
        help="keep the rows already in the results file that this run does not measure "
        "(to measure the sizes in separate sittings)",
    )
    parser.add_argument("--show", action="store_true", help="print the tables of the results file; measure nothing")
    return parser


def _sizes_and_repeat(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[tuple[int, ...], int]:
    """The station counts and runs per timing asked for (parser.error, which exits, on nonsense)."""
    try:
        sizes = (SMOKE_SIZE,) if args.smoke else tuple(sorted({int(s) for s in args.sizes.split(",") if s.strip()}))
    except ValueError:
        parser.error(f"--sizes must be whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or min(sizes) < 20:
        parser.error("--sizes: at least 20 stations (one in ten gets a package)")
    repeat = 1 if args.smoke else args.repeat
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    return sizes, repeat


def _measure(args: argparse.Namespace, sizes: tuple[int, ...], repeat: int, command: str) -> list[Row]:
    """Run the chosen benchmarks in a scratch folder; the results file is saved after each. Returns its rows."""
    scratch = data.WORK / f"run-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        sizes=sizes,
        repeat=repeat,
        work=scratch,
        seed=args.seed,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    names = [n for n in BENCHES if not args.only or n in args.only]
    previous: dict[str, Any] = {}
    if args.add and args.out.is_file():
        previous = json.loads(args.out.read_text(encoding="utf-8"))
    started = time.perf_counter()
    rows: list[Row] = []
    combined: list[Row] = []
    timings: dict[str, float] = {}
    try:
        for name in names:
            t0 = time.perf_counter()
            ctx.log(f"{name}: sizes {', '.join(map(str, sizes))}, repeat {repeat}")
            got = BENCHES[name](ctx)
            timings[name] = time.perf_counter() - t0
            for r in got:
                ratio = f", {r.ratio:.2f}x" if r.ratio is not None else ""
                ctx.log(f"  {r.name} @ {r.size}: {_value(r.ours_s, r.unit)}{ratio}")
            rows.extend(got)
            # Saved after every benchmark: a failure late in a long run keeps what was measured.
            combined = _save(args.out, previous, rows, timings, command, repeat, time.perf_counter() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return combined


def _print_tables(rows: list[Row]) -> None:
    print(results_table(rows))
    print()
    print(growth_table(growth(rows)))


def _save(
    out: Path,
    previous: dict[str, Any],
    rows: list[Row],
    timings: dict[str, float],
    command: str,
    repeat: int,
    seconds: float,
) -> list[Row]:
    """Write results.json (atomically) with ``rows`` and the rows of ``previous`` they do not replace."""
    measured = {(r.name, r.size) for r in rows}
    kept = [row_from_dict(d) for d in previous.get("rows", []) if (d["name"], d["size"]) not in measured]
    order = {name: i for i, name in enumerate(BENCH_ORDER)}
    combined = sorted(kept + rows, key=lambda r: (order.get(r.name, len(order)), r.size))
    by_bench = dict(previous.get("seconds_by_benchmark", {}))
    for name, secs in timings.items():
        by_bench[name] = float(by_bench.get(name, 0.0)) + secs
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commands": [*previous.get("commands", []), command],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "sizes": sorted({r.size for r in combined if r.size > 1}),
        "repeat": repeat,
        "seconds_total": float(previous.get("seconds_total", 0.0)) + seconds,
        "seconds_by_benchmark": by_bench,
        "rows": [r.as_dict() for r in combined],
        "growth": [g.as_dict() for g in growth(combined)],
        "all_targets_met": all(r.met for r in combined),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return combined


if __name__ == "__main__":
    sys.exit(main())
