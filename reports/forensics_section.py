"""The report's forensics section: tables and vector charts of :mod:`observer.forensics`.

``forensics_flowables(result, lang)`` lays out a result that was computed
elsewhere (the GUI shows the same object); ``report_flowables(store, lang)``
is what :mod:`reports.build` calls: it runs the tests on the HQ file first.

Charts are drawn with reportlab.graphics primitives, in greys plus dash
patterns, so they print in black and white: the fingerprint is a grey heat map
on a logarithmic scale, the Shpilkin chart tells its three curves apart by
dash pattern, and the 0.1 % histogram is one thin stroke per bin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from reportlab.graphics.shapes import Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from db.cli_forensics import party_namer, run_forensics
from db.store import ElectionStore
from observer.aggregate import StationArrays
from observer.errors import BaqylauError
from observer.forensics import (
    NATIONAL,
    Comparison,
    DigitTest,
    Fingerprint,
    ForensicsResult,
    Options,
    PvtResult,
    TurnoutDistribution,
    figure_notes,
    unit_name,
    verdict,
)
from observer.i18n import tr
from reports.charts import nice_max
from reports.flowables import Heading, esc, fmt_int, fmt_num, fmt_pct, fmt_pp
from reports.styles import (
    DARK,
    FONT_CONDENSED,
    FRAME_WIDTH,
    INK,
    LIGHT,
    MID,
    PALE,
    get_styles,
    register_fonts,
)
from reports.tables import data_table

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
    _label(drawing, lx + 14, bottom + GREY_LEVELS * step_h - 6, fmt_int(int(round(peak)), lang))
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
        _label(drawing, left - 3, y - 2.5, fmt_int(int(round(value)), lang), "end")
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


def fine_chart(hist: np.ndarray, lang: str, width: float = FRAME_WIDTH, height: float = 50 * mm) -> Drawing:
    """Stations per 0.1 pp: one thin stroke per bin, whole percents ticked below the axis."""
    register_fonts()
    left, bottom, top_pad = 34.0, 22.0, 8.0
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    drawing = Drawing(width, height)
    counts = np.asarray(hist, dtype=np.float64)
    nz = np.flatnonzero(counts)
    # Show only the occupied range, widened to whole tens of percent (bins are 0.1 % wide).
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
        drawing.add(Line(x, bottom, x, bottom + plot_h * c / peak, strokeColor=DARK, strokeWidth=0.45))
    div = _divisions(peak)
    for k in range(div + 1):
        y = bottom + plot_h * k / div
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=LIGHT, strokeWidth=0.3))
        _label(drawing, left - 3, y - 2.5, fmt_int(int(round(peak * k / div)), lang), "end")
    for pct in range(lo_bin // 10, hi_bin // 10 + 1):
        x = left + plot_w * (pct * 10 - lo_bin) / span
        major = pct % 10 == 0
        drawing.add(
            Line(x, bottom, x, bottom - (4 if major else 1.5), strokeColor=INK, strokeWidth=0.5 if major else 0.3)
        )
        if major:
            _label(drawing, x, bottom - 11, str(pct), "middle")
    drawing.add(Rect(left, bottom, plot_w, plot_h, fillColor=None, strokeColor=INK, strokeWidth=0.6))
    _label(drawing, left + plot_w / 2, 2, tr("forensics.axis.turnout", lang), "middle")
    return drawing


# ---------------------------------------------------------------------------
# tables and text


def _p(p: float, lang: str) -> str:
    if not math.isfinite(p):
        return "—"
    return "< " + fmt_num(0.001, lang, 3) if p < 0.001 else fmt_num(p, lang, 3)


def _table(rows: list[list[Any]], widths: Sequence[float], numeric_from: int = 1) -> Table:
    return data_table(rows, widths, numeric_from=numeric_from, h_align="LEFT")  # words never broken


def _head(lang: str, *keys: str, **params: object) -> list[Paragraph]:
    s = get_styles()
    return [Paragraph(esc(tr(f"forensics.col.{k}", lang, **params)), s["cell_head"]) for k in keys]


def _notes(figure: Any, lang: str, name: Callable[[str], str], extra: Sequence[str] = ()) -> Paragraph:
    notes = figure_notes(figure, lang, name)
    parts = [esc(notes[k]) for k in ("method", "sample", "uncertainty") if k in notes]
    parts += [esc(e) for e in extra]
    return Paragraph("<br/>".join(parts), get_styles()["note"])


def forensics_flowables(
    result: ForensicsResult,
    lang: str,
    party_name: Callable[[str], str] | None = None,
) -> list[Flowable]:
    """The forensics section for a computed result, in ``lang``."""
    s = get_styles()
    name = party_name or (lambda key: key)
    leader = name(result.leader)
    w = FRAME_WIDTH
    t = lambda key, **kw: tr(key, lang, **kw)  # noqa: E731 - a local shorthand
    out: list[Flowable] = [
        Heading(t("forensics.title"), 0, "forensics"),
        Paragraph(esc(t("forensics.report.intro")), s["body"]),
    ]

    # 1. fingerprint
    fp = result.fingerprint
    block: list[Flowable] = [
        Heading(t("forensics.h.fingerprint"), 1, "forensics-fp"),
        fingerprint_chart(fp, lang, leader),
    ]
    block.append(Paragraph(esc(t("forensics.chart.fingerprint", leader=leader)), s["caption"]))
    out.append(KeepTogether(block))
    for m in fp.masses:
        out.append(
            Paragraph(
                esc(
                    t(
                        "forensics.line.mass",
                        threshold=m.threshold,
                        stations=fmt_int(m.stations, lang),
                        share=fmt_num(m.voters_share, lang, 2),
                        se=fmt_num(m.voters_se, lang, 2),
                        leader_share=fmt_num(m.leader_share, lang, 2),
                    )
                ),
                s["body"],
            )
        )
    out.append(Paragraph(esc(t("forensics.line.corr", corr=fmt_num(fp.turnout_leader_corr, lang, 3))), s["body"]))
    out.append(_notes(fp, lang, name))

    # 2. Shpilkin
    dist = result.turnout
    out.append(CondPageBreak(90 * mm))
    out.append(Heading(t("forensics.h.shpilkin"), 1, "forensics-shpilkin"))
    out.append(turnout_chart(dist, lang, leader))
    out.append(Paragraph(esc(t("forensics.chart.turnout", leader=leader)), s["caption"]))
    out.append(
        Paragraph(
            esc(
                t(
                    "forensics.line.shpilkin",
                    mode=fmt_num(dist.mode_pct, lang),
                    ratio=fmt_num(dist.ratio, lang, 3),
                    excess=fmt_int(int(round(dist.excess)), lang) if math.isfinite(dist.excess) else "—",
                    margin=fmt_int(int(round(1.96 * dist.excess_se)), lang) if math.isfinite(dist.excess_se) else "—",
                    share=fmt_num(dist.excess_share, lang),
                )
            ),
            s["body"],
        )
    )
    out.append(_notes(dist, lang, name))

    # 3. integer percentages
    out.append(CondPageBreak(90 * mm))
    out.append(Heading(t("forensics.h.integer"), 1, "forensics-integer"))
    out.append(fine_chart(result.fine_turnout_hist, lang))
    out.append(Paragraph(esc(t("forensics.chart.fine")), s["caption"]))
    rows: list[list[Any]] = [_head(lang, "quantity", "step", "stations", "observed", "expected", "range", "ratio", "p")]
    for test in result.integer:
        c = test.national
        rows.append(
            [
                Paragraph(esc(t(f"forensics.q.{test.quantity}")), s["cell"]),
                t(f"forensics.step.{test.step}"),
                fmt_int(c.stations, lang),
                fmt_int(c.observed, lang),
                fmt_num(c.expected, lang),
                f"{fmt_int(int(c.low), lang)}–{fmt_int(int(math.ceil(c.high)), lang)}",
                fmt_num(c.ratio, lang, 3),
                _p(c.p_value, lang),
            ]
        )
    out.append(_table(rows, [w * f for f in (0.23, 0.14, 0.1, 0.1, 0.1, 0.14, 0.09, 0.1)], numeric_from=2))
    out.append(Spacer(1, 2 * mm))
    either = result.integer_test("either", 1)
    out.append(_notes(either, lang, name, [verdict(either, lang=lang)]))

    # 4. digits
    out.append(CondPageBreak(70 * mm))
    out.append(Heading(t("forensics.h.digits"), 1, "forensics-digits"))
    if result.digits:
        rows = [_head(lang, "party", "test", "n", "chi2", "p", "mean", "mean_p", "repeat")]
        for d in result.digits:
            rows.append(
                [
                    name(d.party),
                    t(f"forensics.test.{d.test}"),
                    fmt_int(d.n, lang),
                    fmt_num(d.chi2, lang),
                    _p(d.p_value, lang),
                    f"{fmt_num(d.mean, lang, 3)} ({fmt_num(d.expected_mean, lang, 3)})",
                    _p(d.mean_p, lang),
                    fmt_pct(d.repeat_share, lang) if math.isfinite(d.repeat_share) else "—",
                ]
            )
        out.append(_table(rows, [w * f for f in (0.17, 0.15, 0.1, 0.1, 0.1, 0.16, 0.1, 0.12)], numeric_from=2))
        out.append(Spacer(1, 2 * mm))
        for kind in ("last", "second"):
            first: DigitTest | None = next((d for d in result.digits if d.test == kind), None)
            if first is not None:
                notes = figure_notes(first, lang, name)
                out.append(Paragraph("<br/>".join(esc(notes[k]) for k in ("method", "uncertainty")), s["note"]))
                # The caveat sits right beside its test, in the body style so it is not skimmed over.
                out.append(Paragraph(f"<b>{esc(notes['caveat'])}</b>", s["small"]))
    else:
        out.append(Paragraph(esc(t("forensics.line.no_digits")), s["body"]))

    # 5. PVT
    out.append(CondPageBreak(70 * mm))
    out.append(Heading(t("forensics.h.pvt"), 1, "forensics-pvt"))
    if result.pvt is not None:
        out += _pvt_table(result.pvt, lang, name)
    else:
        out.append(Paragraph(esc(t("forensics.line.no_sample")), s["body"]))

    # 6. comparison
    out.append(CondPageBreak(60 * mm))
    out.append(Heading(t("forensics.h.comparison"), 1, "forensics-comparison"))
    if result.comparison is not None:
        out += _comparison(result.comparison, lang, name)
    else:
        out.append(Paragraph(esc(t("forensics.line.no_sample")), s["body"]))

    if result.regions:
        out.append(CondPageBreak(60 * mm))
        out.append(Heading(t("forensics.h.regions"), 1, "forensics-regions"))
        thr = result.options.thresholds[0]
        rows = [
            [
                *_head(lang, "region", "stations", "turnout", "leader"),
                *_head(lang, "mass", threshold=thr),
                *_head(lang, "excess", "round_turnout", "round_leader"),
            ]
        ]

        def rc(c: Any) -> str:
            return "—" if c is None else f"{fmt_num(c.ratio, lang, 2)} ({_p(c.p_value, lang)})"

        for r in result.regions:
            rows.append(
                [
                    Paragraph(esc(unit_name(r.region, lang)), s["cell"]),
                    fmt_int(r.stations, lang),
                    fmt_pct(r.turnout, lang),
                    fmt_pct(r.leader_share, lang),
                    fmt_pct(r.high_mass, lang, 2),
                    f"{fmt_int(int(round(r.shpilkin_excess)), lang) if math.isfinite(r.shpilkin_excess) else '—'}"
                    f" ({fmt_int(int(round(r.shpilkin_se)), lang) if math.isfinite(r.shpilkin_se) else '—'})",
                    rc(r.integer_turnout),
                    rc(r.integer_leader),
                ]
            )
        out.append(_table(rows, [w * f for f in (0.17, 0.1, 0.09, 0.11, 0.1, 0.13, 0.15, 0.15)]))
        out.append(
            Paragraph(
                esc(
                    t(
                        "forensics.note.regions",
                        threshold=thr,
                        regions=len(result.regions),
                        expected=fmt_num(0.05 * len(result.regions), lang),
                    )
                ),
                s["note"],
            )
        )
    return out


def _inside(e: Any, lang: str) -> str:
    return " / ".join(
        "—" if e.inside(lv) is None else tr("forensics.yes" if e.inside(lv) else "forensics.no", lang)
        for lv in (0.95, 0.99)
    )


def _pvt_table(pvt: PvtResult, lang: str, name: Callable[[str], str]) -> list[Flowable]:
    """Every quantity for the whole country, then turnout and the leader's share by region."""
    s = get_styles()
    t = lambda key, **kw: tr(key, lang, **kw)  # noqa: E731
    w = FRAME_WIDTH

    def quantity(key: str) -> str:
        return t(f"forensics.q.{key}") if key in ("turnout", "invalid") else name(key)

    rows: list[list[Any]] = [_head(lang, "quantity", "stations", "estimate", "moe95", "moe99", "official", "inside")]
    for e in pvt.national():
        rows.append(
            [
                Paragraph(esc(quantity(e.quantity)), s["cell"]),
                fmt_int(e.stations, lang),
                fmt_pct(e.value, lang, 2),
                fmt_num(e.margin(0.95), lang, 2),
                fmt_num(e.margin(0.99), lang, 2),
                fmt_pct(e.official, lang, 2) if e.official is not None else "—",
                _inside(e, lang),
            ]
        )
    out: list[Flowable] = [_table(rows, [w * f for f in (0.24, 0.1, 0.12, 0.1, 0.1, 0.12, 0.22)]), Spacer(1, 2 * mm)]

    leader = next((e.quantity for e in pvt.national() if e.quantity not in ("turnout", "invalid")), None)
    regions = sorted({e.unit for e in pvt.estimates if e.unit != NATIONAL})
    if regions:
        heads = [t("forensics.col.region"), t("forensics.col.stations")]
        for key in ("turnout", leader):
            if key is not None:
                heads += [
                    f"{quantity(key)}: {t('forensics.col.estimate')}",
                    t("forensics.col.official"),
                    t("forensics.col.inside"),
                ]
        rows = [[Paragraph(esc(h), s["cell_head"]) for h in heads]]
        for code in regions:
            by_q = {e.quantity: e for e in pvt.regional(code)}
            turnout = by_q.get("turnout")
            small = any(e.small_sample for e in by_q.values())
            row: list[Any] = [
                Paragraph(esc(unit_name(code, lang) + (" *" if small else "")), s["cell"]),
                fmt_int(turnout.stations if turnout else None, lang),
            ]
            for key in ("turnout", leader):
                if key is None:
                    continue
                if key not in by_q:
                    row += ["—", "—", "—"]
                else:
                    e = by_q[key]
                    row += [
                        f"{fmt_pct(e.value, lang, 1)} ± {fmt_num(e.margin(0.95), lang, 1)}",
                        fmt_pct(e.official, lang, 1) if e.official is not None else "—",
                        _inside(e, lang),
                    ]
            rows.append(row)
        widths = [0.18, 0.1, 0.14, 0.1, 0.12, 0.14, 0.1, 0.12]
        out.append(_table(rows, [w * f for f in widths[: len(heads)]]))
    out += [Paragraph(esc(t("forensics.note.small")), s["small"]), _notes(pvt, lang, name)]
    return out


