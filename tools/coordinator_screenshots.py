"""Screenshots of every coordinator screen, for docs/screenshots/coordinator-*.png.

    Xvfb :98 -screen 0 1366x768x24 &
    DISPLAY=:98 python3 tools/coordinator_screenshots.py HQ.baqylau [--packages DIR] [--out docs/screenshots] [--lang ru]
    DISPLAY=:98 python3 tools/coordinator_screenshots.py HQ.baqylau --night ru,kk,en

``--night``: only the election-night screens, in each language given, at
1366x768: the overview, a station's story and the conflicts flow (a version
chosen by keyboard, the reason typed), as coordinator-{overview,story,conflicts-flow}-<lang>.png.

(the observer's screens: ``docs/screenshots/make_screenshots.py``).

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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, like docs/screenshots/make_screenshots.py

from db.fileformat import ROLE_HQ  # noqa: E402
from db.services.station_table import StationFilter  # noqa: E402
from db.store import ElectionStore  # noqa: E402
from observer import i18n  # noqa: E402
from ui.app import make_application  # noqa: E402
from ui.coordinator.window import CoordinatorWindow  # noqa: E402
from ui.qt import QApplication, QEvent, QEventLoop, QKeyEvent, Qt, QTimer, QWidget  # noqa: E402

# Sample decisions typed by the coordinator in the screenshot (data, not interface text).
_SAMPLE_REASONS = {
    "ru": ("совпадает с копией, выданной наблюдателю", "второй наблюдатель прислал фото вывешенного протокола"),
    "kk": ("байқаушыға берілген көшірмеге сәйкес", "екінші байқаушы ілінген хаттаманың фотосын жіберді"),
    "en": ("matches the copy given to the observer", "the second observer sent a photo of the posted protocol"),
}


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


def _merge_screenshot(
    app: QApplication, store: ElectionStore, packages: Path, keys: Path | None, tmp: Path, out: Path
) -> None:
    """A fresh HQ file merging a copy of the packages, one of them damaged, one key not yet trusted:
    the dialog then shows every kind of outcome."""
    from db.merge import import_keys
    from ui.coordinator.merge import MergeDialog

    fresh = ElectionStore.create(tmp / "merge-screenshot.baqylau", store.template, role=ROLE_HQ)
    folder = tmp / "packages"
    shutil.copytree(packages, folder)
    files = sorted(folder.rglob("*.bqpkg"))
    if files:
        data = bytearray(files[0].read_bytes())
        data[len(data) // 2] ^= 0xFF
        files[0].write_bytes(bytes(data))
    if keys is not None:
        lines = [ln for ln in keys.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
        partial = tmp / "keys-partial.txt"
        partial.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
        import_keys(fresh, partial, decided_by="screenshot")
    dialog = MergeDialog(fresh)
    dialog.resize(1200, 700)
    dialog.show()
    dialog.add_paths([folder])
    dialog.start()
    _wait(app, lambda: dialog.report is not None)
    _settle(app)
    _save(dialog, out, "merge")
    dialog.close()
    fresh.close()


def _damaged_excerpt(source: Path, target: Path) -> Path:
    """The first rows of the official CSV with two typical mistakes: text in a count, a negative count."""
    raw = source.read_bytes()
    try:
        encoding = "utf-8-sig"
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding = "cp1251"  # the CEC's usual export
        text = raw.decode(encoding)
    lines = text.splitlines()[:40]
    sep = ";" if lines[0].count(";") > lines[0].count(",") else ","
    for line_no, value in ((6, "нет данных"), (19, "-12")):
        cells = lines[line_no - 1].split(sep)
        cells[-1] = value
        lines[line_no - 1] = sep.join(cells)
    target.write_text("\n".join(lines) + "\n", encoding=encoding)
    return target


def _tabs(app: QApplication, window: CoordinatorWindow, store: ElectionStore, out: Path) -> None:
    """The window's tabs: stations (all, disputed), conflicts with a decision history, comparison, rules, forensics, keys."""
    window.show_tab("stations")
    _settle(app)
    _save(window, out, "stations")
    window.stations.disputed.setChecked(True)
    _settle(app)
    _save(window, out, "stations-disputed")
    window.stations.disputed.setChecked(False)

    window.show_tab("conflicts")
    _wait(app, lambda: window.conflicts.station_list.count() > 0 or window.conflicts.summary.text() != "")
    _settle(app)
    if window.conflicts.station_list.count() > 1:
        # One decision recorded and then changed, so the history shows how decisions are kept.
        page = window.conflicts
        page.station_list.setCurrentRow(1)
        assert page._current is not None
        sid = page._current.station_id
        for version, reason in enumerate(_SAMPLE_REASONS[i18n.current_language()]):
            page.select_station(sid)  # a decision moves the list on to the next undecided station: come back
            page.choose(version)
            page.reason.setText(reason)
            page.decided_by.setText("Штаб / HQ")
            decided: list[str] = []
            page.decided.connect(decided.append)
            page.record_decision()
            _wait(app, lambda: bool(decided))
            page.decided.disconnect(decided.append)
            _wait(app, lambda: page._current is not None and page._current.station_id != sid)
            page.select_station(sid)
            _wait(app, lambda: page.history.rowCount() >= version + 1)
        _settle(app)
    _save(window, out, "conflicts")

    window.show_tab("comparison")
    _settle(app)
    _save(window, out, "comparison")
    rules = window.comparison.edit_rules()
    _settle(app)
    _save(rules, out, "rules")
    rules.reject()

    window.show_tab("forensics")
    window.forensics.start()
    _wait(app, lambda: window.forensics.result is not None)
    _settle(app)
    _save(window, out, "forensics")

    window.show_tab("keys")
    _settle(app)
    _save(window, out, "keys")


