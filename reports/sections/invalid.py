"""Invalid ballots: by region, and why ballots were invalid."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph

from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def invalid(ctx: Context) -> list[Flowable]:
    d = ctx.d
    out: list[Flowable] = [CondPageBreak(90 * mm), ctx.heading("report.invalid")]
    rows: list[list[Any]] = [
        ctx.head(
            "report.col.region",
            "report.col.invalid_count",
            "report.col.observed",
            "report.col.official_same",
            "report.col.official_all",
        )
    ]
    for u in [*d.regions, d.national]:
        rows.append(
            [
                u.name,
                ctx.num(u.observed.invalid),
                ctx.pct(u.observed.invalid_pct, 2),
                ctx.pct(u.official_same.invalid_pct, 2),
                ctx.pct(u.official_all.invalid_pct, 2),
            ]
        )
    w = FRAME_WIDTH
    out.append(ctx.table(rows, [w * 0.28, w * 0.18, w * 0.18, w * 0.18, w * 0.18], bold_last=True))
    out.append(ctx.p(esc(ctx.t("report.invalid.caption")), "caption"))
    out.append(ctx.heading("report.invalid.reasons", 1))
    sp = d.spoiled
    if not sp.total:
        out.append(ctx.p(esc(ctx.t("report.none"))))
        return out
    rows = [ctx.head("report.col.reason", "report.col.ballots", "report.col.share")]
    lines = [(d.spoiled_name(code), n) for code, n in sp.reasons.items()]
    if sp.unrecorded:
        lines.append((ctx.t("report.invalid.unrecorded"), sp.unrecorded))
    if sp.mismatched:
        lines.append((ctx.t("report.invalid.mismatched", n=ctx.num(sp.mismatched_stations)), sp.mismatched))
    for label, n in lines:
        rows.append([Paragraph(esc(label), ctx.s["cell"]), ctx.num(n), ctx.pct(100.0 * n / sp.total)])
    rows.append([ctx.t("report.total"), ctx.num(sp.total), ctx.pct(100.0)])
    out.append(ctx.table(rows, [w * 0.6, w * 0.2, w * 0.2], bold_last=True))
    out.append(ctx.p(esc(ctx.t("report.invalid.reasons_caption", n=ctx.num(sp.total))), "caption"))
    return out


__all__ = ["invalid"]
