"""Turnout: by region (observed against official) and by reporting hour."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Spacer

from observer.definitions import gap_pp
from reports import charts
from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def turnout(ctx: Context) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(120 * mm), ctx.heading("report.turnout")]
    out += _by_region(ctx)
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
