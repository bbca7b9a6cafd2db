"""The posted copy of a protocol and the figures announced aloud, side by side.

A compact table (line, posted, announced, difference) with every differing line
marked, and a one-line summary meant for a place that does not scroll away.
"""

from __future__ import annotations

from observer.i18n import tr
from observer.template import ElectionTemplate
from ui.qt import (
    QAbstractItemView,
    QBrush,
    QColor,
    QGroupBox,
    QHeaderView,
    QLabel,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

DIFFER_BACKGROUND = "#fdecea"
Values = dict[str, int | None]


def differing(posted: Values, announced: Values) -> list[str]:
    """Keys filled in both versions whose figures differ."""
    return [k for k, v in posted.items() if v is not None and announced.get(k) is not None and announced[k] != v]


class ComparisonView(QGroupBox):
    """Both versions of the protocol, line by line; ``summary`` is a label to place where it stays visible."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        col = QVBoxLayout(self)
        self.summary = QLabel(parent)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 4, self)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(160)
        self.table.setMaximumHeight(260)  # compact: it scrolls inside, the checks stay in view
        col.addWidget(self.table)
        self.differ: list[str] = []

    def set_values(self, template: ElectionTemplate, posted: Values, announced: Values) -> None:
        self.setTitle(tr("ui.compare.title"))
        self.table.setHorizontalHeaderLabels(
            [
                tr("ui.compare.line"),
                tr("ui.compare.posted"),
                tr("ui.compare.announced"),
                "Δ",
            ]
        )
        for column, source in ((1, "posted_copy"), (2, "announced")):
            header = self.table.horizontalHeaderItem(column)
            if header is not None:
                header.setToolTip(tr(f"ui.protocol.source.{source}"))
        keys = [k for k in template.all_keys if posted.get(k) is not None or announced.get(k) is not None]
        self.differ = differing(posted, announced)
        self.table.setRowCount(len(keys))
        for r, key in enumerate(keys):
            a, b = posted.get(key), announced.get(key)
            delta = f"{b - a:+d}" if a is not None and b is not None and a != b else ""
            number = next((item.number for item in template.lines if item.key == key), "")
            line = f"{number}. {template.label(key)}" if number else template.label(key)
            for c, text in enumerate((line, _show(a), _show(b), delta)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if key in self.differ:
                    item.setBackground(QBrush(QColor(DIFFER_BACKGROUND)))
                self.table.setItem(r, c, item)
        both = any(v is not None for v in posted.values()) and any(v is not None for v in announced.values())
        if not both:
            text, kind = tr("ui.compare.empty"), "hint"
        elif self.differ:
            shown = ", ".join(f"{template.label(k)}: {posted[k]} ≠ {announced[k]}" for k in self.differ[:3])
            text, kind = tr("ui.compare.differ", count=len(self.differ)) + " — " + shown, "problem"
        else:
            text, kind = tr("ui.compare.same"), "ok"
        self.summary.setText(text)
        self.summary.setObjectName(kind)
        self.summary.style().unpolish(self.summary)
        self.summary.style().polish(self.summary)


def _show(value: int | None) -> str:
    return "—" if value is None else str(value)
