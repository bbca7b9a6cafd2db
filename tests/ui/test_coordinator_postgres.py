"""The coordinator window on a shared HQ in PostgreSQL (issue 16): the same table as on the file,
others' changes shown without a click, and a read-only role told so instead of failing on write.

Every test runs against a real server (tests/conftest.py's ``pg_url``): a demo HQ file is copied
into it with ``hq copy`` (verified by its content digest), and the window on the copy is compared
with the window on the file.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import main
from db.demo import demo_hq
from db.hq_copy import copy_hq
from db.services.hq import StoreOpener, current_hq_reader
from db.services.station_reader import SORT_COLUMNS, StationReader
from db.services.station_table import QueryGuard, ScanStopped
from db.store import ElectionStore
from observer import i18n
from observer.errors import StorageError
from observer.i18n import tr
from ui.app import Launcher
from ui.coordinator.stations import COLUMNS
from ui.coordinator.window import WRITING_ACTIONS, CoordinatorWindow
from ui.qt import Qt
from ui.settings import Settings

pytestmark = pytest.mark.postgres

# Districts whose order differs between code-point order and any linguistic one: the table's
# order on the server must be the file's (the database's C collation, as SQLite's BINARY).
DISTRICTS = ("Әлем", "abc", "Zeta", "ёлка", "_under", "Яр", "2nd", "éte")


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo HQ (observers' packages merged, conflicts, violations) with a station list that
    tests the order: names in several scripts and cases, stations without a registered count."""
    path = Path(demo_hq(tmp_path_factory.mktemp("demo"), stations=60, seed=3))
    conn = sqlite3.connect(path)
    try:
        with conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM stations ORDER BY code")]
            for i, sid in enumerate(ids[: len(DISTRICTS) * 2]):
                conn.execute("UPDATE stations SET district = ? WHERE id = ?", (DISTRICTS[i % len(DISTRICTS)], sid))
            conn.execute(f"UPDATE stations SET registered = NULL WHERE id IN ('{ids[3]}', '{ids[17]}', '{ids[40]}')")
    finally:
        conn.close()  # the last connection: the changes leave the WAL for the file that is copied
    with closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT count(*) FROM stations WHERE registered IS NULL").fetchone()[0] == 3
    return path


@pytest.fixture
def hq(demo_file: Path, pg_url: str, tmp_path: Path) -> tuple[Path, str]:
    """(the HQ file, its copy in a new PostgreSQL database)."""
    path = tmp_path / "hq.baqylau"
    shutil.copyfile(demo_file, path)
    copy_hq(path, pg_url)
    return path, pg_url


def _window(qtbot, target: Path | str) -> CoordinatorWindow:
    """The window as the app opens it: the table's own reader first, the store opening behind it."""
    reader = current_hq_reader(target)
    assert reader is not None, f"{target} is not plainly a current HQ"
    opener = StoreOpener(target)
    window = CoordinatorWindow.opening(opener, reader)
    qtbot.addWidget(window)
    opener.start()
    qtbot.waitUntil(lambda: opener.future.done(), timeout=30_000)
    return window


def _cells(qtbot, window: CoordinatorWindow, columns: tuple[str, ...], rows: int = 60) -> list[list[str]]:
    """What the view shows: on a shared HQ the pages come from a helper thread, so ask, wait, then read."""
    model = window.stations.model
    picked = [COLUMNS.index(c) for c in columns]

    def shown() -> list[list[str]]:
        return [
            [model.data(model.index(r, c), Qt.ItemDataRole.DisplayRole) for c in picked]
            for r in range(min(rows, model.rowCount()))
        ]

    # Asking is what paints do; a page dropped meanwhile (the figures arrived) is asked for again.
    qtbot.waitUntil(lambda: all(cell is not None for row in shown() for cell in row), timeout=30_000)
    return shown()


def _sorted_ids(window: CoordinatorWindow, column: str, descending: bool) -> list[str]:
    model = window.stations.model
    order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
    model.sort(COLUMNS.index(column), order)
    return model.station_ids()


def _close(window: CoordinatorWindow) -> None:
    window.close()
    window._opener.result().close()


