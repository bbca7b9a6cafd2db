"""The coordinator's main window: what the app opens when the election file is an HQ file.

Tabs: stations (the lazy 100,000-row table), conflicts, observed-vs-official
comparison, forensics, and keys with the import log. The toolbar holds the
actions that bring data in or out: merge packages, import the station list
and the official results, inclusion rules, and the report. After anything
changes the data, every page is told to re-read; each does so in the
background.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QSizePolicy, QTabWidget, QToolBar, QWidget

from db.store import ElectionStore
from observer.i18n import tr
from ui.coordinator.comparison import ComparisonPage
from ui.coordinator.conflicts import ConflictsPage
from ui.coordinator.forensics import ForensicsPage
from ui.coordinator.imports import KIND_OFFICIAL, KIND_STATIONS, ImportDialog
from ui.coordinator.keys import KeysPage
from ui.coordinator.merge import MergeDialog
from ui.coordinator.report import ReportDialog
from ui.coordinator.stations import StationsPage
from ui.coordinator.text import plain_labels
from ui.widgets.language import LanguageCombo, language_bridge

TABS = ("stations", "conflicts", "comparison", "forensics", "keys")


class CoordinatorWindow(QMainWindow):
    """``CoordinatorWindow(store)`` for a store whose ``role == "hq"``."""

    dataChanged = Signal()  # merged, imported, decided or rules changed

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("coordinatorWindow")
        self.store = store
        self._dialogs: list[Any] = []  # open modeless dialogs, kept alive and retranslated

        self.stations = StationsPage(store)
        self.conflicts = ConflictsPage(store)
        self.comparison = ComparisonPage(store)
        self.forensics = ForensicsPage(store)
        self.keys = KeysPage(store)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("coordinatorTabs")
        self.tabs.setDocumentMode(True)
        for page in (self.stations, self.conflicts, self.comparison, self.forensics, self.keys):
            self.tabs.addTab(page, "")
        self.setCentralWidget(self.tabs)

        self.toolbar = QToolBar()
        self.toolbar.setObjectName("coordinatorToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(self.toolbar)
        self.actions_by_name: dict[str, QAction] = {}
        for name, slot in (
            ("merge", self.open_merge),
            ("import_stations", lambda: self.open_import(KIND_STATIONS)),
            ("import_official", lambda: self.open_import(KIND_OFFICIAL)),
            ("rules", self.comparison.edit_rules),
            ("report", self.open_report),
            ("refresh", self.refresh),
        ):
            action = QAction(self)
            action.setObjectName(f"action_{name}")
            action.triggered.connect(slot)
            self.toolbar.addAction(action)
            self.actions_by_name[name] = action
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.language = LanguageCombo()
        self.toolbar.addWidget(self.language)

        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)
        plain_labels(self)

        self.stations.stationActivated.connect(self._station_activated)
        self.conflicts.decided.connect(lambda _sid: self._data_changed(except_conflicts=True))
        self.comparison.rulesChanged.connect(lambda: self._data_changed(except_comparison=True))
        self.keys.changed.connect(self._data_changed)
        language_bridge().changed.connect(lambda _lang: self.retranslate())
        self.retranslate()
        self.resize(1366, 768)
        # Seconds of thumbnail hashing at 10,000 photos: the table is usable meanwhile, flags appear after.
        self.stations.scan_reused_evidence()

    # ---- actions -----------------------------------------------------------------
    def open_merge(self) -> MergeDialog:
        dialog = MergeDialog(self.store, self)
        dialog.merged.connect(lambda _r: self._data_changed(evidence_changed=True))
        return self._show_dialog(dialog)

    def open_import(self, kind: str) -> ImportDialog:
        dialog = ImportDialog(self.store, kind, self)
        # A new station list can give evidence a station it lacked: the reused-photo pairs change too.
        dialog.imported.connect(lambda _r: self._data_changed(evidence_changed=kind == KIND_STATIONS))
        return self._show_dialog(dialog)

    def open_report(self) -> ReportDialog:
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

    def _station_activated(self, station_id: str) -> None:
        if self.conflicts.select_station(station_id):
            self.tabs.setCurrentWidget(self.conflicts)

    # ---- refreshing --------------------------------------------------------------
    def refresh(self) -> None:
        self._data_changed(evidence_changed=True)

    def _data_changed(self, *, except_conflicts: bool = False, except_comparison: bool = False, evidence_changed: bool = False) -> None:
        self.stations.refresh()
        if evidence_changed:
            self.stations.scan_reused_evidence()
        if not except_conflicts:
            self.conflicts.reload()
        if not except_comparison:
            self.comparison.reload()
        self.keys.reload()
        self._update_status()
        self.dataChanged.emit()

    def _update_status(self) -> None:
        total = self.store.station_count()
        eff = self.stations.model.source.effective
        self.status_label.setText(
            tr(
                "coordui.window.status",
                file=self.store.path.name,
                stations=total,
                observed=len(eff.by_station),
                disputed=len(eff.disputed | eff.unresolved),
            )
        )

    # ---- language ------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(tr("coordui.window.title", file=self.store.path.name))
        for i, name in enumerate(TABS):
            self.tabs.setTabText(i, tr(f"coordui.tab.{name}"))
        for name, action in self.actions_by_name.items():
            action.setText(tr(f"coordui.action.{name}"))
            action.setToolTip(tr(f"coordui.action_tip.{name}"))
        for page in (self.stations, self.conflicts, self.comparison, self.forensics, self.keys):
            page.retranslate()
        for dialog in self._dialogs:
            dialog.retranslate()
        self._update_status()

    def closeEvent(self, event: QCloseEvent) -> None:
        for dialog in list(self._dialogs):
            dialog.close()
        super().closeEvent(event)
