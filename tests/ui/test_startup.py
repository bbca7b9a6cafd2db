"""Opening the app on an HQ file: the window comes first, the store and the figures behind it.

The coordinator window of a current HQ file is shown before SQLAlchemy is
imported (its table reads the first screen with sqlite3), rows read before the
observers' figures are known say so, other tabs are built when first shown,
and background reads stop at once when the window closes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from benchmarks.bench_startup import LONG_READ, mark_running
from benchmarks.synthetic_hq import build_hq
from db.services.hq import current_hq_reader
from db.services.station_table import QueryGuard, ScanStopped, reuse_index
from db.store import ElectionStore
from observer.errors import StorageError
from observer.i18n import tr
from observer.template import builtin_template
from ui.app import Launcher, make_application
from ui.coordinator.stations import COLUMNS
from ui.coordinator.window import TABS, CoordinatorWindow
from ui.first_run import FirstRunWindow
from ui.qt import QComboBox, QLabel, Qt, QTableView
from ui.settings import Settings

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
N = 500


@pytest.fixture
def hq_path(tmp_path: Path) -> Path:
    path = tmp_path / "hq.baqylau"
    build_hq(path, N).close()
    return path


@pytest.fixture
def launcher(qtbot) -> Launcher:
    make_application()
    launcher = Launcher(Settings())
    yield launcher
    launcher.shutdown()


def _col(name: str) -> int:
    return COLUMNS.index(name)


def test_first_screen_reader_agrees_with_the_store(hq_path: Path) -> None:
    reader = current_hq_reader(hq_path)
    assert reader is not None
    store = ElectionStore.open(hq_path)
    try:
        assert reader.total() == store.station_count() == N
        assert reader.ids()[:3] == ["st-000000", "st-000001", "st-000002"]
        assert (
            reader.ids(sort="registered", descending=True)[0]
            == max(store.stations(), key=lambda s: (s.registered or 0, s.code)).id
        )
        assert reader.template.id == store.template.id
        assert reader.ids(code_search="%") == [] and reader.ids(code_search="_") == []
    finally:
        reader.close()
        store.close()


def test_anything_but_a_current_hq_file_takes_the_usual_path(tmp_path: Path, hq_path: Path, template_2021) -> None:
    station = tmp_path / "station.baqylau"
    ElectionStore.create(station, template_2021).close()
    junk = tmp_path / "junk.baqylau"
    junk.write_bytes(b"not a database")
    assert current_hq_reader(station) is None
    assert current_hq_reader(junk) is None
    assert current_hq_reader(tmp_path / "missing.baqylau") is None
    # An older schema is upgraded by ElectionStore.open, never read around it.
    import sqlite3

    conn = sqlite3.connect(hq_path)
    conn.execute("UPDATE alembic_version SET version_num = '0001'")
    conn.commit()
    conn.close()
    assert current_hq_reader(hq_path) is None


def test_window_comes_up_before_the_store_then_the_figures_arrive(qtbot, launcher: Launcher, hq_path: Path) -> None:
    assert launcher.open_path(hq_path)
    window = launcher.window
    assert isinstance(window, CoordinatorWindow)
    assert launcher.store is None  # opened on a helper thread once the event loop runs
    model = window.stations.model
    assert model.rowCount() == N
    assert model.index(0, _col("code")).data() == "000001"
    assert model.index(0, _col("registered")).data()
    # Observer figures are not known yet: the cell says so instead of looking unobserved.
    assert model.index(0, _col("observed")).data() == "…"
    assert model.index(0, _col("observed")).data(Qt.ItemDataRole.ToolTipRole) == tr("coordui.stations.loading_tip")
    assert window.status_label.text() == tr("coordui.window.status_loading", file=hq_path.name, stations=N)
    assert "conflicts" not in window._pages  # other tabs are built when first shown
    # The overview is the tab on screen: built with the window, its counters waiting for the store.
    assert window.tabs.currentWidget().findChild(type(window.overview)) is window.overview
    assert not window.overview.reads_started and window.overview.overview is None
    assert window.overview.buttons["reported"].text().startswith("…")

    with qtbot.waitSignal(model.figuresReady, timeout=20000):
        pass
    qtbot.waitUntil(lambda: window.overview.overview is not None, timeout=20000)  # read once the store opened
    assert window.overview.overview.stations == N
    assert window.overview.buttons["reported"].text().split("\n")[0] == str(window.overview.overview.reported)
    # The launcher takes the opened store on its own timer, which may come after the figures.
    qtbot.waitUntil(lambda: launcher.store is not None, timeout=20000)
    assert launcher.store is not None and launcher.store.path == hq_path
    assert launcher.settings.last_file == hq_path  # remembered once it opened
    # Station index 0 is observed by two observers who disagree (synthetic_hq.build_hq): a conflict.
    assert model.index(0, _col("observed")).data() == ""
    assert tr("coordui.flag.conflict") in model.index(0, _col("flags")).data()
    assert model.index(10, _col("observed")).data() not in ("", "…")
    assert "…" not in window.status_label.text()

    window.tabs.setCurrentIndex(TABS.index("conflicts"))
    assert "conflicts" in window._pages
    with qtbot.waitSignal(window.conflicts.loaded, timeout=20000):
        window.conflicts.reload()
    assert window.conflicts.station_list.count() > 0


def test_a_file_that_fails_to_open_behind_the_window_goes_back_to_the_first_screen(
    qtbot, launcher: Launcher, hq_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: object) -> ElectionStore:
        raise StorageError("error.storage.read_only", file=str(path))

    monkeypatch.setattr(ElectionStore, "open", staticmethod(refuse))
    assert launcher.open_path(hq_path)
    assert isinstance(launcher.window, CoordinatorWindow)
    qtbot.waitUntil(lambda: isinstance(launcher.window, FirstRunWindow), timeout=20000)
    assert launcher.window.message_bar.text() == tr("error.storage.read_only", file=str(hq_path))
    assert launcher.store is None
    assert launcher.settings.last_file != hq_path  # a file that failed to open is not reopened next time


def test_opening_another_file_while_the_first_is_opening_closes_the_first(
    qtbot, launcher: Launcher, hq_path: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.baqylau"
    build_hq(other, 50).close()
    assert launcher.open_path(hq_path)
    first = launcher.window
    assert isinstance(first, CoordinatorWindow)
    first._opener.start()
    assert launcher.open_path(other)
    qtbot.waitUntil(lambda: launcher.store is not None, timeout=20000)
    assert launcher.store.path == other
    assert first._opener.future.done()  # waited for and closed, not left open


def test_guard_interrupts_a_running_query(hq_path: Path) -> None:
    store = ElectionStore.open(hq_path)
    guard = QueryGuard()
    outcome: list[BaseException | None] = []
    running = threading.Event()

    def slow() -> None:
        try:
            with guard.watching(store):
                with store.engine.connect() as conn:
                    mark_running(conn, running)
                    conn.exec_driver_sql(LONG_READ).scalar()  # minutes of work unless interrupted
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    worker = threading.Thread(target=slow)
    worker.start()
    try:
        assert running.wait(10)  # SQLite is executing the read: the interrupt has something to stop
        guard.interrupt()
        worker.join(60)
        # Stopped, not finished: the read alone takes minutes. How fast it stops is measured in
        # benchmarks/bench_startup.py (interrupt_s), not asserted here.
        assert not worker.is_alive()
        assert outcome and isinstance(outcome[0], ScanStopped)
        with pytest.raises(ScanStopped):  # and nothing new starts after the stop
            with guard.watching(store):
                pass
    finally:
        store.close()


def test_closing_the_window_stops_the_reused_photo_scan(qtbot, hq_path: Path) -> None:
    store = ElectionStore.open(hq_path)
    try:
        window = CoordinatorWindow(store)
        qtbot.addWidget(window)
        op = window.stations.reuse_operation
        assert op is not None
        window.close()
        guard = window.stations._reuse_guard
        assert guard is not None and guard.stopped
        with pytest.raises(ScanStopped):  # a scan that had not started, or is between thumbnails, stops
            reuse_index(store, guard)
        assert window.stations.model.source._stopped  # and no new figures read starts
        # Whether it had finished, never started or was stopped: no error box.
        qtbot.wait(50)
        assert op.error is None or isinstance(op.error, ScanStopped)
    finally:
        store.close()


def test_stations_table_is_built_when_its_tab_is_first_shown(qtbot, launcher: Launcher, hq_path: Path) -> None:
    """The window opens on the overview: the table and its filters are made once their tab shows, while the
    status bar's counts (read by the table's model from the start) arrive as before."""
    assert launcher.open_path(hq_path)
    window = launcher.window
    assert isinstance(window, CoordinatorWindow) and window.isVisible()
    assert window.findChild(QTableView, "stationsView") is None
    assert window.findChild(QComboBox, "regionFilter") is None
    qtbot.waitUntil(lambda: "…" not in window.status_label.text(), timeout=20000)
    assert str(N) in window.status_label.text()
    assert window.findChild(QTableView, "stationsView") is None  # the figures did not need it

    window.tabs.setCurrentIndex(TABS.index("stations"))  # as a click on the tab
    view = window.findChild(QTableView, "stationsView")
    region = window.findChild(QComboBox, "regionFilter")
    assert view is not None and region is not None
    qtbot.waitUntil(view.isVisible)  # shown on the event loop's next turn, as the other tabs' pages
    assert view.model().rowCount() == N and view.model().index(0, 0).data() == "000001"
    regions = view.model().source.regions()
    assert regions and [region.itemData(i) for i in range(region.count())] == ["", *regions]
    count = window.findChild(QLabel, "stationCount")
    assert count is not None and count.text() == tr("coordui.stations.count", shown=N, total=N)
    assert window.stations.view is view  # the attribute gives the page built on screen, not another one


CHILD = r"""
import inspect, json, sys
read = []  # modules whose source PySide6's __feature__ check read (ui.qt's workaround stops it)
_getsource = inspect.getsource
def getsource(obj):
    read.append(getattr(obj, "__name__", "?"))
    return _getsource(obj)
