"""The report's forensics section: the PDF layout of :func:`observer.forensics.present.present`.

``forensics_flowables(result, lang)`` lays out a result computed elsewhere
(the GUI and the command line show the same view, so the three agree on every
number, table and note); ``report_flowables(store, lang)`` is what
:mod:`reports.build` calls: it runs the tests on the HQ file first. The charts
are in :mod:`reports.forensics_charts`.
"""

from __future__ import annotations

from collections.abc import Callable

from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from db.services.forensics import Tables, party_namer, run_forensics
from db.store import ElectionStore
from observer.errors import BaqylauError
from observer.forensics import ForensicsResult, Options
from observer.forensics.present import Block, Chart, Grid, Section, Text, present
from observer.i18n import tr
from reports.flowables import Heading, esc
from reports.forensics_charts import fingerprint_chart, integer_chart, turnout_chart
from reports.styles import FRAME_WIDTH, INK, get_styles
from reports.tables import data_table

# Room a section's heading needs below it before a page break is better (its chart or table follows).
_ROOM = {"forensics-fp": 110 * mm, "forensics-shpilkin": 90 * mm, "forensics-integer": 110 * mm}


def _chart(result: ForensicsResult, kind: str, lang: str, leader: str) -> Drawing:
    if kind == "fingerprint":
        return fingerprint_chart(result.fingerprint, lang, leader)
    if kind == "turnout":
        return turnout_chart(result.turnout, lang, leader)
    return integer_chart(result.fine_turnout_hist, result.fine_leader_hist, lang)


def _grid(grid: Grid) -> Table:
    """The grid as the house data table (reports.tables: no word or figure split across lines)."""
    rows: list[list[str]] = [list(grid.headers), *[list(row) for row in grid.rows]]
    # The official figure lies outside the interval: bold, so it survives a photocopy (and is measured in bold).
    return data_table(
        rows,
        [FRAME_WIDTH * w for w in grid.widths],
        numeric_from=grid.numeric_from,
        h_align="LEFT",
        bold_rows=[i + 1 for i in grid.flagged],
    )


def _text(block: Text) -> Flowable:
    s = get_styles()
    if block.kind == "warning":
        box = Table([[Paragraph(f"<b>{esc(block.text)}</b>", s["body"])]], colWidths=[FRAME_WIDTH])
        box.setStyle([("BOX", (0, 0), (-1, -1), 1.2, INK), ("LEFTPADDING", (0, 0), (-1, -1), 6)])
        return box
    if block.kind == "subhead":
        return Paragraph(f"<b>{esc(block.text)}</b>", s["body"])
    if block.kind == "caveat":
        # The caveat sits right beside its test, in bold so it is not skimmed over.
        return Paragraph(f"<b>{esc(block.text)}</b>", s["small"])
    return Paragraph(esc(block.text), s["note" if block.kind == "note" else "body"])


def _blocks(result: ForensicsResult, section: Section, lang: str, leader: str) -> list[Flowable]:
    out: list[Flowable] = []
    blocks: list[Block] = list(section.blocks)
    for i, block in enumerate(blocks):
        if isinstance(block, Chart):
            # A chart stays on the page of its caption.
            caption = Paragraph(esc(block.caption), get_styles()["caption"])
            out.append(KeepTogether([_chart(result, block.kind, lang, leader), caption]))
        elif isinstance(block, Grid):
            out += [_grid(block), Spacer(1, 2 * mm)]
        else:
            follows = blocks[i + 1] if i + 1 < len(blocks) else None
            if block.kind == "subhead" and isinstance(follows, Grid):
                out.append(CondPageBreak(40 * mm))
            out.append(_text(block))
    return out


def forensics_flowables(
    result: ForensicsResult, lang: str, party_name: Callable[[str], str] | None = None
) -> list[Flowable]:
    """The forensics section for a computed result, in ``lang``."""
    view = present(result, lang, party_name)
    s = get_styles()
    out: list[Flowable] = [
        Heading(view.title, 0, "forensics"),
        Paragraph(esc(view.summary), s["body"]),
        Paragraph(esc(view.intro), s["body"]),
    ]
    for section in view.sections:
        out.append(CondPageBreak(_ROOM.get(section.anchor, 60 * mm)))
        out.append(Heading(section.title, 1, section.anchor))
        out += _blocks(result, section, lang, view.leader)
    return out


def report_flowables(
    store: ElectionStore, lang: str, options: Options = Options(), tables: Tables | None = None
) -> list[Flowable]:
    """The section for an HQ file: run the tests (by region), then lay them out.

    ``tables`` are the (official, observed) station tables the report has already read.
    A file the tests cannot run on (no official results yet) gets the heading
    and the reason, so the reader knows the section was not forgotten.
    """
    try:
        result = run_forensics(store, "region", options, tables)
    except BaqylauError as exc:
        return [
            Heading(tr("forensics.title", lang), 0, "forensics"),
            Paragraph(esc(tr("forensics.report.unavailable", lang, problem=exc.message(lang))), get_styles()["body"]),
        ]
    return forensics_flowables(result, lang, party_namer(store.template, lang))
