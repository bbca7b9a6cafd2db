"""Import dialogs: official results and the station list, from a CSV and a mapping file.

Both imports are all-or-nothing in ``db/``; when rows are refused the dialog
lists every problem with its line number so the coordinator can fix the file
and try again, and nothing was written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from db.official import import_official
from db.stations_import import import_stations
from db.store import ElectionStore
from observer.csvio import ImportReport, RowsRefused
from observer.errors import BaqylauError
from observer.i18n import tr
from ui.coordinator.text import plain_labels
from ui.operations import Operation
from ui.qt import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)

KIND_OFFICIAL = "official"
KIND_STATIONS = "stations"


class _PathField(QWidget):
    """A path line edit with a "Browse…" button."""

    def __init__(self, browse: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.button = QPushButton()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)
        self.button.clicked.connect(lambda: self._pick(browse))

    def _pick(self, browse: Callable[[], str]) -> None:
        path = browse()
        if path:
            self.edit.setText(path)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text) if text else None


class ImportDialog(QDialog):
    """Choose a CSV (and its mapping), import in the background, show the outcome or the refused rows."""

    imported = Signal(object)  # ImportReport

    def __init__(self, store: ElectionStore, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"import_{kind}")
        self.store = store
        self.kind = kind
        self.operation: Operation[ImportReport] | None = None
        self.report: ImportReport | None = None

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.csv = _PathField(lambda: self._browse("csv"))
        self.mapping = _PathField(lambda: self._browse("toml"))
        self.csv_label = QLabel()
        self.map_label = QLabel()
        form = QFormLayout()
        form.addRow(self.csv_label, self.csv)
        form.addRow(self.map_label, self.mapping)
        self.outcome_label = QLabel()
        self.outcome_label.setObjectName("importResult")
        self.outcome_label.setWordWrap(True)
        self.outcome_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems = QTableWidget(0, 2)
        self.problems.setObjectName("importProblems")
        self.problems.verticalHeader().hide()
        self.problems.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.problems.horizontalHeader().setStretchLastSection(True)
        self.problems.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.problems.hide()
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.ActionRole)
        self.run_button.setObjectName("runImport")
        self.close_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button.clicked.connect(self.reject)
        self.run_button.clicked.connect(self.start)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.outcome_label)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.buttons)
        self.resize(760, 460)
        plain_labels(self)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr(f"coordui.import.{self.kind}.title"))
        self.intro.setText(tr(f"coordui.import.{self.kind}.intro"))
        self.csv_label.setText(tr("coordui.import.csv"))
        self.map_label.setText(
            tr("coordui.import.mapping") if self.kind == KIND_OFFICIAL else tr("coordui.import.mapping_optional")
        )
        for f in (self.csv, self.mapping):
            f.button.setText(tr("coordui.browse"))
        self.run_button.setText(tr("coordui.import.run"))
        self.close_button.setText(tr("coordui.close"))
        self.problems.setHorizontalHeaderLabels([tr("coordui.import.line"), tr("coordui.import.problem")])

    def _browse(self, ext: str) -> str:
        pattern = tr("coordui.filter.csv") if ext == "csv" else tr("coordui.filter.toml")
        path, _ = QFileDialog.getOpenFileName(self, tr(f"coordui.import.pick_{ext}"), "", pattern)
        return path

    def start(self) -> Operation[ImportReport] | None:
        csv_path = self.csv.path()
        map_path = self.mapping.path()
        if csv_path is None or (self.kind == KIND_OFFICIAL and map_path is None):
            self.outcome_label.setText(tr("coordui.import.choose_files"))
            return None
        self.problems.hide()
        self.problems.setRowCount(0)
        self.outcome_label.setText(tr("coordui.import.running"))
        self.run_button.setEnabled(False)
        store = self.store
        if self.kind == KIND_OFFICIAL:
            assert map_path is not None
            job: Callable[[object], ImportReport] = lambda _ctx: import_official(store, csv_path, map_path)
        else:
            job = lambda _ctx: import_stations(store, csv_path, map_path)
        op: Operation[ImportReport] = Operation(self, job, title=tr("coordui.import.running"), cancellable=False)
        op.success(self._done).failure(self._failed)
        op.finished.connect(lambda: self.run_button.setEnabled(True))
        self.operation = op
        return op.run_in_background()

    def _done(self, report: ImportReport) -> None:
        self.report = report
        self.outcome_label.setText(report.summary())
        self.imported.emit(report)

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, RowsRefused):
            text = str(exc)
            if len(exc.problems) < exc.total:
                text += "\n" + tr("coordui.import.first_problems", shown=len(exc.problems), total=exc.total)
            self.outcome_label.setText(text)
            self.problems.setRowCount(len(exc.problems))
            for row, p in enumerate(exc.problems):
                line = QTableWidgetItem(str(p.line))
                line.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.problems.setItem(row, 0, line)
                self.problems.setItem(row, 1, QTableWidgetItem(p.message))
            self.problems.show()
            return True
        if isinstance(exc, BaqylauError):
            self.outcome_label.setText(str(exc))
            return True
        return False  # a bug: the default handler logs it and says so
