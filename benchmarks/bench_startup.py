"""App start to an interactive coordinator window on an HQ file vs ``python -c "import PySide6.QtWidgets"``.

Each run is a fresh process that goes through the real entry point
(``main.main([file])`` -> ``ui.app.run``) with one zero-delay timer queued: it
fires once the window has been shown and the event loop has run dry, renders
the visible windows (so the first paint is inside the time) and prints what is
on screen: the page of the tab the window opens on must be there (the overview,
its counters still "…"), not an empty frame. The time is the whole process,
start to exit, for the baseline; for the app, until the window is idle. The
process then runs on until the overview shows its figures (read once the store
has opened behind the window) and quits; that time and the exit (which waits
for background jobs the window started) are in the note.

The project's modules are byte-compiled once before the runs (``compileall``,
as ``pip install`` does for an installed copy): PySide6, the baseline, is read
from its ``.pyc`` files, and with ``PYTHONDONTWRITEBYTECODE`` set (as in this
workplace) every start would otherwise compile the ~60 modules of the app's
start from source again.

The same row carries how fast closing the window stops a background read
(:func:`interrupt_s`: ``QueryGuard.interrupt()`` to the read giving up, median
of the runs, within :data:`INTERRUPT_LIMIT_S`), measured here rather than
asserted in tests/ui/test_startup.py, which only checks that it stops.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import SHORT_REPEAT, Context, Row, median_runs
from benchmarks.data import ROOT, dataset, merged_hq

NAME = "app start to interactive window"
COMMAND_NAME = "command start: --help, --version"
# What any Python command line pays before it does anything: the interpreter and argparse.
BARE_COMMAND = "import argparse; argparse.ArgumentParser(prog='x').parse_args([])"
TARGET_SIZE = 100_000
INTERRUPT_LIMIT_S = 2.0  # a window that closes must not wait on a read for longer

# A read that takes minutes unless interrupted; running() tells when SQLite is executing it.
LONG_READ = (
    "WITH RECURSIVE c(x) AS (SELECT running() UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c"
)


def mark_running(conn: Any, running: threading.Event) -> None:
    """Give a SQLAlchemy connection the SQL function ``running()``, which sets ``running`` when a statement calls it."""

    def called() -> int:
        running.set()
        return 1

    conn.connection.driver_connection.create_function("running", 0, called)


def interrupt_s(path: Path) -> float:
    """Seconds from ``QueryGuard.interrupt()`` to a running read of ``path`` stopping with ScanStopped."""
    from db.services.station_table import QueryGuard, ScanStopped
    from db.store import ElectionStore

    store = ElectionStore.open(path)
    guard = QueryGuard()
    running = threading.Event()
    stopped: list[float] = []

    def read() -> None:
        try:
            with guard.watching(store), store.engine.connect() as conn:
                mark_running(conn, running)
                conn.exec_driver_sql(LONG_READ).scalar()
        except ScanStopped:
            stopped.append(time.perf_counter())

    worker = threading.Thread(target=read)
    worker.start()
    try:
        if not running.wait(60):
            raise RuntimeError("the read did not start")
        t0 = time.perf_counter()
        guard.interrupt()
        worker.join(60)
    finally:
        store.close()
    if not stopped:
        raise RuntimeError("the interrupted read did not stop with ScanStopped")
    return stopped[0] - t0


CHILD = """
import json, sys
from ui.app import make_application
from ui.qt import QApplication, QTimer
app = make_application()
def ready():
    try:
        shown = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        # Render each window now: "interactive" includes the first paint of what is on screen
        # (the overview's counters), not just a window that has been asked to show.
        painted = [not w.grab().isNull() for w in shown]
        tabs = getattr(shown[0], "tabs", None) if shown else None
        current = tabs.currentWidget() if tabs is not None else None
        # The page in the current tab's frame (a lazily built tab's frame is empty until first shown).
        inner = current.layout().itemAt(0) if current is not None and current.layout() is not None else None
        page = inner.widget().objectName() if inner is not None and inner.widget() is not None else ""
        print(json.dumps({"windows": [type(w).__name__ for w in shown], "painted": all(painted), "page": page}),
              flush=True)
        overview = getattr(shown[0], "overview", None) if shown else None
        if overview is None:
            app.quit()
            return
        waited = [0]
        def figures():
            if overview.overview is None and waited[0] < 30000:  # 5 minutes at most
                waited[0] += 1
                QTimer.singleShot(10, figures)
                return
            overview.grab()
            # Asked for after the timed moment: `window.stations` builds the table that opens on first show.
            rows = shown[0].stations.model.rowCount()
            print(json.dumps({"figures": overview.overview is not None, "rows": rows}), flush=True)
            app.quit()
        figures()
    except BaseException:
        app.quit()
        raise
QTimer.singleShot(0, ready)
import main
sys.exit(main.main([sys.argv[1]]))
"""
# The app's packages, byte-compiled before the runs (see the module's docstring).
APP_PACKAGES = ("main.py", "observer", "db", "ui", "reports", "resources")


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["BAQYLAU_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass(frozen=True)
class Started:
    windows: list[str]  # class names of the visible top-level windows at the first idle moment
    page: str  # object name of the page in the current tab at that moment ("" if none)
    rows: int  # rows of the stations table once the overview's figures are in (its model's count)
    ready_s: float  # process start to the first idle moment with the window shown
    figures_s: float  # process start to the overview showing its figures (0: never)
    exit_s: float  # process start to exit (Qt waits for background jobs started by the window)
    exit_code: int
    stderr_tail: str


def start_app(path: Path, home: Path) -> Started:
    """Run the app on ``path`` until its first idle moment, then quit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        env=_env(home),
        cwd=ROOT.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready_s = figures_s = 0.0
    windows: list[str] | None = None
    rows, page = 0, ""
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        seen = json.loads(line)
        if windows is None:
            ready_s = time.perf_counter() - t0
            windows, page = list(seen["windows"]), str(seen["page"])
        elif seen.get("figures"):
            figures_s = time.perf_counter() - t0
            rows = int(seen["rows"])
            break
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    exit_s = time.perf_counter() - t0
    if windows is None:
        raise RuntimeError(f"app start failed before its window was idle ({proc.returncode}): {err[-2000:]}")
    return Started(windows, page, rows, ready_s, figures_s, exit_s, proc.returncode, err[-300:])