def test_the_station_list_reads_filters_and_sorts_on_the_server_as_in_the_file(hq: tuple[Path, str]) -> None:
    path, url = hq
    on_file, on_server = StationReader(path), StationReader(url)
    try:
        assert on_server.on_server and not on_file.on_server
        assert on_server.path.name == ElectionStore.open(url).path.name  # what the title calls it
        assert on_server.schema_revision() == on_file.schema_revision()
        assert on_server.template.id == on_file.template.id
        assert on_server.total() == on_file.total() == 60
        assert on_server.regions() == on_file.regions()
        for sort in SORT_COLUMNS:
            for descending in (False, True):
                assert on_server.ids(sort=sort, descending=descending) == on_file.ids(sort=sort, descending=descending)
                assert on_server.ids(sort=sort, descending=descending, limit=7) == on_file.ids(
                    sort=sort, descending=descending, limit=7
                )
        # The names in several scripts really are ordered by code point on both (not only equal).
        districts = [d for _i, _c, _r, d, _n in on_file.stations(on_file.ids(sort="district"))]
        by_order = {sid: n for n, sid in enumerate(on_file.ids(sort="district"))}
        rows = sorted(on_file.stations(on_file.ids()), key=lambda r: by_order[r[0]])
        assert [r[3] for r in rows] == sorted(districts)
        region = on_file.regions()[1]
        for flt in ({"region": region}, {"code_search": "0"}, {"code_search": "%"}, {"has_violations": True}):
            assert on_server.ids(**flt) == on_file.ids(**flt), flt  # type: ignore[arg-type]
        ids = on_file.ids()
        assert sorted(on_server.stations(ids)) == sorted(on_file.stations(ids))
        assert on_server.official(ids) == on_file.official(ids)
        assert on_server.writable() and on_file.writable()
    finally:
        on_file.close()
        on_server.close()


def test_the_window_on_the_server_shows_and_sorts_the_stations_as_on_the_file(qtbot, hq: tuple[Path, str]) -> None:
    path, url = hq
    on_file, on_server = _window(qtbot, path), _window(qtbot, url)
    try:
        assert on_server.watch is not None and on_file.watch is None  # only a shared HQ changes under a window
        assert not on_server.read_only and not on_server.read_only_banner.isVisibleTo(on_server)
        assert (
            "***" not in on_server.windowTitle()
            and on_server.stations.model.source.path.name in on_server.windowTitle()
        )
        assert on_server.stations.model.station_ids() == on_file.stations.model.station_ids()
        shown = ("code", "region", "district", "registered", "official")
        assert _cells(qtbot, on_server, shown) == _cells(qtbot, on_file, shown)
        # Sorted in SQL (the station list's columns) or from the stored figures (official turnout).
        for column in ("code", "region", "district", "registered", "official"):
            for descending in (False, True):
                assert _sorted_ids(on_server, column, descending) == _sorted_ids(on_file, column, descending), column
                assert _cells(qtbot, on_server, shown) == _cells(qtbot, on_file, shown)
    finally:
        _close(on_file)
        _close(on_server)


def test_a_slow_server_never_holds_up_the_window(qtbot, hq: tuple[Path, str]) -> None:
    """The id list of a sort (100,000 rows on a national HQ) is read on a helper thread: while the
    server does not answer, the window goes on with the rows it has, and closing it does not wait."""
    _path, url = hq
    window = _window(qtbot, url)
    model = window.stations.model
    shown = model.station_ids()
    blocker = psycopg.connect(url)
    try:
        # Another session holds the station list: every read of it waits (as behind a slow server).
        # Should this test go wrong, the server ends that session after 20 s and so the wait.
        blocker.execute("SET idle_in_transaction_session_timeout = '20s'")
        blocker.execute("LOCK TABLE stations IN ACCESS EXCLUSIVE MODE")
        model.sort(COLUMNS.index("district"), Qt.SortOrder.DescendingOrder)  # returns at once
        assert model._ids == shown and model.rowCount() == 60  # the rows on screen stay
        qtbot.wait(1)  # the event loop turns: nothing has come yet, nothing is waited for
        assert model._ids == shown
        blocker.rollback()
        qtbot.waitUntil(lambda: model._ids != shown, timeout=30_000)
        reader = StationReader(url)
        try:
            assert model.station_ids() == reader.ids(sort="district", descending=True)
        finally:
            reader.close()

        # A page of rows is read the same way: the view paints an empty row meanwhile, never waits.
        blocker.execute("LOCK TABLE stations IN ACCESS EXCLUSIVE MODE")
        first = model.index(0, COLUMNS.index("code"))
        assert model.data(first, Qt.ItemDataRole.DisplayRole) is None and model.pages_reading == 1
        blocker.rollback()
        qtbot.waitUntil(lambda: model.data(first, Qt.ItemDataRole.DisplayRole) is not None, timeout=30_000)

        blocker.execute("LOCK TABLE stations IN ACCESS EXCLUSIVE MODE")
        model.sort(COLUMNS.index("code"), Qt.SortOrder.AscendingOrder)
        _close(window)  # the read under way is cancelled on the server, not waited for
        assert model.source.closed
    finally:
        blocker.close()


