"""The forensics charts of the report, drawn with reportlab.graphics in greys plus dash patterns.

They print in black and white: the fingerprint is a grey heat map on a
logarithmic scale, the Shpilkin chart tells its three curves apart by dash
pattern, and the integer-percentage chart is one thin stroke per 0.1 % bin
(darker on whole percents), turnout above and the leader's share below.
Every number on them is written by :mod:`observer.fmt`.
"""

from __future__ import annotations

import math

import numpy as np
from reportlab.graphics.shapes import Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from observer.fmt import formatter
from observer.forensics import Fingerprint, TurnoutDistribution
from observer.i18n import tr
from reports.charts import nice_max
from reports.styles import FONT_CONDENSED, FRAME_WIDTH, INK, LIGHT, MID, PALE, register_fonts

LABEL = 7.0
GREY_LEVELS = 12  # distinct greys in the heat map: few enough to stay apart on paper


def _grey(level: int) -> colors.Color:
    """Level 1 (fewest voters) is pale, GREY_LEVELS (most) is black."""
    v = 0.90 * (1 - (level - 1) / (GREY_LEVELS - 1))
    return colors.Color(v, v, v)


def _label(drawing: Drawing, x: float, y: float, text: str, anchor: str = "start", size: float = LABEL) -> None:
    drawing.add(String(x, y, text, fontName=FONT_CONDENSED, fontSize=size, fillColor=INK, textAnchor=anchor))


# ---------------------------------------------------------------------------
# charts


def fingerprint_chart(fp: Fingerprint, lang: str, leader: str, size: float = 78 * mm) -> Drawing:
    """Turnout across, the leader's share up; grey = voters in the cell on a log scale."""
    register_fonts()
    left, bottom, legend_w = 30.0, 26.0, 58.0
    drawing = Drawing(left + size + legend_w + 12, bottom + size + 10)
    grid = np.asarray(fp.voters, dtype=np.float64)
    bins_t, bins_s = grid.shape
    cw, ch = size / bins_t, size / bins_s
    drawing.add(Rect(left, bottom, size, size, fillColor=colors.white, strokeColor=None))
    peak = float(grid.max()) if grid.size else 0.0
    if peak > 0:
        # Log scale: the honest cloud holds most voters, the tell-tale clusters far fewer.
        levels = np.zeros(grid.shape, dtype=np.int64)
        nz = grid > 0
        levels[nz] = 1 + np.floor((GREY_LEVELS - 1) * np.log1p(grid[nz]) / math.log1p(peak) + 1e-9).astype(np.int64)
        levels = np.minimum(levels, GREY_LEVELS)
        # Runs of equal grey along each column become one rectangle: a tenth of the PDF size.
        for i in range(bins_t):
            col = levels[i]
            j = 0
            while j < bins_s:
                lv = int(col[j])
                k = j + 1
                while k < bins_s and col[k] == lv:
                    k += 1
                if lv:
                    drawing.add(
                        Rect(left + i * cw, bottom + j * ch, cw, (k - j) * ch, fillColor=_grey(lv), strokeColor=None)
                    )
                j = k
    drawing.add(Rect(left, bottom, size, size, fillColor=None, strokeColor=INK, strokeWidth=0.6))
    for tick in range(0, 101, 20):
        x = left + size * tick / 100
        y = bottom + size * tick / 100
        drawing.add(Line(x, bottom, x, bottom - 3, strokeColor=INK, strokeWidth=0.5))
        drawing.add(Line(left, y, left - 3, y, strokeColor=INK, strokeWidth=0.5))
        _label(drawing, x, bottom - 10, str(tick), "middle")
        _label(drawing, left - 5, y - 2.5, str(tick), "end")
    _label(drawing, left + size / 2, 3, tr("forensics.axis.turnout", lang), "middle")
    axis = String(
        0,
        0,
        tr("forensics.axis.share", lang),
        fontName=FONT_CONDENSED,
        fontSize=LABEL,
        fillColor=INK,
        textAnchor="middle",
    )
    rotated = Group(axis)
    rotated.transform = (0, 1, -1, 0, 8, bottom + size / 2)
    drawing.add(rotated)
    if fp.masses:
        # The first threshold's corner, where the fingerprint's stuffing mass is measured.
        thr = fp.masses[0].threshold
        x0, y0 = left + size * thr / 100, bottom + size * thr / 100
        box = Rect(x0, y0, left + size - x0, bottom + size - y0, fillColor=None, strokeColor=INK, strokeWidth=0.8)
        box.strokeDashArray = [3, 2]
        drawing.add(box)
    lx = left + size + 14
    _label(drawing, lx, bottom + size - 2, tr("forensics.legend.scale", lang))
    step_h = (size - 24) / GREY_LEVELS
    for lv in range(1, GREY_LEVELS + 1):
        drawing.add(
            Rect(lx, bottom + (lv - 1) * step_h, 10, step_h, fillColor=_grey(lv), strokeColor=INK, strokeWidth=0.3)
        )
    _label(drawing, lx + 14, bottom, "1")
    _label(drawing, lx + 14, bottom + GREY_LEVELS * step_h - 6, formatter(lang).integer(peak))
    return drawing


