"""Official results import (CSV of ~30 columns into a new HQ file) vs csv + raw sqlite3 executemany.

Three files: the Kazakh CEC-style one of benchmarks/data.py (one station-number
column, regions by ISO code, cp1251 with ``;``, three lines summed from several
columns), the same file as UTF-8 with commas (addresses then quoted: the
shape issue 18 found slower), and a Russian CIK-style one as published
(tests/fixtures/anyelection/make_ru_cik.py: region + TIK + UIK as a compound
key, region names kept as the file writes them), imported with the template and
mapping `template new --from-csv` drafts for it.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import TEMPLATE_ID, copy_election, dataset, remove_election
from db.official import import_official
from db.store import ROLE_HQ, ElectionStore
from observer.csvio import parse_csv
from observer.draft import make_draft
from observer.template import builtin_template, parse_template
from tests.fixtures.anyelection.make_ru_cik import ru_cik_csv

NAME = "official import (CSV to HQ)"
COMPOUND_NAME = "official import, compound key (region+TIK+UIK)"
UTF8_NAME = "official import, UTF-8 ',' (summed columns)"
TARGET_SIZE = 100_000


def run(ctx: Context) -> list[Row]:
    blank = ctx.work / "import-blank.baqylau"
    remove_election(blank)
    ElectionStore.create(blank, builtin_template(TEMPLATE_ID), role=ROLE_HQ).close()
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
        ElectionStore.create(blank, parse_template(confirmed[0]), role=ROLE_HQ).close()
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
        csv_path.unlink()
    return rows


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
    target = work / "import-hq.baqylau"
    holder: list[ElectionStore] = []

    def setup() -> None:
        for store in holder:
            store.close()
        holder.clear()
        copy_election(blank, target)
        holder.append(ElectionStore.open(target))

    def job() -> None:
        report = import_official(holder[0], csv_path, map_path)
        assert report.rows > 0

    try:
        return median_runs(_cpu_timed(job, cpu), repeat, setup)
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
