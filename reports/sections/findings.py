"""Key findings: the headline figures, parties against the threshold, three quotable sentences."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, Spacer

from reports.data import GAP_FLAG_PP
from reports.flowables import KeyFigure, esc, key_figures
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH


def findings(ctx: Context) -> list[Flowable]:
    d, nat = ctx.d, ctx.d.national
    out: list[Flowable] = [ctx.heading("report.findings")]
    figs = [
        KeyFigure(
            ctx.pct(nat.observed.turnout_pct, 2),
            ctx.t("report.kf.turnout_observed"),
            ctx.count("count.stations", nat.observed.stations),
        ),
        KeyFigure(
            ctx.pct(nat.official_same.turnout_pct, 2),
            ctx.t("report.kf.turnout_official_same"),
            ctx.t("report.kf.gap", gap=ctx.pp(nat.turnout_gap_pp)),
        ),
        KeyFigure(
            ctx.pct(nat.official_all.turnout_pct, 2),
            ctx.t("report.kf.turnout_official_all"),
            ctx.count("count.stations", nat.official_all.stations),
        ),
        KeyFigure(
            ctx.pct(nat.observed.invalid_pct, 2),
            ctx.t("report.kf.invalid_observed"),
            ctx.t("report.kf.invalid_official", value=ctx.pct(nat.official_same.invalid_pct, 2)),
        ),
        KeyFigure(
            ctx.num(d.violations_total),
            ctx.t("report.kf.violations"),
            ctx.count("report.kf.violation_stations", sum(1 for r in d.stations if r.violations)),
        ),
        KeyFigure(
            f"{ctx.num(d.counts.counted)} / {ctx.num(d.counts.total)}",
            ctx.t("report.kf.coverage"),
            ctx.count(
                "report.kf.observed_counts",
                d.counts.observed,
                with_protocol=ctx.num(d.counts.with_protocol),
                not_counted=ctx.num(d.counts.not_counted),
            ),
        ),
    ]
    out.append(key_figures(figs, FRAME_WIDTH))
    out.append(Spacer(1, 6 * mm))
    # Party shares against the threshold, observed and official side by side.
    thr = d.template.threshold_pct
    out.append(ctx.p(esc(ctx.t("report.kf.parties", threshold=ctx.pct(thr, 0))), "h3"))
    rows: list[list[Any]] = [
        ctx.head("report.col.party", "report.col.observed", "report.col.official_same", "report.col.official_all")
    ]
    over_obs = over_off = 0
    for key in d.template.party_keys:
        o, f, a = nat.observed.party_pct(key), nat.official_same.party_pct(key), nat.official_all.party_pct(key)
        over_obs += o is not None and o >= thr
        over_off += a is not None and a >= thr
        rows.append([d.party_name(key), _mark(ctx, o, thr), _mark(ctx, f, thr), _mark(ctx, a, thr)])
    out.append(ctx.table(rows, [FRAME_WIDTH * 0.40] + [FRAME_WIDTH * 0.20] * 3))
    out.append(ctx.p(esc(ctx.t("report.kf.threshold_note", threshold=ctx.pct(thr, 0))), "caption"))
    out.append(
        ctx.p(esc(ctx.t("report.kf.summary_parties", observed=over_obs, official=over_off, threshold=ctx.pct(thr, 0))))
    )
    c = d.counts
    if c.not_counted:
        out.append(
            ctx.p(
                esc(
                    ctx.t(
                        "report.kf.not_counted",
                        n=ctx.num(c.not_counted),
                        disputed=ctx.num(c.disputed),
                        undecided=ctx.num(c.undecided),
                        excluded=ctx.num(c.excluded),
                    )
                )
            )
        )
    out += _headlines(ctx)
    out.append(PageBreak())
    return out


def _headlines(ctx: Context) -> list[Flowable]:
    """Three sentences a journalist can quote, each computed from the tables that follow."""
    d = ctx.d
    lines: list[str] = []
    gaps = [u for u in d.regions if u.turnout_gap_pp is not None]
    if gaps:
        worst = max(gaps, key=lambda u: abs(u.turnout_gap_pp or 0.0))
        lines.append(
            ctx.t(
                "report.kf.largest_gap",
                region=worst.name,
                official=ctx.pct(worst.official_same.turnout_pct, 2),
                observed=ctx.pct(worst.observed.turnout_pct, 2),
                gap=ctx.pp(worst.turnout_gap_pp),
            )
        )
    if d.violations_by_category:
        code, n = next(iter(d.violations_by_category.items()))
        lines.append(
            ctx.t(
                "report.kf.top_violation",
                category=d.category_name(code),
                n=ctx.num(n),
                total=ctx.num(d.violations_total),
            )
        )
    gap_n = sum(1 for r in d.stations if "G" in r.flags)
    checks_n = sum(1 for r in d.stations if r.failed_checks and not r.disputed)
    lines.append(
        ctx.t(
            "report.kf.flagged",
            gap=ctx.f.num(GAP_FLAG_PP, 0),
            gap_n=ctx.num(gap_n),
            checks_n=ctx.num(checks_n),
        )
    )
    out: list[Flowable] = [Spacer(1, 4 * mm), ctx.p(esc(ctx.t("report.kf.headlines")), "h3")]
    out += [Paragraph(esc(line), ctx.s["bullet"], bulletText="•") for line in lines]
    return out


def _mark(ctx: Context, value: float | None, threshold: float) -> str:
    # "▲" marks a party at or over the threshold: legible without colour.
    if value is None:
        return "—"
    return ctx.pct(value, 2) + (" ▲" if value >= threshold else "")


__all__ = ["findings"]