def test_a_closing_window_cancels_a_background_read_on_the_server(hq: tuple[Path, str]) -> None:
    """QueryGuard (the figures' read, the reused-photo scan) stops a query running on the server with
    psycopg's cancel, as it interrupts SQLite's: quitting never waits for a read nobody will see."""
    _path, url = hq
    store = ElectionStore.open(url)
    blocker = psycopg.connect(url)
    guard = QueryGuard()
    outcome: list[object] = []

    def read() -> None:
        try:
            with guard.watching(store), store.engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM stations").scalar()
                outcome.append("finished")
        except ScanStopped:
            outcome.append("stopped")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    try:
        blocker.execute("SET idle_in_transaction_session_timeout = '20s'")  # the test cannot hang for good
        blocker.execute("LOCK TABLE stations IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=read)
        worker.start()
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'stations'::regclass"
        with psycopg.connect(url, autocommit=True) as look:
            while not look.execute(waiting).fetchone()[0]:  # type: ignore[index]
                assert worker.is_alive(), outcome  # the read is on its way to the locked table
        guard.interrupt()  # the window closes
        worker.join(30)
        assert outcome == ["stopped"]
    finally:
        blocker.close()
        store.close()


def test_the_figure_columns_sort_on_the_server_as_in_the_file(hq: tuple[Path, str]) -> None:
    """The figure columns' sort keys and the rows, read from the server (db/services/station_sort.py,
    station_table.py), given which protocol counts where. That comes from db.conflicts, read here
    from the file: ``hq copy`` keeps every id, so it holds for the copy too."""
    from concurrent.futures import Future

    from db.conflicts import effective_protocols
    from db.services.station_table import StationFilter, StationSource

    path, url = hq
    on_file, on_server = ElectionStore.open(path), ElectionStore.open(url)
    sources = [StationSource(on_file), StationSource(on_server)]
    try:
        effective: Future[object] = Future()
        effective.set_result(effective_protocols(on_file))
        for source in sources:
            source._effective = effective  # type: ignore[assignment]
        assert sources[0].effective_ready() and sources[1].effective_ready()
        for column in ("observed", "official", "gap", "violations", "flags"):
            keys = [source.sort_keys.keys(column) for source in sources]
            assert keys[0] == keys[1] and keys[0], column
            for descending in (False, True):
                ids = [source.ids(StationFilter(), column, descending) for source in sources]
                assert ids[0] == ids[1], (column, descending)
        for flt in (StationFilter(observed=True), StationFilter(disputed=True), StationFilter(breaks_checks=True)):
            assert sources[0].ids(flt) == sources[1].ids(flt), flt
        every = sources[0].ids(StationFilter())
        rows = [{sid: _plain(row) for sid, row in source.rows(every).items()} for source in sources]
        assert rows[0] == rows[1] and len(rows[0]) == 60
    finally:
        for source in sources:
            source.close()
        on_file.close()
        on_server.close()


def _plain(row: object) -> dict[str, object]:
    """A row's fields, its failed checks as the numbers that disagree (each source parses its own template)."""
    import dataclasses

    fields = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}  # type: ignore[arg-type]
    fields["check_outcomes"] = [(o.check.source, o.left, o.right) for o in fields["check_outcomes"]]  # type: ignore[attr-defined]
    return fields


def test_the_observers_figures_and_their_sorts_are_the_files(qtbot, hq: tuple[Path, str]) -> None:
    """Observed turnout, gaps and flags come through db.conflicts, on both backends."""
    path, url = hq
    on_file, on_server = _window(qtbot, path), _window(qtbot, url)
    try:
        for window in (on_file, on_server):
            qtbot.waitUntil(window.stations.model.source.effective_ready, timeout=30_000)
        assert _cells(qtbot, on_server, COLUMNS) == _cells(qtbot, on_file, COLUMNS)
        for column in ("observed", "gap", "flags"):
            for descending in (False, True):
                assert _sorted_ids(on_server, column, descending) == _sorted_ids(on_file, column, descending), column
    finally:
        _close(on_file)
        _close(on_server)


