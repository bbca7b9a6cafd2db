"""National + region + district totals from both sources vs pandas.read_csv + groupby().sum().

With ``BAQYLAU_BENCH_PG_URL`` set (a PostgreSQL role that may create databases, e.g.
``postgresql://postgres@/postgres?host=/tmp/pg&port=5443``), the same HQ is also copied into a
database of its own on that server (``db.hq_copy``, once per data set) and timed there: a second
row, whose baseline is the SQLite run of the same size in the same sitting.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import dataset, merged_hq
from db.aggregate import aggregate_levels
from db.store import ElectionStore
from observer.errors import StorageError

NAME = "aggregation, 3 levels, both sources"
TARGET_SIZE = 100_000
LEVELS = ("national", "region", "district")
PG_ENV = "BAQYLAU_BENCH_PG_URL"


def pg_hq(hq_file: Path, log: Callable[[str], None]) -> str | None:
    """A PostgreSQL copy of ``hq_file`` on the server of $BAQYLAU_BENCH_PG_URL (made once), or None without it.

    The database is named after the file's path; it is used again while it holds the same HQ
    (the time the HQ was created, copied with its ``meta``: opening a file changes its time
    stamp, not this), and a copy is all or nothing (db.hq_copy), so one that opens is whole.
    """
    server = os.environ.get(PG_ENV)
    if not server:
        return None
    import psycopg
    from psycopg import sql

    from db.engine import pg_with_database
    from db.hq_copy import copy_hq

    name = "baqylau_bench_" + hashlib.sha256(str(hq_file.resolve()).encode()).hexdigest()[:12]
    url = pg_with_database(server, name)
    made = _meta(hq_file, "created_at")
    try:
        if _meta(url, "created_at") == made:
            return url
    except StorageError:
        pass  # no such database yet
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'").format(sql.Identifier(name))
        )
    log(f"  copying {hq_file.name} into PostgreSQL ({name})")
    copy_hq(hq_file, url)
    return url


def _meta(where: str | Path, key: str) -> str | None:
    store = ElectionStore.open(where)
    try:
        return store.meta(key)
    finally:
        store.close()


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
        url = pg_hq(merged_hq(ds, ctx.log), ctx.log)
        if url is not None:
            rows.append(_on_postgres(url, size, ours_t, ds.observed, ctx.repeat))

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


def _on_postgres(url: str, size: int, sqlite_s: float, observed: int, repeat: int) -> Row:
    """The same aggregation on the PostgreSQL copy; its baseline is the SQLite time just measured."""
    store = ElectionStore.open(url)
    try:
        pg_t, runs = median_runs(lambda: aggregate_levels(store, LEVELS, "both"), repeat)
    finally:
        store.close()
    return Row(
        NAME + ", PostgreSQL",
        size,
        pg_t,
        sqlite_s,
        "the same HQ file (SQLite) in the same run",
        None,
        runs=runs,
        note=f"HQ already open, {observed} observed stations; a local server over a unix socket; "
        "same output as from the file (tests/db/test_aggregate_backends.py)",
    )
