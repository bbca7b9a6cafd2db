"""Review and finalize: every open item before export, each a link to its field.

The list comes from observer.review; this page only reads the station's figures
from the store, shows the items and asks for a typed reason when the observer
exports with items still open ("export anyway").
"""

from __future__ import annotations

from db.store import ElectionStore
from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.plausibility import DayFigures
from observer.records import StationInfo
from observer.review import MAX_REASON, MIN_REASON, DayRecord, ReviewItem, review_items
from ui.pages.base import Page, plain_label
from ui.qt import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.settings import Settings

WARNING_STYLE = "color: #8a4b00; font-weight: bold;"
ITEM_ROLE = Qt.ItemDataRole.UserRole
KIND_MARK = {"relation": "✗", "cross_check": "⚠", "relation_warning": "⚠"}


def warning_label(parent: QWidget | None = None) -> QLabel:
    """A plausibility warning beside a field: visible, but not the red of a broken relation."""
    label = plain_label("", parent)
    label.setObjectName("warning")
    label.setStyleSheet(WARNING_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def protocol_values(store: ElectionStore, station_id: str) -> dict[str, dict[str, int | None]]:
    """This observer's protocol versions that were started: source -> line values."""
    out: dict[str, dict[str, int | None]] = {}
    for row in store.iter_table("protocols"):
        if row.station_id == station_id and row.observer_id == store.observer_id:
            out[row.source] = store.protocol_values(row.id)
    return out


def day_figures(store: ElectionStore, station: StationInfo) -> DayFigures:
    return DayFigures(
        registered=station.registered,
        announced={s.slot: s.announced for s in store.turnout_slots(station.id)},
        headcount=store.headcount(station.id),
        protocols=protocol_values(store, station.id),
        tally=store.spoiled(station.id),
    )


def day_record(store: ElectionStore) -> DayRecord | None:
    """Everything the review reads, for the current station (None before set-up)."""
    station = store.current_station()
    if station is None:
        return None
    checklists = {
        name: {key: entry.answer for key, entry in store.checklist(station.id, name).items()}
        for name in ("opening", "closing")
    }
    violations = [(v.id, v.category) for v in store.violations(station.id)]
    return DayRecord(day_figures(store, station), checklists, violations)


def current_items(store: ElectionStore) -> list[ReviewItem]:
    record = day_record(store)
    return review_items(store.template, record) if record is not None else []


class ReviewPage(Page):
    title_key = "review.nav"

    jump_requested = Signal(str, str)  # page, target
    export_anyway = Signal(str)  # the typed reason

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self.items: list[ReviewItem] = []
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)
        self.hint = plain_label()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        col.addWidget(self.hint)
        self.status = plain_label()
        self.status.setStyleSheet("font-weight: bold; font-size: 12pt;")
        col.addWidget(self.status)
        self.list = QListWidget(self.body)
        self.list.setWordWrap(True)
        self.list.setSpacing(3)
        self.list.setCursor(Qt.CursorShape.PointingHandCursor)  # each line is a link to its field
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        col.addWidget(self.list, 1)

        self.reason_box = QGroupBox(self.body)
        rc = QVBoxLayout(self.reason_box)
        row = QHBoxLayout()
        self.reason = QLineEdit(self.reason_box)
        self.reason.setMaxLength(MAX_REASON)  # what the package keeps of it
        self.anyway_button = QPushButton(self.reason_box)
        self.anyway_button.setMinimumHeight(40)
        self.anyway_button.setEnabled(False)
        row.addWidget(self.reason, 1)
        row.addWidget(self.anyway_button)
        rc.addLayout(row)
        self.reason_hint = plain_label()
        self.reason_hint.setObjectName("hint")
        self.reason_hint.setWordWrap(True)
        rc.addWidget(self.reason_hint)
        col.addWidget(self.reason_box)

        self.list.itemClicked.connect(self._jump)
        self.list.itemActivated.connect(self._jump)
        self.reason.textChanged.connect(self._reason_changed)
        self.reason.returnPressed.connect(self._export_anyway)
        self.anyway_button.clicked.connect(self._export_anyway)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        self.hint.setText(tr("review.ui.hint"))
        self.reason_box.setTitle(tr("review.ui.reason"))
        self.reason.setPlaceholderText(tr("review.ui.reason_hint"))
        self.anyway_button.setText(tr("review.ui.export_anyway"))
        self.reason_hint.setText(tr("review.ui.need_reason", min=formatter(current_language()).integer(MIN_REASON)))
        self.refresh()

    def refresh(self) -> None:
        super().refresh()
        self.items = current_items(self.store)
        current = self.list.currentRow()
        self.list.clear()
        for item in self.items:
            entry = QListWidgetItem(f"{KIND_MARK.get(item.kind, '○')}  {item.text}")
            entry.setData(ITEM_ROLE, (item.page, item.target))
            entry.setToolTip(item.text)
            self.list.addItem(entry)
        if self.items:
            self.list.setCurrentRow(min(max(current, 0), len(self.items) - 1))
        self.status.setText(
            tr("review.ui.items", count=formatter(current_language()).integer(len(self.items)))
            if self.items
            else tr("review.ui.none")
        )
        self.status.setStyleSheet(
            "font-weight: bold; font-size: 12pt; " + ("color: #b3261e;" if self.items else "color: #2e7d32;")
        )
        self.reason_box.setVisible(bool(self.items))
        self._reason_changed()

    def reason_text(self) -> str:
        return self.reason.text().strip()

    def _reason_changed(self) -> None:
        self.anyway_button.setEnabled(len(self.reason_text()) >= MIN_REASON)

    def _jump(self, entry: QListWidgetItem) -> None:
        page, target = entry.data(ITEM_ROLE)
        self.jump_requested.emit(page, target)

    def _export_anyway(self) -> None:
        if len(self.reason_text()) >= MIN_REASON:
            self.export_anyway.emit(self.reason_text())

    def clear_reason(self) -> None:
        self.reason.clear()
