"""Violations: a list and an editor, with photos and videos as evidence.

A record you can trust: a new violation happened when it is first saved (the
store's clock), not when the page was opened; its time is changed only on
purpose (the field, "Now", or the camera time of an attached photo) and every
change goes to the audit log, shown under "History". No category is chosen
for the observer: until one is, the record is a draft and says so.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from db.store import ElectionStore
from observer.errors import BaqylauError
from observer.evidence import exif_datetime
from observer.i18n import tr
from observer.records import SEVERITY_LEVELS, VIOLATION_ACTIONS, ViolationInfo
from ui.input_guard import ComboBox, DateTimeEdit
from ui.pages.base import Page, plain_label
from ui.qt import (
    QAbstractItemView,
    QBrush,
    QColor,
    QComboBox,
    QDateTime,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QResizeEvent,
    QSizePolicy,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from ui.settings import Settings
from ui.widgets.dialogs import ask_open_files, confirm
from ui.widgets.evidence import EvidenceList
from ui.widgets.fields import TextLimit
from ui.widgets.history import DeletedDialog, HistoryDialog
from ui.widgets.messages import attempt, post_error, succeeded

COL_TIME, COL_CATEGORY, COL_FILES = range(3)
SIDE_BY_SIDE_WIDTH = 1000  # narrower (125% scaling on a 1366 screen): the editor goes under the list
DESCRIPTION_START = 60  # characters of the description shown in the list
LIST_TIME_FORMAT = "%d.%m.%Y\n%H:%M"
PROBLEM_COLOUR = "#b3261e"


def to_qdatetime(at: datetime) -> QDateTime:
    return QDateTime(at.astimezone().replace(tzinfo=None))


def from_qdatetime(value: QDateTime) -> datetime:
    # The editor shows local time; the store keeps aware UTC.
    naive = value.toPython()
    assert isinstance(naive, datetime)
    return naive.astimezone()


def short_text(text: str, limit: int = DESCRIPTION_START) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class ViolationsPage(Page):
    title_key = "ui.nav.violations"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self.current_id: str | None = None
        self._loading = False
        self._time_edited = False  # the observer changed the time field since the last save
        self._rows: list[ViolationInfo] = []
        self.history_dialog: HistoryDialog | None = None
        self.deleted_dialog: DeletedDialog | None = None
        row = QHBoxLayout(self.body)
        row.setContentsMargins(0, 0, 0, 0)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self.body)
        self.splitter.setChildrenCollapsible(False)
        row.addWidget(self.splitter)
        self.splitter.addWidget(self._build_list())
        self.splitter.addWidget(self._build_editor())
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 6)
        # While a new record is open its time field follows the clock (what it will be saved with).
        self.clock_timer = QTimer(self)
        self.clock_timer.setInterval(15_000)
        self.clock_timer.timeout.connect(self._follow_clock)
        self.clock_timer.start()
        self._connect()
        self.retranslate()
        self.new_violation()
        self.refresh()

    def _build_list(self) -> QWidget:
        box = QWidget(self.body)
        left = QVBoxLayout(box)
        left.setContentsMargins(0, 0, 6, 0)
        self.table = QTableWidget(0, 3, box)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.setMinimumWidth(300)
        self.table.setMinimumHeight(220)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The category and the start of the description take what is left, wrapped, never "…".
        header.setSectionResizeMode(COL_CATEGORY, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        left.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.new_button = QPushButton(box)
        self.new_button.setObjectName("primary")
        self.delete_button = QPushButton(box)
        self.deleted_button = QPushButton(box)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.deleted_button)
        left.addLayout(buttons)
        return box

    def _build_editor(self) -> QWidget:
        self.editor = QGroupBox(self.body)
        form = QFormLayout(self.editor)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # Labels above their fields: long Kazakh labels must not squeeze the fields off the page.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self._build_time_row()
        self.category = ComboBox(self.editor)
        self.category.addItem("", "")  # "choose a category": nothing is chosen for the observer
        for cat in self.store.template.violation_categories:
            self.category.addItem("", cat.code)
        self.category_problem = plain_label()
        self.category_problem.setObjectName("problem")
        self.category_problem.setWordWrap(True)
        self.severity = ComboBox(self.editor)
        for level in SEVERITY_LEVELS:
            self.severity.addItem("", level)
        self.description = QPlainTextEdit(self.editor)
        self.description.setTabChangesFocus(True)
        self.description.setMinimumHeight(70)
        self.involved = QLineEdit(self.editor)
        self.action = ComboBox(self.editor)
        for action in VIOLATION_ACTIONS:
            self.action.addItem("", action)
        self.action_note = QLineEdit(self.editor)
        # Before the page's own saves are connected: what is saved is already within the limit.
        self.limits = {
            name: TextLimit(edit)
            for name, edit in (
                ("description", self.description),
                ("involved", self.involved),
                ("action_note", self.action_note),
            )
        }
        for combo in (self.category, self.severity, self.action):
            # As wide as the editor allows, not as the longest Kazakh category: the list beside it needs room.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.form_labels = {
            name: plain_label()
            for name in ("time", "category", "severity", "description", "involved", "action", "action_note")
        }
        for name, widget in (
            ("time", self.time_row),
            ("category", self.category),
            ("severity", self.severity),
            ("description", self.description),
            ("involved", self.involved),
            ("action", self.action),
            ("action_note", self.action_note),
        ):
            self.form_labels[name].setBuddy(self.time if widget is self.time_row else widget)
            form.addRow(self.form_labels[name], widget)
            if name in self.limits:
                form.addRow(self.limits[name].label)  # hidden until the text nears the limit
            if name == "time":
                form.addRow(self.camera_button)
                form.addRow(self.time_note)
            if name == "category":
                form.addRow(self.category_problem)
        self._build_evidence_box()
        form.addRow(self.evidence_box)
        state_row = QHBoxLayout()
        self.state = plain_label()
        self.state.setObjectName("hint")
        self.state.setWordWrap(True)
        self.history_button = QPushButton(self.editor)
        state_row.addWidget(self.state, 1)
        state_row.addWidget(self.history_button)
        form.addRow(state_row)
        return self.editor

    def _build_time_row(self) -> None:
        """When it happened, a "now" button, the photo's camera time and how the time was set."""
        self.time = DateTimeEdit(self.editor)
        self.time.setCalendarPopup(True)
        self.time.setDisplayFormat("dd.MM.yyyy HH:mm")
        self.now_button = QPushButton(self.editor)
        self.camera_button = QPushButton(self.editor)
        self.camera_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.camera_button.hide()
        self.time_row = QWidget(self.editor)
        time_layout = QHBoxLayout(self.time_row)
        time_layout.setContentsMargins(0, 0, 0, 0)
        time_layout.addWidget(self.time)
        time_layout.addWidget(self.now_button)
        time_layout.addStretch(1)
        self.time_note = plain_label()
        self.time_note.setObjectName("hint")
        self.time_note.setWordWrap(True)

    def _build_evidence_box(self) -> None:
        self.evidence_box = QGroupBox(self.editor)
        ev = QVBoxLayout(self.evidence_box)
        self.evidence = EvidenceList(self.evidence_box, self.store.evidence_path)
        self.evidence_error = plain_label()
        self.evidence_error.setObjectName("problem")
        self.evidence_error.setWordWrap(True)
        self.evidence_error.hide()
        # Two rows of buttons: in one row their Kazakh texts would make the editor wider than the page.
        self.add_files = QPushButton(self.evidence_box)
        self.view_file = QPushButton(self.evidence_box)
        self.remove_file = QPushButton(self.evidence_box)
        ev.addWidget(self.evidence, 1)
        ev.addWidget(self.evidence_error)
        for buttons in ((self.add_files,), (self.view_file, self.remove_file)):
            line = QHBoxLayout()
            for button in buttons:
                line.addWidget(button)
            line.addStretch(1)
            ev.addLayout(line)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        wide = event.size().width() >= SIDE_BY_SIDE_WIDTH
        wanted = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != wanted:
            self.splitter.setOrientation(wanted)

    def _connect(self) -> None:
        self.table.itemSelectionChanged.connect(self._row_chosen)
        self.new_button.clicked.connect(self.new_violation)
        self.delete_button.clicked.connect(self._delete)
        self.deleted_button.clicked.connect(self.show_deleted)
        self.time.dateTimeChanged.connect(self._time_changed)
        self.now_button.clicked.connect(self.set_time_now)
        self.camera_button.clicked.connect(self.use_camera_time)
        for combo in (self.category, self.severity, self.action):
            combo.currentIndexChanged.connect(self._save)
        self.description.textChanged.connect(self._save)
        self.involved.textEdited.connect(self._save)
        self.action_note.textEdited.connect(self._save)
        self.add_files.clicked.connect(self._choose_files)
        self.view_file.clicked.connect(self.evidence.open_selected)
        self.remove_file.clicked.connect(self._remove_file)
        self.history_button.clicked.connect(self.show_history)

    # ---- texts ---------------------------------------------------------
    def retranslate(self) -> None:
        super().retranslate()
        self.table.setHorizontalHeaderLabels(
            [
                tr("ui.violations.col.time"),
                tr("ui.violations.col.record"),
                tr("ui.violations.col.files"),
            ]
        )
        self.new_button.setText(tr("ui.violations.new"))
        self.delete_button.setText(tr("ui.violations.delete"))
        self.editor.setTitle(tr("ui.violations.editor"))
        for name, label in self.form_labels.items():
            label.setText(tr(f"ui.violations.{name}"))
        self.now_button.setText(tr("ui.violations.now"))
        self.now_button.setToolTip(tr("ui.violations.now_tip"))
        self.category.setItemText(0, tr("ui.violations.choose_category"))
        for i, cat in enumerate(self.store.template.violation_categories, start=1):
            self.category.setItemText(i, cat.labels.get())
        for i, level in enumerate(SEVERITY_LEVELS):
            self.severity.setItemText(i, tr(f"ui.severity.{level}"))
        for i, action in enumerate(VIOLATION_ACTIONS):
            self.action.setItemText(i, tr(f"ui.action.{action}"))
        self.description.setPlaceholderText(tr("ui.violations.description_hint"))
        self.involved.setPlaceholderText(tr("ui.violations.involved_hint"))
        self.evidence_box.setTitle(tr("ui.violations.evidence"))
        self.add_files.setText(tr("ui.violations.add_files"))
        self.view_file.setText(tr("ui.evidence.view"))
        self.remove_file.setText(tr("ui.violations.remove_file"))
        self.history_button.setText(tr("ui.violations.history"))
        for limit in self.limits.values():
            limit.update()
        if hasattr(self, "_rows"):
            self._fill_table()
            self._load_evidence()
            self._update_state()

    def _update_state(self) -> None:
        current = self._current()
        self.state.setText(tr("ui.violations.saved") if self.current_id else tr("ui.violations.draft"))
        self.history_button.setEnabled(self.current_id is not None)
        draft = current is not None and current.is_draft
        self.category_problem.setText(tr("ui.violations.no_category") if draft else "")
        self.category_problem.setVisible(draft)
        self.category.setProperty("problem", draft)
        self.category.style().unpolish(self.category)
        self.category.style().polish(self.category)
        if current is None:
            self.time_note.setText(tr("ui.violations.time_auto"))
        elif current.created_at is not None:
            self.time_note.setText(
                tr("ui.violations.time_recorded", time=current.created_at.astimezone().strftime("%d.%m.%Y %H:%M:%S"))
            )
        deleted = len(self.store.violations(self.station_id, deleted=True)) if self.station_id else 0
        self.deleted_button.setText(tr("ui.violations.deleted", count=deleted))
        self.deleted_button.setEnabled(deleted > 0)
        self._update_camera_button()

    def _current(self) -> ViolationInfo | None:
        return next((v for v in self._rows if v.id == self.current_id), None)

    # ---- list ----------------------------------------------------------
    def refresh(self) -> None:
        super().refresh()
        sid = self.station_id
        self._rows = self.store.violations(sid) if sid else []
        if self.current_id and not any(v.id == self.current_id for v in self._rows):
            self.new_violation()
        self._fill_table()
        self._update_state()

    def _fill_table(self) -> None:
        tpl = self.store.template
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._rows))
        selected = -1
        for r, v in enumerate(self._rows):
            cat = tpl.category(v.category)
            title = cat.labels.get() if cat else (v.category or tr("ui.violations.no_category_short"))
            record = f"{title} · {tr(f'ui.severity.{v.severity}')}"
            if v.description.strip():
                record += "\n" + short_text(v.description)
            cells = [v.occurred_at.astimezone().strftime(LIST_TIME_FORMAT), record, str(v.evidence_count)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(v.description if c == COL_CATEGORY and v.description else text.replace("\n", " "))
                item.setData(Qt.ItemDataRole.UserRole, v.id)
                if v.is_draft and c == COL_CATEGORY:
                    item.setForeground(QBrush(QColor(PROBLEM_COLOUR)))
                self.table.setItem(r, c, item)
            if v.id == self.current_id:
                selected = r
        if selected >= 0:
            self.table.selectRow(selected)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)

    def focus_target(self, target: str) -> None:
        """Open one violation and put the cursor on its category (a review item's link: "no category")."""
        row = next((r for r, v in enumerate(self._rows) if v.id == target), None)
        if row is None:
            return
        self.load_violation(self._rows[row])
        self._fill_table()  # selects it in the list
        item = self.table.item(row, 0)
        if item is not None:
            self.table.scrollToItem(item)
        self.scroller.ensureWidgetVisible(self.category)
        self.category.setFocus()

    def _row_chosen(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.load_violation(self._rows[rows[0].row()])

    def list_text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item else ""

    # ---- editor --------------------------------------------------------
    def new_violation(self) -> None:
        """An empty editor; the record is created by the first edit, at that moment."""
        self._loading = True
        try:
            self.current_id = None
            self._time_edited = False
            self.time.setDateTime(to_qdatetime(self.store.clock()))
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
            self._time_edited = False
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

    def _follow_clock(self) -> None:
        if self.current_id is None and not self._time_edited and not self.time.hasFocus():
            self._loading = True
            try:
                self.time.setDateTime(to_qdatetime(self.store.clock()))
            finally:
                self._loading = False

    def _time_changed(self) -> None:
        if self._loading:
            return
        self._time_edited = True
        self._save()

    def set_time_now(self) -> None:
        """The violation is happening now: the store's clock, to the second."""
        self._save(occurred_at=self.store.clock())

    def camera_time(self) -> datetime | None:
        """The earliest camera time of the photos attached to the current record."""
        times = [t for t in (exif_datetime(e.exif_time) for e in self.evidence.infos) if t is not None]
        return min(times) if times else None

    def _update_camera_button(self) -> None:
        taken = self.camera_time() if self.current_id else None
        self.camera_button.setVisible(taken is not None)
        if taken is not None:
            self.camera_button.setText(tr("ui.violations.camera_time", time=taken.strftime("%d.%m.%Y %H:%M")))
            self.camera_button.setToolTip(tr("ui.violations.camera_time_tip"))

    def use_camera_time(self) -> None:
        taken = self.camera_time()
        if taken is not None:
            self._save(occurred_at=taken)

    def _save(self, *_args: object, occurred_at: datetime | None = None) -> str | None:
        sid = self.station_id
        if self._loading or sid is None:
            return None
        if occurred_at is None and self._time_edited:
            occurred_at = from_qdatetime(self.time.dateTime())
        vid = attempt(
            lambda: self.store.save_violation(
                sid,
                violation_id=self.current_id,
                category=self.category.currentData() or "",
                occurred_at=occurred_at,  # None: now for a new record, unchanged for a saved one
                description=self.description.toPlainText(),
                involved=self.involved.text(),
                action=self.action.currentData(),
                action_note=self.action_note.text(),
                severity=self.severity.currentData(),
            )
        )
        if vid is not None:
            self.current_id = vid
            self._time_edited = False
            self.refresh()
            current = self._current()
            if current is not None and not self.time.hasFocus():
                self._loading = True
                try:
                    self.time.setDateTime(to_qdatetime(current.occurred_at))
                finally:
                    self._loading = False
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

    # ---- history and deleted records ----------------------------------
    def show_history(self) -> None:
        if self.current_id is None:
            return
        self.history_dialog = HistoryDialog(self.store.template, self.store.history(self.current_id), self)
        self.history_dialog.show()

    def show_deleted(self) -> None:
        sid = self.station_id
        if sid is None:
            return
        tpl = self.store.template
        entries = []
        for v in self.store.violations(sid, deleted=True):
            cat = tpl.category(v.category)
            when = v.occurred_at.astimezone().strftime("%d.%m.%Y %H:%M")
            entries.append((v.id, f"{when}  {cat.labels.get() if cat else '—'}  {short_text(v.description)}"))
        self.deleted_dialog = DeletedDialog(tr("ui.violations.deleted_title"), entries, self.restore, self)
        self.deleted_dialog.show()

    def restore(self, violation_id: str) -> bool:
        if not succeeded(lambda: self.store.restore_violation(violation_id)):
            return False
        self.refresh()
        return True

    # ---- evidence ------------------------------------------------------
    def _load_evidence(self) -> None:
        sid = self.station_id
        self.evidence.set_evidence(
            self.store.evidence(sid, violation_id=self.current_id) if sid and self.current_id else []
        )
        self._update_camera_button()

    def _choose_files(self) -> None:
        for path in ask_open_files(self, tr("ui.violations.add_files"), tr("ui.filter.media"), purpose="photos"):
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
