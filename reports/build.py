"""The observation report as a PDF: ``build_report(hq, out_path, lang, ...)``.

Layout: cover, table of contents, key findings, methodology, turnout, results,
invalid ballots, violations and serious cases, the forensics section (when that
module is installed), then annexes, the per-station table last.

Two things keep a 10,000-station report fast:
- The TOC needs two passes (``multiBuild``). The per-station annex is the last
  thing in the document, so its length cannot move any heading; it is laid out
  only from the second pass on (``Deferred``), and "page X of Y" comes from the
  canvas at save time, not from a previous pass.
- The annex is plain strings in fixed-size cells, split into tables of a few
  hundred rows: no Paragraph per cell, no column measuring, and no re-wrapping
  of all remaining rows at every page break.

The file is written under a temporary name and renamed at the end, so a failed
build never leaves half a PDF under the name the user asked for.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
)
from reportlab.platypus.tableofcontents import TableOfContents

from db.store import ElectionStore
from observer import i18n
from observer.aggregate import StationArrays
from observer.errors import BaqylauError
from observer.i18n import LANGUAGES, tr
from observer.regions import region_name
from reports import charts
from reports.data import GAP_FLAG_PP, THUMBS_PER_CASE, ReportData, StationRow, collect, read_snapshot
from reports.fingerprint import KEYWORD_PREFIX, data_fingerprint, short_fingerprint
from reports.flowables import (
    Deferred,
    Heading,
    KeyFigure,
    Lazy,
    PlainTable,
    esc,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_pp,
    key_figures,
    thumbnail,
)
from reports.styles import (
    DARK,
    FONT,
    FONT_CONDENSED,
    FONT_CONDENSED_BOLD,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    INK,
    LIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_TOP,
    PAGE_SIZE,
    get_styles,
    register_fonts,
    table_style,
)

ANNEX_CHUNK_ROWS = 300
ANNEX_ROW_HEIGHT = 10.5
ANNEX_FONT_SIZE = 7.0
MAX_LOGO_BYTES = 10 * 1024 * 1024
MAX_LOGO_PIXELS = 40_000_000
LOGO_MAX_SIDE = 800  # pixels kept: sharp at 60 mm wide in print, small in the file
TOP_CATEGORIES_IN_TABLE = 5
TOP_CATEGORIES_IN_CHART = 3
# Reused photos printed as rows; a longer list (a systematic fraud or a broken import) is counted, not printed.
REUSED_PAIRS_SHOWN = 100


class ReportError(BaqylauError):
    """The report cannot be built (bad option, unreadable logo, unwritable output)."""

    key = "report.error.generic"


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    pages: int
    fingerprint: str
    lang: str
    stations_observed: int
    stations_total: int
    seconds: float


# ---- page chrome -------------------------------------------------------------


_TOTAL_FORM = "baqylau-total-pages"
_FOOTER_SIZE = 7.5


def _numbered_canvas(lang: str, header_left: str, header_right: str) -> type[Canvas]:
    """A canvas that writes the running header and "page X of Y" on every page but the cover.

    Y is not known until the last page, so each footer draws a reference to a PDF form
    that is defined once, at save time, holding the total. Nothing is kept per page:
    the usual trick of storing every page's state until the end costs hundreds of
    megabytes for the 1,500 pages of a 100,000-station annex.
    """
    template = tr("report.page_of", lang, page="\x00", pages="\x01")
    # The total is a slot of fixed width; it sits after or before the rest of the text.
    total_first = template.index("\x01") < template.index("\x00")
    slot = stringWidth("0" * 5, FONT, _FOOTER_SIZE)

    class NumberedCanvas(Canvas):
        def showPage(self) -> None:
            if self._pageNumber > 1:  # the cover stays clean
                self._chrome()
            super().showPage()

        def save(self) -> None:
            total = self._pageNumber - 1  # showPage has already moved past the last page
            self.beginForm(_TOTAL_FORM, lowerx=0, lowery=-3, upperx=slot, uppery=_FOOTER_SIZE + 2)
            self.setFont(FONT, _FOOTER_SIZE)
            self.setFillColor(DARK)
            if total_first:
                self.drawRightString(slot, 0, str(total))
            else:
                self.drawString(0, 0, str(total))
            self.endForm()
            super().save()

        def _chrome(self) -> None:
            width, height = PAGE_SIZE
            self.saveState()
            self.setFont(FONT, _FOOTER_SIZE)
            self.setFillColor(DARK)
            top = height - MARGIN_TOP + 9 * mm
            usable = width - 2 * MARGIN_LEFT
            right = _fit(header_right, usable * 0.35)
            left = _fit(header_left, usable - stringWidth(right, FONT, _FOOTER_SIZE) - 12)
            self.drawString(MARGIN_LEFT, top, left)
            self.drawRightString(width - MARGIN_LEFT, top, right)
            self.setStrokeColor(INK)
            self.setLineWidth(0.5)
            self.line(MARGIN_LEFT, top - 3, width - MARGIN_LEFT, top - 3)
            before, after = template.replace("\x00", str(self._pageNumber)).split("\x01")
            y = MARGIN_BOTTOM - 10 * mm
            x_end = width - MARGIN_LEFT
            after_w = stringWidth(after, FONT, _FOOTER_SIZE)
            self.drawRightString(x_end, y, after)
            self.drawRightString(x_end - after_w - slot, y, before)
            self.saveState()
            self.translate(x_end - after_w - slot, y)
            self.doForm(_TOTAL_FORM)
            self.restoreState()
            self.restoreState()

    return NumberedCanvas


class ReportDoc(BaseDocTemplate):
    """A4 document whose headings feed the TOC and the PDF outline."""

    def __init__(self, filename: str, **kw: Any) -> None:
        super().__init__(
            filename,
            pagesize=PAGE_SIZE,
            leftMargin=MARGIN_LEFT,
            rightMargin=MARGIN_LEFT,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            **kw,
        )
        frame = Frame(
            MARGIN_LEFT,
            MARGIN_BOTTOM,
            FRAME_WIDTH,
            FRAME_HEIGHT,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate(id="cover", frames=[frame]), PageTemplate(id="body", frames=[frame])])
        self.passes = 0

    def handle_documentBegin(self) -> None:
        self.passes += 1
        super().handle_documentBegin()

    def handle_flowable(self, flowables: list[Flowable]) -> None:
        # A Lazy is made when reached; a Deferred (the annex) not at all on the first
        # pass, whose only purpose is the headings' page numbers: nothing after it has one.
        if flowables and isinstance(flowables[0], Lazy):
            lazy = flowables.pop(0)
            if lazy.first_pass or self.passes > 1:
                flowables[0:0] = lazy.flowables()
            return
        super().handle_flowable(flowables)

    def afterFlowable(self, flowable: Flowable) -> None:
        level: int | None = None
        text = ""
        key = ""
        if isinstance(flowable, Heading):
            level, text, key = flowable.level, flowable.toc_text, flowable.bookmark
        elif isinstance(flowable, Paragraph) and flowable.style.name in ("h1", "h2"):
            # Sections made by other modules with our styles get TOC entries too.
            level, text = (0 if flowable.style.name == "h1" else 1), flowable.getPlainText()
            key = f"h{id(flowable)}"
        if level is None:
            return
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
        self.notify("TOCEntry", (level, text, self.page, key))


# ---- sections ----------------------------------------------------------------


class _Sections:
    """Builds the story for one ReportData in one language."""

    def __init__(self, data: ReportData, title: str, logo: Path | None) -> None:
        self.d = data
        self.lang = data.lang
        self.s = get_styles()
        self.title = title
        self.logo = logo
        self.section = 0

    def t(self, key: str, **params: object) -> str:
        return tr(key, self.lang, **params)

    def p(self, text: str, style: str = "body") -> Paragraph:
        return Paragraph(text, self.s[style])

    def heading(self, key: str, level: int = 0, **params: object) -> Heading:
        text = self.t(key, **params)
        if level == 0:
            self.section += 1
            text = f"{self.section}. {text}"
        return Heading(text, level, key + str(self.section))

    def pct(self, v: float | None, digits: int = 1) -> str:
        return fmt_pct(v, self.lang, digits)

    def num(self, v: int | None) -> str:
        return fmt_int(v, self.lang)

    def table(
        self,
        rows: list[list[Any]],
        widths: Sequence[float],
        *,
        numeric_from: int = 1,
        bold_last: bool = False,
        repeat: int = 1,
    ) -> Table:
        table = Table(rows, colWidths=list(widths), repeatRows=repeat)
        style = table_style(numeric_from=numeric_from)
        if bold_last:
            style.add("FONTNAME", (0, -1), (-1, -1), "BaqylauSansCondensed-Bold")
            style.add("LINEABOVE", (0, -1), (-1, -1), 0.6, INK)
        table.setStyle(style)
        return table

    def head(self, *keys: str, right: Container[int] | None = None) -> list[Paragraph]:
        """Header cells that may wrap, right-aligned over numbers (default: every column but the first).

        The few small tables use Paragraph headers; the big annex does not.
        """
        return [
            Paragraph(
                esc(self.t(k)),
                self.s["cell_head_right" if (i in right if right is not None else i > 0) else "cell_head"],
            )
            for i, k in enumerate(keys)
        ]

    # -- cover ---------------------------------------------------------------
    def cover(self) -> list[Flowable]:
        d = self.d
        out: list[Flowable] = []
        if self.logo is not None:
            out.append(_logo(self.logo))
            out.append(Spacer(1, 8 * mm))
        else:
            out.append(Spacer(1, 20 * mm))
        if d.organisation:
            out.append(self.p(esc(d.organisation), "subtitle"))
        out.append(self.p(esc(self.title), "title"))
        out.append(self.p(esc(d.election), "subtitle"))
        out.append(Spacer(1, 10 * mm))
        generated = d.generated_at.astimezone()
        meta = [
            self.t("report.cover.date", date=_date(d.election_date, self.lang)),
            self.t("report.cover.observed", observed=self.num(d.stations_observed), total=self.num(d.stations_total)),
            self.t("report.cover.generated", when=generated.strftime("%Y-%m-%d %H:%M"), offset=_offset(generated)),
        ]
        out += [self.p(esc(line), "cover_meta") for line in meta]
        out.append(Spacer(1, 6 * mm))
        out.append(self.p(esc(self.t("report.cover.fingerprint")), "cover_meta"))
        out.append(self.p(short_fingerprint(d.fingerprint), "fingerprint"))
        out.append(self.p(esc(self.t("report.cover.fingerprint_note")), "small"))
        out += [NextPageTemplate("body"), PageBreak()]
        return out

    def toc(self) -> list[Flowable]:
        toc = TableOfContents(dotsMinLevel=0)
        toc.levelStyles = [self.s["toc1"], self.s["toc2"]]
        return [self.p(esc(self.t("report.toc")), "toc_title"), toc, PageBreak()]

    # -- key findings ----------------------------------------------------------
    def findings(self) -> list[Flowable]:
        d, nat = self.d, self.d.national
        out: list[Flowable] = [self.heading("report.findings")]
        figs = [
            KeyFigure(
                self.pct(nat.observed.turnout_pct, 2),
                self.t("report.kf.turnout_observed"),
                self.t("report.kf.stations", n=self.num(nat.observed.stations)),
            ),
            KeyFigure(
                self.pct(nat.official_same.turnout_pct, 2),
                self.t("report.kf.turnout_official_same"),
                self.t("report.kf.gap", gap=fmt_pp(nat.turnout_gap_pp, self.lang)),
            ),
            KeyFigure(
                self.pct(nat.official_all.turnout_pct, 2),
                self.t("report.kf.turnout_official_all"),
                self.t("report.kf.stations", n=self.num(nat.official_all.stations)),
            ),
            KeyFigure(
                self.pct(nat.observed.invalid_pct, 2),
                self.t("report.kf.invalid_observed"),
                self.t("report.kf.invalid_official", value=self.pct(nat.official_same.invalid_pct, 2)),
            ),
            KeyFigure(
                self.num(d.violations_total),
                self.t("report.kf.violations"),
                self.t("report.kf.violation_stations", n=self.num(sum(1 for r in d.stations if r.violations))),
            ),
            KeyFigure(
                f"{self.num(d.stations_observed)} / {self.num(d.stations_total)}",
                self.t("report.kf.coverage"),
                self.t("report.kf.protocols", n=self.num(d.protocols_obtained)),
            ),
        ]
        out.append(key_figures(figs, FRAME_WIDTH))
        out.append(Spacer(1, 6 * mm))
        # Party shares against the threshold, observed and official side by side.
        thr = d.template.threshold_pct
        out.append(self.p(esc(self.t("report.kf.parties", threshold=self.pct(thr, 0))), "h3"))
        rows: list[list[Any]] = [
            self.head("report.col.party", "report.col.observed", "report.col.official_same", "report.col.official_all")
        ]
        over_obs = over_off = 0
        for key in d.template.party_keys:
            o, f, a = nat.observed.party_pct(key), nat.official_same.party_pct(key), nat.official_all.party_pct(key)
            over_obs += o is not None and o >= thr
            over_off += a is not None and a >= thr
            rows.append([d.party_name(key), self._mark(o, thr), self._mark(f, thr), self._mark(a, thr)])
        out.append(self.table(rows, [FRAME_WIDTH * 0.40] + [FRAME_WIDTH * 0.20] * 3))
        out.append(self.p(esc(self.t("report.kf.threshold_note", threshold=self.pct(thr, 0))), "caption"))
        out.append(
            self.p(
                esc(
                    self.t(
                        "report.kf.summary_parties", observed=over_obs, official=over_off, threshold=self.pct(thr, 0)
                    )
                )
            )
        )
        if d.not_counted:
            out.append(self.p(esc(self.t("report.kf.not_counted", n=self.num(d.not_counted)))))
        out += self._headlines()
        out.append(PageBreak())
        return out

    def _headlines(self) -> list[Flowable]:
        """Three sentences a journalist can quote, each computed from the tables that follow."""
        d = self.d
        lines: list[str] = []
        gaps = [u for u in d.regions if u.turnout_gap_pp is not None]
        if gaps:
            worst = max(gaps, key=lambda u: abs(u.turnout_gap_pp or 0.0))
            lines.append(
                self.t(
                    "report.kf.largest_gap",
                    region=worst.name,
                    official=self.pct(worst.official_same.turnout_pct, 2),
                    observed=self.pct(worst.observed.turnout_pct, 2),
                    gap=fmt_pp(worst.turnout_gap_pp, self.lang),
                )
            )
        if d.violations_by_category:
            code, n = next(iter(d.violations_by_category.items()))
            lines.append(
                self.t(
                    "report.kf.top_violation",
                    category=d.category_name(code),
                    n=self.num(n),
                    total=self.num(d.violations_total),
                )
            )
        gap_n = sum(1 for r in d.stations if "G" in r.flags)
        checks_n = sum(1 for r in d.stations if r.failed_checks and not r.disputed)
        lines.append(
            self.t(
                "report.kf.flagged",
                gap=fmt_num(GAP_FLAG_PP, self.lang, 0),
                gap_n=self.num(gap_n),
                checks_n=self.num(checks_n),
            )
        )
        out: list[Flowable] = [Spacer(1, 4 * mm), self.p(esc(self.t("report.kf.headlines")), "h3")]
        out += [Paragraph(esc(line), self.s["bullet"], bulletText="•") for line in lines]
        return out

    def _mark(self, value: float | None, threshold: float) -> str:
        # "▲" marks a party at or over the threshold: legible without colour.
        if value is None:
            return "—"
        return self.pct(value, 2) + (" ▲" if value >= threshold else "")

    # -- methodology -----------------------------------------------------------
    def methodology(self) -> list[Flowable]:
        d = self.d
        out: list[Flowable] = [self.heading("report.method")]
        out.append(self.heading("report.method.sampling", 1))
        out.append(
            self.p(
                esc(
                    self.t(
                        "report.method.sampling_text",
                        observed=self.num(d.stations_observed),
                        total=self.num(d.stations_total),
                        regions=len(d.regions),
                    )
                )
            )
        )
        out.append(self.heading("report.method.collection", 1))
        out.append(self.p(esc(self.t("report.method.collection_text", protocols=self.num(d.protocols_obtained)))))
        out.append(self.heading("report.method.checks", 1))
        out.append(self.p(esc(self.t("report.method.checks_text"))))
        rows: list[list[Any]] = [self.head("report.col.rule", "report.col.severity", "report.col.failed", right={2})]
        for c in d.check_stats:
            rows.append(
                [Paragraph(esc(c.rule), self.s["cell"]), self.t(f"report.severity.{c.severity}"), self.num(c.failed)]
            )
        out.append(self.table(rows, [FRAME_WIDTH * 0.70, FRAME_WIDTH * 0.15, FRAME_WIDTH * 0.15], numeric_from=2))
        out.append(self.heading("report.method.disputed", 1))
        out.append(
            self.p(
                esc(
                    self.t("report.method.disputed_text", n=self.num(len(d.disputed)), excluded=self.num(d.not_counted))
                )
            )
        )
        out.append(self.p(esc(self.t("report.method.rule", rule=d.inclusion_rule))))
        out.append(self.heading("report.method.comparison", 1))
        out.append(self.p(esc(self.t("report.method.comparison_text", gap=fmt_num(GAP_FLAG_PP, self.lang, 0)))))
        return out

    # -- turnout ---------------------------------------------------------------
    def turnout(self) -> list[Flowable]:
        d = self.d
        out: list[Flowable] = [CondPageBreak(120 * mm), self.heading("report.turnout")]
        out.append(self.heading("report.turnout.regions", 1))
        rows: list[list[Any]] = [
            self.head(
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
                    f"{self.num(u.stations_counted)} / {self.num(u.stations_total)}",
                    self.pct(u.observed.turnout_pct, 2),
                    self.pct(u.official_same.turnout_pct, 2),
                    self.pct(u.official_all.turnout_pct, 2),
                    fmt_pp(u.turnout_gap_pp, self.lang),
                ]
            )
        w = FRAME_WIDTH
        out.append(self.table(rows, [w * 0.28, w * 0.12, w * 0.15, w * 0.15, w * 0.15, w * 0.15], bold_last=True))
        out.append(self.p(esc(self.t("report.turnout.caption")), "caption"))
        if d.regions:
            out.append(
                charts.grouped_bars(
                    [u.name for u in d.regions],
                    [
                        charts.Series(self.t("report.col.observed"), [u.observed.turnout_pct for u in d.regions]),
                        charts.Series(
                            self.t("report.col.official_same"), [u.official_same.turnout_pct for u in d.regions]
                        ),
                    ],
                    width=FRAME_WIDTH,
                    horizontal=True,
                    value_max=100.0,
                )
            )
            out.append(self.p(esc(self.t("report.turnout.chart_caption")), "caption"))
        hours: list[Flowable] = [self.heading("report.turnout.hours", 1)]
        if not d.hours:
            hours.append(self.p(esc(self.t("report.none"))))
            return out + hours
        rows = [
            self.head(
                "report.col.time",
                "report.col.stations",
                "report.col.announced",
                "report.col.headcount",
                "report.col.difference",
            )
        ]
        for h in d.hours:
            diff = None if h.announced_pct is None or h.observed_pct is None else h.announced_pct - h.observed_pct
            rows.append(
                [
                    h.slot,
                    f"{self.num(h.stations)} / {self.num(h.counted_stations)}",
                    self.pct(h.announced_pct, 2),
                    self.pct(h.observed_pct, 2),
                    fmt_pp(diff, self.lang),
                ]
            )
        hours.append(self.table(rows, [w * 0.2] * 5))
        hours.append(Spacer(1, 3 * mm))
        if any(h.announced_pct is not None or h.observed_pct is not None for h in d.hours):
            hours.append(
                charts.line_chart(
                    [h.slot for h in d.hours],
                    [
                        charts.Series(self.t("report.col.announced"), [h.announced_pct for h in d.hours]),
                        charts.Series(self.t("report.col.headcount"), [h.observed_pct for h in d.hours]),
                    ],
                    width=FRAME_WIDTH,
                )
            )
        hours.append(self.p(esc(self.t("report.turnout.hours_caption")), "caption"))
        out.append(KeepTogether(hours))
        return out

    # -- results ---------------------------------------------------------------
    def results(self) -> list[Flowable]:
        d, nat = self.d, self.d.national
        thr = d.template.threshold_pct
        out: list[Flowable] = [CondPageBreak(110 * mm), self.heading("report.results")]
        rows: list[list[Any]] = [
            self.head(
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
            gap = None if o is None or f is None else f - o
            rows.append(
                [
                    d.party_name(key),
                    self.num(nat.observed.parties.get(key, 0)),
                    self.pct(o, 2),
                    self.pct(f, 2),
                    self.pct(nat.official_all.party_pct(key), 2),
                    fmt_pp(gap, self.lang),
                ]
            )
        w = FRAME_WIDTH
        out.append(self.table(rows, [w * 0.2, w * 0.16, w * 0.16, w * 0.16, w * 0.16, w * 0.16]))
        out.append(self.p(esc(self.t("report.results.caption", base=self._base_label())), "caption"))
        names = [d.party_name(k) for k in d.template.party_keys]
        if nat.observed.stations == 0 and nat.official_all.stations == 0:
            return out
        out.append(
            charts.grouped_bars(
                names,
                [
                    charts.Series(
                        self.t("report.col.observed"), [nat.observed.party_pct(k) for k in d.template.party_keys]
                    ),
                    charts.Series(
                        self.t("report.col.official_same"),
                        [nat.official_same.party_pct(k) for k in d.template.party_keys],
                    ),
                    charts.Series(
                        self.t("report.col.official_all"),
                        [nat.official_all.party_pct(k) for k in d.template.party_keys],
                    ),
                ],
                width=FRAME_WIDTH,
                height=200,
                threshold=thr,
                threshold_label=self.t("report.threshold", value=self.pct(thr, 0)),
            )
        )
        out.append(self.p(esc(self.t("report.results.chart_caption")), "caption"))
        return out

    def _base_label(self) -> str:
        tmpl = self.d.template
        src = tmpl.share_base.source
        try:
            return tmpl.label(src, self.lang)
        except KeyError:
            return src

    # -- invalid ballots -------------------------------------------------------
    def invalid(self) -> list[Flowable]:
        d = self.d
        out: list[Flowable] = [CondPageBreak(90 * mm), self.heading("report.invalid")]
        rows: list[list[Any]] = [
            self.head(
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
                    self.num(u.observed.invalid),
                    self.pct(u.observed.invalid_pct, 2),
                    self.pct(u.official_same.invalid_pct, 2),
                    self.pct(u.official_all.invalid_pct, 2),
                ]
            )
        w = FRAME_WIDTH
        out.append(self.table(rows, [w * 0.28, w * 0.18, w * 0.18, w * 0.18, w * 0.18], bold_last=True))
        out.append(self.p(esc(self.t("report.invalid.caption")), "caption"))
        out.append(self.heading("report.invalid.reasons", 1))
        if not d.spoiled_reasons:
            out.append(self.p(esc(self.t("report.none"))))
            return out
        total = sum(d.spoiled_reasons.values())
        rows = [self.head("report.col.reason", "report.col.ballots", "report.col.share")]
        for code, n in d.spoiled_reasons.items():
            rows.append([d.spoiled_name(code), self.num(n), self.pct(100.0 * n / total if total else None)])
        out.append(self.table(rows, [w * 0.6, w * 0.2, w * 0.2]))
        out.append(self.p(esc(self.t("report.invalid.reasons_caption", n=self.num(total))), "caption"))
        return out

    # -- violations ------------------------------------------------------------
    def violations(self) -> list[Flowable]:
        d = self.d
        w = FRAME_WIDTH
        out: list[Flowable] = [CondPageBreak(100 * mm), self.heading("report.violations")]
        if not d.violations_total:
            out.append(self.p(esc(self.t("report.violations.none"))))
            return out + self.reused_photos()
        out.append(self.heading("report.violations.categories", 1))
        rows: list[list[Any]] = [self.head("report.col.category", "report.col.count", "report.col.share")]
        for code, n in d.violations_by_category.items():
            rows.append([d.category_name(code), self.num(n), self.pct(100.0 * n / d.violations_total)])
        rows.append([self.t("report.total"), self.num(d.violations_total), self.pct(100.0)])
        out.append(self.table(rows, [w * 0.6, w * 0.2, w * 0.2], bold_last=True))
        out.append(self.heading("report.violations.regions", 1))
        top = list(d.violations_by_category)[:TOP_CATEGORIES_IN_TABLE]
        rest = [c for c in d.violations_by_category if c not in top]
        region_codes = sorted(d.violations_by_region, key=lambda r: region_name(r, self.lang))
        names = [region_name(r, self.lang) if r else self.t("report.region.unknown") for r in region_codes]
        # Category names are too long for column heads: number the columns and explain below.
        head = (
            [self.t("report.col.region")]
            + [str(k + 1) for k in range(len(top))]
            + ([self.t("report.other")] if rest else [])
            + [self.t("report.total")]
        )
        rows = [[Paragraph(esc(h), self.s["cell_head_right" if i else "cell_head"]) for i, h in enumerate(head)]]
        for code, name in zip(region_codes, names):
            counts = d.violations_by_region[code]
            line = [name] + [self.num(counts.get(c, 0)) for c in top]
            if rest:
                line.append(self.num(sum(counts.get(c, 0) for c in rest)))
            line.append(self.num(sum(counts.values())))
            rows.append(line)
        n_num = len(head) - 1
        out.append(self.table(rows, [w * 0.28] + [w * 0.72 / n_num] * n_num))
        legend = "; ".join(f"{k + 1} — {d.category_name(c)}" for k, c in enumerate(top))
        out.append(self.p(esc(legend), "caption"))
        # The chart stacks fewer categories than the table has columns: four greys (dark, white,
        # mid, light) stay apart on a photocopy, six do not.
        in_chart = top[:TOP_CATEGORIES_IN_CHART]
        others = [c for c in d.violations_by_category if c not in in_chart]
        series = [
            charts.Series(d.category_name(c), [d.violations_by_region[r].get(c, 0) for r in region_codes])
            for c in in_chart
        ]
        if others:
            series.append(
                charts.Series(
                    self.t("report.other"),
                    [sum(d.violations_by_region[r].get(c, 0) for c in others) for r in region_codes],
                )
            )
        out.append(Spacer(1, 3 * mm))
        out.append(charts.stacked_bars(names, series, width=FRAME_WIDTH))
        out.append(self.p(esc(self.t("report.violations.chart_caption")), "caption"))
        out += self.cases()
        out += self.reused_photos()
        return out

    def reused_photos(self) -> list[Flowable]:
        """Photos submitted for more than one station: a forgery or a mix-up only a person can tell apart."""
        pairs = self.d.reused_photos
        out: list[Flowable] = [self.heading("rel.report.title", 1)]
        if not pairs:
            out.append(self.p(esc(self.t("rel.report.none"))))
            return out
        identical = sum(1 for r in pairs if r.identical)
        out.append(
            self.p(
                esc(
                    self.t(
                        "rel.report.intro",
                        pairs=self.num(len(pairs)),
                        identical=self.num(identical),
                        near=self.num(len(pairs) - identical),
                    )
                )
            )
        )
        cell = self.s["cell"]
        rows: list[list[Any]] = [
            self.head(
                "rel.report.col.station",
                "rel.report.col.observer",
                "rel.report.col.file",
                "rel.report.col.station",
                "rel.report.col.observer",
                "rel.report.col.file",
                "rel.report.col.match",
                right=(),
            )
        ]
        for r in pairs[:REUSED_PAIRS_SHOWN]:
            match = self.t("rel.reuse.identical") if r.identical else self.t("rel.reuse.near", distance=r.distance)
            rows.append(
                [
                    Paragraph(esc(text[:200]), cell)
                    for text in (r.station_a, r.observer_a, r.file_a, r.station_b, r.observer_b, r.file_b, match)
                ]
            )
        w = FRAME_WIDTH
        out.append(
            self.table(rows, [w * 0.08, w * 0.15, w * 0.17, w * 0.08, w * 0.15, w * 0.17, w * 0.20], numeric_from=6)
        )
        if len(pairs) > REUSED_PAIRS_SHOWN:
            out.append(
                self.p(
                    esc(self.t("rel.report.more", shown=self.num(REUSED_PAIRS_SHOWN), total=self.num(len(pairs)))),
                    "caption",
                )
            )
        out.append(self.p(esc(self.t("rel.report.caption")), "caption"))
        return out

    def cases(self) -> list[Flowable]:
        d = self.d
        out: list[Flowable] = [self.heading("report.cases", 1)]
        out.append(self.p(esc(self.t("report.cases.intro", n=len(d.cases)))))
        for c in d.cases:
            local = c.occurred_at
            title = self.t(
                "report.cases.title",
                station=c.station_code,
                region=region_name(c.region, self.lang) if c.region else self.t("report.region.unknown"),
                when=local.strftime("%Y-%m-%d %H:%M"),
                offset=_offset(local),
            )
            text: list[Flowable] = [
                self.p(esc(title), "h3"),
                self.p(
                    " · ".join(
                        [
                            f"<b>{esc(d.category_name(c.category))}</b>",
                            esc(self.t("report.severity." + c.severity)),
                            esc(self.t("report.cases.evidence", n=c.evidence_count)),
                            *self._action(c.action),
                        ]
                    ),
                    "small",
                ),
            ]
            if c.description.strip():
                text.append(self.p(esc(c.description[:2000]), "quote"))
            # Text on the left, photos on the right: a case takes a few centimetres, not half a page.
            thumbs_w = FRAME_WIDTH * 0.45
            cell_w = thumbs_w / THUMBS_PER_CASE
            photos: Any = ""
            if c.thumbs:
                photos = Table(
                    [
                        [thumbnail(t.jpeg, cell_w - 3 * mm, 24 * mm) for t in c.thumbs],
                        [Paragraph(t.sha256[:12] + "…", self.s["small"]) for t in c.thumbs],
                    ],
                    colWidths=[cell_w] * len(c.thumbs),
                    hAlign="RIGHT",
                    style=[
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), 1),
                        ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                    ],
                )
            block = [
                Table(
                    [[text, photos]],
                    colWidths=[FRAME_WIDTH - thumbs_w, thumbs_w],
                    style=[
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                        ("LINEBELOW", (0, 0), (-1, -1), 0.4, LIGHT),
                    ],
                ),
                Spacer(1, 2 * mm),
            ]
            out.append(KeepTogether(block))
        return out

    def _action(self, action: str) -> list[str]:
        """What the observer did about it, in the observer app's words (nothing for "none")."""
        if not action or action == "none":
            return []
        key = f"ui.action.{action}"
        return [esc(self.t(key) if i18n.has(key) else action)]

    # -- forensics (another module) ----------------------------------------------
    def forensics(
        self, store: ElectionStore, tables: tuple[StationArrays, StationArrays] | None = None
    ) -> list[Flowable]:
        """The forensics section (reports.forensics_section), numbered like the other sections."""
        from reports.forensics_section import report_flowables

        flow = report_flowables(store, self.lang, tables=tables)
        out: list[Flowable] = [PageBreak()]
        for f in flow:
            if isinstance(f, Heading) and f.level == 0:
                self.section += 1
                f = Heading(f"{self.section}. {f.toc_text}", 0, f.bookmark)
            out.append(f)
        return out if flow else []

    # -- annexes -----------------------------------------------------------------
    def annex_disputed(self) -> list[Flowable]:
        d = self.d
        w = FRAME_WIDTH
        out: list[Flowable] = [PageBreak(), self.heading("report.annex.disputed")]
        if not d.disputed:
            out.append(self.p(esc(self.t("report.annex.disputed_none"))))
            return out
        rows: list[list[Any]] = [
            self.head(
                "report.col.station",
                "report.col.region",
                "report.col.versions",
                "report.col.differs",
                "report.col.voted_versions",
                "report.col.decision",
                "report.col.reason",
                right={2, 3, 4},
            )
        ]
        for x in d.disputed:
            decision = self.t(f"report.decision.{x.status}", who=x.chosen_from or "—")
            rows.append(
                [
                    x.station_code,
                    Paragraph(esc(region_name(x.region, self.lang)), self.s["cell"]),
                    self.num(x.versions),
                    self.num(x.differing),
                    " / ".join(self.num(v) for v in x.voted),
                    Paragraph(esc(decision), self.s["cell"]),
                    Paragraph(esc(x.reason), self.s["cell"]),
                ]
            )
        table = self.table(rows, [w * 0.09, w * 0.22, w * 0.08, w * 0.11, w * 0.15, w * 0.19, w * 0.16], numeric_from=2)
        table.setStyle([("VALIGN", (0, 1), (-1, -1), "TOP"), ("ALIGN", (5, 0), (-1, -1), "LEFT")])
        out.append(table)
        out.append(Spacer(1, 6 * mm))
        return out

    def annex_imports(self) -> list[Flowable]:
        d = self.d
        w = FRAME_WIDTH
        out: list[Flowable] = [self.heading("report.annex.imports")]
        if not d.imports:
            out.append(self.p(esc(self.t("report.annex.imports_none"))))
            return out
        rows: list[list[Any]] = [
            self.head("report.col.outcome", "report.col.packages", "report.col.first", "report.col.last")
        ]
        for i in d.imports:
            rows.append(
                [
                    self.t(f"report.outcome.{i.outcome}") if i.outcome in _OUTCOMES else i.outcome,
                    self.num(i.packages),
                    _when(i.first),
                    _when(i.last),
                ]
            )
        rows.append([self.t("report.total"), self.num(sum(i.packages for i in d.imports)), "", ""])
        out.append(self.table(rows, [w * 0.34, w * 0.18, w * 0.24, w * 0.24], bold_last=True))
        return out

    def annex_stations(self) -> list[Flowable]:
        d = self.d
        out: list[Flowable] = [PageBreak(), self.heading("report.annex.stations")]
        legend = "; ".join(f"{f} — {self.t('report.flag.' + f)}" for f in ("D", "C", "G", "N", "V"))
        out.append(
            self.p(esc(self.t("report.annex.stations_intro", n=self.num(len(d.stations)), legend=legend)), "small")
        )
        out.append(Deferred(lambda: self._station_tables(d.stations)))
        return out

    def _station_tables(self, rows: list[StationRow]) -> list[Flowable]:
        """Plain-string tables, one block per region, at most ANNEX_CHUNK_ROWS rows each."""
        w = FRAME_WIDTH
        widths = [w * x for x in (0.10, 0.09, 0.09, 0.09, 0.09, 0.09, 0.09, 0.095, 0.095, 0.05, 0.12)]
        # Two-line headers as plain strings: "Turnout, obs." -> "Turnout,\nobs."
        header = [
            self.t(k).replace(", ", ",\n", 1)
            for k in (
                "report.col.station",
                "report.col.registered",
                "report.col.voted_observed",
                "report.col.voted_official",
                "report.col.turnout_observed",
                "report.col.turnout_official",
                "report.col.gap",
                "report.col.invalid_observed",
                "report.col.invalid_official",
                "report.col.violations_short",
                "report.col.flags",
            )
        ]
        head_style = self.s["h3"]
        out: list[Flowable] = []
        start = 0
        lang = self.lang
        while start < len(rows):
            region = rows[start].region
            end = start
            while end < len(rows) and rows[end].region == region:
                end += 1
            name = region_name(region, lang) if region else self.t("report.region.unknown")
            title = esc(f"{name} ({fmt_int(end - start, lang)})")
            for chunk in range(start, end, ANNEX_CHUNK_ROWS):
                stop = min(chunk + ANNEX_CHUNK_ROWS, end)
                # The region's title travels inside its first block: a heading's keepWithNext
                # must meet the table itself, not a placeholder.
                first = chunk == start

                def make(
                    a: int = chunk, b: int = stop, heading: str | None = title if first else None
                ) -> list[Flowable]:
                    table = _annex_table(rows[a:b], header, widths, lang)
                    return [Paragraph(heading, head_style), table] if heading else [table]

                out.append(Lazy(make))
            start = end
        return out