inspect.getsource = getsource
from ui.app import make_application
from ui.qt import QApplication, QTimer
app = make_application()
def ready():
    w = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    model = w[0].stations.model
    print(json.dumps({
        "windows": [type(x).__name__ for x in w],
        "page": w[0].tabs.currentWidget().layout().itemAt(0).widget().objectName(),
        "rows": model.rowCount(),
        "first": model.index(0, 0).data(),
        "loaded": sorted(
            m for m in ("sqlalchemy", "numpy", "PIL", "db.store", "reportlab", "PySide6.QtPdf", "babel", "html")
            if m in sys.modules
        ),
        # Qt classes only an error needs: ui.qt resolves a name (building its enums) on first use
        "resolved": sorted(n for n in ("QMessageBox", "QFileDialog") if n in vars(sys.modules["ui.qt"])),
        "sources_read": read,
        "feature_check_replaced": sys.modules["ui.qt"].FEATURE_SOURCE_READS_SKIPPED,
    }), flush=True)
    app.quit()
QTimer.singleShot(0, ready)
import main
sys.exit(main.main([sys.argv[1]]))
"""


def test_app_start_shows_the_table_before_sqlalchemy_is_imported(hq_path: Path, tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BAQYLAU_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(hq_path)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert shown["windows"] == ["CoordinatorWindow"]
    assert shown["page"] == "overviewPage"  # the tab the window opens on is there at its first idle moment
    assert shown["rows"] == N and shown["first"] == "000001"
    assert shown["loaded"] == []
    assert shown["resolved"] == []
    # Without ui.qt's workaround PySide6 read the source of ~100 modules here (typing, argparse, the
    # app's own); now only of those imported before ui.qt replaced the check (shiboken6's own).
    assert not [m for m in shown["sources_read"] if m.split(".")[0] in ("main", "observer", "db", "ui", "typing")]
    assert len(shown["sources_read"]) <= 3, shown["sources_read"]
    assert shown["feature_check_replaced"]  # not merely a PySide6 that stopped calling getsource


def test_observer_file_still_opens_in_the_observer_window(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    from ui.main_window import MainWindow

    path = tmp_path / "station.baqylau"
    ElectionStore.create(path, builtin_template("kz-majilis-2021")).close()
    assert launcher.open_path(path)
    assert isinstance(launcher.window, MainWindow)
    assert launcher.store is not None


def test_double_click_opens_the_conflict_even_before_the_tab_was_built(qtbot, hq_path: Path) -> None:
    store = ElectionStore.open(hq_path)
    try:
        window = CoordinatorWindow(store)
        qtbot.addWidget(window)
        assert "conflicts" not in window._pages
        window._station_activated("st-000000")  # synthetic_hq.build_hq: observers disagree at station 0
        assert window.tabs.currentIndex() == TABS.index("conflicts")
        assert window.conflicts._current is not None and window.conflicts._current.station_id == "st-000000"
        window.tabs.setCurrentIndex(TABS.index("stations"))
        window._station_activated("st-000001")  # no conflict there: stay on the table
        assert window.tabs.currentIndex() == TABS.index("stations")
    finally:
        window.close()
        store.close()


def test_table_opens_on_its_first_page_and_reads_the_whole_list_right_after(qtbot, hq_path: Path) -> None:
    from ui.coordinator.stations import PAGE_SIZE, StationsPage

    store = ElectionStore.open(hq_path)
    try:
        page = StationsPage(store)
        qtbot.addWidget(page)
        model = page.model
        assert model.rowCount() == N  # exact from the start: the scroll bar is right
        assert len(model._ids) == PAGE_SIZE  # only the first page's ids were read
        assert model.index(0, 0).data() == "000001"
        qtbot.waitUntil(lambda: len(model._ids) == N, timeout=5000)  # the rest, once the loop ran
        assert model.index(N - 1, 0).data() == f"{N:06d}"

        # A row past the first page asked for before the loop ran reads the whole list at once.
        model.reload(first_screen=True)
        assert len(model._ids) == PAGE_SIZE
        assert model.index(N - 1, 0).data() == f"{N:06d}"
        assert len(model._ids) == N and model.rowCount() == N

        # The file changed between the two reads: the table is reset to the new list.
        model.reload(first_screen=True)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO stations (id, code, region, district, address, created_at, updated_at) "
                "VALUES ('st-new', '000000', '', '', '', '2024-01-01', '2024-01-01')"
            )
        with qtbot.waitSignal(model.modelReset, timeout=5000):
            pass
        assert model.rowCount() == N + 1 and model.index(0, 0).data() == "000000"
    finally:
        store.close()


def test_two_watches_of_one_guard_may_overlap(tmp_path: Path) -> None:
    """The window's scan and a caller reading with the same guard (closing the window while the scan
    runs) each watch the store: ending one must not remove the other's listeners (it raised
    InvalidRequestError from SQLAlchemy's event registry), and a stop still interrupts the other."""
    store = ElectionStore.create(tmp_path / "hq.baqylau", builtin_template("kz-majilis-2021"), role="hq")
    guard = QueryGuard()
    try:
        with guard.watching(store):
            with guard.watching(store):
                pass
            with store.engine.connect() as conn:  # checked out after the inner watch ended
                conn.exec_driver_sql("SELECT 1").all()
                assert len(guard._conns) == 1  # still noted: interrupt() would reach it
        assert guard._conns == []
    finally:
        store.close()


