"""The coordinator's stations table: open it and scroll to the last row, on an open HQ file.

Shows how much was read to do it (pages of rows loaded, rows that is) and how
much the process grew, to show the table does not load every station.
"""

from __future__ import annotations

import os

from benchmarks.common import Context, Row, median_runs, rss_mb
from benchmarks.data import dataset, merged_hq
from db.store import ElectionStore

NAME = "stations table: open + scroll to end"
TARGET_SIZE = 100_000
LIMIT_S = 0.5


def run(ctx: Context) -> list[Row]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.app import make_application
    from ui.coordinator.stations import PAGE_SIZE, StationsPage

    app = make_application()
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        store = ElectionStore.open(merged_hq(ds, ctx.log))
        seen: list[tuple[int, int, str, float]] = []
        try:

            def open_and_scroll() -> None:
                before = rss_mb()
                page = StationsPage(store)
                page.resize(1300, 700)
                page.show()
                app.processEvents()
                page.view.scrollToBottom()
                app.processEvents()
                page.view.viewport().repaint()
                model = page.model
                last = str(model.index(model.rowCount() - 1, 0).data())
                seen.append((model.rowCount(), model.pages_loaded, last, rss_mb() - before))
                page.close()
                page.deleteLater()
                app.processEvents()

            t, runs = median_runs(open_and_scroll, ctx.repeat)
        finally:
            store.close()
        count, pages, last, grew = seen[-1]
        if count != size:
            raise RuntimeError(f"stations table shows {count} rows for {size} stations")
        loaded = min(pages * PAGE_SIZE, count)
        rows.append(
            Row(
                NAME,
                size,
                t,
                None,
                f"< {LIMIT_S} s, no full load",
                None,
                limit_s=LIMIT_S if size == TARGET_SIZE else None,
                runs=runs,
                note=f"{pages} pages of {PAGE_SIZE} rows read ({loaded} of {count} rows), last row {last}, "
                f"RSS +{grew:.1f} MB",
                extra={"rows_loaded": float(loaded), "rss_growth_mb": grew},
            )
        )
    return rows
