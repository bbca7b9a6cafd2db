"""The head-count timeline: the observer's running count against the commission's figures.

Drawn with QPainter rather than QtCharts, which is not in PySide6-Essentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from observer.records import HeadcountPoint
from ui.qt import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen, QPointF, QRectF, QSize, Qt, QWidget

COUNT_COLOUR = QColor("#1f5fa8")
ANNOUNCED_COLOUR = QColor("#c0392b")
GRID_COLOUR = QColor("#d0d4da")


@dataclass(frozen=True)
class AnnouncedMark:
    slot: str  # "HH:MM", local time of the station
    announced: int


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def nice_step(raw: float) -> int:
    """A round grid step (1, 2, 5 x 10^n) at least ``raw``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= raw:
                return factor * magnitude
        magnitude *= 10


class HeadcountChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[HeadcountPoint] = []
        self.marks: list[AnnouncedMark] = []
        self.day_start = time(7, 0)
        self.day_end = time(20, 0)
        self.count_label = ""
        self.announced_label = ""
        self.empty_label = ""
        self.setMinimumHeight(180)

    def sizeHint(self) -> QSize:
        return QSize(600, 240)

    def set_data(self, points: list[HeadcountPoint], marks: list[AnnouncedMark], day_start: str, day_end: str) -> None:
        self.points = points
        self.marks = marks
        self.day_start = time.fromisoformat(day_start)
        self.day_end = time.fromisoformat(day_end)
        self.update()

    def set_labels(self, count: str, announced: str, empty: str) -> None:
        self.count_label, self.announced_label, self.empty_label = count, announced, empty
        self.update()

    def _local_minutes(self, at: datetime) -> int:
        return _minutes(at.astimezone().time())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = p.fontMetrics()
        left, right, top, bottom = fm.horizontalAdvance("00000") + 12, 16, fm.height() + 12, fm.height() + 10
        plot = QRectF(left, top, max(10, self.width() - left - right), max(10, self.height() - top - bottom))

        # The x axis is the voting day; counts outside it (early set-up, late count) stretch it.
        x0, x1 = _minutes(self.day_start), _minutes(self.day_end)
        if self.points:
            x0 = min(x0, min(self._local_minutes(pt.at) for pt in self.points))
            x1 = max(x1, max(self._local_minutes(pt.at) for pt in self.points))
        x1 = max(x1, x0 + 60)
        top_value = max([pt.total for pt in self.points] + [m.announced for m in self.marks] + [10])
        step = nice_step(top_value / 4)
        y_max = step * (int(top_value / step) + 1)

        def xy(minute: float, value: float) -> QPointF:
            return QPointF(
                plot.left() + (minute - x0) / (x1 - x0) * plot.width(), plot.bottom() - value / y_max * plot.height()
            )

        p.setPen(QPen(GRID_COLOUR, 1))
        for hour in range(x0 // 60 + (1 if x0 % 60 else 0), x1 // 60 + 1):
            x = xy(hour * 60, 0).x()
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(QColor("#555"))
            p.drawText(QRectF(x - 30, plot.bottom() + 2, 60, fm.height()), Qt.AlignmentFlag.AlignHCenter, f"{hour:02d}")
            p.setPen(QPen(GRID_COLOUR, 1))
        for i in range(int(y_max / step) + 1):
            value = step * i
            y = xy(x0, value).y()
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(QColor("#555"))
            p.drawText(
                QRectF(0, y - fm.height() / 2, left - 6, fm.height()), Qt.AlignmentFlag.AlignRight, str(int(value))
            )
            p.setPen(QPen(GRID_COLOUR, 1))

        if self.points:
            # A step line: the count stays flat until the next voter is counted.
            path = QPainterPath(xy(self._local_minutes(self.points[0].at), 0))
            for pt in self.points:
                point = xy(self._local_minutes(pt.at), pt.total)
                path.lineTo(QPointF(point.x(), path.currentPosition().y()))
                path.lineTo(point)
            p.setPen(QPen(COUNT_COLOUR, 2.5))
            p.drawPath(path)
        else:
            p.setPen(QColor("#777"))
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.empty_label)

        p.setPen(QPen(ANNOUNCED_COLOUR, 2))
        p.setBrush(ANNOUNCED_COLOUR)
        for mark in self.marks:
            minute = _minutes(time.fromisoformat(mark.slot))
            point = xy(minute, mark.announced)
            p.drawRect(QRectF(point.x() - 4, point.y() - 4, 8, 8))
            p.drawText(QPointF(point.x() + 6, point.y() - 6), str(mark.announced))

        # Legend: a line sample and a square sample, so it reads in black and white too.
        p.setBrush(Qt.BrushStyle.NoBrush)
        lx = plot.left()
        p.setPen(QPen(COUNT_COLOUR, 2.5))
        p.drawLine(QPointF(lx, top / 2), QPointF(lx + 24, top / 2))
        p.setPen(QColor("#222"))
        p.drawText(QPointF(lx + 30, top / 2 + fm.ascent() / 2 - 1), self.count_label)
        lx += 30 + fm.horizontalAdvance(self.count_label) + 24
        p.setPen(QPen(ANNOUNCED_COLOUR, 2))
        p.setBrush(ANNOUNCED_COLOUR)
        p.drawRect(QRectF(lx + 8, top / 2 - 4, 8, 8))
        p.setPen(QColor("#222"))
        p.drawText(QPointF(lx + 24, top / 2 + fm.ascent() / 2 - 1), self.announced_label)
        p.end()
