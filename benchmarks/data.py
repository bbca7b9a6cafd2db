"""Synthetic national-scale data for the benchmarks, generated once and cached.

A data set of ``size`` stations (1,000 / 10,000 / 100,000) is the demo
election of :mod:`db.demo` at that size, plus what the benchmarks need on top:

* ``official.csv`` — the CEC-style results (cp1251, ``;``) widened to 30
  columns with the unmapped columns real CEC exports carry (address,
  commission members, times), so the importer has to skip them as it would;
* ``stations.csv`` — the observer group's station list;
* ``packages/`` — one signed station package for every tenth station (a
  national network observes ~10%: 10,000 packages at 100,000 stations), each
  with at least one photo of the protocol;
* ``base-hq.baqylau`` — an HQ file with the station list and the official
  results (what a merge starts from);
* ``hq.baqylau`` — the same after merging every package (what the coordinator
  opens: aggregation, the stations table, the report, app start), made on first
  use by :func:`merged_hq`, or kept from the merge benchmark's first run.

Everything is built through the program's own calls (import, export, merge),
so the data has the shapes the real code produces. The cache lives in
``benchmarks/work/n<size>-s<seed>/`` and is only used once complete: it is
built in a scratch folder and renamed into place. Observer files are written
on tmpfs when there is one: they exist only to be exported, and paying for
their fsyncs would make the first full run take an hour.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from db import demo
from db.merge import merge_packages
from db.official import import_official
from db.package import export_station_package
from db.stations_import import import_stations
from db.store import ROLE_HQ, ElectionStore
from observer.signing import KeyPair
from observer.template import ElectionTemplate, builtin_template

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
TEMPLATE_ID = "kz-majilis-2021"
OBSERVED_EVERY = 10  # one package per this many stations
FORMAT = 3  # 3: compact station packages (512-byte pages); bump when the generated data changes shape: old caches are then ignored

# Columns a CEC export carries that the mapping leaves out (the importer must skip them).
EXTRA_COLUMNS: tuple[str, ...] = (
    "Адрес УИК",
    "Председатель УИК",
    "Секретарь УИК",
    "Членов УИК с решающим голосом",
    "Время подписания протокола",
    "Наблюдателей присутствовало",
    "Жалоб поступило",
    "Актов составлено",
    "Листов протокола",
    "Дата голосования",
    "Примечание",
)
ELECTION_DAY = datetime(2021, 1, 10, tzinfo=UTC)
_CHAIRS = ("Ахметова А. К.", "Иванов С. П.", "Сейткали Н. Б.", "Жумабаев Е. Т.", "Ким О. В.", "Нургалиева Д. С.")


@dataclass(frozen=True)
class Dataset:
    """Paths of one cached data set."""

    size: int
    seed: int
    root: Path

    @property
    def official_csv(self) -> Path:
        return self.root / "official.csv"

    @property
    def official_map(self) -> Path:
        return self.root / "official.map.toml"

    @property
    def stations_csv(self) -> Path:
        return self.root / "stations.csv"

    @property
    def packages_dir(self) -> Path:
        return self.root / "packages"

    @property
    def base_hq(self) -> Path:
        return self.root / "base-hq.baqylau"

    @property
    def hq(self) -> Path:
        return self.root / "hq.baqylau"

    @property
    def packages(self) -> list[Path]:
        return sorted(self.packages_dir.glob("*.bqpkg"))

    @property
    def observed(self) -> int:
        """How many stations have a package (the rows of the report's annex)."""
        return len(range(0, self.size, OBSERVED_EVERY))


def dataset(size: int, seed: int = 1, log: Callable[[str], None] = print) -> Dataset:
    """The cached data set for ``size`` stations, built first if needed."""
    root = WORK / f"n{size}-s{seed}-v{FORMAT}"
    if not root.is_dir():
        build(size, seed, root, log)
    return Dataset(size, seed, root)


def copy_election(src: Path, dst: Path) -> None:
    """Copy an election file and its evidence folder (``dst`` is replaced)."""
    remove_election(dst)
    shutil.copyfile(src, dst)
    evidence = src.with_name(src.name + ".evidence")
    if evidence.is_dir():
        shutil.copytree(evidence, dst.with_name(dst.name + ".evidence"))


def remove_election(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".evidence"), ignore_errors=True)


