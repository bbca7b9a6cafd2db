"""What every page of the observer's window shares."""

from __future__ import annotations

from db.store import ElectionStore
from observer.i18n import tr
from observer.records import StationInfo
from ui.qt import QLabel, QScrollArea, Qt, QVBoxLayout, QWidget, Signal
from ui.settings import Settings


class Page(QWidget):
    """A screen of the Election Day workflow.

    Subclasses build widgets in ``__init__``, set every visible string in
    ``retranslate()`` (run again when the language changes) and load stored
    values in ``refresh()`` (run when the page is shown or the station changes).
    Pages that record station data show a hint and stay disabled until the
    station is set up, since every record belongs to a station.
    """

    title_key = ""
    needs_station = True
    station_changed = Signal()  # emitted by the set-up page; the window refreshes the others

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.store = store
        self.settings = settings
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 12, 20, 12)
        self.title = plain_label("", self)
        self.title.setObjectName("pageTitle")
        outer.addWidget(self.title)
        self.no_station = plain_label("", self)
        self.no_station.setObjectName("problem")
        self.no_station.setWordWrap(True)
        outer.addWidget(self.no_station)
        self.body = QWidget(self)
        self.body.setObjectName("page")
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroller.setWidget(self.body)
        outer.addWidget(self.scroller, 1)

    @property
    def station(self) -> StationInfo | None:
        return self.store.current_station()

    @property
    def station_id(self) -> str | None:
        st = self.station
        return st.id if st else None

    def retranslate(self) -> None:
        self.title.setText(tr(self.title_key))
        self.no_station.setText(tr("ui.page.no_station"))

    def refresh(self) -> None:
        ready = not self.needs_station or self.station_id is not None
        self.no_station.setVisible(not ready)
        self.body.setEnabled(ready)


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that never interprets markup: it may show what a user typed."""
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
