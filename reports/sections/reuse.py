"""Photos submitted for more than one station (db/reuse.py)."""

from __future__ import annotations

from typing import Any

from reportlab.platypus import Flowable, Paragraph

from reports.flowables import esc
from reports.sections.base import Context
from reports.styles import FRAME_WIDTH

# Reused photos printed as rows; a longer list (a systematic fraud or a broken import) is counted, not printed.
REUSED_PAIRS_SHOWN = 100


def reused_photos(ctx: Context) -> list[Flowable]:
    """Photos submitted for more than one station: a forgery or a mix-up only a person can tell apart."""
    pairs = ctx.d.reused_photos
    out: list[Flowable] = [ctx.heading("rel.report.title", 1)]
    if not pairs:
        out.append(ctx.p(esc(ctx.t("rel.report.none"))))
        return out
    identical = sum(1 for r in pairs if r.identical)
    out.append(
        ctx.p(
            esc(
                ctx.t(
                    "rel.report.intro",
                    pairs=ctx.num(len(pairs)),
                    identical=ctx.num(identical),
                    near=ctx.num(len(pairs) - identical),
                )
            )
        )
    )
    cell = ctx.s["cell"]
    rows: list[list[Any]] = [
        ctx.head(
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
        match = ctx.t("rel.reuse.identical") if r.identical else ctx.t("rel.reuse.near", distance=r.distance)
        rows.append(
            [
                Paragraph(esc(text[:200]), cell)
                for text in (r.station_a, r.observer_a, r.file_a, r.station_b, r.observer_b, r.file_b, match)
            ]
        )
    w = FRAME_WIDTH
    out.append(
        ctx.table(
            rows,
            [w * 0.08, w * 0.15, w * 0.17, w * 0.08, w * 0.15, w * 0.17, w * 0.20],
            numeric_from=6,
            user_columns=(1, 2, 4, 5),  # observers' names and file names, as they were sent
        )
    )
    if len(pairs) > REUSED_PAIRS_SHOWN:
        out.append(
            ctx.p(
                esc(ctx.t("rel.report.more", shown=ctx.num(REUSED_PAIRS_SHOWN), total=ctx.num(len(pairs)))),
                "caption",
            )
        )
    out.append(ctx.p(esc(ctx.t("rel.report.caption")), "caption"))
    return out


__all__ = ["reused_photos"]