def _scratch_parent() -> Path | None:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def build(size: int, seed: int, root: Path, log: Callable[[str], None] = print) -> None:
    """CSV files, packages and the base HQ in a scratch folder, renamed to ``root`` when complete."""
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-n{size}-", dir=WORK))
    try:
        t0 = time.perf_counter()
        paths = demo.generate_demo(tmp / "demo", stations=size, seed=seed, observed_share=0.0, min_observed=0)
        _widen_official(paths.official_csv, tmp / "official.csv")
        shutil.copyfile(paths.official_map, tmp / "official.map.toml")
        shutil.copyfile(paths.stations_csv, tmp / "stations.csv")
        shutil.rmtree(tmp / "demo")
        log(f"  data n={size}: CSV files in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        (tmp / "packages").mkdir()
        make_packages(size, seed, tmp / "packages")
        log(f"  data n={size}: {len(range(0, size, OBSERVED_EVERY))} packages in {time.perf_counter() - t0:.1f} s")
        finish(Dataset(size, seed, tmp), log)
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def finish(ds: Dataset, log: Callable[[str], None] = print) -> None:
    """The base HQ (station list + official results) of a data set whose inputs exist."""
    t0 = time.perf_counter()
    remove_election(ds.base_hq)
    hq = ElectionStore.create(ds.base_hq, builtin_template(TEMPLATE_ID), role=ROLE_HQ)
    try:
        hq.set_observer("Bench HQ", "Bench")
        import_stations(hq, ds.stations_csv)
        import_official(hq, ds.official_csv, ds.official_map)
    finally:
        hq.close()
    log(f"  data n={ds.size}: base HQ in {time.perf_counter() - t0:.1f} s")


def merged_hq(ds: Dataset, log: Callable[[str], None] = print) -> Path:
    """``hq.baqylau``: the base HQ with every package merged, made on first use.

    The merge benchmark hands its own timed result over (``keep_merged``), so a full
    run merges the 10,000 packages once, not twice.
    """
    if not ds.hq.is_file():
        t0 = time.perf_counter()
        work = ds.root / "hq-merging.baqylau"
        copy_election(ds.base_hq, work)
        hq = ElectionStore.open(work)
        try:
            counts = merge_packages(hq, [ds.packages_dir], trust_new_keys=True).counts()
        finally:
            hq.close()
        keep_merged(ds, work, counts)
        log(f"  data n={ds.size}: merged HQ in {time.perf_counter() - t0:.1f} s")
    return ds.hq


def keep_merged(ds: Dataset, merged: Path, counts: dict[str, int]) -> None:
    """Make ``merged`` (closed, every package merged) the data set's HQ file."""
    if counts.get("merged", 0) != len(ds.packages):
        raise RuntimeError(f"benchmark data: merge of the generated packages gave {counts}")
    if ds.hq.is_file():
        remove_election(merged)
        return
    # Evidence folder first, file last: the file's presence is what marks the HQ as complete.
    evidence = merged.with_name(merged.name + ".evidence")
    if evidence.is_dir():
        shutil.rmtree(ds.hq.with_name(ds.hq.name + ".evidence"), ignore_errors=True)
        evidence.rename(ds.hq.with_name(ds.hq.name + ".evidence"))
    Path(str(merged) + "-shm").unlink(missing_ok=True)
    wal = Path(str(merged) + "-wal")
    if wal.exists():  # normally checkpointed away on close; if not, it holds committed data
        wal.rename(Path(str(ds.hq) + "-wal"))
    merged.rename(ds.hq)


def _widen_official(src: Path, dst: Path) -> None:
    """The demo's 19-column official CSV with the 11 unmapped columns appended (30 in all)."""
    rng = np.random.default_rng(len(src.read_bytes()))
    text = src.read_bytes().decode("cp1251")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=";")):
        if n == 0:
            writer.writerow((*row, *EXTRA_COLUMNS))
            continue
        minute = int(rng.integers(0, 240))
        writer.writerow(
            (
                *row,
                f"{row[1]}, ул. Абая, {int(rng.integers(1, 200))}",
                _CHAIRS[int(rng.integers(len(_CHAIRS)))],
                _CHAIRS[int(rng.integers(len(_CHAIRS)))],
                int(rng.integers(5, 12)),
                f"{20 + minute // 60:02d}:{minute % 60:02d}",
                int(rng.integers(0, 6)),
                int(rng.integers(0, 3)),
                int(rng.integers(0, 2)),
                2,
                "10.01.2021",
                "",
            )
        )
    dst.write_bytes(out.getvalue().encode("cp1251"))


