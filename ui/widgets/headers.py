"""Table headers that wrap instead of ending in "…" (Kazakh and Russian headers are long)."""

from __future__ import annotations

from ui.qt import QEvent, QFont, QFontMetrics, QHeaderView, QObject, QTableWidget
from ui.widgets.style import wrap_text

# The section's padding and border in the style sheet (QHeaderView::section), with a pixel to spare.
HEADER_PADDING = 16


def header_metrics(header: QHeaderView) -> QFontMetrics:
    """The metrics of the header's text as drawn: the style sheet makes sections bold."""
    header.ensurePolished()
    font = QFont(header.font())
    font.setBold(True)
    return QFontMetrics(font)


class WrappedHeaders(QObject):
    """Sets a table's horizontal header labels, each wrapped at spaces to its section's width.

    Again whenever a section is resized (the window, the language), so a header
    never loses its end. ``labels`` are the one-line texts.
    """

    def __init__(self, table: QTableWidget) -> None:
        super().__init__(table)
        self.table = table
        self.labels: list[str] = []
        self._shown: list[str] = []
        header = table.horizontalHeader()
        header.sectionResized.connect(lambda *_: self.fit())
        table.viewport().installEventFilter(self)

    def set_labels(self, labels: list[str]) -> None:
        self.labels = list(labels)
        self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        header = self.table.horizontalHeader()
        metrics = header_metrics(header)
        shown = [
            "\n".join(wrap_text(metrics, text, max(1, header.sectionSize(col) - HEADER_PADDING)))
            for col, text in enumerate(self.labels)
        ]
        if shown != self._shown:
            self._shown = shown
            self.table.setHorizontalHeaderLabels(shown)
