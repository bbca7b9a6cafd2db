"""Turnout: the observer's own head-count against the commission's announcements."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from db.store import ElectionStore
from observer.checks import percent
from observer.i18n import tr
from observer.records import HeadcountPoint, StationInfo
from ui.pages.base import Page, plain_label
from ui.qt import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QKeySequence,
    QPushButton,
    QShortcut,
    QSizePolicy,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from ui.settings import Settings
from ui.widgets.chart import AnnouncedMark, HeadcountChart
from ui.widgets.fields import IntField
from ui.widgets.messages import attempt, succeeded

COL_SLOT, COL_ANNOUNCED, COL_ANNOUNCED_PCT, COL_COUNTED, COL_COUNTED_PCT, COL_GAP = range(6)


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def count_at(points: list[HeadcountPoint], cutoff: datetime) -> int:
    """The observer's running total at ``cutoff`` (points are in time order)."""
    total = 0
    for pt in points:
        if pt.at > cutoff:
            break
        total = pt.total
    return total


class TurnoutPage(Page):
    title_key = "ui.nav.turnout"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self._total = 0
        self._station: StationInfo | None = None
        self._points: list[HeadcountPoint] = []
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)

        top = QHBoxLayout()
        counter_box = QVBoxLayout()
        self.count_caption = plain_label()
        self.count_value = plain_label("0")
        self.count_value.setObjectName("bigNumber")
        self.count_pct = plain_label()
        counter_box.addWidget(self.count_caption)
        counter_box.addWidget(self.count_value)
        counter_box.addWidget(self.count_pct)
        counter_box.addStretch(1)
        top.addLayout(counter_box, 1)

        self.add_button = QPushButton("+1", self.body)
        self.add_button.setObjectName("counter")
        self.add_button.setMinimumSize(260, 104)
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
        side.addWidget(self.keys_hint)
        side.addStretch(1)
        top.addLayout(side, 1)
        col.addLayout(top)

        self.table = QTableWidget(0, 6, self.body)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(COL_ANNOUNCED, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(36)
        self.slot_fields: dict[str, IntField] = {}
        self.cells: dict[tuple[int, int], QTableWidgetItem] = {}
        slots = store.template.reporting_times
        self.table.setRowCount(len(slots))
        for row, slot in enumerate(slots):
            self.table.setItem(row, COL_SLOT, QTableWidgetItem(slot))
            field = IntField(self.table)
            field.value_changed.connect(lambda value, s=slot: self._save_announced(s, value))
            self.table.setCellWidget(row, COL_ANNOUNCED, field)
            self.slot_fields[slot] = field
            for c in (COL_ANNOUNCED_PCT, COL_COUNTED, COL_COUNTED_PCT, COL_GAP):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, c, item)
                self.cells[row, c] = item
        self.table.horizontalHeader().setMinimumHeight(36)
        self.table.setFixedHeight(36 * len(slots) + 40)
        col.addWidget(self.table)
        self.chart = HeadcountChart(self.body)
        col.addWidget(self.chart, 1)

        self.add_button.clicked.connect(self.count_one)
        self.undo_button.clicked.connect(self.undo_one)
        # Page-wide keys: the observer watches the door, not the screen.
        # "+" arrives with Shift on most layouts and with the keypad flag from a numeric keypad.
        plus_keys = (
            QKeySequence(Qt.Key.Key_Plus),
            QKeySequence(Qt.KeyboardModifier.ShiftModifier | Qt.Key.Key_Plus),
            QKeySequence(Qt.KeyboardModifier.KeypadModifier | Qt.Key.Key_Plus),
        )
        for seq in (QKeySequence(Qt.Key.Key_Space), *plus_keys):
            sc = QShortcut(seq, self, self.count_one, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.setAutoRepeat(False)
        for seq in (QKeySequence(Qt.Key.Key_Backspace), QKeySequence(QKeySequence.StandardKey.Undo)):
            sc = QShortcut(seq, self, self.undo_one, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.setAutoRepeat(False)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.count_caption.setText(tr("ui.turnout.my_count"))
        self.add_button.setToolTip(tr("ui.turnout.add_tip"))
        self.undo_button.setText(tr("ui.turnout.undo"))
        self.keys_hint.setText(tr("ui.turnout.keys"))
        self.table.setHorizontalHeaderLabels(
            [
                tr("ui.turnout.col.slot"),
                tr("ui.turnout.col.announced"),
                tr("ui.turnout.col.announced_pct"),
                tr("ui.turnout.col.counted"),
                tr("ui.turnout.col.counted_pct"),
                tr("ui.turnout.col.gap"),
            ]
        )
        self.chart.set_labels(
            tr("ui.turnout.chart.count"), tr("ui.turnout.chart.announced"), tr("ui.turnout.chart.empty")
        )
        self._update_count_label(self._total)

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
        self._update_view()

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
        self._total = total
        self._update_view()

    def _save_announced(self, slot: str, value: int | None) -> None:
        sid = self._station.id if self._station else None
        if sid is not None and succeeded(lambda: self.store.set_announced(sid, slot, value)):
            self._update_view()

    # ---- display ---------------------------------------------------------
    def _update_count_label(self, total: int) -> None:
        self.count_value.setText(str(total))
        st = self._station
        registered = st.registered if st else None
        pct = percent(total, registered)
        self.count_pct.setText(
            tr("ui.turnout.my_pct", pct=fmt_pct(pct)) if pct is not None else tr("ui.turnout.no_registered")
        )

    def _update_view(self) -> None:
        self._update_count_label(self._total)
        st = self._station
        registered = st.registered if st else None
        points = self._points
        now = datetime.now().astimezone()
        # The voting day is the day the observer counted on (or today before the first voter).
        day: date = points[-1].at.astimezone().date() if points else now.date()
        marks: list[AnnouncedMark] = []
        for row, (slot, field) in enumerate(self.slot_fields.items()):
            announced = field.value()
            cutoff = datetime.combine(day, time.fromisoformat(slot)).astimezone()
            counted = count_at(points, cutoff) if cutoff <= now else None
            a_pct, c_pct = percent(announced, registered), percent(counted, registered)
            gap = None if a_pct is None or c_pct is None else a_pct - c_pct
            self.cells[row, COL_ANNOUNCED_PCT].setText(fmt_pct(a_pct))
            self.cells[row, COL_COUNTED].setText("—" if counted is None else str(counted))
            self.cells[row, COL_COUNTED_PCT].setText(fmt_pct(c_pct))
            self.cells[row, COL_GAP].setText("—" if gap is None else tr("ui.turnout.gap_value", gap=f"{gap:+.1f}"))
            if announced is not None:
                marks.append(AnnouncedMark(slot, announced))
        tpl = self.store.template
        self.chart.set_data(points, marks, tpl.polls_open, tpl.polls_close)
