"""Violations: by category and by region, then the serious cases and reused photos."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer

from observer.regions import region_name
from reports import charts
from reports.flowables import esc
from reports.sections.base import Context
from reports.sections.cases import cases
from reports.sections.reuse import reused_photos
from reports.styles import FRAME_WIDTH

TOP_CATEGORIES_IN_TABLE = 5
TOP_CATEGORIES_IN_CHART = 3


def violations(ctx: Context) -> list[Flowable]:
    d = ctx.d
    w = FRAME_WIDTH
    out: list[Flowable] = [CondPageBreak(100 * mm), ctx.heading("report.violations")]
    if not d.violations_total:
        out.append(ctx.p(esc(ctx.t("report.violations.none"))))
        return out + reused_photos(ctx)
    out.append(ctx.heading("report.violations.categories", 1))
    rows: list[list[Any]] = [ctx.head("report.col.category", "report.col.count", "report.col.share")]
    for code, n in d.violations_by_category.items():
        rows.append([d.category_name(code), ctx.num(n), ctx.pct(100.0 * n / d.violations_total)])
    rows.append([ctx.t("report.total"), ctx.num(d.violations_total), ctx.pct(100.0)])
    out.append(ctx.table(rows, [w * 0.6, w * 0.2, w * 0.2], bold_last=True))
    out.append(ctx.heading("report.violations.regions", 1))
    top = list(d.violations_by_category)[:TOP_CATEGORIES_IN_TABLE]
    rest = [c for c in d.violations_by_category if c not in top]
    region_codes = sorted(d.violations_by_region, key=lambda r: ctx.sort_key(region_name(r, ctx.lang)))
    names = [region_name(r, ctx.lang) if r else ctx.t("report.region.unknown") for r in region_codes]
    # Category names are too long for column heads: number the columns and explain below.
    head = (
        [ctx.t("report.col.region")]
        + [str(k + 1) for k in range(len(top))]
        + ([ctx.t("report.other")] if rest else [])
        + [ctx.t("report.total")]
    )
    rows = [[Paragraph(esc(h), ctx.s["cell_head_right" if i else "cell_head"]) for i, h in enumerate(head)]]
    for code, name in zip(region_codes, names):
        counts = d.violations_by_region[code]
        line = [name] + [ctx.num(counts.get(c, 0)) for c in top]
        if rest:
            line.append(ctx.num(sum(counts.get(c, 0) for c in rest)))
        line.append(ctx.num(sum(counts.values())))
        rows.append(line)
    n_num = len(head) - 1
    out.append(ctx.table(rows, [w * 0.28] + [w * 0.72 / n_num] * n_num))
    legend = "; ".join(f"{k + 1} — {d.category_name(c)}" for k, c in enumerate(top))
    out.append(ctx.p(esc(legend), "caption"))
    # The chart stacks fewer categories than the table has columns: four greys (dark, white,
    # mid, light) stay apart on a photocopy, six do not.
    in_chart = top[:TOP_CATEGORIES_IN_CHART]
    others = [c for c in d.violations_by_category if c not in in_chart]
    series = [
        charts.Series(d.category_name(c), [d.violations_by_region[r].get(c, 0) for r in region_codes]) for c in in_chart
    ]
    if others:
        series.append(
            charts.Series(
                ctx.t("report.other"),
                [sum(d.violations_by_region[r].get(c, 0) for c in others) for r in region_codes],
            )
        )
    out.append(Spacer(1, 3 * mm))
    out.append(charts.stacked_bars(names, series, width=FRAME_WIDTH, lang=ctx.lang))
    out.append(ctx.p(esc(ctx.t("report.violations.chart_caption")), "caption"))
    out += cases(ctx)
    out += reused_photos(ctx)
    return out


__all__ = ["violations"]