def test_the_window_shows_what_another_coordinator_changed(qtbot, hq: tuple[Path, str]) -> None:
    _path, url = hq
    window = _window(qtbot, url)
    watch = window.watch
    assert watch is not None
    try:
        qtbot.waitUntil(lambda: watch.polls >= 1 and not watch.busy, timeout=30_000)  # the baseline
        model = window.stations.model
        before = model.rowCount()
        changes: list[bool] = []
        watch.changed.connect(lambda: changes.append(True))

        # Nothing changed: a poll says nothing and the table is not re-read.
        watch.poll()
        qtbot.waitUntil(lambda: not watch.busy, timeout=30_000)
        assert changes == [] and watch.polls >= 2

        page = window.stations
        new_region = "KZ-ULY"  # Ulytau, a region since 2022: not in the demo's (2021) station list
        assert new_region not in model.source.regions()
        other = ElectionStore.open(url)  # another coordinator, another connection
        try:
            other.upsert_station("999001", region=new_region, district="Медеу", registered=1234)
        finally:
            other.close()
        watch.poll()  # what the timer does every few seconds
        qtbot.waitUntil(lambda: model.rowCount() == before + 1, timeout=30_000)
        assert changes == [True]
        assert window.statusBar().currentMessage() == tr("coordui.window.others_changed")
        assert "999001" in [r[1] for r in model.source.reader.stations(model.station_ids())]
        # The count and the regions came with the id list, from the helper thread.
        assert page.region.findData(new_region) > 0
        assert str(before + 1) in page.count.text()

        # The window's own change is not news: it re-reads its pages itself, and the marker read after
        # it is the new baseline (else every decision would be read twice, the second time for nothing).
        window.store.upsert_station("999002", region="KZ-ALA", registered=10)
        window._data_changed()  # what a page's write (a merge, a decision, an import) ends with
        assert model.rowCount() == before + 1  # the id list is read on a helper thread: the rows stay meanwhile
        qtbot.waitUntil(lambda: model.rowCount() == before + 2, timeout=30_000)
        qtbot.waitUntil(lambda: not watch.busy, timeout=30_000)
        watch.poll()
        qtbot.waitUntil(lambda: not watch.busy, timeout=30_000)
        assert changes == [True]
    finally:
        _close(window)
    assert window.watch is not None and not window.watch._timer.isActive()  # closing stops the polling


def test_changes_polled_during_a_refresh_wait_for_it(qtbot, demo_file: Path, tmp_path: Path) -> None:
    """One re-read after another on a busy night, never one per poll on top of those still running."""
    path = tmp_path / "hq.baqylau"
    shutil.copyfile(demo_file, path)
    window = _window(qtbot, path)
    try:
        source = window.stations.model.source
        qtbot.waitUntil(source.effective_ready, timeout=30_000)
        refreshes: list[bool] = []
        window.dataChanged.connect(lambda: refreshes.append(True))
        window._others_changed()  # a poll saw a change: the window re-reads
        assert refreshes == [True]
        qtbot.waitUntil(source.effective_ready, timeout=30_000)
        source.invalidate()  # as while a refresh's figures are still being read
        window._others_changed()  # polls that saw more changes meanwhile wait for them
        window._others_changed()
        assert refreshes == [True]
        window.stations.model.reload()  # the figures' read runs and arrives
        qtbot.waitUntil(lambda: len(refreshes) == 2, timeout=30_000)  # then one re-read for both polls
        qtbot.waitUntil(source.effective_ready, timeout=30_000)
        assert refreshes == [True, True]
    finally:
        _close(window)