def _divisions(top: float) -> int:
    """Grid lines that land on round values: 2 × 10^k splits in 4, 1, 2.5 and 5 × 10^k in 5."""
    lead = top / 10 ** math.floor(math.log10(top)) if top > 0 else 1.0
    return 4 if abs(lead - 2) < 1e-9 else 5


def turnout_chart(
    dist: TurnoutDistribution, lang: str, leader: str, width: float = FRAME_WIDTH, height: float = 62 * mm
) -> Drawing:
    """Shpilkin's chart: votes per 1 pp of turnout for the leader, the others and the expected leader."""
    register_fonts()
    left, bottom, top_pad = 44.0, 24.0, 22.0
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    drawing = Drawing(width, height)
    edges = np.asarray(dist.edges)
    centres = (edges[:-1] + edges[1:]) / 2
    series = [np.asarray(dist.leader_votes), np.asarray(dist.other_votes), np.asarray(dist.expected_leader)]
    # A tiny sample can leave the expected curve undefined (NaN): scale and draw the finite part only.
    highest = max((float(np.nanmax(s)) for s in series if s.size and np.isfinite(s).any()), default=0.0)
    peak = nice_max(highest * 1.05) if highest > 0 else 1.0

    def xy(x: float, y: float) -> tuple[float, float]:
        return left + plot_w * x / 100, bottom + plot_h * y / peak

    # Voters per bin as pale bars behind the lines, so the turnout histogram itself is there too.
    voters = np.asarray(dist.voters)
    vpeak = float(voters.max()) if voters.size else 0.0
    if vpeak > 0:
        bw = plot_w / len(voters)
        for i, v in enumerate(voters):
            if v > 0:
                h = plot_h * v / vpeak * 0.95
                drawing.add(Rect(left + i * bw, bottom, bw, h, fillColor=PALE, strokeColor=None))
    div = _divisions(peak)
    for k in range(div + 1):
        value = peak * k / div
        y = bottom + plot_h * k / div
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=LIGHT, strokeWidth=0.4))
        _label(drawing, left - 3, y - 2.5, formatter(lang).integer(value), "end")
    for tick in range(0, 101, 10):
        x = left + plot_w * tick / 100
        drawing.add(Line(x, bottom, x, bottom - 3, strokeColor=INK, strokeWidth=0.5))
        _label(drawing, x, bottom - 10, str(tick), "middle")
    drawing.add(Rect(left, bottom, plot_w, plot_h, fillColor=None, strokeColor=INK, strokeWidth=0.6))
    dashes: list[list[float] | None] = [None, [4, 2], [1, 1.5]]
    widths = [1.3, 1.0, 1.0]
    for values, dash, lw in zip(series, dashes, widths):
        points: list[float] = []
        for x, y in zip(centres, values):
            if math.isfinite(float(y)):
                points += list(xy(float(x), float(y)))
        if len(points) < 4:
            continue
        line = PolyLine(points, strokeColor=INK, strokeWidth=lw, fillColor=None)
        if dash:
            line.strokeDashArray = dash
        drawing.add(line)
    if math.isfinite(dist.mode_pct):
        mx, _ = xy(dist.mode_pct, 0)
        mode_line = Line(mx, bottom, mx, bottom + plot_h, strokeColor=MID, strokeWidth=0.8)
        mode_line.strokeDashArray = [6, 2, 1, 2]
        drawing.add(mode_line)
    _label(drawing, left + plot_w / 2, 3, tr("forensics.axis.turnout", lang), "middle")
    names = [leader, tr("forensics.legend.others", lang), tr("forensics.legend.expected", lang, leader=leader)]
    lx = left
    ly = height - 10
    for name, dash, lw in zip(names, dashes, widths):
        sample = Line(lx, ly + 2.5, lx + 18, ly + 2.5, strokeColor=INK, strokeWidth=lw)
        if dash:
            sample.strokeDashArray = dash
        drawing.add(sample)
        _label(drawing, lx + 22, ly, name)
        lx += 22 + len(name) * LABEL * 0.5 + 14
    _label(drawing, left + plot_w, ly, tr("forensics.axis.votes", lang), "end")
    return drawing


