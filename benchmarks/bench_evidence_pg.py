"""Where a PostgreSQL HQ keeps evidence files: bytea rows, large objects or a folder (issue 16).

    python -m benchmarks.bench_evidence_pg postgresql:///bench?host=/tmp/x&port=5442 [--repeat 3]

Writes and reads the same files four ways and prints the medians (MB/s) and each way's ratio to
the plain folder measured in the same run (docs/postgresql.md has the figures and the choice):

* ``bytea whole``: one row per file, the whole file one ``bytea`` value (binary parameter);
* ``bytea parts``: one row per 1 MiB part (what ``db/store_records.py`` does);
* ``large object``: ``lo_create`` then ``lowrite`` per 1 MiB (psycopg 3 has no client-side
  large-object API, so the SQL functions), read back by ``lo_get`` per 1 MiB;
* ``folder``: a file written then fsynced, read back (a local disk: a network share is slower).

The files are random bytes (as incompressible as JPEG or H.264): 20 "photos" of 0.3 to 3 MB
and one 50 MB "video". Each write is one transaction (committed) into a fresh table.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

PART = 1024 * 1024


def _files(seed: int) -> dict[str, list[bytes]]:
    rnd = random.Random(seed)
    photos = [rnd.randbytes(rnd.randint(300_000, 3_000_000)) for _ in range(20)]
    return {"photos": photos, "video": [rnd.randbytes(50 * 1024 * 1024)]}


def _reset(conn: psycopg.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS b_whole, b_parts, b_lo")
    conn.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata")
    conn.execute("CREATE TABLE b_whole (name text PRIMARY KEY, data bytea)")
    conn.execute("ALTER TABLE b_whole ALTER COLUMN data SET STORAGE EXTERNAL")
    conn.execute("CREATE TABLE b_parts (name text, part int, data bytea, PRIMARY KEY (name, part))")
    conn.execute("ALTER TABLE b_parts ALTER COLUMN data SET STORAGE EXTERNAL")
    conn.execute("CREATE TABLE b_lo (name text PRIMARY KEY, oid oid)")
    conn.commit()


def _write_whole(conn: psycopg.Connection, files: list[bytes]) -> None:
    with conn.transaction():
        for i, data in enumerate(files):
            conn.execute("INSERT INTO b_whole VALUES (%s, %b)", (f"f{i}", data))


def _read_whole(conn: psycopg.Connection, n: int) -> int:
    got = 0
    with conn.cursor(binary=True) as cur:
        for i in range(n):
            cur.execute("SELECT data FROM b_whole WHERE name = %s", (f"f{i}",))
            got += len(cur.fetchone()[0])  # type: ignore[index]
    return got


def _write_parts(conn: psycopg.Connection, files: list[bytes]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        for i, data in enumerate(files):
            cur.executemany(
                "INSERT INTO b_parts VALUES (%s, %s, %b)",
                [(f"f{i}", k, data[o : o + PART]) for k, o in enumerate(range(0, len(data), PART))],
            )


def _read_parts(conn: psycopg.Connection, n: int) -> int:
    got = 0
    with conn.cursor(binary=True) as cur:
        for i in range(n):
            cur.execute("SELECT data FROM b_parts WHERE name = %s ORDER BY part", (f"f{i}",))
            for (chunk,) in cur:
                got += len(chunk)
    return got


def _write_lo(conn: psycopg.Connection, files: list[bytes]) -> None:
    with conn.transaction():
        for i, data in enumerate(files):
            oid = conn.execute("SELECT lo_create(0)").fetchone()[0]  # type: ignore[index]
            fd = conn.execute("SELECT lo_open(%s, 131072)", (oid,)).fetchone()[0]  # type: ignore[index]  # INV_WRITE
            for o in range(0, len(data), PART):
                conn.execute("SELECT lowrite(%s, %b)", (fd, data[o : o + PART]))
            conn.execute("SELECT lo_close(%s)", (fd,))
            conn.execute("INSERT INTO b_lo VALUES (%s, %s)", (f"f{i}", oid))


def _read_lo(conn: psycopg.Connection, n: int) -> int:
    got = 0
    with conn.transaction(), conn.cursor(binary=True) as cur:
        for i in range(n):
            cur.execute("SELECT oid FROM b_lo WHERE name = %s", (f"f{i}",))
            oid = cur.fetchone()[0]  # type: ignore[index]
            offset = 0
            while True:
                cur.execute("SELECT lo_get(%s, %s, %s)", (oid, offset, PART))
                chunk = cur.fetchone()[0]  # type: ignore[index]
                if not chunk:
                    break
                got += len(chunk)
                offset += len(chunk)
    return got


def _write_folder(folder: Path, files: list[bytes]) -> None:
    for i, data in enumerate(files):
        with (folder / f"f{i}").open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _read_folder(folder: Path, n: int) -> int:
    return sum(len((folder / f"f{i}").read_bytes()) for i in range(n))


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sets = _files(1)
    print(f"load: {os.getloadavg()[0]:.2f}")
    with psycopg.connect(args.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for label, files in sets.items():
            mb = sum(len(f) for f in files) / 1e6
            n = len(files)
            rows: dict[str, tuple[list[float], list[float]]] = {}
            for _ in range(args.repeat):
                _reset(conn)
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp)
                    ways: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
                        "folder": (lambda: _write_folder(folder, files), lambda: _read_folder(folder, n)),
                        "bytea whole": (lambda: _write_whole(conn, files), lambda: _read_whole(conn, n)),
                        "bytea parts": (lambda: _write_parts(conn, files), lambda: _read_parts(conn, n)),
                        "large object": (lambda: _write_lo(conn, files), lambda: _read_lo(conn, n)),
                    }
                    for name, (write, read) in ways.items():
                        w, r = rows.setdefault(name, ([], []))
                        w.append(_timed(write))
                        r.append(_timed(read))
            base_w, base_r = (statistics.median(x) for x in rows["folder"])
            print(f"\n{label}: {n} files, {mb:.1f} MB, {args.repeat} runs, medians")
            print(f"{'way':14} {'write MB/s':>11} {'x folder':>9} {'read MB/s':>10} {'x folder':>9}")
            for name, (w, r) in rows.items():
                mw, mr = statistics.median(w), statistics.median(r)
                print(f"{name:14} {mb / mw:11.0f} {mw / base_w:9.2f} {mb / mr:10.0f} {mr / base_r:9.2f}")
        _reset(conn)
    print(f"load: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
