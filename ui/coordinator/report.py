"""Report dialog: build the observation report PDF in the background and preview it in the app.

The PDF is built into the per-user folder (``<BAQYLAU_HOME>/reports``) and
shown with QtPdf (``QPdfDocument`` + ``QPdfView``, from the PySide6-Pdf wheel, a
dependency like the others); "Save as…" copies it where the coordinator wants it
and "Open" hands it to the system viewer.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from db.store import ElectionStore
from observer import i18n
from observer.errors import StorageError
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.paths import app_home
from ui.coordinator.text import plain_labels
from ui.input_guard import ComboBox
from ui.operations import Operation, OperationContext, show_error
from ui.qt import (
    QDesktopServices,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPdfDocument,
    QPdfView,
    QPushButton,
    QSplitter,
    Qt,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.settings import Settings
from ui.widgets.dialogs import ask_save_file

if TYPE_CHECKING:
    from reports.build import ReportInfo


SAVE_PURPOSE = "report"  # Settings.last_folder: where the last report was saved


def _progress_adapter(ctx: OperationContext) -> Callable[[str, int], None]:
    """ReportLab's progress events -> the operation's progress; Cancel aborts the build there."""
    state = {"total": 0, "pass": 0}

    def on_event(kind: str, value: int) -> None:
        ctx.check()  # raising inside ReportLab's build unwinds it; build_report removes the partial file
        if kind == "SIZE_EST":
            state["total"] = value
            state["pass"] += 1
        elif kind == "PROGRESS" and state["total"]:
            ctx.progress(value, state["total"], tr("coordui.report.pass", n=state["pass"]))

    return on_event


class ReportDialog(QDialog):
    """Language, title, organisation, logo -> PDF; then preview, open or save it."""

    built = Signal(object)  # ReportInfo

    def __init__(self, store: ElectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reportDialog")
        self.store = store
        self.info: ReportInfo | None = None
        self.operation: Operation[ReportInfo] | None = None
        settings = Settings()

        self.lang = ComboBox()
        self.lang.setObjectName("reportLanguage")
        for code in i18n.LANGUAGES:
            self.lang.addItem(i18n.LANGUAGE_NAMES[code], code)
        self.lang.setCurrentIndex(i18n.LANGUAGES.index(i18n.current_language()))
        self.title = QLineEdit()
        self.title.setObjectName("reportTitle")
        hq_observer = store.observer()
        self.org = QLineEdit(
            store.meta("organisation") or settings.organisation or (hq_observer.organisation if hq_observer else "")
        )
        self.org.setObjectName("reportOrganisation")
        self.logo = QLineEdit()
        self.logo.setObjectName("reportLogo")
        self.logo_button = QPushButton()
        self.logo_button.clicked.connect(self._pick_logo)
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo, 1)
        logo_row.addWidget(self.logo_button)
        self.labels = {k: QLabel() for k in ("lang", "title", "org", "logo")}
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # labels above: the fields get the full width
        form.addRow(self.labels["lang"], self.lang)
        form.addRow(self.labels["title"], self.title)
        form.addRow(self.labels["org"], self.org)
        form.addRow(self.labels["logo"], logo_row)

        self.build_button = QPushButton()
        self.build_button.setObjectName("buildReport")
        self.open_button = QPushButton()
        self.save_button = QPushButton()
        self.open_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.status = QLabel()
        self.status.setObjectName("reportStatus")
        self.status.setWordWrap(True)
        buttons = QVBoxLayout()
        buttons.addWidget(self.build_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.status)
        buttons.addStretch()

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addLayout(form)
        sl.addLayout(buttons)

        self.document = QPdfDocument(self)
        self.preview = QPdfView(self)
        self.preview.setObjectName("reportPreview")
        self.preview.setDocument(self.document)
        self.preview.setPageMode(QPdfView.PageMode.MultiPage)
        self.preview.setZoomMode(QPdfView.ZoomMode.FitToWidth)

        split = QSplitter()
        split.addWidget(side)
        split.addWidget(self.preview)
        split.setStretchFactor(1, 3)
        split.setSizes([400, 860])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.resize(1200, 720)
        plain_labels(self)

        self.build_button.clicked.connect(self.start)
        self.lang.currentIndexChanged.connect(
            lambda _i: self.title.setPlaceholderText(tr("report.default_title", self.lang.currentData()))
        )
        self.open_button.clicked.connect(self.open_external)
        self.save_button.clicked.connect(self.save_as)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("coordui.report.title"))
        self.labels["lang"].setText(tr("coordui.report.lang"))
        self.labels["title"].setText(tr("coordui.report.doc_title"))
        self.labels["org"].setText(tr("coordui.report.org"))
        self.labels["logo"].setText(tr("coordui.report.logo"))
        self.title.setPlaceholderText(tr("report.default_title", self.lang.currentData()))
        self.logo_button.setText(tr("coordui.browse"))
        self.build_button.setText(tr("coordui.report.build"))
        self.open_button.setText(tr("coordui.report.open"))
        self.save_button.setText(tr("coordui.report.save"))

    def _pick_logo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, tr("coordui.report.logo"), "", tr("coordui.filter.images"))
        if path:
            self.logo.setText(path)

    def output_path(self) -> Path:
        folder = app_home() / "reports"
        return folder / f"{self.store.path.stem}-{self.lang.currentData()}.pdf"

    def start(self) -> Operation[ReportInfo]:
        lang = str(self.lang.currentData())
        title = self.title.text().strip() or None
        org = self.org.text().strip()
        logo = self.logo.text().strip() or None
        out = self.output_path()
        store = self.store
        self.document.close()  # the file is about to be replaced
        self.build_button.setEnabled(False)
        self.status.setText(tr("coordui.report.building"))

        def job(ctx: OperationContext) -> ReportInfo:
            from reports.build import build_report  # ReportLab is loaded when a report is wanted, not at start-up

            return build_report(store, out, lang, title=title, org=org, logo=logo, progress=_progress_adapter(ctx))

        op: Operation[ReportInfo] = Operation(self, job, title=tr("coordui.report.building"))
        op.success(self._done).on_cancel(lambda: self.status.setText(tr("coordui.report.cancelled")))
        op.failure(self._failed)
        op.finished.connect(lambda: self.build_button.setEnabled(True))
        self.operation = op
        if org and org != Settings().organisation:
            Settings().organisation = org
        return op.run_in_background()

    def _failed(self, exc: BaseException) -> bool:
        self.status.setText(tr("coordui.report.failed"))
        return False  # the default handler shows (or logs) it

    def _done(self, info: ReportInfo) -> None:
        from reports.fingerprint import short_fingerprint

        self.info = info
        self.status.setText(
            tr(
                "coordui.report.done",
                pages=info.pages,
                seconds=formatter(current_language()).num(info.seconds),
                fingerprint=short_fingerprint(info.fingerprint),
            )
        )
        self.open_button.setEnabled(True)
        self.save_button.setEnabled(True)
        self.document.load(str(info.path))
        self.built.emit(info)

    def open_external(self) -> bool:
        """Hand the PDF to the system's viewer; without one, say so and where the file is (False)."""
        if self.info is None:
            return False
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.info.path))):
            return True
        text = tr("coordui.report.no_viewer", file=str(self.info.path))
        self.status.setText(text)
        box = QMessageBox(
            QMessageBox.Icon.Warning, tr("coordui.report.open"), text, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("noPdfViewer")
        box.setTextFormat(Qt.TextFormat.PlainText)  # the path is the user's own
        box.open()
        return False

    def save_as(self, target: str | None = None) -> Path | None:
        """Copy the PDF where the coordinator wants it; the dialog starts in the folder used last time."""
        if self.info is None:
            return None
        if not target:
            folder = Settings().last_folder(SAVE_PURPOSE)
            start = (folder if folder is not None and folder.is_dir() else Path.home()) / self.info.path.name
            chosen = ask_save_file(self, tr("coordui.report.save"), tr("coordui.filter.pdf"), start)
            if chosen is None:
                return None
            target = str(chosen)
        dest = Path(target)
        if dest.suffix.lower() != ".pdf":
            dest = dest.with_name(dest.name + ".pdf")
        try:
            shutil.copyfile(self.info.path, dest)
        except OSError as exc:
            show_error(self, StorageError("error.storage.io", file=str(dest), problem=exc.strerror or str(exc)))
            return None
        Settings().remember_folder(SAVE_PURPOSE, dest.parent)
        self.status.setText(tr("coordui.report.saved", file=str(dest)))
        return dest
