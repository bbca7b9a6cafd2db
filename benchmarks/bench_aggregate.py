"""National + region + district totals from both sources vs pandas.read_csv + groupby().sum()."""

from __future__ import annotations

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import dataset, merged_hq
from db.aggregate import aggregate_levels
from db.store import ElectionStore

NAME = "aggregation, 3 levels, both sources"
TARGET_SIZE = 100_000
LEVELS = ("national", "region", "district")


def run(ctx: Context) -> list[Row]:
    import pandas as pd  # only the baseline needs it: pip install -e .[bench]

    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        store = ElectionStore.open(merged_hq(ds, ctx.log))
        try:

            def ours() -> None:
                result = aggregate_levels(store, LEVELS, "both")
                assert len(result["national"]) == 1

            ours_t, runs = median_runs(ours, ctx.repeat)
        finally:
            store.close()

        def baseline() -> None:
            frame = pd.read_csv(ds.official_csv, sep=";", encoding="cp1251")
            numeric = frame.select_dtypes("number")
            numeric.sum()
            frame.groupby("Область")[list(numeric.columns)].sum()
            frame.groupby(["Область", "ТИК"])[list(numeric.columns)].sum()

        base_t, base_runs = median_runs(baseline, ctx.repeat)
        rows.append(
            Row(
                NAME,
                size,
                ours_t,
                base_t,
                "<= 1x baseline",
                1.0 if size == TARGET_SIZE else None,
                runs=min(runs, base_runs),
                note=f"HQ already open, {ds.observed} observed stations; baseline reads the official CSV only",
            )
        )
    return rows
