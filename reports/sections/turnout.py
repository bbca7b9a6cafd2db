"""Turnout: by region (observed against official) and by reporting hour."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Spacer

from observer.definitions import gap_pp
from observer.regionmap import COVERAGE, GAP, scale_top, shape_value
from observer.regions import region_name
from reports import charts
from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def turnout(ctx: Context) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(120 * mm), ctx.heading("report.turnout")]
    out += _by_region(ctx)
    out += _map(ctx)
    hours = _by_hour(ctx)
    out += [KeepTogether(hours)] if ctx.d.hours else hours
    return out


def _by_region(ctx: Context) -> list[Flowable]:
    """Observed against official turnout per region (table with a national row, then bars)."""
    d = ctx.d
    out: list[Flowable] = [ctx.heading("report.turnout.regions", 1)]
    rows: list[list[Any]] = [
        ctx.head(
            "report.col.region",
            "report.col.counted_of_all",
            "report.col.observed",
            "report.col.official_same",
            "report.col.official_all",
            "report.col.gap",
        )
    ]
    for u in [*d.regions, d.national]:
        rows.append(
            [
                u.name,
                f"{ctx.num(u.stations_counted)} / {ctx.num(u.stations_total)}",
                ctx.pct(u.observed.turnout_pct, 2),
                ctx.pct(u.official_same.turnout_pct, 2),
                ctx.pct(u.official_all.turnout_pct, 2),
                ctx.pp(u.turnout_gap_pp),
            ]
        )
    w = FRAME_WIDTH
    out.append(ctx.table(rows, [w * 0.28, w * 0.12, w * 0.15, w * 0.15, w * 0.15, w * 0.15], bold_last=True))
    out.append(ctx.p(esc(ctx.t("report.turnout.caption")), "caption"))
    if d.regions:
        out.append(
            charts.grouped_bars(
                [u.name for u in d.regions],
                [
                    charts.Series(ctx.t("report.col.observed"), [u.observed.turnout_pct for u in d.regions]),
                    charts.Series(ctx.t("report.col.official_same"), [u.official_same.turnout_pct for u in d.regions]),
                ],
                width=FRAME_WIDTH,
                lang=ctx.lang,
                horizontal=True,
                value_max=100.0,
            )
        )
        out.append(ctx.p(esc(ctx.t("report.turnout.chart_caption")), "caption"))
    return out


def _map(ctx: Context) -> list[Flowable]:
    """The regions on the template's map: coverage (counted stations of those on the list) beside the
    turnout gap, from the very figures of the table above."""
    d = ctx.d
    if d.region_map is None:
        return [ctx.p(esc(d.map_problem), "caption")] if d.map_problem else []
    units = d.template.units
    codes = [u.code for u in units.on(d.template.date)] if units is not None else []
    codes += [r.code for r in d.regions if r.code and r.code not in codes]
    shapes, missing = d.region_map.for_units(codes)
    if not shapes:
        return []
    coverage = {r.code: (float(r.stations_counted), float(r.stations_total)) for r in d.regions}
    # A shape of several units: their gaps weighted by counted stations (one unit: its own gap).
    gaps = {
        r.code: (r.turnout_gap_pp * r.stations_counted, float(r.stations_counted))
        for r in d.regions
        if r.turnout_gap_pp is not None and r.stations_counted
    }
    no_data = ctx.t("report.map.no_data")
    digits = 0 if scale_top(COVERAGE, (shape_value(coverage, s.codes) for s in shapes)) >= 0.1 else 1
    panels = [
        charts.MapPanel(
            ctx.t("report.map.coverage"),
            COVERAGE,
            coverage,
            lambda v: no_data if v is None else ctx.pct(100 * v, digits),
        ),
        charts.MapPanel(ctx.t("report.map.gap"), GAP, gaps, lambda v: no_data if v is None else ctx.pp(v)),
    ]
    box = (d.region_map.width, d.region_map.height)
    notes = [ctx.t("report.map.caption")]
    shared = [s for s in shapes if len(s.codes) > 1]
    if shared:
        names = "; ".join(" + ".join(region_name(c, ctx.lang) for c in s.codes) for s in shared)
        notes.append(ctx.t("report.map.shared", names=names))
    if missing:
        notes.append(ctx.t("report.map.missing", units=", ".join(region_name(c, ctx.lang) for c in missing)))
    if d.region_map.source:
        notes.append(ctx.t("report.map.source", source=d.region_map.source))
    return [
        KeepTogether(
            [
                ctx.heading("report.turnout.map", 1),
                charts.choropleth(shapes, box, panels, FRAME_WIDTH),
                ctx.p(esc(" ".join(notes)), "caption"),
            ]
        )
    ]


def _by_hour(ctx: Context) -> list[Flowable]:
    """The commission's announced turnout against the observers' head-count at each reporting time."""
    d = ctx.d
    hours: list[Flowable] = [ctx.heading("report.turnout.hours", 1)]
    if not d.hours:
        hours.append(ctx.p(esc(ctx.t("report.none"))))
        return hours
    rows: list[list[Any]] = [
        ctx.head(
            "report.col.time",
            "report.col.stations",
            "report.col.announced",
            "report.col.headcount",
            "report.col.difference",
        )
    ]
    for h in d.hours:
        diff = gap_pp(h.observed_pct, h.announced_pct)  # the one sign: observed minus official
        rows.append(
            [
                h.slot,
                f"{ctx.num(h.stations)} / {ctx.num(h.counted_stations)}",
                ctx.pct(h.announced_pct, 2),
                ctx.pct(h.observed_pct, 2),
                ctx.pp(diff),
            ]
        )
    hours.append(ctx.table(rows, [FRAME_WIDTH * 0.2] * 5))
    hours.append(Spacer(1, 3 * mm))
    if any(h.announced_pct is not None or h.observed_pct is not None for h in d.hours):
        hours.append(
            charts.line_chart(
                [h.slot for h in d.hours],
                [
                    charts.Series(ctx.t("report.col.announced"), [h.announced_pct for h in d.hours]),
                    charts.Series(ctx.t("report.col.headcount"), [h.observed_pct for h in d.hours]),
                ],
                width=FRAME_WIDTH,
                lang=ctx.lang,
            )
        )
    hours.append(ctx.p(esc(ctx.t("report.turnout.hours_caption")), "caption"))
    return hours


__all__ = ["turnout"]