def _dialogs(app: QApplication, window: CoordinatorWindow, args: argparse.Namespace, tmp: Path) -> None:
    """The report and the official import (with a damaged excerpt when the CSV and its map are given)."""
    report = window.open_report()
    report.resize(1300, 740)
    report.start()
    _wait(
        app,
        lambda: report.info is not None or (report.operation is not None and report.operation.outcome == "failure"),
    )
    _settle(app)
    _save(report, args.out, "report")
    report.close()

    from ui.coordinator.imports import KIND_OFFICIAL

    imp = window.open_import(KIND_OFFICIAL)
    if args.official is not None and args.map is not None:
        bad = _damaged_excerpt(args.official, tmp / "official-excerpt.csv")
        imp.csv.edit.setText(str(bad))
        imp.mapping.edit.setText(str(args.map))
        op = imp.start()
        _wait(app, lambda: op is not None and op.outcome != "pending")
    _settle(app)
    _save(imp, args.out, "import-official")
    imp.close()


def _story_station(window: CoordinatorWindow) -> str:
    """A station worth showing: undecided versions, then a violation with media, then any observed one."""
    page = window.conflicts
    _wait(QApplication.instance(), lambda: page.summary.text() != "")  # type: ignore[arg-type]
    undecided = [c.station_id for c in page._conflicts if c.resolution is None]
    if undecided:
        return undecided[0]
    ids = window.stations.model.source.ids(StationFilter(has_violations=True)) or window.stations.model.station_ids()
    return ids[0]


def _night(app: QApplication, window: CoordinatorWindow, out: Path, langs: list[str]) -> None:
    """The election-night screens in each language: overview, a station's story, the conflicts flow."""
    for lang in langs:
        i18n.set_language(lang)
        window.resize(1366, 768)
        page = window.show_tab("overview")
        page.reload()
        _wait(app, lambda: page.overview is not None)
        _settle(app)
        _save(window, out, f"overview-{lang}")

        story = window.open_story(_story_station(window), window.stations.model.station_ids())
        story.resize(1366, 768)
        _wait(app, lambda: story.story is not None and story.story.station_id == story.station_id)
        _settle(app)
        _save(story, out, f"story-{lang}")
        source = window.stations.model.source
        reported = source.sort_keys.sort(source.ids(StationFilter(has_violations=True)), "violations", True)
        if reported:  # the station with most violations: their severity, text and media
            story.show_station(reported[0])
            _wait(app, lambda: story.story is not None and story.story.station_id == story.station_id)
        story.sections.setCurrentIndex(2)
        _settle(app)
        _save(story, out, f"story-violations-{lang}")
        story.close()

        conflicts = window.show_tab("conflicts")
        conflicts.show_resolved.setChecked(False)
        _wait(app, lambda: conflicts.station_list.count() > 0 or conflicts.summary.text() != "")
        _settle(app)
        if conflicts.station_list.count():
            # As a keyboard user: "2" picks the second version, the reason is typed, Enter would record it.
            conflicts.station_list.setFocus()
            key = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_2, Qt.KeyboardModifier.NoModifier, "2")
            QApplication.sendEvent(conflicts.station_list, key)
            conflicts.reason.setText(_SAMPLE_REASONS[lang][1])
            conflicts.decided_by.setText("Штаб / HQ")
        _settle(app)
        _save(window, out, f"conflicts-flow-{lang}")
        conflicts.show_resolved.setChecked(True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 tools/coordinator_screenshots.py")
    parser.add_argument("hq", type=Path)
    parser.add_argument("--packages", type=Path, help="folder of station packages for the merge screenshot")
    parser.add_argument(
        "--keys", type=Path, help="their key list (all but one key are trusted, to show a held package)"
    )
    parser.add_argument("--official", type=Path, help="official results CSV: a damaged excerpt shows refused rows")
    parser.add_argument("--map", type=Path, help="its mapping file")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--lang", default="ru", choices=i18n.LANGUAGES)
    parser.add_argument("--night", default="", help="only the election-night screens, in these languages (ru,kk,en)")
    args = parser.parse_args(argv)

    i18n.set_language(args.lang)
    app = make_application()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # a background read may still hold a file
        copy = Path(tmp) / args.hq.name
        shutil.copyfile(args.hq, copy)
        evidence = args.hq.with_name(args.hq.name + ".evidence")
        if evidence.is_dir():
            shutil.copytree(evidence, copy.with_name(copy.name + ".evidence"))
        store = ElectionStore.open(copy)
        window = CoordinatorWindow(store)
        window.resize(1366, 768)
        window.show()
        if args.night:
            _night(app, window, args.out, [lang for lang in args.night.split(",") if lang in i18n.LANGUAGES])
            window.close()
            store.close()
            return 0
        _wait(app, lambda: window.comparison.units != [] or store.station_count() == 0)
        _settle(app)
        _tabs(app, window, store, args.out)
        if args.packages is not None:
            _merge_screenshot(app, store, args.packages, args.keys, Path(tmp), args.out)
        _dialogs(app, window, args, Path(tmp))

        i18n.set_language("kk")
        window.show_tab("comparison")
        _wait(app, lambda: window.comparison.units != [])
        _settle(app)
        _save(window, args.out, "comparison-kk")
        window.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
