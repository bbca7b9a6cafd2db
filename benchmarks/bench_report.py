"""The PDF observation report (with its station annex) vs bare ReportLab typesetting the same content.

The baseline (benchmarks/README.md, docs/report.md "Speed"): the report's own paragraphs and
table rows, as the strings it prints, made before timing, typeset by ReportLab's
``SimpleDocTemplate`` with plain ``Paragraph``s and ``Table``s (the annex in the report's blocks
of ANNEX_CHUNK_ROWS rows, header repeated), in the report's fonts, page frame and column
widths, with the same stream settings (compressed, binary). Left to our side: reading the HQ
file and computing the figures and forensics, the fingerprint, the table of contents and its
second pass, "page X of Y", running headers, charts, photos, word-safe column fitting and
wrapping, CLDR number formatting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab import rl_config
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Table, TableStyle

from benchmarks.bench_aggregate import pg_hq
from benchmarks.common import Context, Row, alternate_runs
from benchmarks.data import dataset, merged_hq
from db import reuse
from db.store import ElectionStore
from reports.build import build_report, report_story
from reports.flowables import Lazy, PlainTable, esc
from reports.styles import FONT_CONDENSED, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, PAGE_SIZE

NAME = "PDF report incl. station annex"
TARGET_SIZE = 100_000
LANG = "ru"


def _text(cell: Any) -> str:
    """What a table cell prints, as one plain string."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, Paragraph):
        return cell.getPlainText()
    if isinstance(cell, (list, tuple)):
        return " ".join(t for t in (_text(c) for c in cell) if t)
    return ""


@dataclass(frozen=True)
class PlainPara:
    text: str  # markup-safe
    style: ParagraphStyle


@dataclass(frozen=True)
class PlainGrid:
    rows: list[list[str]]  # the first row is the header
    widths: list[float]
    size: float
    heights: list[float] | None = None  # the annex's fixed rows, so both documents have its pages


def plain_content(flowables: Iterable[Flowable]) -> list[PlainPara | PlainGrid]:
    """The report's paragraphs and tables as plain strings (charts, images and spacing left out)."""
    out: list[PlainPara | PlainGrid] = []
    for f in flowables:
        if isinstance(f, Lazy):  # the annex blocks, made as the report makes them (not timed)
            out += plain_content(f.flowables())
        elif isinstance(f, KeepTogether):
            out += plain_content(f._content)
        elif isinstance(f, Paragraph):
            out.append(PlainPara(esc(f.getPlainText()), f.style))
        elif isinstance(f, PlainTable):
            rows = [list(f.header), *(list(r) for r in f.rows)]
            heights = [f.header_height] + [f.row_height] * len(f.rows)
            out.append(PlainGrid(rows, list(f.widths), f.size, heights))
        elif isinstance(f, Table):
            out.append(PlainGrid([[_text(c) for c in row] for row in f._cellvalues], list(f._argW), 8.0))
    return out


def plain_flowables(content: list[PlainPara | PlainGrid]) -> list[Flowable]:
    """Bare ReportLab: a Paragraph per paragraph, a Table of strings per table, header repeated."""
    out: list[Flowable] = []
    for item in content:
        if isinstance(item, PlainPara):
            out.append(Paragraph(item.text, item.style))
        else:
            cmds: list[tuple[Any, ...]] = [("FONT", (0, 0), (-1, -1), FONT_CONDENSED, item.size)]
            if item.heights is not None:  # the annex: its paddings, so its rows fit its row height
                cmds += [("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]
                cmds += [("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]
            out.append(
                Table(
                    item.rows,
                    colWidths=item.widths,
                    rowHeights=item.heights,
                    repeatRows=1 if len(item.rows) > 1 else 0,
                    style=TableStyle(cmds),
                )
            )
    return out


@contextmanager
def _binary_streams() -> Iterator[None]:
    """The report's stream setting (no ASCII85), so the baseline does not pay for a flag we turned off."""
    before = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = before


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        out = ctx.work / "report.pdf"
        plain = ctx.work / "plain.pdf"
        store = ElectionStore.open(merged_hq(ds, ctx.log))
        try:
            content = plain_content(report_story(store, LANG)[1])
            pages: list[int] = []
            base_pages: list[int] = []

            def ours() -> None:
                # As `baqylau report` runs, in a process that has not scanned the photos before: the
                # reused-photo scan's per-process hash cache (filled by report_story above) emptied.
                reuse._cache.clear()
                pages.append(build_report(store, out, LANG).pages)

            def baseline() -> None:
                doc = SimpleDocTemplate(
                    str(plain),
                    pagesize=PAGE_SIZE,
                    leftMargin=MARGIN_LEFT,
                    rightMargin=MARGIN_RIGHT,
                    topMargin=MARGIN_TOP,
                    bottomMargin=MARGIN_BOTTOM,
                    invariant=1,
                )
                with _binary_streams():
                    doc.build(plain_flowables(content))
                base_pages.append(doc.page)

            ours_t, base_t, runs = alternate_runs(ours, baseline, ctx.repeat)
        finally:
            store.close()
        url = pg_hq(merged_hq(ds, ctx.log), ctx.log)
        if url is not None:
            rows.append(_on_postgres(url, merged_hq(ds, ctx.log), size, ctx))
        table_rows = sum(len(g.rows) - 1 for g in content if isinstance(g, PlainGrid))
        paragraphs = sum(1 for p in content if isinstance(p, PlainPara))
        out.unlink(missing_ok=True)
        plain.unlink(missing_ok=True)
        rows.append(
            Row(
                NAME,
                size,
                ours_t,
                base_t,
                "<= 3x baseline",
                3.0 if size == TARGET_SIZE else None,
                runs=runs,
                note=f"HQ of {size} stations, {pages[-1]} pages, forensics included, photo hashes not cached in the process; baseline: the same "
                f"{paragraphs} paragraphs and {table_rows} table rows as plain ReportLab Paragraphs and Tables "
                f"({base_pages[-1]} pages)",
                extra={
                    "table_rows": float(table_rows),
                    "pages": float(pages[-1]),
                    "baseline_pages": float(base_pages[-1]),
                },
            )
        )
    return rows


def _on_postgres(url: str, hq_file: Path, size: int, ctx: Context) -> Row:
    """The same report built from the PostgreSQL copy (``BAQYLAU_BENCH_PG_URL``), alternating with the file's."""
    server, local = ElectionStore.open(url), ElectionStore.open(hq_file)
    out = ctx.work / "report-pg.pdf"
    try:
        pg_t, file_t, runs = alternate_runs(
            lambda: build_report(server, out, LANG), lambda: build_report(local, out, LANG), ctx.repeat
        )
    finally:
        server.close()
        local.close()
        out.unlink(missing_ok=True)
    return Row(
        NAME + ", PostgreSQL",
        size,
        pg_t,
        file_t,
        "the same report from the HQ file (SQLite), alternately",
        None,
        runs=runs,
        note="a local server over a unix socket; the same PDF byte for byte (tests/reports/test_report_backends.py)",
    )