# ---- packages ------------------------------------------------------------------------

_election_cache: dict[tuple[int, int], tuple[ElectionTemplate, demo._Election]] = {}


def _election(size: int, seed: int) -> tuple[ElectionTemplate, demo._Election]:
    """The demo's simulated election: the same seed gives the same stations as the CSV files."""
    key = (size, seed)
    if key not in _election_cache:
        template = builtin_template(TEMPLATE_ID)
        _election_cache[key] = (template, demo._simulate(template, size, np.random.default_rng(seed)))
    return _election_cache[key]


def make_packages(size: int, seed: int, dest: Path, workers: int | None = None) -> None:
    """One signed package (with a protocol photo) for every OBSERVED_EVERY-th station, in parallel."""
    stations = list(range(0, size, OBSERVED_EVERY))
    workers = workers or min(os.cpu_count() or 1, 4)
    chunks = [stations[k::workers] for k in range(workers)]
    if workers == 1 or len(stations) < 50:
        _package_chunk(size, seed, stations, str(dest))
        return
    with ProcessPoolExecutor(workers) as pool:
        for _ in pool.map(_package_chunk, [size] * workers, [seed] * workers, chunks, [str(dest)] * workers):
            pass


def _package_chunk(size: int, seed: int, stations: list[int], dest: str) -> int:
    template, election = _election(size, seed)
    with tempfile.TemporaryDirectory(dir=_scratch_parent(), prefix="baqylau-bench-") as tmp:
        work = Path(tmp)
        blank = work / "blank.baqylau"
        ElectionStore.create(blank, template).close()  # migrated once, copied for every observer
        for i in stations:
            # One generator per station: the packages do not depend on how the work is split.
            rng = np.random.default_rng([seed, i])
            name = (
                f"{demo._FIRST[int(rng.integers(len(demo._FIRST)))]} {demo._LAST[int(rng.integers(len(demo._LAST)))]}"
            )
            figures = demo._observed_figures(election, i, template, rng)
            station_file = work / f"station-{i}.baqylau"
            store = demo._observer_file(blank, station_file, template, election, i, name, figures, rng, work)
            try:
                st = store.current_station()
                assert st is not None
                shot = work / f"protocol-{i}.jpg"
                taken = demo._local(ELECTION_DAY, election.regions[i], 21.0)
                demo._photo(shot, [f"UIK {election.codes[i]}", "Protocol, page 1", name], taken, rng)
                store.add_evidence(st.id, shot, protocol_id=store.protocol_id(st.id, "posted_copy"))
                package = export_station_package(store, work, KeyPair.generate())
            finally:
                store.close()
            shutil.move(str(package), Path(dest) / package.name)
            remove_election(station_file)
            for leftover in work.glob("*.jpg"):
                leftover.unlink()
    return len(stations)
