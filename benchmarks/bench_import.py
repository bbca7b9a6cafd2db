"""Official results import (CSV of ~30 columns into a new HQ file) vs csv + raw sqlite3 executemany.

Three files: the Kazakh CEC-style one of benchmarks/data.py (one station-number
column, regions by ISO code, cp1251 with ``;``, three lines summed from several
columns), the same file as UTF-8 with commas (addresses then quoted: the
shape issue 18 found slower), and a Russian CIK-style one as published
(tests/fixtures/anyelection/make_ru_cik.py: region + TIK + UIK as a compound
key, region names kept as the file writes them), imported with the template and
mapping `template new --from-csv` drafts for it.

With ``BAQYLAU_BENCH_PG_URL`` set (a PostgreSQL role that may create databases, e.g.
``postgresql://postgres@/postgres?host=/tmp/pg&port=5441``), each file is also imported into a
new PostgreSQL HQ (a new database per run, made untimed; the rows go by COPY, db/pg_bulk.py),
alternately with the import of the same file into a new HQ file: a row whose baseline is that
file import of the same run.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.bench_merge import PG_URL_VARIABLE
from benchmarks.common import Context, Row, alternate_runs, median_runs
from benchmarks.data import TEMPLATE_ID, copy_election, dataset, remove_election
from db.engine import pg_scratch_databases
from db.official import import_official
from db.store import ROLE_HQ, ElectionStore
from observer.csvio import parse_csv
from observer.draft import make_draft
from observer.errors import StorageError
from observer.template import ElectionTemplate, builtin_template, parse_template
from tests.fixtures.anyelection.make_ru_cik import ru_cik_csv

NAME = "official import (CSV to HQ)"
COMPOUND_NAME = "official import, compound key (region+TIK+UIK)"
UTF8_NAME = "official import, UTF-8 ',' (summed columns)"
TARGET_SIZE = 100_000
PG_SUFFIX = ", PostgreSQL HQ"


def run(ctx: Context) -> list[Row]:
    blank = ctx.work / "import-blank.baqylau"
    remove_election(blank)
    template = builtin_template(TEMPLATE_ID)
    ElectionStore.create(blank, template, role=ROLE_HQ).close()
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        cpu: tuple[list[float], list[float]] = ([], [])
        ours, runs = _ours(ctx.work, blank, ds.official_csv, ds.official_map, ctx.repeat, cpu[0])
        base, base_runs = _baseline(ctx.work, ds.official_csv, ctx.repeat, cpu[1])
        with ds.official_csv.open("rb") as fh:
            columns = fh.readline().count(b";") + 1
        rows.append(
            _row(
                NAME,
                size,
                (ours, runs),
                (base, base_runs),
                f"{columns} columns, cp1251 ';', into an empty HQ (stations created); "
                "baseline: csv.reader + one executemany into one table, same WAL + synchronous=FULL" + cpu_note(*cpu),
            )
        )
        rows += _pg_rows(ctx, NAME, size, (template, blank), ds.official_csv, ds.official_map)
    return rows + run_utf8(ctx) + run_compound(ctx)


def run_utf8(ctx: Context) -> list[Row]:
    """The same official file as UTF-8 with commas: quoted addresses, summed columns, same mapping otherwise."""
    blank = ctx.work / "import-blank.baqylau"
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        csv_path, map_path = ctx.work / f"official-utf8-{size}.csv", ctx.work / "official-utf8.map.toml"
        with (
            ds.official_csv.open(encoding="cp1251", newline="") as src,
            csv_path.open("w", encoding="utf-8", newline="") as dst,
        ):
            csv.writer(dst, delimiter=",", lineterminator="\r\n").writerows(csv.reader(src, delimiter=";"))
        mapping = ds.official_map.read_text(encoding="utf-8")
        map_path.write_text(
            mapping.replace('encoding = "cp1251"', 'encoding = "utf-8"').replace('delimiter = ";"', 'delimiter = ","'),
            encoding="utf-8",
        )
        summed = sum(1 for line in mapping.splitlines() if " = [" in line)
        cpu: tuple[list[float], list[float]] = ([], [])
        ours, runs = _ours(ctx.work, blank, csv_path, map_path, ctx.repeat, cpu[0])
        base, base_runs = _baseline(ctx.work, csv_path, ctx.repeat, cpu[1], encoding="utf-8", delimiter=",")
        rows.append(
            _row(
                UTF8_NAME,
                size,
                (ours, runs),
                (base, base_runs),
                f"the same 30 columns as UTF-8 ',' (addresses quoted), {summed} lines summed from several columns; "
                "baseline: csv.reader + one executemany into one table" + cpu_note(*cpu),
            )
        )
        rows += _pg_rows(ctx, UTF8_NAME, size, (builtin_template(TEMPLATE_ID), blank), csv_path, map_path)
        csv_path.unlink()
    return rows


def run_compound(ctx: Context) -> list[Row]:
    """The Russian-style file with a compound station key and free region names, same target."""
    rows: list[Row] = []
    for size in ctx.sizes:
        csv_path = ctx.work / f"ru-cik-{size}.csv"
        csv_path.write_bytes(ru_cik_csv(size, delimiter=";", seed=ctx.seed))
        draft = make_draft(parse_csv(csv_path.read_bytes(), csv_path.name), template_id="ru-bench", country="RU")
        confirmed = [re.sub(r"  # CONFIRM.*$", "", t, flags=re.MULTILINE) for t in (draft.template, draft.mapping)]
        map_path = ctx.work / "ru-cik.mapping.toml"
        map_path.write_text(confirmed[1], encoding="utf-8")
        blank = ctx.work / "import-blank-ru.baqylau"
        remove_election(blank)
        template = parse_template(confirmed[0])
        ElectionStore.create(blank, template, role=ROLE_HQ).close()
        cpu: tuple[list[float], list[float]] = ([], [])
        ours, runs = _ours(ctx.work, blank, csv_path, map_path, ctx.repeat, cpu[0])
        base, base_runs = _baseline(ctx.work, csv_path, ctx.repeat, cpu[1])
        rows.append(
            _row(
                COMPOUND_NAME,
                size,
                (ours, runs),
                (base, base_runs),
                "19 columns, cp1251 ';', key = 3 text columns joined, region names as written; "
                "baseline: csv.reader + one executemany into one table" + cpu_note(*cpu),
            )
        )
        rows += _pg_rows(ctx, COMPOUND_NAME, size, (template, blank), csv_path, map_path)
        csv_path.unlink()
    return rows


def _pg_rows(
    ctx: Context, name: str, size: int, hq: tuple[ElectionTemplate, Path], csv_path: Path, map_path: Path
) -> list[Row]:
    """The file imported into a new PostgreSQL HQ, alternately with the same into a copy of ``hq``'s blank file.

    None without $BAQYLAU_BENCH_PG_URL. Both sides start from an empty HQ of the same template.
    """
    server = os.environ.get(PG_URL_VARIABLE)
    if not server:
        ctx.log(f"  import: no PostgreSQL row ({PG_URL_VARIABLE} not set)")
        return []
    template, blank = hq
    try:
        with (
            _file_import(ctx.work, blank, csv_path, map_path) as (file_setup, file_job),
            _pg_import(server, template, csv_path, map_path) as (pg_setup, pg_job),
        ):
            pg_t, file_t, runs = alternate_runs(pg_job, file_job, ctx.repeat, pg_setup, file_setup)
    except StorageError as exc:
        # A file the HQ file takes and the server refuses is a finding, not a reason to lose the
        # other rows of the run: said in the log, and no row.
        ctx.log(f"  {name} @ {size}: PostgreSQL refused the import: {exc}")
        return []
    return [
        Row(
            name + PG_SUFFIX,
            size,
            pg_t,
            file_t,
            "the same import into an HQ file (SQLite), alternately",
            None,
            runs=runs,
            note="a new database per run on a local server over a unix socket, the rows by COPY "
            "(db/pg_bulk.py); baseline: the same file into a new HQ file in the same run",
        )
    ]


@contextmanager
def _pg_import(
    server: str, template: ElectionTemplate, csv_path: Path, map_path: Path
) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """(setup, job): a new empty PostgreSQL HQ of ``template`` (untimed), the import into it."""
    holder: list[ElectionStore] = []

    def close() -> None:
        for store in holder:
            store.close()
        holder.clear()

    with pg_scratch_databases(server, "baqylau_bench_import") as new_database:

        def setup() -> None:
            close()
            holder.append(ElectionStore.create(new_database(), template, role=ROLE_HQ))

        try:
            yield setup, _import_job(holder, csv_path, map_path)
        finally:
            close()


def _import_job(holder: list[ElectionStore], csv_path: Path, map_path: Path) -> Callable[[], None]:
    """The timed part on either backend: the official import into the HQ the last setup opened."""

    def job() -> None:
        report = import_official(holder[0], csv_path, map_path)
        assert report.rows > 0

    return job


def _row(name: str, size: int, ours: tuple[float, int], base: tuple[float, int], note: str) -> Row:
    """An import row: judged at TARGET_SIZE against at most twice its baseline."""
    return Row(
        name,
        size,
        ours[0],
        base[0],
        "<= 2x baseline",
        2.0 if size == TARGET_SIZE else None,
        runs=min(ours[1], base[1]),
        note=note,
    )


def _cpu_timed(job: Callable[[], None], cpu: list[float]) -> Callable[[], None]:
    """``job``, appending the CPU time of each run to ``cpu``.

    The 2 cores are shared: wall times move with the load, CPU time much less, so the
    notes carry the ratio of median CPU times next to the wall-time ratio the row judges.
    """

    def timed() -> None:
        start = time.process_time()
        job()
        cpu.append(time.process_time() - start)

    return timed


def cpu_note(ours: list[float], base: list[float]) -> str:
    o, b = statistics.median(ours), statistics.median(base)
    return f"; CPU {o:.2f} s vs {b:.2f} s ({o / b:.2f}x)"


def _ours(work: Path, blank: Path, csv_path: Path, map_path: Path, repeat: int, cpu: list[float]) -> tuple[float, int]:
    with _file_import(work, blank, csv_path, map_path) as (setup, job):
        return median_runs(_cpu_timed(job, cpu), repeat, setup)


@contextmanager
def _file_import(
    work: Path, blank: Path, csv_path: Path, map_path: Path
) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """(setup, job): a fresh copy of the empty HQ file ``blank`` (untimed), the import into it."""
    target = work / "import-hq.baqylau"
    holder: list[ElectionStore] = []

    def setup() -> None:
        for store in holder:
            store.close()
        holder.clear()
        copy_election(blank, target)
        holder.append(ElectionStore.open(target))

    try:
        yield setup, _import_job(holder, csv_path, map_path)
    finally:
        for store in holder:
            store.close()
        remove_election(target)


def _baseline(
    work: Path, csv_path: Path, repeat: int, cpu: list[float], *, encoding: str = "cp1251", delimiter: str = ";"
) -> tuple[float, int]:
    target = work / "import-raw.sqlite"
    with csv_path.open(encoding=encoding, newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter))
    cols = ", ".join(f"c{i} TEXT" for i in range(len(header)))
    marks = ", ".join("?" * len(header))
    holder: list[sqlite3.Connection] = []

    def setup() -> None:
        for conn in holder:
            conn.close()
        holder.clear()
        remove_election(target)
        conn = sqlite3.connect(target, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"CREATE TABLE official ({cols})")
        holder.append(conn)

    def job() -> None:
        conn = holder[0]
        with csv_path.open(encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            next(reader)
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO official VALUES ({marks})", reader)
            conn.execute("COMMIT")

    try:
        return median_runs(_cpu_timed(job, cpu), repeat, setup)
    finally:
        for conn in holder:
            conn.close()
        remove_election(target)
