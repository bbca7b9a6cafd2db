"""A synthetic Kazakhstan-like election to try the coordinator's tools on.

What it models (docs/domain.md §0, §3): the 17 regions of January 2021 with
roughly their share of the 11.9 million voters; stations of a few hundred to
3,000 voters (bigger in the three cities); a true turnout around 35% and a true
result close to the observers' 2021 tally (Nur Otan ~48%, Ak Zhol ~20%, Adal
~13%, QHP ~9%, Auyl ~8%, 3.8% invalid); and official results in which most
stations report extra ballots for the leader (official turnout around 60%,
leader ~70%), some also move other parties' votes and invalid ballots to the
leader. Observers at ~2% of stations count voters, note the commission's
announced turnout at each reporting time, copy the protocol, record spoiled
ballots, checklists and violations (some with photos), and send signed
packages; at some stations two observers disagree.

Everything numeric comes from one seeded numpy generator, so a seed always
gives the same stations, figures and CSV files. Package ids, times of export and
the observers' Ed25519 keys are random, as real ones are.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from db.demo_election import _Election, _simulate
from db.demo_observers import (  # noqa: F401 - benchmarks/data.py builds its packages from these
    _FIRST,
    _LAST,
    ORGANISATION,
    _local,
    _observed_figures,
    _observer_file,
    _photo,
)
from db.merge import import_keys, merge_packages
from db.official import import_official
from db.package import export_station_package
from db.stations_import import import_stations
from db.store import ROLE_HQ, ElectionStore
from observer.errors import ImportDataError
from observer.signing import load_or_create_keypair
from observer.template import ElectionTemplate, builtin_template

# The simulation is in db.demo_election, the observers' files in db.demo_observers;
# here: the files the demo writes (CSV, packages, keys) and the coordinator file built from them.

OFFICIAL_COLUMNS: tuple[str, ...] = (
    "Область",
    "ТИК",
    "Номер УИК",
    "Число избирателей",
    "Получено бюллетеней",
    "Выдано досрочно",
    "Выдано в помещении",
    "Выдано вне помещения",
    "Погашено",
    "Испорчено",
    "В стационарных ящиках",
    "В переносных ящиках",
    "Недействительных",
    "Действительных",
    "Nur Otan",
    "Ак жол",
    "Народная партия Казахстана",
    "Ауыл",
    "Адал",
)
OFFICIAL_MAPPING = """# Official results of the demo election (CEC-style CSV: cp1251, ';').
# Every protocol line and party of the kz-majilis-2021 template is mapped to a column,
# or to a list of columns that are added up.
encoding = "cp1251"
delimiter = ";"

[station]
region = "Область"
district = "ТИК"
code = "Номер УИК"

[lines]
registered = "Число избирателей"
received = "Получено бюллетеней"
issued = ["Выдано досрочно", "Выдано в помещении", "Выдано вне помещения"]
issued_outside = "Выдано вне помещения"
cancelled = "Погашено"
spoiled = "Испорчено"
in_boxes = ["В стационарных ящиках", "В переносных ящиках"]
invalid = "Недействительных"
valid = "Действительных"

