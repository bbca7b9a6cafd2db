"""Violations: a list and an editor, with photos and videos as evidence."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from db.store import ElectionStore
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.records import SEVERITY_LEVELS, VIOLATION_ACTIONS, ViolationInfo
from ui.pages.base import Page, plain_label
from ui.qt import (
    QAbstractItemView,
    QComboBox,
    QDateTime,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from ui.settings import Settings
from ui.widgets.dialogs import ask_open_files, confirm
from ui.widgets.evidence import EvidenceList
from ui.widgets.messages import attempt, post_error, succeeded

COL_TIME, COL_CATEGORY, COL_SEVERITY, COL_FILES = range(4)


def to_qdatetime(at: datetime) -> QDateTime:
    return QDateTime(at.astimezone().replace(tzinfo=None))


def from_qdatetime(value: QDateTime) -> datetime:
    # The editor shows local time; the store keeps aware UTC.
    naive = value.toPython()
    assert isinstance(naive, datetime)
    return naive.astimezone()


class ViolationsPage(Page):
    title_key = "ui.nav.violations"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self.current_id: str | None = None
        self._loading = False
        self._rows: list[ViolationInfo] = []
        tpl = store.template
        row = QHBoxLayout(self.body)
        row.setContentsMargins(0, 0, 0, 0)

        left = QVBoxLayout()
        self.table = QTableWidget(0, 4, self.body)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_CATEGORY, QHeaderView.ResizeMode.Stretch)
        # Severity words are short; a long translated header must not squeeze the category away.
        header.setSectionResizeMode(COL_SEVERITY, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(COL_SEVERITY, 120)
        left.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.new_button = QPushButton(self.body)
        self.new_button.setObjectName("primary")
        self.delete_button = QPushButton(self.body)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        left.addLayout(buttons)
        row.addLayout(left, 5)

        self.editor = QGroupBox(self.body)
        form = QFormLayout(self.editor)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.time = QDateTimeEdit(self.editor)
        self.time.setCalendarPopup(True)
        self.time.setDisplayFormat("dd.MM.yyyy HH:mm")
        self.category = QComboBox(self.editor)
        for cat in tpl.violation_categories:
            self.category.addItem("", cat.code)
        self.severity = QComboBox(self.editor)
        for level in SEVERITY_LEVELS:
            self.severity.addItem("", level)
        self.description = QPlainTextEdit(self.editor)
        self.description.setTabChangesFocus(True)
        self.description.setMinimumHeight(90)
        self.involved = QLineEdit(self.editor)
        self.action = QComboBox(self.editor)
        for action in VIOLATION_ACTIONS:
            self.action.addItem("", action)
        self.action_note = QLineEdit(self.editor)
        self.form_labels = {
            name: plain_label()
            for name in ("time", "category", "severity", "description", "involved", "action", "action_note")
        }
        for name, widget in (
            ("time", self.time),
            ("category", self.category),
            ("severity", self.severity),
            ("description", self.description),
            ("involved", self.involved),
            ("action", self.action),
            ("action_note", self.action_note),
        ):
            self.form_labels[name].setBuddy(widget)
            form.addRow(self.form_labels[name], widget)
        self.evidence_box = QGroupBox(self.editor)
        ev = QVBoxLayout(self.evidence_box)
        self.evidence = EvidenceList(self.evidence_box)
        self.evidence_error = plain_label()
        self.evidence_error.setObjectName("problem")
        self.evidence_error.setWordWrap(True)
        self.evidence_error.hide()
        ev_buttons = QHBoxLayout()
        self.add_files = QPushButton(self.evidence_box)
        self.remove_file = QPushButton(self.evidence_box)
        ev_buttons.addWidget(self.add_files)
        ev_buttons.addWidget(self.remove_file)
        ev_buttons.addStretch(1)
        ev.addWidget(self.evidence, 1)
        ev.addWidget(self.evidence_error)
        ev.addLayout(ev_buttons)
        form.addRow(self.evidence_box)
        self.state = plain_label()
        self.state.setObjectName("hint")
        form.addRow(self.state)
        row.addWidget(self.editor, 6)

        self.table.itemSelectionChanged.connect(self._row_chosen)
        self.new_button.clicked.connect(self.new_violation)
        self.delete_button.clicked.connect(self._delete)
        self.time.dateTimeChanged.connect(self._save)
        for combo in (self.category, self.severity, self.action):
            combo.currentIndexChanged.connect(self._save)
        self.description.textChanged.connect(self._save)
        self.involved.textEdited.connect(self._save)
        self.action_note.textEdited.connect(self._save)
        self.add_files.clicked.connect(self._choose_files)
        self.remove_file.clicked.connect(self._remove_file)
        self.retranslate()
        self.new_violation()
        self.refresh()

    # ---- texts ---------------------------------------------------------
    def retranslate(self) -> None:
        super().retranslate()
        self.table.setHorizontalHeaderLabels(
            [
                tr("ui.violations.col.time"),
                tr("ui.violations.col.category"),
                tr("ui.violations.col.severity"),
                tr("ui.violations.col.files"),
            ]
        )
        self.new_button.setText(tr("ui.violations.new"))
        self.delete_button.setText(tr("ui.violations.delete"))
        self.editor.setTitle(tr("ui.violations.editor"))
        for name, label in self.form_labels.items():
            label.setText(tr(f"ui.violations.{name}"))
        tpl = self.store.template
        for i, cat in enumerate(tpl.violation_categories):
            self.category.setItemText(i, cat.labels.get())
        for i, level in enumerate(SEVERITY_LEVELS):
            self.severity.setItemText(i, tr(f"ui.severity.{level}"))
        for i, action in enumerate(VIOLATION_ACTIONS):
            self.action.setItemText(i, tr(f"ui.action.{action}"))
        self.description.setPlaceholderText(tr("ui.violations.description_hint"))
        self.involved.setPlaceholderText(tr("ui.violations.involved_hint"))
        self.evidence_box.setTitle(tr("ui.violations.evidence"))
        self.add_files.setText(tr("ui.violations.add_files"))
        self.remove_file.setText(tr("ui.violations.remove_file"))
        self._update_state()
        if hasattr(self, "_rows"):
            self._fill_table()
            self._load_evidence()

    def _update_state(self) -> None:
        self.state.setText(tr("ui.violations.saved") if self.current_id else tr("ui.violations.draft"))

    # ---- list ----------------------------------------------------------
    def refresh(self) -> None:
        super().refresh()
        sid = self.station_id
        self._rows = self.store.violations(sid) if sid else []
        if self.current_id and not any(v.id == self.current_id for v in self._rows):
            self.new_violation()
        self._fill_table()

    def _fill_table(self) -> None:
        tpl = self.store.template
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._rows))
        selected = -1
        for r, v in enumerate(self._rows):
            cat = tpl.category(v.category)
            cells = [
                v.occurred_at.astimezone().strftime("%H:%M"),
                cat.labels.get() if cat else v.category,
                tr(f"ui.severity.{v.severity}"),
                str(v.evidence_count),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setData(Qt.ItemDataRole.UserRole, v.id)
                self.table.setItem(r, c, item)
            if v.id == self.current_id:
                selected = r
        if selected >= 0:
            self.table.selectRow(selected)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)

    def _row_chosen(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.load_violation(self._rows[rows[0].row()])

    # ---- editor --------------------------------------------------------
    def new_violation(self) -> None:
        """An empty editor; the record is created by the first edit."""
        self._loading = True
        try:
            self.current_id = None
            self.time.setDateTime(to_qdatetime(datetime.now().astimezone()))
            self.category.setCurrentIndex(0)
            self.severity.setCurrentIndex(SEVERITY_LEVELS.index("medium"))
            self.description.setPlainText("")
            self.involved.setText("")
            self.action.setCurrentIndex(0)
            self.action_note.setText("")
            self.evidence_error.hide()
        finally:
            self._loading = False
        self.table.clearSelection()
        self._load_evidence()
        self._update_state()

    def load_violation(self, v: ViolationInfo) -> None:
        self._loading = True
        try:
            self.current_id = v.id
            self.time.setDateTime(to_qdatetime(v.occurred_at))
            self.category.setCurrentIndex(max(self.category.findData(v.category), 0))
            self.severity.setCurrentIndex(max(self.severity.findData(v.severity), 0))
            self.description.setPlainText(v.description)
            self.involved.setText(v.involved)
            self.action.setCurrentIndex(max(self.action.findData(v.action), 0))
            self.action_note.setText(v.action_note)
            self.evidence_error.hide()
        finally:
            self._loading = False
        self._load_evidence()
        self._update_state()

    def _save(self) -> str | None:
        sid = self.station_id
        if self._loading or sid is None:
            return None
        vid = attempt(
            lambda: self.store.save_violation(
                sid,
                violation_id=self.current_id,
                category=self.category.currentData(),
                occurred_at=from_qdatetime(self.time.dateTime()),
                description=self.description.toPlainText(),
                involved=self.involved.text(),
                action=self.action.currentData(),
                action_note=self.action_note.text(),
                severity=self.severity.currentData(),
            )
        )
        if vid is not None:
            created = self.current_id is None
            self.current_id = vid
            if created:
                self._update_state()
            self.refresh()
        return vid

    def _delete(self) -> None:
        if self.current_id is None:
            self.new_violation()
            return
        if not confirm(self, tr("ui.violations.delete"), tr("ui.violations.delete_confirm")):
            return
        vid = self.current_id
        if succeeded(lambda: self.store.delete_violation(vid)):
            self.new_violation()
            self.refresh()

    # ---- evidence ------------------------------------------------------
    def _load_evidence(self) -> None:
        sid = self.station_id
        self.evidence.set_evidence(
            self.store.evidence(sid, violation_id=self.current_id) if sid and self.current_id else []
        )

    def _choose_files(self) -> None:
        for path in ask_open_files(self, tr("ui.violations.add_files"), tr("ui.filter.media")):
            self.attach_file(path)

    def attach_file(self, path: Path) -> bool:
        """Attach a photo or video; a refused file shows why, beside the list."""
        sid = self.station_id
        if sid is None:
            return False
        vid = self.current_id or self._save()
        if vid is None:
            return False
        try:
            self.store.add_evidence(sid, path, violation_id=vid)
        except BaqylauError as exc:
            self.evidence_error.setText(str(exc))
            self.evidence_error.show()
            post_error(str(exc))
            return False
        self.evidence_error.hide()
        self._load_evidence()
        self.refresh()
        return True

    def _remove_file(self) -> None:
        eid = self.evidence.selected_id()
        if eid is None:
            return
        if confirm(self, tr("ui.violations.remove_file"), tr("ui.violations.remove_file_confirm")) and succeeded(
            lambda: self.store.delete_evidence(eid)
        ):
            self._load_evidence()
            self.refresh()