def _comparison(comp: Comparison, lang: str, name: Callable[[str], str]) -> list[Flowable]:
    s = get_styles()
    t = lambda key, **kw: tr(key, lang, **kw)  # noqa: E731
    w = FRAME_WIDTH
    rows: list[list[Any]] = [
        _head(lang, "quantity", "stations", "official", "observed", "gap", "se", "median", "over1", "over5")
    ]
    for g in comp.gaps:
        rows.append(
            [
                Paragraph(esc(t(f"forensics.q.{g.quantity}")), s["cell"]),
                fmt_int(g.stations, lang),
                fmt_pct(g.official, lang, 2),
                fmt_pct(g.observed, lang, 2),
                fmt_pp(g.gap, lang, 2),
                fmt_num(g.se, lang, 2),
                fmt_pp(g.median_station_gap, lang, 2),
                fmt_int(g.stations_over_1pp, lang),
                fmt_int(g.stations_over_5pp, lang),
            ]
        )
    out: list[Flowable] = [_table(rows, [w * f for f in (0.18, 0.1, 0.1, 0.1, 0.11, 0.07, 0.14, 0.1, 0.1)])]
    sg = comp.signs
    out.append(Spacer(1, 2 * mm))
    out.append(
        Paragraph(
            esc(
                t(
                    "forensics.line.signs",
                    threshold=sg.threshold,
                    observed=fmt_num(sg.observed_mass, lang, 2),
                    observed_se=fmt_num(sg.observed_se, lang, 2),
                    unobserved=fmt_num(sg.unobserved_mass, lang, 2),
                    unobserved_se=fmt_num(sg.unobserved_se, lang, 2),
                    p=_p(sg.p_value, lang),
                    turnout_observed=fmt_num(sg.mean_turnout_observed, lang),
                    turnout_unobserved=fmt_num(sg.mean_turnout_unobserved, lang),
                )
            ),
            s["body"],
        )
    )
    if sg.integer_observed is not None and sg.integer_unobserved is not None:
        out.append(
            Paragraph(
                esc(
                    t(
                        "forensics.line.signs_integer",
                        observed_ratio=fmt_num(sg.integer_observed.ratio, lang, 2),
                        observed_p=_p(sg.integer_observed.p_value, lang),
                        unobserved_ratio=fmt_num(sg.integer_unobserved.ratio, lang, 2),
                        unobserved_p=_p(sg.integer_unobserved.p_value, lang),
                    )
                ),
                s["body"],
            )
        )
    # A list of zero gaps says nothing: only stations where the figures differ are listed.
    differing = [g for g in comp.largest if abs(g.gap) >= 0.05][:10]
    if differing:
        rows = [_head(lang, "station", "region", "observed_turnout", "official_turnout", "gap")]
        for st in differing:
            rows.append(
                [
                    st.code,
                    Paragraph(esc(unit_name(st.region, lang)), s["cell"]),
                    fmt_pct(st.observed_turnout, lang),
                    fmt_pct(st.official_turnout, lang),
                    fmt_pp(st.gap, lang),
                ]
            )
        out.append(_table(rows, [w * f for f in (0.14, 0.3, 0.18, 0.18, 0.2)], numeric_from=2))
    out.append(_notes(comp, lang, name))
    return out


def report_flowables(
    store: ElectionStore,
    lang: str,
    options: Options = Options(),
    tables: tuple[StationArrays, StationArrays] | None = None,
) -> list[Flowable]:
    """The section for an HQ file: run the tests (by region), then lay them out.

    ``tables`` are the (official, observed) station tables the report has already read.
    A file the tests cannot run on (no official results yet) gets the heading
    and the reason, so the reader knows the section was not forgotten.
    """
    try:
        result = run_forensics(store, "region", options, tables)
    except BaqylauError as exc:
        return [
            Heading(tr("forensics.title", lang), 0, "forensics"),
            Paragraph(esc(tr("forensics.report.unavailable", lang, problem=exc.message(lang))), get_styles()["body"]),
        ]
    return forensics_flowables(result, lang, party_namer(store.template, lang))