def test_guard_never_interrupts_another_threads_query(tmp_path: Path) -> None:
    """A stopped scan interrupts only the connections it holds: one it gave back to the pool
    may be running another thread's read (the stations' figures), which must finish."""
    store = ElectionStore.create(tmp_path / "hq.baqylau", builtin_template("kz-majilis-2021"), role="hq")
    guard = QueryGuard()
    started, under_way, interrupted, result = threading.Event(), threading.Event(), threading.Event(), {}

    def scan() -> None:
        with guard.watching(store):
            with store.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1").all()
            started.set()
            assert interrupted.wait(30)  # still watching when the stop comes

    def other() -> None:
        try:
            with store.engine.connect() as conn:
                mark_running(conn, under_way)
                result["count"] = conn.exec_driver_sql(
                    "WITH RECURSIVE r(i) AS (SELECT running() UNION ALL SELECT i + 1 FROM r WHERE i < 3000000) "
                    "SELECT count(*) FROM r"
                ).scalar()
        except Exception as exc:  # noqa: BLE001 - the failure is what the test looks for
            result["error"] = repr(exc)

    scanner = threading.Thread(target=scan)
    scanner.start()
    assert started.wait(10)
    reader = threading.Thread(target=other)
    reader.start()
    assert under_way.wait(10)  # the other read is running (an interrupt before it starts would prove nothing)
    guard.interrupt()
    interrupted.set()
    reader.join(30)
    scanner.join(10)
    store.close()
    assert result == {"count": 3000000}
