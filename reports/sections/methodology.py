"""Methodology: sampling, collection, control relations, disputed protocols, comparison."""

from __future__ import annotations

from typing import Any

from reportlab.platypus import Flowable, Paragraph

from reports.data import GAP_FLAG_PP
from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def methodology(ctx: Context) -> list[Flowable]:
    d = ctx.d
    out: list[Flowable] = [ctx.heading("report.method")]
    out.append(ctx.heading("report.method.sampling", 1))
    out.append(
        ctx.p(
            esc(
                ctx.t(
                    "report.method.sampling_text",
                    at_stations=ctx.count(
                        "report.method.at_stations", d.stations_total, observed=ctx.num(d.stations_observed)
                    ),
                    in_regions=ctx.count("report.method.in_regions", len(d.regions)),
                )
            )
        )
    )
    out.append(ctx.heading("report.method.collection", 1))
    out.append(ctx.p(esc(ctx.t("report.method.collection_text", protocols=ctx.num(d.counts.with_protocol)))))
    out.append(ctx.heading("report.method.checks", 1))
    out.append(ctx.p(esc(ctx.t("report.method.checks_text"))))
    rows: list[list[Any]] = [ctx.head("report.col.rule", "report.col.severity", "report.col.failed", right={2})]
    for c in d.check_stats:
        rows.append([Paragraph(esc(c.rule), ctx.s["cell"]), ctx.t(f"report.severity.{c.severity}"), ctx.num(c.failed)])
    out.append(ctx.table(rows, [FRAME_WIDTH * 0.70, FRAME_WIDTH * 0.15, FRAME_WIDTH * 0.15], numeric_from=2))
    out.append(ctx.heading("report.method.disputed", 1))
    out.append(
        ctx.p(
            esc(
                ctx.count(
                    "report.method.disputed_text",
                    len(d.disputed),
                    excluded=ctx.count("count.stations", d.counts.not_counted),
                    disputed=ctx.num(d.counts.disputed),
                    undecided=ctx.num(d.counts.undecided),
                    by_rule=ctx.num(d.counts.excluded),
                )
            )
        )
    )
    out.append(ctx.p(esc(ctx.t("report.method.rule", rule=d.inclusion_rule))))
    out.append(ctx.heading("report.method.comparison", 1))
    out.append(ctx.p(esc(ctx.t("report.method.comparison_text", gap=ctx.f.num(GAP_FLAG_PP, 0)))))
    return out


__all__ = ["methodology"]
