"""Annexes: disputed protocols, imports, and the per-station table (laid out on the second pass only)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, Spacer

from observer.fmt import MISSING, formatter
from observer.regions import region_name
from reports.data import StationRow
from reports.flowables import Deferred, Lazy, PlainTable, esc
from reports.sections.base import Context, fit, when
from reports.styles import FONT_CONDENSED, FONT_CONDENSED_BOLD, FRAME_WIDTH

ANNEX_CHUNK_ROWS = 300
ANNEX_ROW_HEIGHT = 10.5
ANNEX_FONT_SIZE = 7.0
_OUTCOMES = ("merged", "duplicate", "refused", "held")


def annex_disputed(ctx: Context) -> list[Flowable]:
    d = ctx.d
    w = FRAME_WIDTH
    out: list[Flowable] = [PageBreak(), ctx.heading("report.annex.disputed")]
    if not d.disputed:
        out.append(ctx.p(esc(ctx.t("report.annex.disputed_none"))))
        return out
    rows: list[list[Any]] = [
        ctx.head(
            "report.col.station",
            "report.col.region",
            "report.col.versions",
            "report.col.differs",
            "report.col.voted_versions",
            "report.col.decision",
            "report.col.reason",
            right={2, 3, 4},
        )
    ]
    for x in d.disputed:
        decision = ctx.t(f"report.decision.{x.status}", who=x.chosen_from or "—")
        rows.append(
            [
                x.station_code,
                Paragraph(esc(region_name(x.region, ctx.lang)), ctx.s["cell"]),
                ctx.num(x.versions),
                ctx.num(x.differing),
                " / ".join(ctx.num(v) for v in x.voted),
                Paragraph(esc(decision), ctx.s["cell"]),
                Paragraph(esc(x.reason), ctx.s["cell"]),
            ]
        )
    table = ctx.table(
        rows,
        [w * 0.09, w * 0.22, w * 0.08, w * 0.11, w * 0.15, w * 0.19, w * 0.16],
        numeric_from=2,
        user_columns=(5, 6),  # the coordinator's own words: the chosen observer and the reason
    )
    table.setStyle([("VALIGN", (0, 1), (-1, -1), "TOP"), ("ALIGN", (5, 0), (-1, -1), "LEFT")])
    out.append(table)
    out.append(Spacer(1, 6 * mm))
    return out


def annex_imports(ctx: Context) -> list[Flowable]:
    d = ctx.d
    w = FRAME_WIDTH
    out: list[Flowable] = [ctx.heading("report.annex.imports")]
    if not d.imports:
        out.append(ctx.p(esc(ctx.t("report.annex.imports_none"))))
        return out
    rows: list[list[Any]] = [
        ctx.head("report.col.outcome", "report.col.packages", "report.col.first", "report.col.last")
    ]
    for i in d.imports:
        rows.append(
            [
                ctx.t(f"report.outcome.{i.outcome}") if i.outcome in _OUTCOMES else i.outcome,
                ctx.num(i.packages),
                when(i.first, ctx.lang, ctx.d.template),
                when(i.last, ctx.lang, ctx.d.template),
            ]
        )
    rows.append([ctx.t("report.total"), ctx.num(sum(i.packages for i in d.imports)), "", ""])
    out.append(ctx.table(rows, [w * 0.34, w * 0.18, w * 0.24, w * 0.24], bold_last=True))
    return out


def annex_stations(ctx: Context) -> list[Flowable]:
    d = ctx.d
    out: list[Flowable] = [PageBreak(), ctx.heading("report.annex.stations")]
    legend = "; ".join(f"{f} — {ctx.t('report.flag.' + f)}" for f in ("D", "C", "G", "N", "V"))
    out.append(ctx.p(esc(ctx.t("report.annex.stations_intro", n=ctx.num(len(d.stations)), legend=legend)), "small"))
    out.append(Deferred(lambda: _station_tables(ctx, d.stations)))
    return out


def _station_tables(ctx: Context, rows: list[StationRow]) -> list[Flowable]:
    """Plain-string tables, one block per region, at most ANNEX_CHUNK_ROWS rows each."""
    w = FRAME_WIDTH
    widths = [w * x for x in (0.10, 0.09, 0.09, 0.09, 0.09, 0.09, 0.09, 0.095, 0.095, 0.05, 0.12)]
    # Two-line headers as plain strings: "Turnout, obs." -> "Turnout,\nobs."
    header = [
        ctx.t(k).replace(", ", ",\n", 1)
        for k in (
            "report.col.station",
            "report.col.registered",
            "report.col.voted_observed",
            "report.col.voted_official",
            "report.col.turnout_observed",
            "report.col.turnout_official",
            "report.col.gap",
            "report.col.invalid_observed",
            "report.col.invalid_official",
            "report.col.violations_short",
            "report.col.flags",
        )
    ]
    head_style = ctx.s["h3"]
    cells = AnnexCells(ctx.lang)
    out: list[Flowable] = []
    start = 0
    lang = ctx.lang
    while start < len(rows):
        region = rows[start].region
        end = start
        while end < len(rows) and rows[end].region == region:
            end += 1
        name = region_name(region, lang) if region else ctx.t("report.region.unknown")
        title = esc(f"{name} ({ctx.num(end - start)})")
        for chunk in range(start, end, ANNEX_CHUNK_ROWS):
            stop = min(chunk + ANNEX_CHUNK_ROWS, end)
            # The region's title travels inside its first block: a heading's keepWithNext
            # must meet the table itself, not a placeholder.
            first = chunk == start

            def make(a: int = chunk, b: int = stop, heading: str | None = title if first else None) -> list[Flowable]:
                table = _annex_table(rows[a:b], header, widths, cells)
                return [Paragraph(heading, head_style), table] if heading else [table]

            out.append(Lazy(make))
        start = end
    return out


def _annex_table(rows: list[StationRow], header: list[str], widths: list[float], cells: AnnexCells) -> PlainTable:
    """One block of the station annex: plain strings in cells of fixed size."""
    body = [cells(r) for r in rows]
    for line in body:
        if len(line[0]) > 10:  # station codes may be up to 32 characters: clip to the cell
            line[0] = fit(line[0], widths[0] - 6, FONT_CONDENSED, ANNEX_FONT_SIZE)
    return PlainTable(
        header,
        body,
        widths,
        row_height=ANNEX_ROW_HEIGHT,
        header_height=2 * ANNEX_ROW_HEIGHT,
        font=FONT_CONDENSED,
        bold_font=FONT_CONDENSED_BOLD,
        size=ANNEX_FONT_SIZE,
        header_size=6.5,
        left=1,
        last_left=True,
    )


class AnnexCells:
    """The cells of one station's annex row, every number written by observer.fmt.

    The annex of 10,000 stations writes 80,000 numbers and CLDR formatting (Babel) costs
    ~45 µs each, so each distinct printed value is formatted once. The memo is keyed by the
    value Babel itself prints: the float's shortest decimal (``Decimal(str(x))``), scaled
    like the pattern scales it and rounded half-even to the digits shown, plus the sign.
    Babel's output is a function of exactly that, so a hit returns the string observer.fmt
    would write (tests/reports/test_report_typeset.py compares them on edge values), and a
    turnout of 63.2% is formatted once, not at every station where it occurs.
    """

    _QUANTUM = Decimal("0.1")  # one decimal: what fmt.pct and fmt.pp show by default

    def __init__(self, lang: str) -> None:
        self.f = formatter(lang)
        self._memo: dict[tuple[str, object], str] = {}

    def _cached(self, kind: str, value: float | int | None) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return MISSING
        key: tuple[str, object]
        if kind == "i":
            key = (kind, round(value))
        elif kind == "%":
            # fmt.pct hands Babel value / 100, which the percent pattern scales back by 10^2.
            d = Decimal(str(value / 100.0)).scaleb(2)
            key = (kind, (d.is_signed(), abs(d).quantize(self._QUANTUM, rounding=ROUND_HALF_EVEN)))
        else:
            # fmt.pp formats abs(value) and prefixes the sign unless the text is zero.
            key = (kind, (value > 0, Decimal(str(abs(value))).quantize(self._QUANTUM, rounding=ROUND_HALF_EVEN)))
        text = self._memo.get(key)
        if text is None:
            text = self.f.integer(value) if kind == "i" else self.f.pct(value) if kind == "%" else self.f.pp(value)
            if len(self._memo) > 200_000:  # bounded, whatever the data
                self._memo.clear()
            self._memo[key] = text
        return text

    def __call__(self, r: StationRow) -> list[str]:
        c = self._cached
        return [
            r.code,
            c("i", r.registered),
            c("i", r.observed_voted),
            c("i", r.official_voted),
            c("%", r.observed_turnout),
            c("%", r.official_turnout),
            c("pp", r.gap_pp),
            c("%", r.observed_invalid),
            c("%", r.official_invalid),
            c("i", r.violations) if r.violations else "",
            " ".join(r.flags),
        ]


def station_cells(r: StationRow, lang: str) -> list[str]:
    """One station's annex row in ``lang`` (for callers outside the report's own build)."""
    return AnnexCells(lang)(r)


__all__ = ["ANNEX_CHUNK_ROWS", "annex_disputed", "annex_imports", "annex_stations", "station_cells"]
