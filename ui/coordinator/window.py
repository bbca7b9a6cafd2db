"""The coordinator's main window: what the app opens when the election file is an HQ file.

Tabs: stations (the lazy 100,000-row table), conflicts, observed-vs-official
comparison, forensics, and keys with the import log. The toolbar holds the
actions that bring data in or out: merge packages, import the station list
and the official results, inclusion rules, and the report. After anything
changes the data, every page is told to re-read; each does so in the
background.

On a shared HQ in PostgreSQL (docs/postgresql.md) the window also re-reads when
another coordinator changed the data (:class:`ui.coordinator.watch.ChangeWatch`
polls a change marker), and a role that may only read gets a banner saying so,
with every action that writes disabled (tooltip: why) instead of failing on it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.services.hq import StoreOpener
from db.services.station_reader import StationReader
from observer.errors import BaqylauError
from observer.i18n import tr
from ui.coordinator.overview import OverviewPage
from ui.coordinator.stations import COLUMNS, StationsPage
from ui.coordinator.text import plain_labels
from ui.coordinator.watch import ChangeWatch
from ui.qt import (
    QAction,
    QCloseEvent,
    QLabel,
    QMainWindow,
    QSizePolicy,
    Qt,
    QTabWidget,
    QTimer,
    QToolBar,
    QVBoxLayout,
    QWidget,
    Signal,
    is_alive,
)
from ui.widgets.language import LanguageCombo, language_bridge

if TYPE_CHECKING:
    from db.store import ElectionStore
    from ui.coordinator.comparison import ComparisonPage
    from ui.coordinator.conflicts import ConflictsPage
    from ui.coordinator.forensics import ForensicsPage
    from ui.coordinator.imports import ImportDialog
    from ui.coordinator.keys import KeysPage
    from ui.coordinator.merge import MergeDialog
    from ui.coordinator.refused import RefusedDialog
    from ui.coordinator.report import ReportDialog
    from ui.coordinator.story import StoryDialog

TABS = ("overview", "stations", "conflicts", "comparison", "forensics", "keys")
# Pages other than the overview (the tab the window opens on) and the stations table: module and
# class, imported and built when first shown. Opening the window then reads only what its first
# screen needs (the comparison page alone would aggregate the whole election and import numpy
# before the window could appear).
LAZY_PAGES: dict[str, tuple[str, str]] = {
    "conflicts": ("ui.coordinator.conflicts", "ConflictsPage"),
    "comparison": ("ui.coordinator.comparison", "ComparisonPage"),
    "forensics": ("ui.coordinator.forensics", "ForensicsPage"),
    "keys": ("ui.coordinator.keys", "KeysPage"),
}
_OPEN_POLL_MS = 50  # how often the first tab looks whether the store has opened
# Toolbar actions that write the HQ: disabled, with the reason, for a role that may only read.
WRITING_ACTIONS = ("merge", "import_stations", "import_official", "rules")
_BANNER_STYLE = (
    "background: #fff4ce; color: #5c4400; border-bottom: 2px solid #b58100; padding: 6px 10px; font-weight: bold;"
)
KIND_STATIONS = "stations"  # ui.coordinator.imports.KIND_STATIONS, without importing the dialog
KIND_OFFICIAL = "official"


class CoordinatorWindow(QMainWindow):
    """``CoordinatorWindow(store)`` for a store whose ``role == "hq"``.

    The overview (the first tab) is built at once, and the stations page's model (the
    status bar's counts come from it); the stations table and its filters are built
    when first shown, the other tabs hold an empty frame until then (each is built
    when asked for through its attribute too, e.g. ``window.keys``). The overview
    reads its figures once the store is open.
    :meth:`opening` makes the window of a file whose store is still being
    opened: the table reads its first screen with its own ``sqlite3``
    connection, and whatever needs the store waits for it.
    """

    dataChanged = Signal()  # merged, imported, decided or rules changed

    def __init__(
        self, store: ElectionStore | StoreOpener, parent: QWidget | None = None, reader: StationReader | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("coordinatorWindow")
        self._opener = store if isinstance(store, StoreOpener) else StoreOpener.opened(store)
        self.path = self._opener.path
        self._dialogs: list[Any] = []  # open modeless dialogs, kept alive and retranslated
        self._pages: dict[str, QWidget] = {}  # the lazy pages built so far
        self._closed = False  # closeEvent ran: deferred work (the first tab) must not start
        self._holders: dict[str, QWidget] = {}

        # Its model now (the status bar's counts, the reused-photo scan), its filters and table when
        # first shown: the window opens on the overview.
        self._stations = StationsPage(self._opener, reader=reader, controls=False)
        reads = self._stations.model.source.reader
        # Asked once, as the window opens: grants do not change under a running window often enough
        # to poll them (an action refused later still says why: db.engine.server_error).
        self.read_only = not reads.writable()
        self._build_tabs()
        self._build_toolbar()
        self.status_label = QLabel()
        self.status_label.setObjectName("coordinatorStatus")
        self.statusBar().addPermanentWidget(self.status_label)
        plain_labels(self)

        self._stations.storyRequested.connect(self.open_story)
        self._stations.model.figuresReady.connect(self._figures_ready)
        self._others_pending = False  # others changed the HQ while a refresh was still being read
        language_bridge().changed.connect(lambda _lang: self.retranslate())
        self.retranslate()
        self.resize(1366, 768)
        # Seconds of thumbnail hashing at 10,000 photos: the table is usable meanwhile, flags appear
        # after. Started once the observers' figures are in, so it slows neither them nor the opening.
        self._stations.scan_reused_evidence(after_figures=True)
        # The overview's figures need the open store: read once it is, the window shows first.
        QTimer.singleShot(0, self._load_overview)
        # Package files, folders or a USB stick dropped anywhere on the window are merged.
        self.setAcceptDrops(not self.read_only)
        # Others' changes to a shared HQ: polled (a file is one coordinator's, locked to this window).
        self.watch: ChangeWatch | None = None
        if reads.on_server:
            self.watch = ChangeWatch(self._opener.target, parent=self)
            self.watch.changed.connect(self._others_changed)
            self.watch.start()

    def _build_tabs(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setObjectName("coordinatorTabs")
        self.tabs.setDocumentMode(True)
        for name in TABS:
            if name == "stations":
                self.tabs.addTab(self._stations, "")
                continue
            holder = QWidget()
            holder.setObjectName(f"{name}Tab")
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self._holders[name] = holder
            self.tabs.addTab(holder, "")
        # On screen from the first paint (counters say "…" until the figures are read), so it is
        # built now, on the store that is still opening, with the template the table's reader parsed.
        self._install(
            "overview", OverviewPage(self._opener, template=self._stations.model.source.reader.template, load=False)
        )
        self.tabs.currentChanged.connect(self._tab_shown)
        # Above the tabs, for as long as the window is open: nothing here can be changed with this role.
        self.read_only_banner = QLabel()
        self.read_only_banner.setObjectName("readOnlyBanner")
        self.read_only_banner.setWordWrap(True)
        self.read_only_banner.setStyleSheet(_BANNER_STYLE)
        self.read_only_banner.setVisible(self.read_only)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.read_only_banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

    def _load_overview(self) -> None:
        # A window closed while its store was still opening reads nothing from a store that is gone.
        if not is_alive(self) or self._closed or self.overview.reads_started:
            return
        if not self._opener.future.done():
            # Polled, not called back: the opener finishes on its own thread, which must not touch widgets.
            # Not read before: a helper thread importing SQLAlchemy would slow the window's first paint.
            QTimer.singleShot(_OPEN_POLL_MS, self._load_overview)
            return
        if self._opener.future.exception() is None:  # a file that failed to open: the app goes back to the start
            self.overview.reload()

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar()
        self.toolbar.setObjectName("coordinatorToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(self.toolbar)
        self.actions_by_name: dict[str, QAction] = {}
        actions: tuple[tuple[str, Callable[[], object]], ...] = (
            ("merge", self.open_merge),
            ("import_stations", lambda: self.open_import(KIND_STATIONS)),
            ("import_official", lambda: self.open_import(KIND_OFFICIAL)),
            ("rules", lambda: self.comparison.edit_rules()),
            ("report", self.open_report),
            ("refresh", self.refresh),
        )
        for name, slot in actions:
            action = QAction(self)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(slot)
            action.setEnabled(not (self.read_only and name in WRITING_ACTIONS))
            self.toolbar.addAction(action)
            self.actions_by_name[name] = action
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.language = LanguageCombo()
        self.toolbar.addWidget(self.language)

    @classmethod
    def opening(cls, opener: StoreOpener, reader: StationReader) -> CoordinatorWindow:
        """The window for a current HQ file (``db.services.hq.current_hq_reader``) whose store ``opener`` is still opening."""
        return cls(opener, reader=reader)

    @property
    def store(self) -> ElectionStore:
        """The open store; waits for it (a fraction of a second) if the window came up first."""
        return self._opener.result()

    # ---- lazy pages ----------------------------------------------------------------
    def _page(self, name: str) -> Any:
        page = self._pages.get(name)
        if page is None:
            module, cls = LAZY_PAGES[name]
            page = getattr(importlib.import_module(module), cls)(self.store)
            self._install(name, page)
        return page

    def _install(self, name: str, page: Any) -> None:
        """Put a tab's page in its frame and connect it."""
        self._pages[name] = page
        layout = self._holders[name].layout()
        assert layout is not None
        layout.addWidget(page)
        if name == "conflicts":
            page.decided.connect(lambda _sid: self._data_changed(except_conflicts=True))
        elif name == "comparison":
            page.rulesChanged.connect(lambda: self._data_changed(except_comparison=True))
        elif name == "keys":
            page.changed.connect(self._data_changed)
        elif name == "overview":
            page.openRequested.connect(self.open_counter)
            page.regionRequested.connect(self.open_region)
        if hasattr(page, "storyRequested"):
            page.storyRequested.connect(self.open_story)
        if self.read_only and hasattr(page, "set_read_only"):
            page.set_read_only(True)
        page.retranslate()

    def _built(self) -> list[Any]:
        return [self._pages[name] for name in TABS if name in self._pages]

    def show_tab(self, name: str) -> Any:
        """Bring tab ``name`` (one of TABS) to the front; returns its page (built on first show)."""
        if name == "stations":
            self.tabs.setCurrentWidget(self.stations)
            return self.stations
        self.tabs.setCurrentWidget(self._holders[name])  # the tab holds a frame: the page goes in it
        return self._page(name)

    def _tab_shown(self, index: int) -> None:
        if 0 <= index < len(TABS) and TABS[index] in LAZY_PAGES:
            self._page(TABS[index])

    @property
    def stations(self) -> StationsPage:
        """The stations tab's page, its filters and table built on first use (the window opens on the overview)."""
        self._stations.build()
        return self._stations

    @property
    def overview(self) -> OverviewPage:
        return self._pages["overview"]  # type: ignore[return-value]

    @property
    def conflicts(self) -> ConflictsPage:
        return self._page("conflicts")  # type: ignore[no-any-return]

    @property
    def comparison(self) -> ComparisonPage:
        return self._page("comparison")  # type: ignore[no-any-return]

    @property
    def forensics(self) -> ForensicsPage:
        return self._page("forensics")  # type: ignore[no-any-return]

    @property
    def keys(self) -> KeysPage:
        return self._page("keys")  # type: ignore[no-any-return]

    # ---- actions -----------------------------------------------------------------
    def open_merge(self) -> MergeDialog:
        from ui.coordinator.merge import MergeDialog

        dialog = MergeDialog(self.store, self)
        dialog.merged.connect(lambda _r: self._data_changed(evidence_changed=True))
        return self._show_dialog(dialog)

    def merge_dropped(self, paths: list[Path]) -> MergeDialog:
        """Merge what was dropped on the window, in the merge dialog (progress, outcomes, cancel) as "Merge…" does.

        A merge dialog already open gets the paths; it starts them at once unless it is merging.
        """
        from ui.coordinator.merge import MergeDialog

        dialog = next((d for d in self._dialogs if isinstance(d, MergeDialog)), None) or self.open_merge()
        dialog.add_paths(paths)
        if dialog.operation is None or dialog.operation.outcome != "pending":
            dialog.start()
        dialog.raise_()
        return dialog

    def dragEnterEvent(self, event: Any) -> None:  # QDragEnterEvent
        from ui.coordinator.merge import dropped_paths

        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # QDropEvent
        from ui.coordinator.merge import dropped_paths

        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.merge_dropped(paths)

    def open_import(self, kind: str) -> ImportDialog:
        from ui.coordinator.imports import ImportDialog

        dialog = ImportDialog(self.store, kind, self)
        # A new station list can give evidence a station it lacked: the reused-photo pairs change too.
        dialog.imported.connect(lambda _r: self._data_changed(evidence_changed=kind == KIND_STATIONS))
        return self._show_dialog(dialog)

    def open_refused(self) -> RefusedDialog:
        """The refused packages of the package log, with when and why (kept across merges and restarts)."""
        from ui.coordinator.refused import RefusedDialog

        return self._show_dialog(RefusedDialog(self.store, self))  # type: ignore[no-any-return]

    def open_report(self) -> ReportDialog:
        from ui.coordinator.report import ReportDialog

        return self._show_dialog(ReportDialog(self.store, self))

    def _show_dialog(self, dialog: Any) -> Any:
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _code: self._forget(dialog))
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.show()
        return dialog

    def _forget(self, dialog: Any) -> None:
        if dialog in self._dialogs:
            self._dialogs.remove(dialog)
        dialog.deleteLater()

    def open_conflict(self, station_id: str) -> bool:
        """Show the station's versions on the conflicts tab; False if it has no conflict."""
        if "conflicts" in self._pages:
            found = self.conflicts.select_station(station_id)
        else:
            found = self.conflicts.load_now(station_id)  # first use: its background read would come too late
        if found:
            self.tabs.setCurrentWidget(self._holders["conflicts"])
        return bool(found)

    def _station_activated(self, station_id: str) -> None:
        self.open_conflict(station_id)  # what a double-click did before the story dialog (tests call it)

    def open_story(self, station_id: str, ids: list[str] | None = None) -> StoryDialog:
        """The station's whole story in one dialog; ``ids``: the list it was opened from (for next / previous)."""
        from ui.coordinator.story import StoryDialog

        for dialog in self._dialogs:
            if isinstance(dialog, StoryDialog):
                dialog.show_station(station_id, ids)
                dialog.raise_()
                return dialog
        dialog = StoryDialog(self.store, station_id, ids, self)
        dialog.conflictRequested.connect(self.open_conflict)
        return self._show_dialog(dialog)  # type: ignore[no-any-return]

    def open_counter(self, name: str) -> None:
        """An overview counter was clicked: the list behind it."""
        from db.services.station_table import StationFilter

        if name == "undecided":
            self.show_tab("conflicts")
            return
        if name == "refused":
            self.open_refused()
            return
        if name == "held":
            self.show_tab("keys")
            return
        ov = self.overview.overview
        self.show_tab("stations")
        if name in ("gaps", "checks") and ov is not None:
            # The very stations the counter counted: the report's gaps (the head-count where there is one),
            # the protocols `baqylau check` finds (official results and every observer's version).
            only = ov.gap_stations if name == "gaps" else ov.check_stations
            self.stations.show_filtered(StationFilter(only=only), picked=name, threshold=ov.gap_threshold)
            if name == "gaps":  # the largest official excess first
                header = self.stations.view.horizontalHeader()
                header.setSortIndicator(COLUMNS.index("gap"), Qt.SortOrder.AscendingOrder)
            return
        filters = {
            "reported": StationFilter(observed=True),
            "disputed": StationFilter(disputed=True),
            "serious": StationFilter(has_violations=True),
        }
        self.stations.show_filtered(filters.get(name, StationFilter()))

    def open_region(self, codes: list[str]) -> None:
        """A region of the overview's map was clicked: its stations. The table filters by one region, so a
        shape drawn for two units (a region split after the map's data) opens the first one with stations."""
        from db.services.station_table import StationFilter

        listed = set(self._stations.model.source.regions())
        region = next((c for c in codes if c in listed), "")
        if not region:
            return
        self.show_tab("stations")
        self.stations.show_filtered(StationFilter(region=region))

    # ---- refreshing --------------------------------------------------------------
    def refresh(self) -> None:
        self._data_changed(evidence_changed=True)

    def _others_changed(self) -> None:
        """Another coordinator merged, imported or decided on the shared HQ: every page re-reads.

        While the observers' figures of the last refresh are still being read (seconds on a large
        HQ), the next refresh waits for them: during a busy night one re-read after another, never
        one started per poll on top of those still running.
        """
        source = self._stations.model.source
        if not source.effective_ready():
            self._others_pending = True
            return
        self._others_pending = False
        self._data_changed(evidence_changed=True, by_others=True)
        self.statusBar().showMessage(tr("coordui.window.others_changed"), 10_000)

    def _figures_ready(self) -> None:
        self._update_status()
        if self._others_pending:
            self._others_changed()

    def _data_changed(
        self,
        *,
        except_conflicts: bool = False,
        except_comparison: bool = False,
        evidence_changed: bool = False,
        by_others: bool = False,
    ) -> None:
        if self.watch is not None and not by_others:
            self.watch.rebase()  # this window's own change moved the marker: not news for the next poll
        self._stations.refresh()
        if evidence_changed:
            self._stations.scan_reused_evidence()
        # Pages not built yet read fresh data when first shown.
        if not except_conflicts and "conflicts" in self._pages:
            self.conflicts.reload()
        if not except_comparison and "comparison" in self._pages:
            self.comparison.reload()
        if "keys" in self._pages:
            self.keys.reload()
        if "overview" in self._pages:
            self.overview.reload()
        self._update_status()
        self.dataChanged.emit()

    def _update_status(self) -> None:
        source = self._stations.model.source
        total = source.total()
        failed = source.effective_error()
        if failed is not None:
            problem = str(failed) if isinstance(failed, BaqylauError) else (str(failed).splitlines() or [""])[0][:200]
            self.status_label.setText(
                tr("coordui.window.status_failed", file=self._opener.location, stations=total, problem=problem)
            )
            return
        if not source.effective_ready():
            # Never block the window on the background read: say what is still coming.
            self.status_label.setText(tr("coordui.window.status_loading", file=self._opener.location, stations=total))
            return
        eff = source.effective
        self.status_label.setText(
            tr(
                "coordui.window.status",
                file=self._opener.location,
                stations=total,
                observed=len(eff.by_station),
                disputed=len(eff.disputed | eff.unresolved),
            )
        )

    # ---- language ------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(tr("coordui.window.title", file=self._opener.location))
        self.read_only_banner.setText(tr("coordui.read_only.banner"))
        for i, name in enumerate(TABS):
            self.tabs.setTabText(i, tr(f"coordui.tab.{name}"))
        for name, action in self.actions_by_name.items():
            action.setText(tr(f"coordui.action.{name}"))
            locked = self.read_only and name in WRITING_ACTIONS
            action.setToolTip(tr("coordui.read_only.tip") if locked else tr(f"coordui.action_tip.{name}"))
        for page in [self._stations, *self._built()]:
            page.retranslate()
        for dialog in self._dialogs:
            dialog.retranslate()
        self._update_status()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        for dialog in list(self._dialogs):
            dialog.close()
        # Quitting must not wait for reads nobody will see (the reused-photo scan takes seconds).
        if self.watch is not None:
            self.watch.stop()
        self._stations.stop_background()
        self._stations.model.source.close()
        super().closeEvent(event)
