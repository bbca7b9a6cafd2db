"""Turnout: the observer's own head-count against the commission's announcements."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from db.store import ElectionStore
from observer.checks import percent
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.plausibility import GAP_SHARE, MIN_GAP_VOTERS, TURNOUT, DayFigures, big_gap, turnout_findings
from observer.records import HeadcountPoint, StationInfo
from ui.pages.base import Page, plain_label
from ui.pages.review import warning_label
from ui.qt import (
    QAbstractItemView,
    QColor,
    QEvent,
    QFont,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeyEvent,
    QKeySequence,
    QObject,
    QPushButton,
    QShortcut,
    QSizePolicy,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from ui.settings import Settings
from ui.widgets.chart import AnnouncedMark, HeadcountChart
from ui.widgets.fields import IntField
from ui.widgets.headers import WrappedHeaders
from ui.widgets.messages import attempt, succeeded

COL_SLOT, COL_ANNOUNCED, COL_ANNOUNCED_PCT, COL_COUNTED, COL_COUNTED_PCT, COL_GAP = range(6)
FLASH_MS = 250  # how long the count stays highlighted after a click
BIG_GAP_BACKGROUND = QColor("#fdecea")
PLUS_KEYS = frozenset({Qt.Key.Key_Plus, Qt.Key.Key_Space})
MINUS_KEYS = frozenset({Qt.Key.Key_Minus})


def fmt_pct(value: float | None) -> str:
    """A share of the list as the current language writes it (4,4 % in ru/kk, 4.4% in en)."""
    return formatter(current_language()).pct(value, 1)


def count_at(points: list[HeadcountPoint], cutoff: datetime) -> int:
    """The observer's running total at ``cutoff`` (points are in time order)."""
    total = 0
    for pt in points:
        if pt.at > cutoff:
            break
        total = pt.total
    return total


class CountKeys(QObject):
    """Space / + count and − / Ctrl+Z take back while a commission figure has the cursor.

    A line edit swallows those keys as typing; a commission figure only takes
    digits, so the keys mean the counter there. Backspace and Delete still edit it.
    """

    def __init__(self, page: TurnoutPage) -> None:
        super().__init__(page)
        self.page = page

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        key = event.key()
        mods = event.modifiers() & ~(Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier)
        if key in PLUS_KEYS and mods == Qt.KeyboardModifier.NoModifier:
            if not event.isAutoRepeat():
                self.page.count_one()
            return True
        undo = key == Qt.Key.Key_Z and mods == Qt.KeyboardModifier.ControlModifier
        if undo or (key in MINUS_KEYS and mods == Qt.KeyboardModifier.NoModifier):
            if not event.isAutoRepeat():
                self.page.undo_one()
            return True
        return False


