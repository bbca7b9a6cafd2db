"""Screenshots of every coordinator screen, for docs/screenshots/coordinator-*.png.

    Xvfb :98 -screen 0 1366x768x24 &
    DISPLAY=:98 python3 -m ui.coordinator.screenshots HQ.baqylau [--packages DIR] [--out docs/screenshots] [--lang ru]

Works on a copy of the HQ file (the merge screenshot merges ``--packages``
into that copy), so the demo election itself is never changed. Every wait is
on a signal or a condition, never a fixed sleep.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from db.store import ElectionStore
from observer import i18n


def _wait(app: QApplication, done: Callable[[], bool], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("screen did not settle")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def _settle(app: QApplication) -> None:
    """Let queued background results and repaints land (a few event-loop turns)."""
    loop = QEventLoop()
    QTimer.singleShot(400, loop.quit)
    loop.exec()
    app.processEvents()


def _save(widget: QWidget, out: Path, name: str) -> Path:
    path = out / f"coordinator-{name}.png"
    widget.grab().save(str(path))
    print(path)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m ui.coordinator.screenshots")
    parser.add_argument("hq", type=Path)
    parser.add_argument("--packages", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--lang", default="ru", choices=i18n.LANGUAGES)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    try:
        from ui.widgets.style import apply_style

        apply_style(app)
    except ImportError:  # the observer app's style; screenshots still work without it
        pass
    i18n.set_language(args.lang)
    from ui.coordinator.window import CoordinatorWindow

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / args.hq.name
        shutil.copyfile(args.hq, copy)
        evidence = args.hq.with_name(args.hq.name + ".evidence")
        if evidence.is_dir():
            shutil.copytree(evidence, copy.with_name(copy.name + ".evidence"))
        store = ElectionStore.open(copy)
        window = CoordinatorWindow(store)
        window.resize(1366, 768)
        window.show()
        _wait(app, lambda: window.comparison.units != [] or store.station_count() == 0)
        _settle(app)

        window.tabs.setCurrentWidget(window.stations)
        _settle(app)
        _save(window, args.out, "stations")
        window.stations.disputed.setChecked(True)
        _settle(app)
        _save(window, args.out, "stations-disputed")
        window.stations.disputed.setChecked(False)

        window.tabs.setCurrentWidget(window.conflicts)
        _wait(app, lambda: window.conflicts.station_list.count() > 0 or window.conflicts.summary.text() != "")
        _settle(app)
        _save(window, args.out, "conflicts")

        window.tabs.setCurrentWidget(window.comparison)
        _settle(app)
        _save(window, args.out, "comparison")
        rules = window.comparison.edit_rules()
        _settle(app)
        _save(rules, args.out, "rules")
        rules.reject()

        window.tabs.setCurrentWidget(window.forensics)
        window.forensics.start()
        _wait(app, lambda: window.forensics.result is not None)
        _settle(app)
        _save(window, args.out, "forensics")

        window.tabs.setCurrentWidget(window.keys)
        _settle(app)
        _save(window, args.out, "keys")

        if args.packages is not None:
            merge = window.open_merge()
            merge.resize(1100, 640)
            merge.add_paths([args.packages])
            merge.start()
            _wait(app, lambda: merge.report is not None)
            _settle(app)
            _save(merge, args.out, "merge")
            merge.close()

        report = window.open_report()
        report.resize(1300, 740)
        report.start()
        _wait(app, lambda: report.info is not None or (report.operation is not None and report.operation.outcome == "failure"))
        _settle(app)
        _save(report, args.out, "report")
        report.close()

        from ui.coordinator.imports import KIND_OFFICIAL

        imp = window.open_import(KIND_OFFICIAL)
        _settle(app)
        _save(imp, args.out, "import-official")
        imp.close()

        i18n.set_language("kk")
        window.tabs.setCurrentWidget(window.comparison)
        _wait(app, lambda: window.comparison.units != [])
        _settle(app)
        _save(window, args.out, "comparison-kk")
        window.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