_OUTCOMES = ("merged", "duplicate", "refused", "held")


def _annex_table(rows: list[StationRow], header: list[str], widths: list[float], lang: str) -> PlainTable:
    """One block of the station annex: plain strings in cells of fixed size."""
    body = [_station_cells(r, lang) for r in rows]
    for cells in body:
        if len(cells[0]) > 10:  # station codes may be up to 32 characters: clip to the cell
            cells[0] = _fit(cells[0], widths[0] - 6, FONT_CONDENSED, ANNEX_FONT_SIZE)
    return PlainTable(
        header,
        body,
        widths,
        row_height=ANNEX_ROW_HEIGHT,
        header_height=2 * ANNEX_ROW_HEIGHT,
        font=FONT_CONDENSED,
        bold_font=FONT_CONDENSED_BOLD,
        size=ANNEX_FONT_SIZE,
        header_size=6.5,
        left=1,
        last_left=True,
    )


def _station_cells(r: StationRow, lang: str) -> list[str]:
    return [
        r.code,
        fmt_int(r.registered, lang),
        fmt_int(r.observed_voted, lang),
        fmt_int(r.official_voted, lang),
        fmt_pct(r.observed_turnout, lang),
        fmt_pct(r.official_turnout, lang),
        fmt_pp(r.gap_pp, lang),
        fmt_pct(r.observed_invalid, lang),
        fmt_pct(r.official_invalid, lang),
        str(r.violations) if r.violations else "",
        " ".join(r.flags),
    ]


