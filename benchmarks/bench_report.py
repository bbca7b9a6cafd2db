"""The PDF observation report (with its station annex) vs ReportLab building a plain table of the same rows."""

from __future__ import annotations

from dataclasses import astuple

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import dataset, merged_hq
from db.store import ElectionStore
from reports.build import ANNEX_CHUNK_ROWS, build_report
from reports.data import collect

NAME = "PDF report incl. station annex"
TARGET_ANNEX = 10_000
LANG = "ru"


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        out = ctx.work / "report.pdf"
        plain = ctx.work / "plain.pdf"
        store = ElectionStore.open(merged_hq(ds, ctx.log))
        try:
            annex = collect(store, LANG).stations
            pages: list[int] = []

            def ours() -> None:
                info = build_report(store, out, LANG)
                pages.append(info.pages)

            ours_t, runs = median_runs(ours, ctx.repeat)
        finally:
            store.close()
        # The annex rows as plain strings, made before timing: the baseline is ReportLab's own work.
        cells = [["" if v is None else str(v) for v in astuple(r)][:11] for r in annex]
        header = [
            "code",
            "region",
            "registered",
            "observed",
            "official",
            "turnout obs.",
            "turnout off.",
            "invalid obs.",
            "invalid off.",
            "violations",
            "checks",
        ]
        style = getSampleStyleSheet()

        def baseline() -> None:
            doc = SimpleDocTemplate(str(plain), pagesize=A4)
            story = [Paragraph("Stations", style["Heading1"])]
            for start in range(0, len(cells), ANNEX_CHUNK_ROWS):
                story.append(Table([header, *cells[start : start + ANNEX_CHUNK_ROWS]], repeatRows=1))
            doc.build(story)

        base_t, base_runs = median_runs(baseline, ctx.repeat)
        out.unlink(missing_ok=True)
        plain.unlink(missing_ok=True)
        rows.append(
            Row(
                NAME,
                size,
                ours_t,
                base_t,
                "<= 3x baseline",
                3.0 if len(annex) == TARGET_ANNEX else None,
                runs=min(runs, base_runs),
                note=f"HQ of {size} stations, annex of {len(annex)} observed stations, {pages[-1]} pages, "
                "with forensics section; baseline: one plain Table of the annex rows",
                extra={"annex_rows": float(len(annex)), "pages": float(pages[-1])},
            )
        )
    return rows
