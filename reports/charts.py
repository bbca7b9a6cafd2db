"""Vector charts for the report (reportlab.graphics), readable in black and white.

Each series differs by grey level *and* by outline (and, for lines, by dash
pattern and marker), so a photocopy keeps them apart. Axis ranges are fixed
here rather than left to ReportLab's auto-scaling, so a threshold line can be
placed exactly on the value scale and several charts of the same quantity
share a scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import FILL_EVEN_ODD, Circle, Drawing, Line, Path, Rect, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from observer.fmt import formatter
from observer.regionmap import NO_DATA, MapShape, colour, legend_stops, scale_top, shape_value
from reports.styles import DARK, FONT_CONDENSED, INK, LIGHT, SERIES_FILLS, register_fonts

LABEL_SIZE = 7
_MARKERS = ("FilledCircle", "FilledSquare", "FilledTriangle", "FilledDiamond")
_DASHES: tuple[tuple[float, ...] | None, ...] = (None, (4, 2), (1, 2), (6, 2, 1, 2))


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def nice_max(value: float, minimum: float = 1.0) -> float:
    """A round upper bound (1, 2, 2.5, 5 × 10^k) at or above ``value``."""
    value = max(value, minimum)
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _step(top: float) -> float:
    return top / 5 if top / 5 >= 1 or top <= 5 else round(top / 5)


def _axis_label(lang: str, unit: str) -> Callable[[float], str]:
    """Axis tick labels written as the language writes numbers (observer.fmt): 2,5 % in ru, 2.5% in en."""
    f = formatter(lang)

    def label(value: float) -> str:
        digits = 0 if abs(value - round(value)) < 1e-9 else 1
        return f.pct(value, digits) if unit == "%" else f.num(value, digits) + unit

    return label


def _text_width(text: str) -> float:
    return stringWidth(text, FONT_CONDENSED, LABEL_SIZE)


def _legend(
    drawing: Drawing, series: Sequence[Series], x: float, y: float, width: float, *, lines: bool = False
) -> None:
    """A one-row legend (wraps to more rows if needed) with swatches like the plot's."""
    cx, cy = x, y
    for i, s in enumerate(series):
        label_w = _text_width(s.name) + 30
        if cx + label_w > x + width and cx > x:
            cx, cy = x, cy - 11
        if lines:
            line = Line(cx, cy + 3, cx + 16, cy + 3, strokeColor=INK, strokeWidth=1.2)
            dash = _DASHES[i % len(_DASHES)]
            if dash:
                line.strokeDashArray = list(dash)
            drawing.add(line)
            marker = makeMarker(_MARKERS[i % len(_MARKERS)])
            marker.x, marker.y, marker.size = cx + 8, cy + 3, 4
            marker.fillColor = INK
            drawing.add(marker)
        else:
            drawing.add(
                Rect(cx, cy, 10, 7, fillColor=SERIES_FILLS[i % len(SERIES_FILLS)], strokeColor=INK, strokeWidth=0.6)
            )
        drawing.add(String(cx + 20, cy, s.name, fontName=FONT_CONDENSED, fontSize=LABEL_SIZE, fillColor=INK))
        cx += label_w


