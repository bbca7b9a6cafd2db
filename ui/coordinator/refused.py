"""The refused packages of the HQ's package log, with when and why: what the overview's "refused" opens.

The log outlives the merge dialog (db.merge keeps each refusal in the HQ file), so
a coordinator who closed the dialog, or restarted the app, still finds which file
was refused and the reason to tell its observer. Read in the background.
"""

from __future__ import annotations

from db.services.overview import RefusedPackage, refused_packages
from db.store import ElectionStore
from observer.i18n import tr
from ui.coordinator.text import plain_labels, plain_tooltip
from ui.operations import Operation, run_query
from ui.qt import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    is_alive,
)

COLUMNS = ("file", "time", "station", "reason")


class RefusedDialog(QDialog):
    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refusedDialog")
        self.store = store
        self.entries: list[RefusedPackage] | None = None
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("refusedLog")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # The selected refusal's whole reason: it rarely fits a cell.
        self.detail = QLabel()
        self.detail.setObjectName("refusedDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.reject)
        self.table.currentCellChanged.connect(lambda row, *_: self._show_detail(row))
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        bottom = QHBoxLayout()
        bottom.addStretch()
        bottom.addWidget(self.close_button)
        layout.addLayout(bottom)
        self.resize(980, 520)
        plain_labels(self)
        self.retranslate()
        self.operation: Operation[list[RefusedPackage]] = self.reload()

    def reload(self) -> Operation[list[RefusedPackage]]:
        store = self.store

        def loaded(entries: list[RefusedPackage]) -> None:
            if is_alive(self):
                self.entries = entries
                self._fill()

        self.operation = run_query(self, lambda _ctx: refused_packages(store), loaded)
        return self.operation

    def _fill(self) -> None:
        entries = self.entries or []
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            cells = (e.file_name, e.at.astimezone().strftime("%Y-%m-%d %H:%M"), e.station_code, e.reason)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c in (0, 3) and text:
                    item.setToolTip(plain_tooltip(text))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), 320))
        self.table.horizontalHeader().setStretchLastSection(True)
        if entries:
            self.table.setCurrentCell(0, 0)
        self._show_detail(0 if entries else -1)

    def _show_detail(self, row: int) -> None:
        if self.entries is not None and not self.entries:
            self.detail.setText(tr("coordui.refused.none"))
            return
        item = self.table.item(row, 3) if row >= 0 else None
        self.detail.setText(item.text() if item is not None else "")

    def rows(self) -> list[tuple[str, str, str]]:
        """(file, time, reason) as shown (for tests)."""

        def text(r: int, c: int) -> str:
            item = self.table.item(r, c)
            return item.text() if item is not None else ""

        return [(text(r, 0), text(r, 1), text(r, 3)) for r in range(self.table.rowCount())]

    def retranslate(self) -> None:
        self.setWindowTitle(tr("coordui.refused.title"))
        self.intro.setText(tr("coordui.refused.intro"))
        self.close_button.setText(tr("coordui.close"))
        self.table.setHorizontalHeaderLabels([tr(f"coordui.refused.col.{c}") for c in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        if self.entries is not None and not self.entries:
            self._show_detail(-1)
