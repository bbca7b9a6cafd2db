"""The coordinator's stations table: open it and scroll to the last row; sort it by the gap.

Shows how much was read to do it (pages of rows loaded, rows that is) and how
much the process grew, to show the table does not load every station.

Sorting by the turnout gap (observed minus official) runs on a synthetic HQ
(:func:`benchmarks.synthetic_hq.build_hq`: official results everywhere, observers at
one station in ten), on a fresh table whose observers' figures are already in, as
after a merge: the gap's sort keys are computed then. Baseline: sorting by station
code (one SQL query), measured in the same run.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from benchmarks.common import Context, Row, median_runs, median_time, rss_mb
from benchmarks.data import dataset, merged_hq
from db.store import ElectionStore

NAME = "stations table: open + scroll to end"
SORT_NAME = "stations table: sort by gap"
TARGET_SIZE = 100_000
LIMIT_S = 0.5
SORT_LIMIT_S = 0.5


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
    return rows + [_sort_row(ctx, size) for size in ctx.sizes]


def _sort_row(ctx: Context, size: int) -> Row:
    """Median time of one click on the gap header (descending: the stations where observers saw more first)."""
    from benchmarks.synthetic_hq import build_hq
    from db.services.station_table import StationSource
    from ui.coordinator.stations import COLUMNS, StationsModel
    from ui.qt import Qt

    store = build_hq(ctx.work / f"sort-{size}.baqylau", size)
    models: list[StationsModel] = []
    shown: list[str] = []

    def fresh() -> None:
        source = StationSource(store)
        source.effective  # noqa: B018 - the figures are in before the click, as in the window
        model = StationsModel(source)
        model.reload()
        models[:] = [model]

    def sort_by(column: str) -> Callable[[], None]:
        def click() -> None:
            model = models[0]
            model.sort(COLUMNS.index(column), Qt.SortOrder.DescendingOrder)
            shown[:] = [str(model.index(0, 0).data())]  # the first screen's first row, as the view asks

        return click

    try:
        base, _ = median_runs(sort_by("code"), ctx.repeat, setup=fresh)
        t, runs = median_runs(sort_by("gap"), ctx.repeat, setup=fresh)
        gaps, first = len(models[0].source.sort_keys.keys("gap")), shown[0]
        # Every other column once, on a fresh table too (its first sort computes the keys).
        others = {f"sort_{c}_s": median_time(sort_by(c), 1, setup=fresh) for c in COLUMNS if c not in ("code", "gap")}
    finally:
        store.close()
    return Row(
        SORT_NAME,
        size,
        t,
        base,
        f"< {SORT_LIMIT_S} s",
        None,
        limit_s=SORT_LIMIT_S if size == TARGET_SIZE else None,
        runs=runs,
        note=f"{gaps} stations with a gap of {size}; first row {first}; baseline: sort by code (SQL); "
        + ", ".join(f"{k[5:-2]} {v:.2f} s" for k, v in others.items()),
        extra=others,
    )