def _style_bars(chart: VerticalBarChart | HorizontalBarChart, n_series: int) -> None:
    chart.bars.strokeColor = INK
    chart.bars.strokeWidth = 0.5
    for i in range(n_series):
        chart.bars[i].fillColor = SERIES_FILLS[i % len(SERIES_FILLS)]
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName = FONT_CONDENSED
        axis.labels.fontSize = LABEL_SIZE
        axis.strokeColor = INK
        axis.strokeWidth = 0.6
    chart.valueAxis.gridStrokeColor = LIGHT
    chart.valueAxis.gridStrokeWidth = 0.4
    chart.valueAxis.visibleGrid = True


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    width: float,
    height: float | None = None,
    threshold: float | None = None,
    threshold_label: str = "",
    horizontal: bool = False,
    unit: str = "%",
    value_max: float | None = None,
    lang: str,
) -> Drawing:
    """Bars per category, one bar per series (observed vs official), optional threshold line.

    Horizontal layout is for long category lists (regions), so names stay readable.
    """
    register_fonts()
    data = [[(v if v is not None else 0.0) for v in s.values] for s in series]
    peak = max([v for row in data for v in row] + [threshold or 0.0, 0.0])
    top = value_max or nice_max(peak * 1.08)
    n = max(len(categories), 1)
    legend_h = 14 + 11 * int(sum(_text_width(s.name) + 30 for s in series) // max(width - 60, 1))
    if horizontal:
        label_w = min(150.0, max((_text_width(c) for c in categories), default=20.0) + 8)
        bar_area = n * (6.5 * len(series) + 4)
        height = height or bar_area + legend_h + 30
        chart: VerticalBarChart | HorizontalBarChart = HorizontalBarChart()
        chart.x, chart.y = label_w, 18
        chart.width, chart.height = width - label_w - 12, height - legend_h - 26
        chart.categoryAxis.reverseDirection = True  # first category on top, as in the table
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
    else:
        height = height or 180.0
        chart = VerticalBarChart()
        chart.x, chart.y = 34, 30
        # room on the right for the threshold's label, clear of the bars
        chart.width, chart.height = (
            width - 44 - (_text_width(threshold_label) + 6 if threshold is not None else 0),
            height - legend_h - 40,
        )
        chart.categoryAxis.labels.boxAnchor = "n"
        chart.categoryAxis.labels.dy = -3
    drawing = Drawing(width, height)
    chart.data = data
    chart.categoryAxis.categoryNames = list(categories)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top
    chart.valueAxis.valueStep = _step(top)
    chart.valueAxis.labelTextFormat = _axis_label(lang, unit)
    chart.barSpacing = 0.5
    chart.groupSpacing = 4
    _style_bars(chart, len(series))
    drawing.add(chart)
    if threshold is not None and 0 < threshold <= top:
        if horizontal:
            tx = chart.x + chart.width * threshold / top
            drawing.add(
                Line(tx, chart.y, tx, chart.y + chart.height, strokeColor=INK, strokeWidth=1.2, strokeDashArray=[4, 2])
            )
            drawing.add(
                String(
                    tx + 2, chart.y + chart.height + 2, threshold_label, fontName=FONT_CONDENSED, fontSize=LABEL_SIZE
                )
            )
        else:
            ty = chart.y + chart.height * threshold / top
            drawing.add(
                Line(chart.x, ty, chart.x + chart.width, ty, strokeColor=INK, strokeWidth=1.2, strokeDashArray=[4, 2])
            )
            drawing.add(
                String(chart.x + chart.width + 4, ty - 2, threshold_label, fontName=FONT_CONDENSED, fontSize=LABEL_SIZE)
            )
    _legend(drawing, series, chart.x, height - 11, width - chart.x)
    return drawing


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    width: float,
    unit: str = "",
    lang: str,
) -> Drawing:
    """Horizontal stacked bars (e.g. violations per region, stacked by category)."""
    register_fonts()
    data = [[(v if v is not None else 0.0) for v in s.values] for s in series]
    totals = [sum(col) for col in zip(*data)] if data else []
    top = nice_max(max(totals, default=1.0) * 1.05)
    n = max(len(categories), 1)
    label_w = min(150.0, max((_text_width(c) for c in categories), default=20.0) + 8)
    rows_legend = 1 + int(sum(_text_width(s.name) + 30 for s in series) // max(width - label_w, 1))
    legend_h = 6 + 11 * rows_legend
    height = n * 13 + legend_h + 30
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_w, 18
    chart.width, chart.height = width - label_w - 12, height - legend_h - 26
    chart.data = data
    chart.categoryAxis.categoryNames = list(categories)
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.reverseDirection = True
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -3
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top
    chart.valueAxis.valueStep = _step(top)
    chart.valueAxis.labelTextFormat = _axis_label(lang, unit)
    chart.barSpacing = 0
    chart.groupSpacing = 3
    _style_bars(chart, len(series))
    drawing.add(chart)
    _legend(drawing, series, chart.x, height - 11, width - chart.x)
    return drawing


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: float,
    height: float = 170.0,
    unit: str = "%",
    lang: str,
) -> Drawing:
    """Lines over time slots (turnout by hour), told apart by dash pattern and marker.

    A series without a single value is left out (ReportLab cannot draw an empty line).
    """
    register_fonts()
    series = [s for s in series if any(v is not None for v in s.values)]
    drawing = Drawing(width, height)
    chart = HorizontalLineChart()
    chart.x, chart.y = 34, 22
    chart.width, chart.height = width - 46, height - 50
    data = [[v for v in s.values] for s in series]
    peak = max([v for row in data for v in row if v is not None] + [0.0])
    top = nice_max(peak * 1.1)
    chart.data = [[(v if v is not None else None) for v in row] for row in data]
    chart.categoryAxis.categoryNames = list(x_labels)
    chart.categoryAxis.labels.fontName = FONT_CONDENSED
    chart.categoryAxis.labels.fontSize = LABEL_SIZE
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.valueAxis.labels.fontName = FONT_CONDENSED
    chart.valueAxis.labels.fontSize = LABEL_SIZE
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top
    chart.valueAxis.valueStep = _step(top)
    chart.valueAxis.labelTextFormat = _axis_label(lang, unit)
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = LIGHT
    chart.valueAxis.gridStrokeWidth = 0.4
    chart.joinedLines = 1
    for i in range(len(series)):
        chart.lines[i].strokeColor = INK if i % 2 == 0 else DARK
        chart.lines[i].strokeWidth = 1.4
        dash = _DASHES[i % len(_DASHES)]
        if dash:
            chart.lines[i].strokeDashArray = list(dash)
        marker = makeMarker(_MARKERS[i % len(_MARKERS)])
        marker.size = 4
        marker.fillColor = INK
        chart.lines[i].symbol = marker
    drawing.add(chart)
    _legend(drawing, series, chart.x, height - 11, width - chart.x, lines=True)
    return drawing


