"""A choropleth of regions: each shape of a region map filled by a figure, with a legend.

The shapes come from :mod:`observer.regionmap` (already projected into a box); the
colours are its scales, the same the report's map uses. A shape too small to point at
(a city of republican significance on a country map) gets a round marker of its own.
Hovering a shape names it in the tooltip; clicking one emits ``regionClicked`` with the
codes of the units it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from observer.regionmap import COVERAGE, NO_DATA, MapShape, colour, legend_stops, scale_top, shape_value
from ui.qt import (
    QColor,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QWidget,
    Signal,
)

MARKER_RADIUS = 6.0  # pixels: a shape smaller than this is drawn as a marker of this size
_MARGIN = 6.0
_LEGEND_STEPS = 24


class ChoroplethMap(QWidget):
    """``regionClicked(codes)``: the units of the shape clicked."""

    regionClicked = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("choropleth")
        self.setMouseTracking(True)
        self.setMinimumSize(260, 160)
        self.shapes: tuple[MapShape, ...] = ()
        self.box = (1.0, 1.0)  # the map's width and height (observer.regionmap.RegionMap)
        self.values: Mapping[str, tuple[float, float]] = {}
        self.mode = COVERAGE
        self.top = 1.0  # where the scale ends (observer.regionmap.scale_top)
        self.legend_title = ""
        self.value_text: Callable[[float | None], str] = lambda v: "" if v is None else f"{v:.2f}"
        self.shape_name: Callable[[tuple[str, ...]], str] = lambda codes: ", ".join(codes)
        # The tooltip's second line: the figures behind the colour (default: the value as the legend writes it).
        self.detail: Callable[[tuple[str, ...], float | None], str] = lambda _codes, v: self.value_text(v)
        self._paths: list[QPainterPath] = []
        self._hover = -1

    def sizeHint(self) -> QSize:
        return QSize(560, 340)

    # ---- data ----------------------------------------------------------------------------
    def set_shapes(self, shapes: tuple[MapShape, ...], width: float, height: float) -> None:
        self.shapes = shapes
        self.box = (max(width, 1e-9), max(height, 1e-9))
        self._paths = []
        self.update()

    def set_values(self, mode: str, values: Mapping[str, tuple[float, float]]) -> None:
        """Colour by ``values`` (code -> (part, whole)); ``mode`` picks the scale (observer.regionmap)."""
        self.mode = mode
        self.values = values
        self.top = scale_top(mode, (shape_value(values, s.codes) for s in self.shapes))
        self._hover = -1
        self.setToolTip("")
        self.update()

    def value_of(self, index: int) -> float | None:
        return shape_value(self.values, self.shapes[index].codes)

    def colour_of(self, index: int) -> QColor:
        return QColor(*colour(self.mode, self.value_of(index), self.top))

    def index_of(self, code: str) -> int:
        return next(i for i, s in enumerate(self.shapes) if code in s.codes)

    # ---- geometry --------------------------------------------------------------------------
    def _legend_height(self) -> float:
        return 2.5 * self.fontMetrics().height() + 6

    def _map_rect(self) -> QRectF:
        w, h = self.width() - 2 * _MARGIN, self.height() - 2 * _MARGIN - self._legend_height()
        scale = max(min(w / self.box[0], h / self.box[1]), 1e-6)
        mw, mh = self.box[0] * scale, self.box[1] * scale
        return QRectF(_MARGIN + (w - mw) / 2, _MARGIN + (h - mh) / 2, mw, mh)

    def _build_paths(self) -> None:
        rect = self._map_rect()
        scale = rect.width() / self.box[0]
        self._paths = []
        for shape in self.shapes:
            path = QPainterPath()
            path.setFillRule(Qt.FillRule.OddEvenFill)  # holes (a city inside its region, a lake) stay open
            if shape.extent() * scale < 2 * MARKER_RADIUS:
                cx, cy = shape.centre
                path.addEllipse(QPointF(rect.x() + cx * scale, rect.y() + cy * scale), MARKER_RADIUS, MARKER_RADIUS)
            else:
                for polygon in shape.polygons:
                    for ring in polygon:
                        path.moveTo(rect.x() + ring[0][0] * scale, rect.y() + ring[0][1] * scale)
                        for x, y in ring[1:]:
                            path.lineTo(rect.x() + x * scale, rect.y() + y * scale)
                        path.closeSubpath()
            self._paths.append(path)

    def resizeEvent(self, event: object) -> None:  # type: ignore[override]
        self._paths = []

    def shape_at(self, point: QPointF) -> int:
        """The shape under ``point`` (a marker before the region around it), or -1."""
        if len(self._paths) != len(self.shapes):
            self._build_paths()
        hits = [i for i, path in enumerate(self._paths) if path.contains(point)]
        return min(hits, key=lambda i: self._paths[i].boundingRect().width(), default=-1)

    def point_of(self, code: str) -> QPointF:
        """A point inside the shape drawing ``code`` (for tests and keyboard users' tooltips)."""
        if len(self._paths) != len(self.shapes):
            self._build_paths()
        i = self.index_of(code)
        rect = self._paths[i].boundingRect()
        probe = rect.center()
        if self.shape_at(probe) == i:
            return probe
        for fx in (0.3, 0.5, 0.7, 0.4, 0.6):  # a bent region's centre may lie outside it
            for fy in (0.3, 0.5, 0.7, 0.4, 0.6):
                probe = QPointF(rect.x() + rect.width() * fx, rect.y() + rect.height() * fy)
                if self.shape_at(probe) == i:
                    return probe
        return rect.center()

    # ---- mouse -------------------------------------------------------------------------------
    def tooltip_for(self, index: int) -> str:
        codes = self.shapes[index].codes
        return f"{self.shape_name(codes)}\n{self.detail(codes, self.value_of(index))}"

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.shape_at(event.position())
        if index != self._hover:
            self._hover = index
            self.setToolTip(self.tooltip_for(index) if index >= 0 else "")
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        index = self.shape_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and index >= 0:
            self.regionClicked.emit(list(self.shapes[index].codes))
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event: object) -> None:  # type: ignore[override]
        self._hover = -1
        self.update()

    # ---- drawing --------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        if len(self._paths) != len(self.shapes):
            self._build_paths()
        border = QPen(QColor(90, 90, 90), 0.8)
        order = sorted(range(len(self.shapes)), key=lambda i: -self._paths[i].boundingRect().width())
        for i in order:  # large regions first, so a city's marker is drawn on top of its region
            painter.setPen(QPen(QColor(20, 20, 20), 2.2) if i == self._hover else border)
            painter.setBrush(self.colour_of(i))
            painter.drawPath(self._paths[i])
        if self.shapes:  # a legend of nothing says nothing (the overview's map before its first figures)
            self._paint_legend(painter)
        painter.end()

    def _paint_legend(self, painter: QPainter) -> None:
        fm = self.fontMetrics()
        stops = legend_stops(self.mode, self.top)
        top = self.height() - self._legend_height() - _MARGIN / 2
        painter.setPen(self.palette().text().color())
        painter.drawText(QPointF(_MARGIN, top + fm.ascent()), self.legend_title)
        bar_top = top + fm.height() + 2
        width = min(260.0, self.width() / 2)
        step = width / _LEGEND_STEPS
        painter.setPen(Qt.PenStyle.NoPen)
        for k in range(_LEGEND_STEPS):
            value = stops[0] + (stops[-1] - stops[0]) * (k + 0.5) / _LEGEND_STEPS
            painter.setBrush(QColor(*colour(self.mode, value, self.top)))
            painter.drawRect(QRectF(_MARGIN + k * step, bar_top, step + 0.5, fm.height() * 0.6))
        no_data_x = _MARGIN + width + 16
        painter.setBrush(QColor(*NO_DATA))
        painter.drawRect(QRectF(no_data_x, bar_top, fm.height() * 0.9, fm.height() * 0.6))
        painter.setPen(self.palette().text().color())
        label_y = bar_top + fm.height() * 0.6 + fm.ascent()
        for n, value in enumerate(stops):
            text = self.value_text(value)
            x = _MARGIN + width * n / (len(stops) - 1) - fm.horizontalAdvance(text) * n / (len(stops) - 1)
            painter.drawText(QPointF(x, label_y), text)
        painter.drawText(QPointF(no_data_x + fm.height(), bar_top + fm.height() * 0.6), self.value_text(None))