def _documented_roles(url: str) -> tuple[str, str]:
    """docs/postgresql.md's grants, as written, on the test database: (a coordinator's URL, an analyst's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        db = sql.Identifier(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
        for statement in (
            "DO $$ BEGIN CREATE ROLE baqylau_coordinator NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            "DO $$ BEGIN CREATE ROLE baqylau_analyst NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            "DO $$ BEGIN CREATE ROLE berik LOGIN IN ROLE baqylau_analyst; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        ):
            conn.execute(statement)
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO baqylau_analyst").format(db))
        conn.execute("GRANT USAGE ON SCHEMA public TO baqylau_analyst")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO baqylau_analyst")
    return url, url.replace("postgresql://postgres@", "postgresql://berik@", 1)


@pytest.fixture
def english() -> Iterator[None]:
    before = i18n.current_language()
    i18n.set_language("en")
    yield
    i18n.set_language(before)


def test_an_analyst_sees_read_only_and_cannot_start_a_write(qtbot, hq: tuple[Path, str], english: None) -> None:
    _path, url = hq
    coordinator_url, analyst_url = _documented_roles(url)
    window = _window(qtbot, analyst_url)
    try:
        assert window.read_only
        window.show()
        banner = window.read_only_banner
        assert banner.isVisible() and banner.text().startswith("Read-only: this database role may only read")
        tip = tr("coordui.read_only.tip")
        for name, action in window.actions_by_name.items():
            assert action.isEnabled() == (name not in WRITING_ACTIONS), name
            if name in WRITING_ACTIONS:
                assert action.toolTip() == tip
        assert not window.acceptDrops()  # dropped packages are not merged either
        # Everything can still be read: the stations table is the same as the coordinator's.
        assert window.stations.model.rowCount() == 60
        keys = window.show_tab("keys")
        for button in (keys.approve, keys.revoke, keys.release, keys.release_all_button, keys.import_button, keys.tofu):
            assert not button.isEnabled() and button.toolTip() == tip
        if keys.table.rowCount():
            keys.table.selectRow(0)  # selecting a key enables its buttons for a coordinator, never here
            assert not keys.approve.isEnabled() and not keys.revoke.isEnabled()
        conflicts = window.conflicts
        assert conflicts.read_only and not conflicts.record.isEnabled() and conflicts.record.toolTip() == tip
        comparison = window.comparison
        assert not comparison.rules_button.isEnabled() and comparison.rules_button.toolTip() == tip

        # The banner and the tips follow the language.
        i18n.set_language("kk")
        window.retranslate()
        assert banner.text().startswith("Тек оқу") and window.actions_by_name["merge"].toolTip().startswith("Тек оқу")
        assert keys.approve.toolTip() == tr("coordui.read_only.tip")
    finally:
        _close(window)

    coordinator = _window(qtbot, coordinator_url)
    try:
        assert not coordinator.read_only and all(a.isEnabled() for a in coordinator.actions_by_name.values())
    finally:
        _close(coordinator)


def test_a_read_only_server_is_read_only_too(hq: tuple[Path, str]) -> None:
    """A hot standby, or a database set read-only: the same banner, whatever the grants."""
    _path, url = hq
    with psycopg.connect(url, autocommit=True) as conn:
        db = sql.Identifier(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
        conn.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(db))
    reader = StationReader(url)
    try:
        assert not reader.writable()
    finally:
        reader.close()


def test_the_app_opens_a_url_without_a_lock_file_and_does_not_remember_it(
    qtbot, hq: tuple[Path, str], tmp_path: Path
) -> None:
    _path, url = hq
    main._refuse_urls(["gui", url])  # `baqylau postgresql://...` is let through to the window
    settings = Settings()
    remembered = settings.last_file
    launcher = Launcher(settings)
    try:
        window = launcher.start(url)
        assert isinstance(window, CoordinatorWindow) and window.watch is not None
        assert launcher._lock is None  # several coordinators share the database: nothing to lock
        qtbot.waitUntil(lambda: launcher.store is not None, timeout=30_000)
        assert launcher.store is not None and launcher.store.url == url
        assert settings.last_file == remembered  # a URL (maybe with a password) is never "the last file"
    finally:
        launcher.shutdown()


def test_a_server_that_cannot_be_opened_goes_back_to_the_first_screen_saying_why(qtbot, tmp_path: Path) -> None:
    from ui.first_run import FirstRunWindow

    url = f"postgresql://nobody@/nowhere?host={tmp_path}&port=1"  # no server listens there
    with pytest.raises(StorageError) as refused:
        current_hq_reader(url)  # said at once, as opening it the usual way says it (not asked twice)
    assert refused.value.key == _opening_error(url).key == "error.storage.pg_unreachable"
    launcher = Launcher(Settings())
    try:
        window = launcher.start(url)
        assert isinstance(window, FirstRunWindow) and launcher.store is None and launcher._lock is None
        shown = window.message_bar.text()
        assert "postgresql://nobody@/nowhere" in shown and shown == str(refused.value)
    finally:
        launcher.shutdown()


def _opening_error(url: str) -> StorageError:
    """What opening ``url`` the usual way says (db.engine.server_error's message)."""
    try:
        ElectionStore.open(url)
    except StorageError as exc:
        return exc
    raise AssertionError(f"{url} opened")


def test_the_table_benchmark_runs_and_finds_the_same_answers(pg_url: str, capsys) -> None:
    from benchmarks import bench_table_pg

    assert bench_table_pg.main([pg_url, "--stations", "300", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "every id by district" in out and "change marker, read in full" in out
