"""The coordinator window's stations table on a PostgreSQL HQ beside the same HQ as a file (issue 16).

    python -m benchmarks.bench_table_pg postgresql:///bench?host=/tmp/x&port=5444 [--stations 100000] [--repeat 5]

Builds a synthetic HQ file (:func:`benchmarks.synthetic_hq.build_hq`), copies it into the
database named by the URL (which must be empty: ``hq copy``), and times what the table reads
through :class:`db.services.station_reader.StationReader` on both, alternately, as medians with
the server's ratio to the file measured in the same run: the first screen, every id in the order
of each station-list column, a region, a code search, a page of rows with their official figures,
the count, the grants, and the change marker a window on a shared HQ polls (with the server's
snapshot unchanged, and read in full). Every read is also checked to give the file's answer.
docs/postgresql.md has the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.synthetic_hq import build_hq
from db.hq_copy import copy_hq
from db.services.station_reader import StationReader

Read = Callable[[StationReader], object]


def _reads(reader: StationReader) -> dict[str, Read]:
    region = reader.regions()[len(reader.regions()) // 2]
    first_page = reader.ids(limit=200)

    def full_marker(r: StationReader) -> object:
        r._marker = None  # as after someone's commit: the tables are scanned
        return r.change_marker()

    return {
        "first screen (200 ids by code)": lambda r: r.ids(limit=200),
        "every id by code": lambda r: r.ids(),
        "every id by registered, descending": lambda r: r.ids(sort="registered", descending=True),
        "every id by district": lambda r: r.ids(sort="district"),
        "a region's ids": lambda r: r.ids(region=region),
        "code search": lambda r: r.ids(code_search="12"),
        "a page of 200 rows + official": lambda r: (sorted(r.stations(first_page)), r.official(first_page)),
        "count": lambda r: r.total(),
        "grants (read-only?)": lambda r: r.writable(),
        "change marker, nothing new": lambda r: r.change_marker(),
        "change marker, read in full": full_marker,
    }


def _median_ms(read: Read, reader: StationReader, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = read(reader)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_table_pg")
    parser.add_argument("url", help="an empty PostgreSQL database (C collation) the HQ is copied into")
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hq.baqylau"
        build_hq(path, args.stations).close()
        copy_hq(path, args.url)
        on_file, on_server = StationReader(path), StationReader(args.url)
        try:
            print(f"{args.stations:,} stations, medians of {args.repeat}, load {os.getloadavg()[0]:.1f}")
            print(f"{'read':40s} {'file ms':>9s} {'server ms':>10s} {'ratio':>7s}")
            for name, read in _reads(on_file).items():
                file_ms, got_file = _median_ms(read, on_file, args.repeat)
                server_ms, got_server = _median_ms(read, on_server, args.repeat)
                if "marker" not in name:  # the markers differ by nature (SQLite's data_version)
                    assert got_file == got_server, name
                ratio = server_ms / file_ms if file_ms else float("inf")
                print(f"{name:40s} {file_ms:9.2f} {server_ms:10.2f} {ratio:6.2f}x")
            print(f"load at the end {os.getloadavg()[0]:.1f}")
        finally:
            on_file.close()
            on_server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