class TurnoutPage(Page):
    title_key = "ui.nav.turnout"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self._total = 0
        self._station: StationInfo | None = None
        self._points: list[HeadcountPoint] = []
        self.flashes = 0  # clicks shown so far (the flash is visible feedback; tests read this)
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(self._build_counter())
        # Under the counter at full width: read at a glance, and the table and chart keep their room.
        col.addWidget(self.keys_hint)
        col.addWidget(self._build_entry_row())
        self._build_table(col)
        self.chart = HeadcountChart(self.body)
        col.addWidget(self.chart, 1)
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.timeout.connect(lambda: self._set_flash(False))

        self.add_button.clicked.connect(self.count_one)
        self.undo_button.clicked.connect(self.undo_one)
        # Window-wide keys while this page is shown (a hidden page's shortcuts never fire): the
        # observer watches the door, not the screen, and the cursor may be anywhere, even in the
        # page list. "+" arrives with Shift on most layouts and with the keypad flag from a keypad.
        add_keys = (
            QKeySequence(Qt.Key.Key_Space),
            QKeySequence(Qt.Key.Key_Plus),
            QKeySequence(Qt.KeyboardModifier.ShiftModifier | Qt.Key.Key_Plus),
            QKeySequence(Qt.KeyboardModifier.KeypadModifier | Qt.Key.Key_Plus),
        )
        back_keys = (
            QKeySequence(Qt.Key.Key_Backspace),
            QKeySequence(QKeySequence.StandardKey.Undo),
            QKeySequence(Qt.Key.Key_Minus),
            QKeySequence(Qt.KeyboardModifier.KeypadModifier | Qt.Key.Key_Minus),
        )
        for keys, slot in ((add_keys, self.count_one), (back_keys, self.undo_one)):
            for seq in keys:
                sc = QShortcut(seq, self, slot, context=Qt.ShortcutContext.WindowShortcut)
                sc.setAutoRepeat(False)
        self.retranslate()
        self.refresh()

    # ---- building ----------------------------------------------------------
    def _build_counter(self) -> QHBoxLayout:
        top = QHBoxLayout()
        counter_box = QVBoxLayout()
        self.count_caption = plain_label()
        self.count_value = plain_label("0")
        self.count_value.setObjectName("bigNumber")
        self.count_value.setProperty("flash", False)
        self.count_pct = plain_label()
        self.count_pct.setWordWrap(True)
        counter_box.addWidget(self.count_caption)
        counter_box.addWidget(self.count_value)
        counter_box.addWidget(self.count_pct)
        counter_box.addStretch(1)
        top.addLayout(counter_box, 1)

        self.add_button = QPushButton("+1", self.body)
        self.add_button.setObjectName("counter")
        self.add_button.setMinimumSize(180, 104)
        self.add_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.add_button.setAutoRepeat(False)
        top.addWidget(self.add_button, 2)
        side = QVBoxLayout()
        self.undo_button = QPushButton(self.body)
        self.undo_button.setMinimumHeight(50)
        self.keys_hint = plain_label()
        self.keys_hint.setObjectName("hint")
        self.keys_hint.setWordWrap(True)
        side.addWidget(self.undo_button)
        side.addStretch(1)
        top.addLayout(side, 1)
        return top

    def _build_entry_row(self) -> QGroupBox:
        """One field per reporting time, left to right; Enter moves to the next time."""
        self.entry_box = QGroupBox(self.body)
        grid = QGridLayout(self.entry_box)
        self.slot_fields: dict[str, IntField] = {}
        self.slot_labels: dict[str, QWidget] = {}
        keys = CountKeys(self)
        slots = self.store.template.reporting_times
        for i, slot in enumerate(slots):
            label = plain_label(slot)
            field = IntField(self.entry_box)
            field.setMinimumWidth(90)
            label.setBuddy(field)
            field.installEventFilter(keys)
            field.value_changed.connect(lambda value, s=slot: self._save_announced(s, value))
            # Enter goes to the next reporting time (the last one back to the counter), never elsewhere.
            field.returnPressed.disconnect()
            field.returnPressed.connect(lambda i=i: self._next_slot(i))
            grid.addWidget(label, 0, i)
            grid.addWidget(field, 1, i)
            self.slot_fields[slot], self.slot_labels[slot] = field, label
        self.slot_warnings = warning_label()
        grid.addWidget(self.slot_warnings, 2, 0, 1, max(1, len(slots)))
        # The box's title cannot wrap: what the figures are and what Enter does go below, wrapped.
        self.entry_hint = plain_label()
        self.entry_hint.setObjectName("hint")
        self.entry_hint.setWordWrap(True)
        grid.addWidget(self.entry_hint, 3, 0, 1, max(1, len(slots)))
        return self.entry_box

    def _build_table(self, col: QVBoxLayout) -> None:
        self.table = QTableWidget(0, 6, self.body)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # The time is short; the other headers share the rest and wrap to it (long in Kazakh and Russian).
        for c in (COL_SLOT, COL_ANNOUNCED_PCT, COL_COUNTED_PCT):
            self.table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.headers = WrappedHeaders(self.table)
        self.table.horizontalHeader().geometriesChanged.connect(self._fit_table_height)
        self.table.verticalHeader().setDefaultSectionSize(32)
        self.cells: dict[tuple[int, int], QTableWidgetItem] = {}
        slots = self.store.template.reporting_times
        self.table.setRowCount(len(slots))
        for row, slot in enumerate(slots):
            self.table.setItem(row, COL_SLOT, QTableWidgetItem(slot))
            for c in (COL_ANNOUNCED, COL_ANNOUNCED_PCT, COL_COUNTED, COL_COUNTED_PCT, COL_GAP):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, c, item)
                self.cells[row, c] = item
        self.table.horizontalHeader().setMinimumHeight(36)
        self._fit_table_height()
        col.addWidget(self.table)

    def _fit_table_height(self) -> None:
        """Every row shown without a scroll bar, under a header of one or more lines."""
        header = max(self.table.horizontalHeader().sizeHint().height(), 36)
        rows = self.table.verticalHeader().defaultSectionSize() * self.table.rowCount()
        self.table.setFixedHeight(header + rows + 2 * self.table.frameWidth() + 2)

    def retranslate(self) -> None:
        super().retranslate()
        self.count_caption.setText(tr("ui.turnout.my_count"))
        self.add_button.setToolTip(tr("ui.turnout.add_tip"))
        self.undo_button.setText(tr("ui.turnout.undo"))
        self.keys_hint.setText(tr("ui.turnout.keys"))
        self.entry_box.setTitle(tr("ui.turnout.entry"))
        self.entry_hint.setText(tr("ui.turnout.entry_hint"))
        # A share column is headed just "%" beside its figure's column (its full name in the tooltip):
        # the long Kazakh and Russian names cannot fit six columns on a 150 % laptop.
        self.headers.set_labels(
            [
                tr("ui.turnout.col.slot"),
                tr("ui.turnout.col.announced"),
                "%",
                tr("ui.turnout.col.counted"),
                "%",
                tr("ui.turnout.col.gap"),
            ]
        )
        for c, key in ((COL_ANNOUNCED_PCT, "announced_pct"), (COL_COUNTED_PCT, "counted_pct")):
            header = self.table.horizontalHeaderItem(c)
            if header is not None:
                header.setToolTip(tr(f"ui.turnout.col.{key}"))
        self.chart.set_labels(
            tr("ui.turnout.chart.count"), tr("ui.turnout.chart.announced"), tr("ui.turnout.chart.empty")
        )
        self._update_count_label(self._total)
        self._update_view()

    def refresh(self) -> None:
        super().refresh()
        sid = self.station_id
        announced = {s.slot: s.announced for s in self.store.turnout_slots(sid)} if sid else {}
        for slot, field in self.slot_fields.items():
            if not field.hasFocus():
                field.set_value(announced.get(slot))
        self._total = self.store.headcount(sid) if sid else 0
        # Cached between clicks: a click appends to them instead of re-reading the whole day.
        self._station = self.station
        self._points = self.store.headcount_timeline(sid) if sid else []
        self._update_warnings()
        self._update_view()

    def focus_target(self, target: str) -> None:
        """Put the cursor in a reporting time's field (the review's links)."""
        field = self.slot_fields.get(target)
        if field is not None:
            self.scroller.ensureWidgetVisible(field)
            field.setFocus()
            field.selectAll()

    # ---- actions ---------------------------------------------------------
    def count_one(self) -> None:
        self._change(+1)

    def undo_one(self) -> None:
        self._change(-1)

    def _change(self, delta: int) -> None:
        sid = self._station.id if self._station else None
        if sid is None:
            return
        before = self._total
        total = attempt(lambda: self.store.add_headcount(sid, delta))
        if total is None:
            return
        if total != before:  # an undo at zero records nothing
            self._points.append(HeadcountPoint(datetime.now(UTC), delta, total))
            self.flashes += 1
            self._set_flash(True)
            self._flash_timer.start(FLASH_MS)
        self._total = total
        self._update_view()

    def _set_flash(self, on: bool) -> None:
        # A brief highlight of the number: each click is seen, even from the corner of an eye.
        self.count_value.setProperty("flash", on)
        self.count_value.setStyleSheet("background: #fff3b0; border-radius: 6px;" if on else "")

    def _next_slot(self, index: int) -> None:
        fields = list(self.slot_fields.values())
        if index + 1 < len(fields):
            fields[index + 1].setFocus()
            fields[index + 1].selectAll()
        else:
            self.add_button.setFocus()

    def _save_announced(self, slot: str, value: int | None) -> None:
        sid = self._station.id if self._station else None
        if sid is not None and succeeded(lambda: self.store.set_announced(sid, slot, value)):
            self._update_warnings()
            self._update_view()

    # ---- display ---------------------------------------------------------
    def _update_count_label(self, total: int) -> None:
        self.count_value.setText(formatter(current_language()).integer(total))
        st = self._station
        registered = st.registered if st else None
        pct = percent(total, registered)
        self.count_pct.setText(
            tr("ui.turnout.my_pct", pct=fmt_pct(pct)) if pct is not None else tr("ui.turnout.no_registered")
        )

    def _update_warnings(self) -> None:
        """Cross-checks of the commission's figures, beside their fields; never blocking."""
        st = self._station
        figures = DayFigures(
            registered=st.registered if st else None,
            announced={slot: field.value() for slot, field in self.slot_fields.items()},
        )
        findings = [f for f in turnout_findings(self.store.template, figures) if f.page == TURNOUT]
        by_slot: dict[str, list[str]] = {}
        for f in findings:
            by_slot.setdefault(f.target, []).append(f.text())
        for slot, field in self.slot_fields.items():
            field.set_problem(slot in by_slot, "\n".join(by_slot.get(slot, [])))
        self.slot_warnings.setText("\n".join(f.text() for f in findings))
        self.slot_warnings.setVisible(bool(findings))

    def _update_view(self) -> None:
        self._update_count_label(self._total)
        st = self._station
        registered = st.registered if st else None
        points = self._points
        now = datetime.now().astimezone()
        # The voting day is the day the observer counted on (or today before the first voter).
        day: date = points[-1].at.astimezone().date() if points else now.date()
        marks: list[AnnouncedMark] = []
        bold = QFont(self.table.font())
        bold.setBold(True)
        for row, (slot, field) in enumerate(self.slot_fields.items()):
            announced = field.value()
            cutoff = datetime.combine(day, time.fromisoformat(slot)).astimezone()
            counted = count_at(points, cutoff) if cutoff <= now else None
            a_pct, c_pct = percent(announced, registered), percent(counted, registered)
            gap = None if a_pct is None or c_pct is None else a_pct - c_pct
            self.cells[row, COL_ANNOUNCED].setText(formatter(current_language()).integer(announced))
            self.cells[row, COL_ANNOUNCED_PCT].setText(fmt_pct(a_pct))
            self.cells[row, COL_COUNTED].setText(formatter(current_language()).integer(counted))
            self.cells[row, COL_COUNTED_PCT].setText(fmt_pct(c_pct))
            gap_cell = self.cells[row, COL_GAP]
            gap_cell.setText(
                "—" if gap is None else tr("ui.turnout.gap_value", gap=formatter(current_language()).pp(gap))
            )
            # A big gap between the commission and the observer is the finding of the day: make it stand out.
            big = big_gap(announced, counted)
            for c in (COL_ANNOUNCED, COL_COUNTED, COL_GAP):
                cell = self.cells[row, c]
                cell.setBackground(BIG_GAP_BACKGROUND if big else QColor(0, 0, 0, 0))
                cell.setFont(bold if big else self.table.font())
                cell.setToolTip(
                    tr(
                        "ui.turnout.gap_big",
                        share=formatter(current_language()).integer(GAP_SHARE * 100),
                        voters=formatter(current_language()).integer(MIN_GAP_VOTERS),
                    )
                    if big
                    else ""
                )
            if announced is not None:
                marks.append(AnnouncedMark(slot, announced))
        tpl = self.store.template
        self.chart.set_data(points, marks, tpl.polls_open, tpl.polls_close)

    def is_big_gap(self, row: int) -> bool:
        """Whether a reporting time's row is highlighted as a big gap."""
        return self.cells[row, COL_GAP].background().color() == BIG_GAP_BACKGROUND
