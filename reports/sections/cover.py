"""The cover page and the table of contents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, NextPageTemplate, PageBreak, Spacer
from reportlab.platypus.tableofcontents import TableOfContents

from reports.fingerprint import short_fingerprint
from reports.flowables import esc
from reports.sections.base import Context, clock, date_text, utc_offset


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
    else:
        # A report nobody signs is a draft: say so where a reader looks first.
        out.append(ctx.p(f"<b>{esc(ctx.t('report.cover.no_org'))}</b>", "cover_warning"))
    out.append(ctx.p(esc(ctx.title), "title"))
    out.append(ctx.p(esc(d.election), "subtitle"))
    out.append(Spacer(1, 10 * mm))
    meta = [ctx.t("report.cover.date", date=date_text(d.election_date, ctx.lang))]
    c = d.counts
    if d.has_observations:
        meta.append(ctx.count("report.cover.counts", c.total, observed=ctx.num(c.observed), counted=ctx.num(c.counted)))
    else:
        meta.append(ctx.count("report.cover.official_only", c.total))
    if d.data_time is not None:
        # The time of the data, not of the build (the same data gives the same PDF), on the
        # capital's clock: fixed offsets by date, so the machine's time zone changes nothing.
        at = d.template.published_time(d.data_time)
        meta.append(ctx.t("report.cover.data_time", when=clock(at, ctx.lang), offset=utc_offset(at)))
    meta += _zones(ctx)
    out += [ctx.p(esc(line), "cover_meta") for line in meta]
    out.append(Spacer(1, 6 * mm))
    out.append(ctx.p(esc(ctx.t("report.cover.fingerprint")), "cover_meta"))
    out.append(ctx.p(short_fingerprint(d.fingerprint), "fingerprint"))
    out.append(ctx.p(esc(ctx.t("report.cover.fingerprint_note")), "small"))
    out += [NextPageTemplate("body"), PageBreak()]
    return out


def _zones(ctx: Context) -> list[str]:
    """Which clocks the report's times are on: the stations' own, by the template's units on the
    election day (Kazakhstan had two zones until 1 March 2024)."""
    d = ctx.d
    units = d.template.units
    if units is None or not d.election_date:
        return []
    noon = datetime.fromisoformat(d.election_date).replace(hour=7, tzinfo=UTC)  # midday in the country
    zones: dict[int, list[str]] = {}
    for r in units.on(d.election_date):
        hours = units.utc_offset(r.code, noon)
        if hours is None:  # units without clocks: the times are on the template's one clock
            return []
        zones.setdefault(hours, []).append(r.name(ctx.lang))
    name = {hours: utc_offset(noon.astimezone(timezone(timedelta(hours=hours)))) for hours in zones}
    if len(zones) == 1:
        return [ctx.t("report.cover.zone_one", offset=name[next(iter(zones))])]
    main, other = sorted(zones, key=lambda h: -len(zones[h]))[:2]
    regions = ", ".join(sorted(zones[other], key=ctx.sort_key))
    return [ctx.t("report.cover.zone_two", main=name[main], other=name[other], regions=regions)]


def toc(ctx: Context) -> list[Flowable]:
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [ctx.s["toc1"], ctx.s["toc2"]]
    return [ctx.p(esc(ctx.t("report.toc")), "toc_title"), toc, PageBreak()]


__all__ = ["cover", "toc"]
