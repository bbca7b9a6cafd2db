"""Serious cases: one block per case, text on the left and photo thumbnails on the right."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table

from observer import i18n
from observer.regions import region_name
from reports.data import THUMBS_PER_CASE
from reports.flowables import esc, thumbnail
from reports.sections.base import Context, clock, utc_offset
from reports.styles import FRAME_WIDTH, LIGHT

CASE_TEXT_CHARS = 1200  # at 45 narrow letters a line, ~27 lines: a third of a page at most


def cases(ctx: Context) -> list[Flowable]:
    d = ctx.d
    # The heading and the intro travel with the first case, never alone at the foot of a page.
    lead: list[Flowable] = [ctx.heading("report.cases", 1), ctx.p(esc(ctx.count("report.cases.intro", len(d.cases))))]
    out: list[Flowable] = []
    for c in d.cases:
        local = c.occurred_at
        title = ctx.t(
            "report.cases.title",
            station=c.station_code,
            region=region_name(c.region, ctx.lang) if c.region else ctx.t("report.region.unknown"),
            when=clock(local, ctx.lang),
            offset=utc_offset(local),
        )
        text: list[Flowable] = [
            ctx.p(esc(title), "h3"),
            ctx.p(
                " · ".join(
                    [
                        f"<b>{esc(d.category_name(c.category))}</b>",
                        esc(ctx.t("report.severity." + c.severity)),
                        esc(ctx.t("report.cases.evidence", n=c.evidence_count)),
                        *_action(ctx, c.action),
                    ]
                ),
                "small",
            ),
        ]
        if c.description.strip():
            # A case is one table row, which cannot break across pages: a long text is shown as an
            # excerpt that always fits (the whole text stays in the HQ file and the package).
            excerpt = c.description if len(c.description) <= CASE_TEXT_CHARS else c.description[:CASE_TEXT_CHARS] + "…"
            text.append(ctx.p(esc(excerpt), "quote"))
        # Text on the left, photos on the right: a case takes a few centimetres, not half a page.
        thumbs_w = FRAME_WIDTH * 0.45
        cell_w = thumbs_w / THUMBS_PER_CASE
        photos: Any = ""
        if c.thumbs:
            photos = Table(
                [
                    [thumbnail(t.jpeg, cell_w - 3 * mm, 24 * mm) for t in c.thumbs],
                    [Paragraph(t.sha256[:12] + "…", ctx.s["small"]) for t in c.thumbs],
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
        out.append(KeepTogether(lead + block if not out else block))
    return out or lead


def _action(ctx: Context, action: str) -> list[str]:
    """What the observer did about it, in the observer app's words (nothing for "none")."""
    if not action or action == "none":
        return []
    key = f"ui.action.{action}"
    return [esc(ctx.t(key) if i18n.has(key) else action)]


__all__ = ["cases"]
