"""Merging signed station packages (one photo each) vs SHA-256 of the same files plus opening each,
and vs the naive-copy floor (issue 18): the work no merge can skip, done as plainly as possible.

The first merge goes into a fresh copy of the HQ with the station list and the
official results; the re-merge then offers the same packages again to that
HQ, where every one must be recognised as a duplicate.

With ``BAQYLAU_BENCH_PG_URL`` set (a PostgreSQL role that may create databases, e.g.
``postgresql://postgres@/postgres?host=/tmp/pg&port=5441``), the same merges into a
PostgreSQL HQ (a new database holding a copy of the same HQ, ``db.hq_copy``), against
the SQLite merge of the same run; and 2 and 4 ``baqylau merge`` processes at once, each
with a disjoint share of the packages, against one process with all of them (same HQ,
same start-up cost per process): throughput of several coordinators vs one.

At 100,000 stations that PostgreSQL part alone runs for over an hour on 2 cores;
``python -m benchmarks.bench_merge SIZE K [K ...] [--work DIR]`` runs only the K-process
merges asked for (K = 1: one process with every package), each into a fresh copy of the HQ.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import OBSERVED_EVERY, copy_election, dataset, keep_merged, remove_election
from db.engine import pg_scratch_databases
from db.merge import merge_packages
from db.store import ElectionStore
from observer.evidence import sha256_file
from observer.signing import verify_signature

NAME = "merge station packages"
NAME_AGAIN = "re-merge the same packages"
NAME_FLOOR = "merge vs naive-copy floor"
NAME_PG = "merge station packages, PostgreSQL HQ"
NAME_PG_AGAIN = "re-merge the same packages, PostgreSQL HQ"
NAME_PG_CONCURRENT = "{n} merges at once, PostgreSQL HQ"
PG_URL_VARIABLE = "BAQYLAU_BENCH_PG_URL"
CONCURRENT = (2, 4)
ROOT = Path(__file__).resolve().parents[1]
# The merge command in a child process (a measurement may put a prelude before it).
CHILD = "import sys, main; sys.exit(main.main(sys.argv[1:]))"
FLOOR_COMMIT_EVERY = 50  # packages per commit in the floor, as issue 18 defines it
TARGET_PACKAGES = 10_000


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        packages = ds.packages
        n = len(packages)
        target = ctx.work / "merge-hq.baqylau"
        holder: list[ElectionStore] = []
        merge_cpu: list[tuple[float, float]] = []
        floor_cpu: list[tuple[float, float]] = []

        def setup() -> None:
            for store in holder:
                store.close()
            holder.clear()
            copy_election(ds.base_hq, target)
            holder.append(ElectionStore.open(target))

        def merge() -> None:
            with cpu_of(merge_cpu):
                counts = merge_packages(holder[0], [ds.packages_dir], trust_new_keys=True, read_ahead=True).counts()
            assert counts["merged"] == n, counts

        def merge_again() -> None:
            counts = merge_packages(holder[0], [ds.packages_dir], trust_new_keys=True, read_ahead=True).counts()
            assert counts["duplicate"] == n, counts

        try:
            first, runs = median_runs(merge, ctx.repeat, setup)
            if not ds.hq.is_file():
                # The first full run keeps this merge as the data set's HQ file (no second merge).
                holder[0].close()
                kept = ds.root / "hq-merging.baqylau"
                copy_election(target, kept)
                keep_merged(ds, kept, {"merged": n})
                holder[0] = ElectionStore.open(target)
            # holder[0] now holds every package: re-merging is the duplicate path.
            again, again_runs = median_runs(merge_again, ctx.repeat)
            # Said as soon as measured: at 100,000 stations the whole benchmark runs for an hour,
            # and a run cut short keeps in its log what it had measured.
            ctx.log(f"  merge: {n} packages into the HQ file: {first:.2f} s; again {again:.2f} s")
        finally:
            for store in holder:
                store.close()
            remove_election(target)
        base, base_runs = median_runs(lambda: _hash_and_open(packages), ctx.repeat)
        floor_db = ctx.work / "merge-floor.sqlite"

        def naive() -> None:
            with cpu_of(floor_cpu):
                _naive_copy(packages, floor_db)

        floor, floor_runs = median_runs(naive, ctx.repeat)
        _remove_sqlite(floor_db)
        cpu = f"CPU {_cpu_note(merge_cpu)} vs the floor's {_cpu_note(floor_cpu)}"
        rows += _rows(size, n, (first, runs), (base, base_runs), (floor, floor_runs), (again, again_runs), cpu)
        pg_url = os.environ.get(PG_URL_VARIABLE)
        if pg_url:
            rows += _pg_rows(ctx, pg_url, ds.base_hq, ds.packages_dir, packages, size, (first, runs))
        else:
            ctx.log(f"  merge: no PostgreSQL rows ({PG_URL_VARIABLE} not set)")
    return rows


def _pg_rows(
    ctx: Context,
    server_url: str,
    base_hq: Path,
    packages_dir: Path,
    packages: list[Path],
    size: int,
    sqlite_run: tuple[float, int],
) -> list[Row]:
    """The merge into a PostgreSQL HQ vs the SQLite merge; several merge processes at once vs one."""
    from db.hq_copy import copy_hq

    n = len(packages)
    rows: list[Row] = []
    sqlite_first, sqlite_runs = sqlite_run
    holder: list[ElectionStore] = []
    with pg_scratch_databases(server_url, "baqylau_bench") as new_database:

        def fresh() -> str:
            """A new database holding a copy of the HQ before any merge (untimed)."""
            url = new_database()
            copy_hq(base_hq, url)
            return url

        def reset() -> None:
            for store in holder:
                store.close()
            holder.clear()
            holder.append(ElectionStore.open(fresh()))

        def merge() -> None:
            counts = merge_packages(holder[0], [packages_dir], trust_new_keys=True, read_ahead=True).counts()
            assert counts["merged"] == n, counts

        def merge_again() -> None:
            counts = merge_packages(holder[0], [packages_dir], trust_new_keys=True, read_ahead=True).counts()
            assert counts["duplicate"] == n, counts

        try:
            first, runs = median_runs(merge, ctx.repeat, reset)
            again, again_runs = median_runs(merge_again, ctx.repeat)
            ctx.log(f"  merge: {n} packages into a PostgreSQL HQ: {first:.2f} s; again {again:.2f} s")
        finally:
            for store in holder:
                store.close()
        note = f"{n} packages into a PostgreSQL HQ (a copy of the same HQ), vs the SQLite merge of this run"
        rows.append(Row(NAME_PG, size, first, sqlite_first, "(measured)", None, runs=min(runs, sqlite_runs), note=note))
        rows.append(
            Row(
                NAME_PG_AGAIN,
                size,
                again,
                sqlite_first,
                "(measured)",
                None,
                runs=again_runs,
                note="same packages again: all duplicates (baseline: the SQLite merge)",
            )
        )
        one = _timed_processes(fresh(), [packages], ctx.log)
        for k in CONCURRENT:
            together = _timed_processes(fresh(), _shares(packages, k), ctx.log)
            rows.append(
                Row(
                    NAME_PG_CONCURRENT.format(n=k),
                    size,
                    together,
                    one,
                    "(measured)",
                    None,
                    runs=1,
                    note=f"{k} `baqylau merge` processes, {n // k} packages each, at once; baseline: one process "
                    f"with all {n}; throughput {one / together:.2f}x one process",
                    extra={"processes": float(k), "throughput_vs_one": one / together},
                )
            )
    return rows


def _shares(packages: list[Path], k: int) -> list[list[Path]]:
    """``k`` disjoint shares of the packages: one package per station, so disjoint stations too."""
    return [packages[i::k] for i in range(k)]


def main(argv: list[str] | None = None) -> int:
    """Only the K merge processes at once into a PostgreSQL HQ, for each K given (see the module's text)."""
    import argparse

    from benchmarks import data
    from db.hq_copy import copy_hq

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_merge", description=main.__doc__)
    parser.add_argument("size", type=int, help="stations of the cached data set")
    parser.add_argument("processes", type=int, nargs="+", help="how many merge processes at once, each in turn")
    parser.add_argument("--work", type=Path, default=None, help="data cache folder (default: benchmarks/work)")
    args = parser.parse_args(argv)
    server = os.environ.get(PG_URL_VARIABLE)
    if not server:
        parser.error(f"{PG_URL_VARIABLE} is not set")
    if args.work is not None:
        data.WORK = args.work.resolve()
    ds = dataset(args.size)
    with pg_scratch_databases(server, "baqylau_bench") as new_database:
        for k in args.processes:
            url = new_database()
            copy_hq(ds.base_hq, url)
            print(f"{k} process(es), {len(ds.packages)} packages; load {os.getloadavg()[0]:.1f}", flush=True)
            _timed_processes(url, _shares(ds.packages, k), lambda msg: print(msg, flush=True))
            print(f"  load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


def _timed_processes(url: str, shares: list[list[Path]], log: Any) -> float:
    """Wall time of one ``baqylau merge`` process per share, all started together, into the HQ at ``url``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "merge", url, *map(str, share), "--trust-new-keys", "-q"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for share in shares
    ]
    errors = [child.communicate()[1] for child in children]
    took = time.perf_counter() - started
    if any(child.returncode for child in children):
        raise RuntimeError(f"a merge process failed: {[e.decode()[-500:] for e in errors]}")
    log(f"  merge: {len(shares)} process(es) at once: {took:.2f} s")
    return took


@contextlib.contextmanager
def cpu_of(into: list[tuple[float, float]]) -> Iterator[None]:
    """Append (CPU seconds of this process, of its children ended meanwhile) spent in the block: a merge
    with ``read_ahead`` of 200 packages or more opens them in a helper process (db/package_reader.py)."""
    before = os.times()
    yield
    after = os.times()
    own = after.user + after.system - before.user - before.system
    into.append((own, after.children_user + after.children_system - before.children_user - before.children_system))


def _cpu_note(runs: list[tuple[float, float]]) -> str:
    own = statistics.median(r[0] for r in runs)
    helper = max(0.0, statistics.median(r[1] for r in runs))
    return f"{own + helper:.2f} s" + (f" ({helper:.2f} s of it the helper process)" if helper >= 0.005 else "")


def _rows(
    size: int,
    n: int,
    merged: tuple[float, int],
    opened: tuple[float, int],
    floor_run: tuple[float, int],
    again_run: tuple[float, int],
    cpu: str = "",
) -> list[Row]:
    """The three merge rows: against hashing and opening, against the naive-copy floor, re-merging."""
    (first, runs), (base, base_runs), (floor, floor_runs), (again, again_runs) = merged, opened, floor_run, again_run
    rows: list[Row] = []
    at_target = n == TARGET_PACKAGES
    note = f"{n} packages ({size} stations, 1 in {OBSERVED_EVERY} observed), a savepoint each, committed in ~4 s batches, trust on first use"
    extra = {"packages": float(n), "per_package_ms": first / n * 1000 if n else 0.0}
    rows.append(
        Row(
            NAME,
            size,
            first,
            base,
            "<= 3x baseline",
            3.0 if at_target else None,
            runs=min(runs, base_runs),
            note=note,
            extra=extra,
        )
    )
    rows.append(
        Row(
            NAME_FLOOR,
            size,
            first,
            floor,
            "<= 1.5x baseline",
            1.5 if at_target else None,
            runs=min(runs, floor_runs),
            note="baseline: verify the signature, inflate and hash every member, read every row of the "
            "embedded database, executemany them into one SQLite file (WAL, synchronous=FULL, "
            f"a commit per {FLOOR_COMMIT_EVERY} packages)" + (f"; {cpu}" if cpu else ""),
            extra={"packages": float(n), "floor_per_package_ms": floor / n * 1000 if n else 0.0},
        )
    )
    rows.append(
        Row(
            NAME_AGAIN,
            size,
            again,
            base,
            "<= 1x baseline",
            1.0 if at_target else None,
            runs=min(again_runs, base_runs),
            note="same packages again: all duplicates",
            extra={"packages": float(n), "per_package_ms": again / n * 1000 if n else 0.0},
        )
    )
    return rows


def _hash_and_open(packages: list[Path]) -> None:
    for path in packages:
        sha256_file(path)
        with zipfile.ZipFile(path) as zf:
            zf.infolist()


def _naive_copy(packages: list[Path], target: Path) -> None:
    """The floor of a merge (issue 18): what any merge must do, with no checks beyond the signature.

    Each package: its signature verified, every member inflated and hashed, every row of every
    table of its embedded database read and ``executemany``-ed into the same table of one SQLite
    file (tables as the package declares them, keys included; rows already there are skipped,
    as a re-sent package's would be), in WAL with synchronous=FULL, a commit per 50 packages.
    """
    _remove_sqlite(target)
    out = sqlite3.connect(target, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode=WAL")
        out.execute("PRAGMA synchronous=FULL")
        made: set[str] = set()
        out.execute("BEGIN")
        for i, path in enumerate(packages, 1):
            with zipfile.ZipFile(path) as zf:
                body = zf.read("manifest.json")
                if not verify_signature(json.loads(body)["public_key"], body, zf.read("manifest.sig")):
                    raise RuntimeError(f"bad signature: {path}")
                data = b""
                for info in zf.infolist():
                    member = zf.read(info)
                    hashlib.sha256(member).hexdigest()
                    if info.filename == "data.sqlite":
                        data = member
            inner = sqlite3.connect(":memory:")
            try:
                inner.deserialize(data)
                tables = inner.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
                for name, sql in tables:
                    if name not in made:
                        out.execute(sql)
                        made.add(name)
                    cur = inner.execute(f'SELECT * FROM "{name}"')
                    rows = cur.fetchall()
                    if rows:
                        marks = ",".join("?" * len(cur.description))
                        out.executemany(f'INSERT OR IGNORE INTO "{name}" VALUES ({marks})', rows)
            finally:
                inner.close()
            if i % FLOOR_COMMIT_EVERY == 0:
                out.execute("COMMIT")
                out.execute("BEGIN")
        out.execute("COMMIT")
    finally:
        out.close()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
