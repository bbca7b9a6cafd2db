"""Results: party shares, observed against official."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable

from observer.definitions import gap_pp
from reports import charts
from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def results(ctx: Context) -> list[Flowable]:
    d, nat = ctx.d, ctx.d.national
    thr = d.template.threshold_pct
    out: list[Flowable] = [CondPageBreak(110 * mm), ctx.heading("report.results")]
    rows: list[list[Any]] = [
        ctx.head(
            "report.col.party",
            "report.col.votes_observed",
            "report.col.observed",
            "report.col.official_same",
            "report.col.official_all",
            "report.col.gap",
        )
    ]
    for key in d.template.party_keys:
        o, f = nat.observed.party_pct(key), nat.official_same.party_pct(key)
        gap = gap_pp(o, f)
        rows.append(
            [
                d.party_name(key),
                ctx.num(nat.observed.parties.get(key, 0)),
                ctx.pct(o, 2),
                ctx.pct(f, 2),
                ctx.pct(nat.official_all.party_pct(key), 2),
                ctx.pp(gap),
            ]
        )
    w = FRAME_WIDTH
    out.append(ctx.table(rows, [w * 0.2, w * 0.16, w * 0.16, w * 0.16, w * 0.16, w * 0.16]))
    out.append(ctx.p(esc(ctx.t("report.results.caption", base=_base_label(ctx))), "caption"))
    names = [d.party_name(k) for k in d.template.party_keys]
    if nat.observed.stations == 0 and nat.official_all.stations == 0:
        return out
    out.append(
        charts.grouped_bars(
            names,
            [
                charts.Series(ctx.t("report.col.observed"), [nat.observed.party_pct(k) for k in d.template.party_keys]),
                charts.Series(
                    ctx.t("report.col.official_same"),
                    [nat.official_same.party_pct(k) for k in d.template.party_keys],
                ),
                charts.Series(
                    ctx.t("report.col.official_all"),
                    [nat.official_all.party_pct(k) for k in d.template.party_keys],
                ),
            ],
            width=FRAME_WIDTH,
            lang=ctx.lang,
            height=200,
            threshold=thr,
            threshold_label=ctx.t("report.threshold", value=ctx.pct(thr, 0)),
        )
    )
    out.append(ctx.p(esc(ctx.t("report.results.chart_caption")), "caption"))
    return out


def _base_label(ctx: Context) -> str:
    tmpl = ctx.d.template
    src = tmpl.share_base.source
    try:
        return tmpl.label(src, ctx.lang)
    except KeyError:
        return src


__all__ = ["results"]
