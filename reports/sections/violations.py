"""Violations: by category and by region, then the serious cases and reused photos."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer

from reports import charts
from reports.data import ReportData
from reports.flowables import esc
from reports.sections.base import Context
from reports.sections.cases import cases
from reports.sections.reuse import reused_photos
from reports.styles import FRAME_WIDTH

# The same categories in the table and the chart: four greys (dark, white, mid, light) for three
# categories and "other" stay apart on a photocopy, six do not.
TOP_CATEGORIES = 3


@dataclass(frozen=True)
class ViolationMatrix:
    """Violations per region (rows in the report's region order) and category column, and the national total."""

    top: list[str]  # category codes of the numbered columns
    has_other: bool
    rows: list[list[int]]  # per region: one count per column, then the region's total
    total: list[int]  # the national row: the sum of the rows above, column by column


def violation_matrix(d: ReportData) -> ViolationMatrix:
    top = list(d.violations_by_category)[:TOP_CATEGORIES]
    has_other = len(d.violations_by_category) > len(top)
    rows: list[list[int]] = []
    for u in d.regions:
        counts = d.violations_by_region.get(u.code, {})
        line = [counts.get(c, 0) for c in top]
        if has_other:
            line.append(sum(n for c, n in counts.items() if c not in top))
        line.append(sum(counts.values()))
        rows.append(line)
    width = len(top) + has_other + 1
    total = [sum(line[k] for line in rows) for k in range(width)]
    return ViolationMatrix(top, has_other, rows, total)


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
    matrix = violation_matrix(d)
    names = [u.name for u in d.regions]
    # Category names are too long for column heads: number the columns and explain below.
    head = (
        [ctx.t("report.col.region")]
        + [str(k + 1) for k in range(len(matrix.top))]
        + ([ctx.t("report.other")] if matrix.has_other else [])
        + [ctx.t("report.total")]
    )
    rows = [[Paragraph(esc(h), ctx.s["cell_head_right" if i else "cell_head"]) for i, h in enumerate(head)]]
    for name, line in zip([*names, d.national.name], [*matrix.rows, matrix.total]):
        rows.append([name] + [ctx.num(v) for v in line])
    n_num = len(head) - 1
    out.append(ctx.table(rows, [w * 0.34] + [w * 0.66 / n_num] * n_num, bold_last=True))
    legend = "; ".join(f"{k + 1} — {d.category_name(c)}" for k, c in enumerate(matrix.top))
    out.append(ctx.p(esc(legend), "caption"))
    out.append(ctx.p(esc(ctx.t("report.violations.regions_caption", k=len(matrix.top))), "caption"))
    # The chart stacks the same categories as the table's columns (a total bar needs no series).
    columns = [d.category_name(c) for c in matrix.top] + ([ctx.t("report.other")] if matrix.has_other else [])
    series = [charts.Series(label, [line[k] for line in matrix.rows]) for k, label in enumerate(columns)]
    out.append(Spacer(1, 3 * mm))
    out.append(charts.stacked_bars(names, series, width=FRAME_WIDTH, lang=ctx.lang))
    out.append(ctx.p(esc(ctx.t("report.violations.chart_caption")), "caption"))
    out += cases(ctx)
    out += reused_photos(ctx)
    return out


__all__ = ["TOP_CATEGORIES", "ViolationMatrix", "violation_matrix", "violations"]