def _fit(text: str, width: float, font: str = FONT, size: float = 7.5) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points (running header)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Compressed streams stored as binary, not also ASCII85-encoded (ReportLab's default).

    ASCII85 only matters for 7-bit channels, which a PDF (binary from its second line
    on) does not go through; it makes every page, font and image stream 25 % larger
    and was ~0.5 s of a 178-page report (pure-Python encoder). ReportLab reads the
    setting when it writes, so it is set for the build and restored after.
    """
    before = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = before


def _remove_quietly(path: Path) -> None:
    """Remove a partial output; on a read-only or vanished folder there is nothing to remove."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _when(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else "—"


def _offset(t: datetime) -> str:
    off = t.utcoffset()
    minutes = int(off.total_seconds() // 60) if off else 0
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _date(iso: str, lang: str) -> str:
    """An ISO date written the way the language writes dates."""
    try:
        day = datetime.strptime(iso, "%Y-%m-%d")
    except ValueError:
        return iso or "—"
    if lang == "en":
        return day.strftime("%d %B %Y").lstrip("0")
    return day.strftime("%d.%m.%Y")


def _organisation(store: ElectionStore) -> str:
    """The organisation from the HQ file: its setting, else the organisation of the file's own user."""
    setting = store.meta("organisation")
    if setting:
        return setting
    me = store.observer()
    return me.organisation if me else ""


def _logo(path: Path) -> Image:
    """The organisation's logo, decoded and re-encoded by Pillow before ReportLab sees it.

    The file is a user's file like any other: size and pixel limits, a full decode, and
    only the re-encoded, downscaled copy goes into the PDF.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        if path.stat().st_size > MAX_LOGO_BYTES:
            raise ReportError("report.error.logo", file=path.name)
        with PILImage.open(path) as img:
            if img.width * img.height > MAX_LOGO_PIXELS:
                raise ReportError("report.error.logo", file=path.name)
            img.load()
            clean = img.convert("RGBA") if img.mode in ("RGBA", "LA", "P") else img.convert("RGB")
        clean.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
        data = io.BytesIO()
        clean.save(data, "PNG")
    except ReportError:
        raise
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        raise ReportError("report.error.logo", file=path.name) from None
    width, height = clean.size
    scale = min(60 * mm / width, 25 * mm / height)
    data.seek(0)
    logo = Image(data, width=width * scale, height=height * scale)
    logo.hAlign = "LEFT"
    return logo


# ---- entry point -------------------------------------------------------------


def build_report(
    hq: ElectionStore | str | Path,
    out_path: str | Path,
    lang: str,
    title: str | None = None,
    org: str | None = None,
    logo: str | Path | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> ReportInfo:
    """Build the observation report of an HQ file as a PDF at ``out_path``.

    ``org`` defaults to the HQ file's ``meta.organisation``; ``progress`` gets
    ReportLab's progress events (for a progress bar in the UI).
    """
    started = time.perf_counter()
    if lang not in LANGUAGES:
        raise ReportError("report.error.lang", lang=lang, known=", ".join(LANGUAGES))
    logo_path = Path(logo) if logo else None
    if logo_path is not None and not logo_path.is_file():
        raise ReportError("report.error.logo", file=str(logo_path))
    own = not isinstance(hq, ElectionStore)
    store = hq if isinstance(hq, ElectionStore) else ElectionStore.open(hq)
    try:
        organisation = (org if org is not None else _organisation(store)).strip()
        snapshot = read_snapshot(store)  # one read for both the figures and the fingerprint
        data = collect(store, lang, organisation, snapshot)
        data.fingerprint = data_fingerprint(store, snapshot)
        sb = _Sections(data, (title or tr("report.default_title", lang)).strip(), logo_path)
        # In reading order: sections are numbered as they are made.
        story: list[Flowable] = [
            *sb.cover(),
            *sb.toc(),
            *sb.findings(),
            *sb.methodology(),
            *sb.turnout(),
            *sb.results(),
            *sb.invalid(),
            *sb.violations(),
            *sb.forensics(store, (snapshot.official, snapshot.observed)),
            *sb.annex_disputed(),
            *sb.annex_imports(),
            *sb.annex_stations(),
        ]
    finally:
        if own:
            store.close()
    register_fonts()
    target = Path(out_path)
    tmp = target.with_name(f".{target.name}.part")
    doc = ReportDoc(
        str(tmp),
        title=sb.title,
        author=organisation or "Baqylau",
        subject=data.election,
        creator="Baqylau",
        keywords=[KEYWORD_PREFIX + data.fingerprint, data.template.id, lang],
        lang={"ru": "ru-RU", "kk": "kk-KZ", "en": "en"}[lang],
    )
    if progress is not None:
        doc.setProgressCallBack(lambda kind, value: progress(str(kind), int(value or 0)))
    canvasmaker = _numbered_canvas(lang, f"{sb.title} — {data.election}", organisation)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _binary_streams():
            doc.multiBuild(story, canvasmaker=canvasmaker)
        pages = doc.page
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise ReportError("report.error.write", file=str(target), problem=exc.strerror or str(exc)) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    return ReportInfo(
        target,
        pages,
        data.fingerprint,
        lang,
        data.stations_observed,
        data.stations_total,
        time.perf_counter() - started,
    )


__all__ = ["ReportError", "ReportInfo", "build_report"]
