"""The forensics section (reports.forensics_section), numbered like the other sections."""

from __future__ import annotations

from reportlab.platypus import Flowable, PageBreak

from db.store import ElectionStore
from observer.aggregate import StationArrays
from reports.flowables import Heading
from reports.sections.base import Context


def forensics(
    ctx: Context, store: ElectionStore, tables: tuple[StationArrays, StationArrays] | None = None
) -> list[Flowable]:
    """The forensics section (reports.forensics_section), numbered like the other sections."""
    from reports.forensics_section import report_flowables

    flow = report_flowables(store, ctx.lang, tables=tables)
    out: list[Flowable] = [PageBreak()]
    for f in flow:
        if isinstance(f, Heading) and f.level == 0:
            ctx.section += 1
            f = Heading(f"{ctx.section}. {f.toc_text}", 0, f.bookmark)
        out.append(f)
    return out if flow else []


__all__ = ["forensics"]
