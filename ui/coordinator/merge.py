"""Merge dialog: pick package files and folders, merge them in the background, show each outcome.

Verification and merging happen in :func:`db.merge.merge_packages` on a worker
thread; this dialog only collects paths, shows progress with a Cancel button
(the merge stops between packages, so every package is either fully merged or
untouched), and lists what happened to every package: merged, already merged
(duplicate), held until its key is trusted, or refused with the reason.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from db.merge import DUPLICATE, HELD, MERGED, OUTCOMES, REFUSED, MergeReport, PackageOutcome, merge_packages
from db.store import ElectionStore
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.package import SUFFIX
from observer.sealed import is_sealed_name, load_org_private, org_fingerprint
from ui.coordinator.text import plain_labels, plain_tooltip
from ui.operations import Operation, OperationContext
from ui.qt import (
    QAbstractItemView,
    QBrush,
    QColor,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.settings import Settings
from ui.widgets.dialogs import ask_open_file

_OUTCOME_COLOURS = {
    MERGED: QColor(200, 230, 201),
    DUPLICATE: QColor(236, 239, 241),
    HELD: QColor(255, 236, 179),
    REFUSED: QColor(255, 205, 210),
}
RESULT_COLUMNS = ("file", "outcome", "station", "signer", "reason")


def dropped_paths(mime: Any) -> list[Path]:
    """Local files and folders in a drop's MIME data (a USB stick's folder is one): what "Add…" would add."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class MergeDialog(QDialog):
    merged = Signal(object)  # MergeReport, after a merge (also a cancelled one) finished

    def __init__(self, store: ElectionStore, parent: QWidget | None = None, settings: Settings | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mergeDialog")
        self.store = store
        self.settings = settings or Settings()
        self.report: MergeReport | None = None
        self.operation: Operation[MergeReport] | None = None

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_intro())
        layout.addLayout(self._build_paths(), 1)
        layout.addLayout(self._build_org_key())
        layout.addLayout(self._build_run())
        results = self._build_results()
        layout.addWidget(self.progress_text)
        layout.addWidget(self.summary)
        layout.addWidget(results, 2)
        layout.addWidget(self.detail)
        bottom = QHBoxLayout()
        bottom.addStretch()
        bottom.addWidget(self.close_button)
        layout.addLayout(bottom)
        self.resize(980, 640)
        # Package files, folders or a USB stick dropped on the dialog join the list (as "Add…" does).
        self.setAcceptDrops(True)

        self.add_files.clicked.connect(self._pick_files)
        self.add_folder.clicked.connect(self._pick_folder)
        self.remove.clicked.connect(self._remove_selected)
        self.org_key_button.clicked.connect(self._pick_org_key)
        self.org_key_clear.clicked.connect(lambda: self.set_org_key(None))
        self.merge_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.results.currentCellChanged.connect(lambda row, *_: self._show_detail(row))
        plain_labels(self)
        self.retranslate()

    def _build_intro(self) -> QLabel:
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        return self.intro

    def _build_paths(self) -> QHBoxLayout:
        self.paths = QListWidget()
        self.paths.setObjectName("mergePaths")
        self.paths.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.paths.setMaximumHeight(5 * self.fontMetrics().height() + 12)
        self.add_files = QPushButton()
        self.add_folder = QPushButton()
        self.remove = QPushButton()
        side = QVBoxLayout()
        for b in (self.add_files, self.add_folder, self.remove):
            side.addWidget(b)
        side.addStretch()
        top = QHBoxLayout()
        top.addWidget(self.paths, 1)
        top.addLayout(side)
        return top

    def _build_org_key(self) -> QHBoxLayout:
        # The organisation's private key opens sealed packages; only its path is remembered.
        self.org_key_label = QLabel()
        self.org_key_label.setObjectName("mergeOrgKey")
        self.org_key_label.setWordWrap(True)
        self.org_key_button = QPushButton()
        self.org_key_button.setObjectName("chooseOrgKey")
        self.org_key_clear = QPushButton()
        self.org_key_clear.setObjectName("clearOrgKey")
        key_row = QHBoxLayout()
        key_row.addWidget(self.org_key_label, 1)
        key_row.addWidget(self.org_key_button)
        key_row.addWidget(self.org_key_clear)
        return key_row

    def _build_run(self) -> QHBoxLayout:
        self.progress = QProgressBar()
        self.progress.setObjectName("mergeProgress")
        self.progress.setTextVisible(True)
        self.progress_text = QLabel()
        self.progress_text.setObjectName("mergeProgressText")
        self.merge_button = QPushButton()
        self.merge_button.setObjectName("startMerge")
        self.merge_button.setDefault(True)
        self.cancel_button = QPushButton()
        self.cancel_button.setObjectName("cancelMerge")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton()
        run = QHBoxLayout()
        run.addWidget(self.progress, 1)
        run.addWidget(self.merge_button)
        run.addWidget(self.cancel_button)
        return run

    def _build_results(self) -> QTableWidget:
        self.summary = QLabel()
        self.summary.setObjectName("mergeSummary")
        self.summary.setWordWrap(True)
        self.results = QTableWidget(0, len(RESULT_COLUMNS))
        self.results.setObjectName("mergeResults")
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.verticalHeader().hide()
        self.results.horizontalHeader().setStretchLastSection(True)
        self.results.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.results.setWordWrap(False)
        self.results.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # The full reason of the selected package, since a refusal reason rarely fits a cell.
        self.detail = QLabel()
        self.detail.setObjectName("mergeDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return self.results

    # ---- drag and drop -----------------------------------------------------
    def dragEnterEvent(self, event: Any) -> None:  # QDragEnterEvent
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # QDropEvent
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # ---- paths -------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> None:
        have = set(self.chosen_paths())
        for p in paths:
            if p not in have:
                self.paths.addItem(str(p))
                have.add(p)
        self._update_buttons()

    def chosen_paths(self) -> list[Path]:
        return [Path(self.paths.item(i).text()) for i in range(self.paths.count())]

    def _pick_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, tr("coordui.merge.pick_files"), "", tr("coordui.filter.packages", suffix=SUFFIX)
        )
        self.add_paths([Path(f) for f in files])

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, tr("coordui.merge.pick_folder"))
        if folder:
            self.add_paths([Path(folder)])

    def _remove_selected(self) -> None:
        for item in self.paths.selectedItems():
            self.paths.takeItem(self.paths.row(item))
        self._update_buttons()

    # ---- organisation key ----------------------------------------------------
    def _pick_org_key(self) -> None:
        current = self.settings.org_private_key_path
        path = ask_open_file(
            self, tr("coordui.merge.org_key_pick"), "PEM (*.pem);;* (*)", current.parent if current else None
        )
        if path is not None:
            self.set_org_key(path)

    def set_org_key(self, path: Path | None) -> bool:
        """Remember the organisation's private key file (None forgets it); False if ``path`` is not one.

        A file that is not a key is refused at once, with the reason shown beside
        the button, rather than at merge time in every sealed package's row.
        """
        if path is not None:
            try:
                load_org_private(path)
            except BaqylauError as exc:
                self._show_org_key(error=str(exc))
                return False
        self.settings.org_private_key_path = path
        self._show_org_key()
        return True

    def _load_org_key(self) -> tuple[X25519PrivateKey | None, str]:
        """The remembered key, or None and the translated reason it cannot be read now."""
        path = self.settings.org_private_key_path
        if path is None:
            return None, ""
        try:
            return load_org_private(path), ""
        except BaqylauError as exc:
            return None, str(exc)

    def _show_org_key(self, error: str = "") -> None:
        path = self.settings.org_private_key_path
        if error:
            text = error
        elif path is None:
            text = tr("coordui.merge.org_key_none")
        else:
            key, problem = self._load_org_key()
            text = (
                tr("coordui.merge.org_key_shown", file=path.name, fingerprint=org_fingerprint(key))
                if key is not None
                else problem
            )
        self.org_key_label.setText(text)
        self.org_key_clear.setVisible(path is not None)

    def _update_buttons(self, running: bool = False) -> None:
        self.merge_button.setEnabled(not running and self.paths.count() > 0)
        self.cancel_button.setEnabled(running)
        for b in (self.add_files, self.add_folder, self.remove, self.org_key_button, self.org_key_clear):
            b.setEnabled(not running)
        self.close_button.setEnabled(not running)

    # ---- merging -------------------------------------------------------------
    def start(self) -> Operation[MergeReport] | None:
        paths = self.chosen_paths()
        if not paths:
            return None
        store = self.store
        self.results.setRowCount(0)
        self.summary.clear()
        self.progress.setRange(0, 0)
        self.progress_text.setText(tr("coordui.merge.scanning"))
        self._update_buttons(running=True)

        org_key, key_problem = self._load_org_key()

        def job(ctx: OperationContext) -> MergeReport:
            report = merge_packages(
                store, paths, progress=ctx.progress, cancel=ctx.is_cancelled, org_key=org_key, read_ahead=True
            )
            if org_key is None:
                report.entries = [_explain_missing_key(e, key_problem) for e in report.entries]
            return report

        op: Operation[MergeReport] = Operation(self, job, show_progress=False)
        op.on_progress(self._progressed).success(self._done)
        op.finished.connect(lambda: self._update_buttons(running=False))
        self.operation = op
        return op.run_in_background()

    def cancel(self) -> None:
        if self.operation is not None:
            self.operation.cancel()
            self.progress_text.setText(tr("coordui.merge.cancelling"))

    def _progressed(self, done: int, total: int, name: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if name and not (self.operation and self.operation.context.is_cancelled()):
            self.progress_text.setText(tr("coordui.merge.current", n=done + 1, total=total, file=name))

    def _done(self, report: MergeReport) -> None:
        self.report = report
        counts = report.counts()
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress_text.setText(tr("coordui.merge.cancelled") if report.cancelled else tr("coordui.merge.finished"))
        self.summary.setText(
            tr(
                "coordui.merge.summary",
                merged=counts[MERGED],
                duplicate=counts[DUPLICATE],
                held=counts[HELD],
                refused=counts[REFUSED],
            )
        )
        self._fill_results(report.entries)
        self.merged.emit(report)

    def _fill_results(self, entries: list[PackageOutcome]) -> None:
        # Problems first: they are what the coordinator has to act on.
        order = {REFUSED: 0, HELD: 1, MERGED: 2, DUPLICATE: 3}
        rows = sorted(entries, key=lambda e: (order.get(e.outcome, 9), e.path.name))
        self.results.setRowCount(len(rows))
        for r, e in enumerate(rows):
            cells = [
                e.path.name,
                tr(f"coordui.outcome.{e.outcome}") if e.outcome in OUTCOMES else e.outcome,
                e.station_code or "",
                e.signer + (f" ({e.fingerprint[:12]})" if e.fingerprint else ""),
                e.reason,
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setToolTip(plain_tooltip(str(e.path)))
                    item.setData(Qt.ItemDataRole.UserRole, e.outcome)
                if c == 1 and e.outcome in _OUTCOME_COLOURS:
                    item.setBackground(QBrush(_OUTCOME_COLOURS[e.outcome]))
                if c == 4 and text:
                    item.setToolTip(plain_tooltip(text))
                self.results.setItem(r, c, item)
        self.results.resizeColumnsToContents()
        for col, cap in ((0, 300), (3, 240)):
            self.results.setColumnWidth(col, min(self.results.columnWidth(col), cap))
        self.results.horizontalHeader().setStretchLastSection(True)
        if rows:
            self.results.setCurrentCell(0, 0)
            self._show_detail(0)

    def _show_detail(self, row: int) -> None:
        name = self.results.item(row, 0) if row >= 0 else None
        reason = self.results.item(row, 4) if row >= 0 else None
        if name is None or reason is None or not reason.text():
            self.detail.clear()
            return
        self.detail.setText(reason.text())  # the reason names the file itself

    def outcomes(self) -> dict[str, str]:
        """File name -> outcome as shown in the results table (for tests and scripting)."""
        out: dict[str, str] = {}
        for r in range(self.results.rowCount()):
            item = self.results.item(r, 0)
            if item is not None:
                out[item.text()] = str(item.data(Qt.ItemDataRole.UserRole))
        return out

    # ---- language ------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(tr("coordui.merge.title"))
        self.intro.setText(tr("coordui.merge.intro", suffix=SUFFIX))
        self.add_files.setText(tr("coordui.merge.add_files"))
        self.add_folder.setText(tr("coordui.merge.add_folder"))
        self.remove.setText(tr("coordui.merge.remove"))
        self.org_key_button.setText(tr("coordui.merge.org_key"))
        self.org_key_clear.setText(tr("coordui.merge.org_key_clear"))
        self._show_org_key()
        self.merge_button.setText(tr("coordui.merge.start"))
        self.cancel_button.setText(tr("coordui.op.cancel"))
        self.close_button.setText(tr("coordui.close"))
        self.results.setHorizontalHeaderLabels([tr(f"coordui.merge.col.{c}") for c in RESULT_COLUMNS])
        if self.report is not None:
            self._done_texts()
        self._update_buttons(running=bool(self.operation and self.operation.outcome == "pending"))

    def _done_texts(self) -> None:
        assert self.report is not None
        counts = self.report.counts()
        self.summary.setText(
            tr(
                "coordui.merge.summary",
                merged=counts[MERGED],
                duplicate=counts[DUPLICATE],
                held=counts[HELD],
                refused=counts[REFUSED],
            )
        )
        self._fill_results(self.report.entries)


def _explain_missing_key(entry: PackageOutcome, key_problem: str) -> PackageOutcome:
    """A sealed package refused for want of a key: say what to do in this dialog, not on the command line.

    If a key was chosen but cannot be read any more, its own error is the reason.
    """
    if (
        entry.outcome != REFUSED
        or not is_sealed_name(entry.path)
        or entry.reason != tr("rel.sealed.need_key", file=entry.path.name)
    ):
        return entry
    reason = key_problem or tr("coordui.merge.need_key", file=entry.path.name)
    return replace(entry, reason=reason)