def _check_shown(seen: list[Started]) -> None:
    """Every run showed the coordinator window on its overview (what a user can work in), or no row."""
    windows = seen[-1].windows
    if "CoordinatorWindow" not in windows:
        raise RuntimeError(f"app start on the HQ file showed {windows}, not the coordinator window")
    pages = {s.page for s in seen}
    if pages != {"overviewPage"}:  # an empty frame where the first tab should be is not a window one can use
        raise RuntimeError(
            f"app start on the HQ file showed the page(s) {pages} at its first idle moment, not the overview"
        )


def run(ctx: Context) -> list[Row]:
    home = ctx.work / "app-home"
    home.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for name in APP_PACKAGES:
        target = ROOT.parent / name
        if target.is_file():
            compileall.compile_file(str(target), quiet=1)
        else:
            compileall.compile_dir(str(target), quiet=1)

    def baseline() -> None:
        subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets"], env=_env(home), check=True, timeout=120)

    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        seen: list[Started] = []
        hq = merged_hq(ds, ctx.log)
        base_times: list[float] = []

        def pair() -> None:
            # The app and its baseline run in turns: on a machine shared with other jobs a change of
            # load then weighs on both alike (run one after the other, their ratio moved by 0.5x).
            seen.append(start_app(hq, home))
            t0 = time.perf_counter()
            baseline()
            base_times.append(time.perf_counter() - t0)

        # A run waits seconds for the overview's figures, but what is timed is a few tenths: as many runs
        # as any job under a second gets (a smoke run stays one).
        median_runs(pair, ctx.repeat if ctx.repeat <= 1 else max(ctx.repeat, SHORT_REPEAT))
        runs = len(seen)
        ours = statistics.median(s.ready_s for s in seen)
        to_exit = statistics.median(s.exit_s for s in seen)
        figures = statistics.median(s.figures_s for s in seen)
        _check_shown(seen)
        # The window was up in every run; a failure while quitting is reported, not hidden.
        failed = [s for s in seen if s.exit_code != 0]
        exits = (
            f"; {len(failed)} of {len(seen)} runs failed while quitting: {failed[0].stderr_tail.strip()[:160]}"
            if failed
            else ""
        )
        base = statistics.median(base_times)
        stops = statistics.median(interrupt_s(hq) for _ in range(max(ctx.repeat, 3)))
        ctx.log(
            f"  interrupting a background read @ {size}: median {stops * 1000:.1f} ms (limit {INTERRUPT_LIMIT_S:g} s)"
        )
        if stops > INTERRUPT_LIMIT_S:
            exits += f"; interrupting a read took {stops:.2f} s (limit {INTERRUPT_LIMIT_S:g} s)"
        rows.append(
            Row(
                NAME,
                size,
                ours,
                base,
                "<= 2x baseline",
                2.0 if size == TARGET_SIZE else None,
                runs=runs,
                note="fresh process through main.main([HQ file]) until the coordinator window is shown on its "
                "overview and the event loop idle, first paint included, offscreen, interpreter start included, "
                f"app byte-compiled first; stations table (built on first show) holding {seen[-1].rows} rows; "
                f"the overview's figures shown at {figures:.2f} s; to exit {to_exit:.2f} s; "
                f"a background read stops {stops * 1000:.1f} ms after the interrupt (median){exits}",
                extra={
                    "to_exit_s": to_exit,
                    "figures_s": figures,
                    "failed_exits": float(len(failed)),
                    "interrupt_s": stops,
                },
            )
        )
    rows.append(command_start(ctx))
    return rows


def command_start(ctx: Context) -> Row:
    """``baqylau --help`` and ``--version`` (the slower of the two medians) vs a bare ``python`` + argparse.

    Independent of the data: measured once, filed under the largest size of the run.
    """
    repo = ROOT.parent  # benchmarks.data.ROOT is the benchmarks folder
    env = {**os.environ, "PYTHONPATH": str(repo)}
    repeat = max(ctx.repeat, 11)  # a tenth of a second each: enough runs for a steady median

    def command(*args: str) -> None:
        subprocess.run([sys.executable, *args], env=env, cwd=repo, check=True, stdout=subprocess.DEVNULL, timeout=60)

    help_s, _ = median_runs(lambda: command("main.py", "--help"), repeat)
    version_s, _ = median_runs(lambda: command("main.py", "--version"), repeat)
    base, runs = median_runs(lambda: command("-c", BARE_COMMAND), repeat)
    size = max(ctx.sizes)
    return Row(
        COMMAND_NAME,
        size,
        max(help_s, version_s),
        base,
        "<= 2x baseline",
        2.0 if size == TARGET_SIZE else None,
        runs=runs,
        note=f"fresh process, main.py --help {help_s:.3f} s, --version {version_s:.3f} s (the slower is shown); "
        "baseline: python -c 'import argparse; parse_args([])'; no command module, SQLAlchemy, ReportLab or Qt "
        "is imported (tests/test_main.py checks the modules)",
        extra={"help_s": help_s, "version_s": version_s},
    )
