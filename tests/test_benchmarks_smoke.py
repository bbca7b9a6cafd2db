"""The benchmark command runs end to end on tiny data and writes every row (timings are not judged here)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pandas")  # the aggregation baseline; pip install -e .[bench]

from benchmarks.data import FORMAT  # noqa: E402
from benchmarks.run import BENCH_ORDER  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_ROWS = set(BENCH_ORDER)  # every row the table lists, in the order it prints them
WITH_BASELINE = EXPECTED_ROWS - {"stations table: open + scroll to end", "peak RSS: import + aggregate + report"}


def test_smoke_run_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(out), "--work", str(tmp_path / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    rows = {r["name"]: r for r in result["rows"]}
    assert set(rows) == EXPECTED_ROWS
    for name, row in rows.items():
        assert isinstance(row["ours_s"], float) and math.isfinite(row["ours_s"]) and row["ours_s"] > 0, name
        if name in WITH_BASELINE:
            assert isinstance(row["baseline_s"], float) and row["baseline_s"] > 0, name
            assert row["ratio"] == pytest.approx(row["ours_s"] / row["baseline_s"]), name
    # The table shows it read one page of rows, not every station (the lazy model).
    assert rows["stations table: open + scroll to end"]["extra"]["rows_loaded"] <= 200
    assert "| merge station packages |" in done.stdout
    assert result["repeat"] == 1 and result["sizes"] == [200]
    # The scratch folder of the run is gone; only the cached data set stays.
    assert [p.name for p in (tmp_path / "work").iterdir()] == [f"n200-s1-v{FORMAT}"]


def test_growth_exponent_and_verdict() -> None:
    from benchmarks.common import Row
    from benchmarks.run import growth

    rows = [
        Row("linear", 1_000, 1.0, None, "", None),
        Row("linear", 100_000, 100.0, None, "", None),
        Row("quadratic", 1_000, 1.0, None, "", None),
        Row("quadratic", 10_000, 100.0, None, "", None),
        Row("edit", 1, 0.001, 0.001, "", 3.0),  # not sized: no growth line
    ]
    by_name = {g.name: g for g in growth(rows)}
    assert set(by_name) == {"linear", "quadratic"}
    assert by_name["linear"].exponent == pytest.approx(1.0)
    assert by_name["linear"].verdict == "linear or better"
    assert by_name["quadratic"].exponent == pytest.approx(2.0)
    assert by_name["quadratic"].verdict == "superlinear"


def test_bad_sizes_are_refused() -> None:
    from benchmarks.run import main

    with pytest.raises(SystemExit) as exc:
        main(["--sizes", "10", "--out", "/dev/null"])
    assert exc.value.code == 2


def test_alternate_runs_takes_turns_with_each_setup_before_its_run() -> None:
    """The import and report PostgreSQL rows rely on it: each side gets a fresh start, in turns."""
    from benchmarks.common import SHORT_REPEAT, alternate_runs

    calls: list[str] = []
    ours_t, base_t, runs = alternate_runs(
        lambda: calls.append("ours"),
        lambda: calls.append("base"),
        3,
        lambda: calls.append("ours setup"),
        lambda: calls.append("base setup"),
    )
    assert runs == SHORT_REPEAT  # instant jobs get the short-job minimum
    first = ["ours setup", "ours", "base setup", "base"]
    turn = ["base setup", "base", "ours setup", "ours"]
    assert calls == first + turn * (runs - 1)
    assert ours_t >= 0 and base_t >= 0