def _fine_panel(
    drawing: Drawing, hist: np.ndarray, lang: str, box: tuple[float, float, float, float], axis_key: str
) -> None:
    """One panel of the integer-percentage chart in ``box`` = (left, bottom, width, height).

    The 0 % and 100 % bins are left out (the caption gives their counts): on real
    data thousands of stations sit there and would flatten the spikes at whole
    percents, which are what the chart is for. Whole-percent bins are drawn dark,
    the others grey, so a spike on a round number stands out.
    """
    left, bottom, plot_w, plot_h = box
    counts = np.asarray(hist, dtype=np.float64).copy()
    counts[0] = 0.0
    counts[-1] = 0.0
    nz = np.flatnonzero(counts)
    # Only the occupied range, widened to whole tens of percent (bins are 0.1 % wide).
    lo_bin = (int(nz.min()) // 100) * 100 if len(nz) else 0
    hi_bin = min(1000, ((int(nz.max()) + 99) // 100) * 100) if len(nz) else 1000
    if hi_bin <= lo_bin:
        hi_bin = lo_bin + 100
    peak = nice_max(float(counts[lo_bin : hi_bin + 1].max(initial=0)) * 1.05)
    span = hi_bin - lo_bin
    for i in range(lo_bin, hi_bin + 1):
        c = counts[i] if i < len(counts) else 0
        if c <= 0:
            continue
        x = left + plot_w * (i - lo_bin) / span
        whole = i % 10 == 0
        drawing.add(
            Line(
                x,
                bottom,
                x,
                bottom + plot_h * c / peak,
                strokeColor=INK if whole else MID,
                strokeWidth=0.6 if whole else 0.35,
            )
        )
    div = _divisions(peak)
    f = formatter(lang)
    for k in range(div + 1):
        y = bottom + plot_h * k / div
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=LIGHT, strokeWidth=0.3))
        _label(drawing, left - 3, y - 2.5, f.integer(peak * k / div), "end")
    for pct in range(lo_bin // 10, hi_bin // 10 + 1):
        x = left + plot_w * (pct * 10 - lo_bin) / span
        major = pct % 10 == 0
        drawing.add(
            Line(x, bottom, x, bottom - (4 if major else 1.5), strokeColor=INK, strokeWidth=0.5 if major else 0.3)
        )
        if major:
            _label(drawing, x, bottom - 11, str(pct), "middle")
    drawing.add(Rect(left, bottom, plot_w, plot_h, fillColor=None, strokeColor=INK, strokeWidth=0.6))
    _label(drawing, left + 2, bottom + plot_h + 3, tr(axis_key, lang))


def integer_chart(
    turnout_hist: np.ndarray, leader_hist: np.ndarray, lang: str, width: float = FRAME_WIDTH, height: float = 96 * mm
) -> Drawing:
    """Stations per 0.1 % of turnout (top panel) and of the leader's share (bottom), 0 % and 100 % left out."""
    register_fonts()
    left, gap, pad = 34.0, 26.0, 12.0
    plot_w = width - left - 8
    panel_h = (height - 2 * gap - pad) / 2
    drawing = Drawing(width, height)
    _fine_panel(drawing, leader_hist, lang, (left, gap, plot_w, panel_h), "forensics.axis.leader_share")
    _fine_panel(drawing, turnout_hist, lang, (left, 2 * gap + panel_h, plot_w, panel_h), "forensics.axis.turnout")
    return drawing
