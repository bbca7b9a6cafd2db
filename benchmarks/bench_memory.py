"""Peak memory (RSS) of import + aggregate + report, in a fresh process (resource.getrusage ru_maxrss)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Context, Row
from benchmarks.data import ROOT, copy_election, dataset, merged_hq, remove_election

NAME = "peak RSS: import + aggregate + report"
TARGET_SIZE = 100_000
LIMIT_MB = 400.0

CHILD = """
import json, resource, sys
from pathlib import Path
from db.aggregate import aggregate_levels
from db.official import import_official
from db.store import ElectionStore
from reports.build import build_report
hq, csv_path, map_path, pdf = sys.argv[1:5]
store = ElectionStore.open(hq)
try:
    import_official(store, csv_path, map_path)
    aggregate_levels(store, ("national", "region", "district"), "both")
    info = build_report(store, pdf, "ru")
finally:
    store.close()
hwm = 0
with open("/proc/self/status", encoding="ascii") as fh:
    for line in fh:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "hwm_kb": hwm, "pages": info.pages}))
"""

# Linux keeps a process's ru_maxrss across fork + exec: a child of the benchmark process
# (hundreds of MB after Qt, pandas and the merges) would report the parent's size. A small
# launcher process in between gives the measured process a clean start.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, *sys.argv[1:]]))"


def peak_rss_mb(hq: Path, csv_path: Path, map_path: Path, pdf: Path) -> tuple[float, float, int]:
    """Peak RSS in MB by ru_maxrss (KiB on Linux) and by /proc VmHWM, and the report's page count."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT.parent) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "-c", CHILD, str(hq), str(csv_path), str(map_path), str(pdf)],
        env=env,
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory run failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["maxrss_kb"] / 1024, result["hwm_kb"] / 1024, int(result["pages"])


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        hq = ctx.work / "memory-hq.baqylau"
        pdf = ctx.work / "memory-report.pdf"
        copy_election(merged_hq(ds, ctx.log), hq)
        try:
            t0 = time.perf_counter()
            mb, hwm, pages = peak_rss_mb(hq, ds.official_csv, ds.official_map, pdf)
            took = time.perf_counter() - t0
        finally:
            remove_election(hq)
            pdf.unlink(missing_ok=True)
        # unit MB: ours_s and limit_s hold megabytes in this row.
        rows.append(
            Row(
                NAME,
                size,
                mb,
                None,
                f"< {LIMIT_MB:.0f} MB",
                None,
                limit_s=LIMIT_MB if size == TARGET_SIZE else None,
                unit="MB",
                runs=1,
                note=f"fresh process; re-import of the official CSV, 3-level aggregate, {pages}-page report; "
                f"whole job {took:.1f} s; VmHWM {hwm:.0f} MB",
                extra={"peak_rss_mb": mb, "vm_hwm_mb": hwm, "job_s": took},
            )
        )
    return rows