[parties]
nur_otan = "Nur Otan"
ak_zhol = "Ак жол"
qhp = "Народная партия Казахстана"
auyl = "Ауыл"
adal = "Адал"
"""


@dataclass(frozen=True)
class DemoPaths:
    root: Path
    stations_csv: Path
    official_csv: Path
    official_map: Path
    packages_dir: Path
    keys_dir: Path
    keys_file: Path  # "<public key> <name>" per observer, for `baqylau keys HQ import`
    packages: tuple[Path, ...]


def _write_csvs(e: _Election, paths: DemoPaths, template: ElectionTemplate) -> None:
    # Station list: UTF-8 with BOM, ',' and ISO region codes, as an observer group keeps it.
    with paths.stations_csv.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("code", "region", "district", "address", "registered"))
        for i, code in enumerate(e.codes):
            w.writerow((code, e.regions[i].code, e.districts[i], e.addresses[i], int(e.registered[i])))

    # Official results: cp1251 with ';' and Russian region names, as the CEC publishes.
    o = e.official
    at_station = o["issued"] - e.early - o["issued_outside"]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(OFFICIAL_COLUMNS)
    parties = template.party_keys
    cols = [
        o["registered"],
        o["received"],
        e.early,
        at_station,
        o["issued_outside"],
        o["cancelled"],
        o["spoiled"],
        o["in_boxes"] - e.mobile_box,
        e.mobile_box,
        o["invalid"],
        o["valid"],
        *(o[p] for p in parties),
    ]
    numbers = np.stack(cols, axis=1).tolist()
    for i, code in enumerate(e.codes):
        w.writerow((e.regions[i].ru, e.districts[i], code, *numbers[i]))
    paths.official_csv.write_bytes(buf.getvalue().encode("cp1251"))
    paths.official_map.write_text(OFFICIAL_MAPPING, encoding="utf-8")


# ---- observer packages ---------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "-", text.encode("ascii", "ignore").decode().lower()).strip("-") or "observer"


def _packages(
    e: _Election, template: ElectionTemplate, paths: DemoPaths, rng: np.random.Generator, share: float, minimum: int
) -> tuple[Path, ...]:
    n = len(e.codes)
    sample = min(n, max(minimum, int(round(n * share))))
    chosen = np.sort(rng.choice(n, size=sample, replace=False))
    made: list[Path] = []
    key_lines: list[str] = ["# Demo observers' public keys: baqylau keys HQ.db import keys.txt"]
    with tempfile.TemporaryDirectory(dir=paths.root, prefix=".work-") as tmp:
        work = Path(tmp)
        blank = work / "blank.baqylau"
        ElectionStore.create(blank, template).close()  # migrated once, copied for every observer
        for number, i in enumerate(chosen.tolist()):
            two = rng.random() < 0.15
            observers = 2 if two else 1
            for k in range(observers):
                name = f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
                figures = _observed_figures(e, i, template, rng)
                if k == 1 and rng.random() < 0.6:
                    # The second observer copied the commission's posted protocol instead of counting.
                    figures = {key: int(e.official[key][i]) for key in template.all_keys}
                station_file = work / f"{e.codes[i]}-{k}.baqylau"
                store = _observer_file(blank, station_file, template, e, i, name, figures, rng, work)
                try:
                    slug = f"{number:05d}-{k}-{_slug(name)}"
                    keys = load_or_create_keypair(paths.keys_dir / slug)
                    made.append(export_station_package(store, paths.packages_dir, keys))
                    key_lines.append(f"{keys.public_hex} {name} ({e.codes[i]})")
                finally:
                    store.close()
                shutil.rmtree(station_file.with_name(station_file.name + ".evidence"), ignore_errors=True)
                for suffix in ("", "-wal", "-shm"):
                    Path(str(station_file) + suffix).unlink(missing_ok=True)
    paths.keys_file.write_text("\n".join(key_lines) + "\n", encoding="utf-8")
    return tuple(made)


def generate_demo(
    out_dir: Path,
    stations: int = 10_000,
    seed: int = 1,
    template_id: str = "kz-majilis-2021",
    *,
    observed_share: float = 0.02,
    min_observed: int = 20,
) -> DemoPaths:
    """Write the demo election into ``out_dir`` (which must be empty or new); see the module docstring."""
    if stations < 1:
        raise ImportDataError("coord.demo.bad_count", count=stations)
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()):
        raise ImportDataError("coord.demo.not_empty", dir=str(root))
    template = builtin_template(template_id)
    rng = np.random.default_rng(seed)
    paths = DemoPaths(
        root=root,
        stations_csv=root / "stations.csv",
        official_csv=root / "official-results.csv",
        official_map=root / "official-results.map.toml",
        packages_dir=root / "packages",
        keys_dir=root / "keys",
        keys_file=root / "keys.txt",
        packages=(),
    )
    paths.packages_dir.mkdir(parents=True, exist_ok=True)
    paths.keys_dir.mkdir(parents=True, exist_ok=True)
    election = _simulate(template, stations, rng)
    _write_csvs(election, paths, template)
    made = _packages(election, template, paths, rng, observed_share, min_observed)
    return DemoPaths(**{**paths.__dict__, "packages": made})


def demo_hq(
    out_dir: Path,
    stations: int = 500,
    seed: int = 1,
    *,
    paths: DemoPaths | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Generate the demo (unless ``paths`` are given) and build the coordinator file from it.

    The chain is the one a coordinator runs: station list, official results,
    trust the demo observers' keys, merge the packages. Returns the HQ file.
    """
    paths = paths or generate_demo(Path(out_dir), stations=stations, seed=seed)
    hq_path = paths.root / "demo-hq.baqylau"
    hq = ElectionStore.create(hq_path, builtin_template("kz-majilis-2021"), role=ROLE_HQ)
    try:
        hq.set_observer("Демо-штаб", ORGANISATION)
        import_stations(hq, paths.stations_csv)
        import_official(hq, paths.official_csv, paths.official_map)
        import_keys(hq, paths.keys_file, decided_by="demo")
        merge_packages(hq, [paths.packages_dir], progress=progress)
    finally:
        hq.close()
    return hq_path
