"""The report of an HQ file with official results and no observer data yet (an analyst with the CEC's file)."""

from __future__ import annotations

from typing import Any

from reportlab.platypus import Flowable, PageBreak

from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def official_only(ctx: Context) -> list[Flowable]:
    """Official turnout and invalid share by region, and the official party shares: nothing observed."""
    d = ctx.d
    w = FRAME_WIDTH
    out: list[Flowable] = [ctx.heading("report.official.regions"), ctx.p(esc(ctx.t("report.official_only")))]
    rows: list[list[Any]] = [
        ctx.head("report.col.region", "report.col.stations", "report.col.turnout", "report.col.invalid_share")
    ]
    for u in [*d.regions, d.national]:
        f = u.official_all
        rows.append([u.name, ctx.num(f.stations), ctx.pct(f.turnout_pct, 2), ctx.pct(f.invalid_pct, 2)])
    out.append(ctx.table(rows, [w * 0.46, w * 0.18, w * 0.18, w * 0.18], bold_last=True))
    out.append(ctx.heading("report.results"))
    rows = [ctx.head("report.col.party", "report.col.official_all")]
    for key in d.template.party_keys:
        rows.append([d.party_name(key), ctx.pct(d.national.official_all.party_pct(key), 2)])
    out.append(ctx.table(rows, [w * 0.6, w * 0.4]))
    out.append(PageBreak())
    return out


__all__ = ["official_only"]
