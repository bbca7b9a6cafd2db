"""The cover page and the table of contents."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, NextPageTemplate, PageBreak, Spacer
from reportlab.platypus.tableofcontents import TableOfContents

from reports.fingerprint import short_fingerprint
from reports.flowables import esc
from reports.sections.base import Context, date_text, utc_offset


def cover(ctx: Context) -> list[Flowable]:
    d = ctx.d
    out: list[Flowable] = []
    if ctx.logo is not None:
        out.append(ctx.logo)
        out.append(Spacer(1, 8 * mm))
    else:
        out.append(Spacer(1, 20 * mm))
    if d.organisation:
        out.append(ctx.p(esc(d.organisation), "subtitle"))
    out.append(ctx.p(esc(ctx.title), "title"))
    out.append(ctx.p(esc(d.election), "subtitle"))
    out.append(Spacer(1, 10 * mm))
    generated = d.generated_at.astimezone()
    meta = [
        ctx.t("report.cover.date", date=date_text(d.election_date, ctx.lang)),
        ctx.t("report.cover.observed", observed=ctx.num(d.stations_observed), total=ctx.num(d.stations_total)),
        ctx.t("report.cover.generated", when=generated.strftime("%Y-%m-%d %H:%M"), offset=utc_offset(generated)),
    ]
    out += [ctx.p(esc(line), "cover_meta") for line in meta]
    out.append(Spacer(1, 6 * mm))
    out.append(ctx.p(esc(ctx.t("report.cover.fingerprint")), "cover_meta"))
    out.append(ctx.p(short_fingerprint(d.fingerprint), "fingerprint"))
    out.append(ctx.p(esc(ctx.t("report.cover.fingerprint_note")), "small"))
    out += [NextPageTemplate("body"), PageBreak()]
    return out


def toc(ctx: Context) -> list[Flowable]:
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [ctx.s["toc1"], ctx.s["toc2"]]
    return [ctx.p(esc(ctx.t("report.toc")), "toc_title"), toc, PageBreak()]


__all__ = ["cover", "toc"]
