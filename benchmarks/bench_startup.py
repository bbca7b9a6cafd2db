"""App start to an interactive coordinator window on an HQ file vs ``python -c "import PySide6.QtWidgets"``.

Each run is a fresh process that goes through the real entry point
(``main.main([file])`` -> ``ui.app.run``) with one zero-delay timer queued: it
fires once the window has been shown and the event loop has run dry, prints
what is on screen and quits. The time is the whole process, start to exit,
for both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import ROOT, dataset

NAME = "app start to interactive window"
TARGET_SIZE = 100_000

CHILD = """
import json, sys
from ui.app import make_application
from ui.qt import QApplication, QTimer
app = make_application()
def ready():
    shown = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    print(json.dumps({"windows": [type(w).__name__ for w in shown]}), flush=True)
    app.quit()
QTimer.singleShot(0, ready)
import main
sys.exit(main.main([sys.argv[1]]))
"""


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["BAQYLAU_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_app(path: Path, home: Path) -> list[str]:
    """Run the app on ``path`` until its first idle moment; the visible windows' class names."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=_env(home), cwd=ROOT.parent,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"app start failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return list(json.loads(lines[-1])["windows"]) if lines else []


def run(ctx: Context) -> list[Row]:
    home = ctx.work / "app-home"
    home.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []

    def baseline() -> None:
        subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets"], env=_env(home), check=True, timeout=120)

    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        seen: list[list[str]] = []
        ours, runs = median_runs(lambda: seen.append(start_app(ds.hq, home)), ctx.repeat)
        windows = seen[-1]
        if "CoordinatorWindow" not in windows:
            raise RuntimeError(f"app start on the HQ file showed {windows}, not the coordinator window")
        base, base_runs = median_runs(baseline, ctx.repeat)
        rows.append(Row(NAME, size, ours, base, "<= 2x baseline", 2.0 if size == TARGET_SIZE else None,
                        runs=min(runs, base_runs),
                        note="fresh process through main.main([HQ file]) until the coordinator window is idle, "
                             "offscreen; both sides include interpreter start and exit"))
    return rows
