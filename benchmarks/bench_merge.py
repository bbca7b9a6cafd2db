"""Merging signed station packages (one photo each) vs SHA-256 of the same files plus opening each.

The first merge goes into a fresh copy of the HQ with the station list and the
official results; the re-merge then offers the same packages again to that
HQ, where every one must be recognised as a duplicate.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from benchmarks.common import Context, Row, median_runs
from benchmarks.data import OBSERVED_EVERY, copy_election, dataset, keep_merged, remove_election
from db.merge import merge_packages
from db.store import ElectionStore
from observer.evidence import sha256_file

NAME = "merge station packages"
NAME_AGAIN = "re-merge the same packages"
TARGET_PACKAGES = 10_000


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for size in ctx.sizes:
        ds = dataset(size, ctx.seed, ctx.log)
        packages = ds.packages
        n = len(packages)
        target = ctx.work / "merge-hq.baqylau"
        holder: list[ElectionStore] = []

        def setup() -> None:
            for store in holder:
                store.close()
            holder.clear()
            copy_election(ds.base_hq, target)
            holder.append(ElectionStore.open(target))

        def merge() -> None:
            counts = merge_packages(holder[0], [ds.packages_dir], trust_new_keys=True).counts()
            assert counts["merged"] == n, counts

        def merge_again() -> None:
            counts = merge_packages(holder[0], [ds.packages_dir], trust_new_keys=True).counts()
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
        finally:
            for store in holder:
                store.close()
            remove_election(target)
        base, base_runs = median_runs(lambda: _hash_and_open(packages), ctx.repeat)
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