@dataclass(frozen=True)
class MapPanel:
    """One choropleth of a region map: its title (the legend's), what it colours by and how values read."""

    title: str
    mode: str  # observer.regionmap.COVERAGE or GAP
    values: Mapping[str, tuple[float, float]]  # unit code -> (part, whole): observer.regionmap.shape_value
    label: Callable[[float | None], str]  # a value as the legend and the shapes print it


def choropleth(
    shapes: Sequence[MapShape], box: tuple[float, float], panels: Sequence[MapPanel], width: float
) -> Drawing:
    """Maps side by side, one per panel, each shape filled by the panel's scale (observer.regionmap,
    the window's colours) and its value written on it, so a black-and-white copy still reads."""
    gap_x = 12.0
    panel_w = (width - gap_x * (len(panels) - 1)) / len(panels)
    scale = panel_w / box[0]
    map_h = box[1] * scale
    legend_h = 3 * LABEL_SIZE + 14
    drawing = Drawing(width, map_h + legend_h + 4)
    for n, panel in enumerate(panels):
        left = n * (panel_w + gap_x)
        top = scale_top(panel.mode, (shape_value(panel.values, s.codes) for s in shapes))
        _map_panel(drawing, shapes, panel, top, left, legend_h + 4, scale, map_h)
        _map_legend(drawing, panel, top, left, legend_h, min(panel_w * 0.7, 160.0))
    return drawing


def _map_panel(
    drawing: Drawing,
    shapes: Sequence[MapShape],
    panel: MapPanel,
    top: float,
    left: float,
    bottom: float,
    scale: float,
    map_h: float,
) -> None:
    labels: list[tuple[float, float, str]] = []
    for shape in sorted(shapes, key=lambda s: -s.extent()):  # cities' markers on top of their regions
        value = shape_value(panel.values, shape.codes)
        fill = colors.Color(*(c / 255 for c in colour(panel.mode, value, top)))
        cx, cy = shape.centre
        x, y = left + cx * scale, bottom + map_h - cy * scale
        if shape.extent() * scale < 6:
            drawing.add(Circle(x, y, 2.6, fillColor=fill, strokeColor=INK, strokeWidth=0.5))
            labels.append((x + 3.5, y - 2, panel.label(value) if value is not None else ""))
            continue
        path = Path(fillColor=fill, strokeColor=DARK, strokeWidth=0.35, fillMode=FILL_EVEN_ODD)
        for polygon in shape.polygons:
            for ring in polygon:
                path.moveTo(left + ring[0][0] * scale, bottom + map_h - ring[0][1] * scale)
                for px, py in ring[1:]:
                    path.lineTo(left + px * scale, bottom + map_h - py * scale)
                path.closePath()
        drawing.add(path)
        if value is not None:
            labels.append((x - _text_width(panel.label(value)) / 2, y - 2, panel.label(value)))
    for x, y, text in labels:
        drawing.add(String(x, y, text, fontName=FONT_CONDENSED, fontSize=LABEL_SIZE - 1, fillColor=INK))


def _map_legend(drawing: Drawing, panel: MapPanel, scale: float, left: float, top: float, width: float) -> None:
    stops = legend_stops(panel.mode, scale)
    drawing.add(
        String(left, top - LABEL_SIZE, panel.title, fontName=FONT_CONDENSED, fontSize=LABEL_SIZE, fillColor=INK)
    )
    bar_y = top - 2 * LABEL_SIZE - 4
    steps = 20
    for k in range(steps):
        value = stops[0] + (stops[-1] - stops[0]) * (k + 0.5) / steps
        fill = colors.Color(*(c / 255 for c in colour(panel.mode, value, scale)))
        drawing.add(Rect(left + k * width / steps, bar_y, width / steps + 0.3, 6, fillColor=fill, strokeColor=None))
    drawing.add(Rect(left, bar_y, width, 6, fillColor=None, strokeColor=INK, strokeWidth=0.4))
    for n, value in enumerate(stops):
        text = panel.label(value)
        x = left + width * n / (len(stops) - 1) - _text_width(text) * n / (len(stops) - 1)
        drawing.add(
            String(x, bar_y - LABEL_SIZE - 1, text, fontName=FONT_CONDENSED, fontSize=LABEL_SIZE, fillColor=INK)
        )
    no_data = colors.Color(*(c / 255 for c in NO_DATA))
    drawing.add(Rect(left + width + 8, bar_y, 8, 6, fillColor=no_data, strokeColor=INK, strokeWidth=0.4))
    drawing.add(
        String(left + width + 19, bar_y, panel.label(None), fontName=FONT_CONDENSED, fontSize=LABEL_SIZE, fillColor=INK)
    )
