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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import insert

from db import models as m
from db.merge import import_keys, merge_packages
from db.official import import_official
from db.package import export_station_package
from db.stations_import import import_stations
from db.store import ROLE_HQ, ElectionStore
from observer.errors import ImportDataError
from observer.regions import Region, regions_on, utc_offset_hours
from observer.signing import load_or_create_keypair
from observer.template import ElectionTemplate, builtin_template

# Voters on the lists in January 2021, thousands (approximate; they add up to ~11.9 million).
_ELECTORATE_K: dict[str, int] = {
    "KZ-AST": 750,
    "KZ-ALA": 1200,
    "KZ-SHY": 600,
    "KZ-AKM": 520,
    "KZ-AKT": 560,
    "KZ-ALM": 1350,
    "KZ-ATY": 390,
    "KZ-ZAP": 430,
    "KZ-ZHA": 680,
    "KZ-KAR": 950,
    "KZ-KUS": 610,
    "KZ-KZY": 470,
    "KZ-MAN": 400,
    "KZ-PAV": 520,
    "KZ-SEV": 400,
    "KZ-YUZ": 1200,
    "KZ-VOS": 950,
}
_CITY_DISTRICTS: dict[str, tuple[str, ...]] = {
    "KZ-ALA": (
        "Алатауский",
        "Алмалинский",
        "Ауэзовский",
        "Бостандыкский",
        "Жетысуский",
        "Медеуский",
        "Наурызбайский",
        "Турксибский",
    ),
    "KZ-AST": ("Алматинский", "Байконурский", "Есильский", "Сарыаркинский"),
    "KZ-SHY": ("Абайский", "Аль-Фарабийский", "Енбекшинский", "Каратауский"),
}
_CENTRES: dict[str, str] = {
    "KZ-AKM": "Кокшетау",
    "KZ-AKT": "Актобе",
    "KZ-ALM": "Талдыкорган",
    "KZ-ATY": "Атырау",
    "KZ-ZAP": "Уральск",
    "KZ-ZHA": "Тараз",
    "KZ-KAR": "Караганда",
    "KZ-KUS": "Костанай",
    "KZ-KZY": "Кызылорда",
    "KZ-MAN": "Актау",
    "KZ-PAV": "Павлодар",
    "KZ-SEV": "Петропавловск",
    "KZ-YUZ": "Туркестан",
    "KZ-VOS": "Усть-Каменогорск",
}
_TRUE_SHARES = {"nur_otan": 0.483, "ak_zhol": 0.201, "adal": 0.128, "qhp": 0.089, "auyl": 0.083}
_TRUE_INVALID = 0.038
_FIRST = (
    "Айгүл",
    "Болат",
    "Дана",
    "Ерлан",
    "Жанар",
    "Асхат",
    "Мадина",
    "Нұрлан",
    "Салтанат",
    "Тимур",
    "Әлия",
    "Қайрат",
    "Гүлнар",
    "Арман",
    "Аружан",
    "Данияр",
    "Сәуле",
    "Ержан",
    "Динара",
    "Бауыржан",
)
_LAST = ("Қасым", "Ахмет", "Сейтқали", "Омар", "Жұмабай", "Нұрғали", "Сәрсен", "Төлеген", "Әбдір", "Серік")
_VIOLATIONS = (
    "OBS_BLOCK",
    "PHOTO_BAN",
    "STUFF",
    "CAROUSEL",
    "PROTOCOL_NOT_POSTED",
    "GROUP",
    "SECRECY",
    "PRESSURE",
    "BUSSING",
    "OBS_REMOVE",
    "COUNT",
)

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


@dataclass(frozen=True)
class _Election:
    """Every station's truth and official figures, as arrays aligned by station."""

    codes: list[str]
    regions: list[Region]
    districts: list[str]
    addresses: list[str]
    registered: np.ndarray
    true: dict[str, np.ndarray]
    official: dict[str, np.ndarray]
    early: np.ndarray  # official ballots issued before election day (part of issued)
    mobile_box: np.ndarray  # official ballots found in the mobile boxes (part of in_boxes)


def _simulate(template: ElectionTemplate, n: int, rng: np.random.Generator) -> _Election:
    regions = [r for r in regions_on(template.date) if r.code in _ELECTORATE_K]
    city = np.array([r.code in _CITY_DISTRICTS for r in regions])
    avg_size = np.where(city, 1900.0, 950.0)
    weights = np.array([_ELECTORATE_K[r.code] for r in regions], dtype=float) / avg_size
    # Every region gets at least one station, the rest in proportion to its electorate.
    counts = (
        np.ones(len(regions), dtype=np.int64) + rng.multinomial(n - len(regions), weights / weights.sum())
        if n >= len(regions)
        else rng.multinomial(n, weights / weights.sum())
    )
    region_idx = np.repeat(np.arange(len(regions)), counts)
    is_city = city[region_idx]

    size = np.where(
        is_city,
        rng.normal(2000, 450, n),
        np.exp(rng.normal(np.log(750), 0.55, n)),  # rural stations: many small, a few large
    )
    registered = np.clip(np.rint(size), 150, 3000).astype(np.int64)

    # True turnout: around 35%, lower in the cities (Almaty's was 30.6% even officially).
    turnout = np.clip(rng.beta(14, 26, n) - 0.04 * is_city, 0.12, 0.75)
    voted = rng.binomial(registered, turnout)
    outside = rng.binomial(voted, 0.02)
    early = rng.binomial(voted - outside, 0.01)
    invalid = rng.binomial(voted, _TRUE_INVALID)
    valid = voted - invalid
    parties = template.party_keys
    base = np.array([_TRUE_SHARES[p] for p in parties])
    region_tilt = rng.dirichlet(base * 300, len(regions))  # each region leans its own way
    votes = np.stack([rng.multinomial(v, region_tilt[r]) for v, r in zip(valid, region_idx)])
    spoiled = rng.binomial(6, 0.3, n)
    received = (np.ceil(registered * 1.02 / 50) * 50).astype(np.int64)  # ballots come in packs of 50
    true = {
        "registered": registered,
        "received": received,
        "issued": voted,
        "issued_outside": outside,
        "cancelled": received - voted - spoiled,
        "spoiled": spoiled,
        "in_boxes": voted.copy(),
        "invalid": invalid,
        "valid": valid,
        **{p: votes[:, j] for j, p in enumerate(parties)},
    }

    # Official figures: 85% of stations add ballots for the leader; of those, 40% also move
    # other parties' votes and most invalid ballots to the leader.
    stuffed = rng.random(n) < 0.85
    rewritten = stuffed & (rng.random(n) < 0.40)
    room = np.maximum(np.rint(registered * 0.99).astype(np.int64) - voted, 0)
    extra = np.where(stuffed, np.minimum(np.rint(registered * rng.uniform(0.15, 0.40, n)).astype(np.int64), room), 0)
    o_votes = votes.copy()
    leader = parties.index("nur_otan") if "nur_otan" in parties else 0
    moved = np.zeros(n, dtype=np.int64)
    # Parties that campaigned against the leader lose most; the loyal People's Party keeps its votes.
    taken_share = {"ak_zhol": 0.45, "adal": 0.7, "auyl": 0.4, "qhp": 0.0}
    for j, party in enumerate(parties):
        if j == leader:
            continue
        share = taken_share.get(party, 0.3)
        take = np.where(rewritten, np.rint(votes[:, j] * share * rng.uniform(0.6, 1.0, n)).astype(np.int64), 0)
        o_votes[:, j] -= take
        moved += take
    o_invalid = np.where(rewritten, np.rint(invalid * 0.25).astype(np.int64), invalid)
    o_votes[:, leader] += extra + moved + (invalid - o_invalid)
    o_issued = voted + extra
    o_valid = o_votes.sum(axis=1)
    o_outside = outside + np.where(
        stuffed, np.rint(extra * 0.3).astype(np.int64), 0
    )  # the mobile box is where it hides
    official = {
        "registered": registered,
        "received": received,
        "issued": o_issued,
        "issued_outside": o_outside,
        "cancelled": received - o_issued - spoiled,
        "spoiled": spoiled,
        "in_boxes": o_issued.copy(),
        "invalid": o_invalid,
        "valid": o_valid,
        **{p: o_votes[:, j] for j, p in enumerate(parties)},
    }
    over = official["cancelled"] < 0  # more ballots issued than received: the commission "received" more
    official["received"] = np.where(over, o_issued + spoiled, received)
    official["cancelled"] = official["received"] - o_issued - spoiled

    codes: list[str] = []
    districts: list[str] = []
    addresses: list[str] = []
    station_regions: list[Region] = []
    for ri, reg in enumerate(regions):
        k = int(counts[ri])
        names = _CITY_DISTRICTS.get(reg.code) or tuple(
            [f"{_CENTRES.get(reg.code, reg.ru)} (город)"] + [f"Район №{i}" for i in range(1, 4 + min(12, k // 40))]
        )
        prefix = reg.numeric.split("-")[1]
        for s in range(k):
            codes.append(f"{prefix}{s + 1:04d}")
            district = names[int(rng.integers(len(names)))]
            districts.append(district)
            town = reg.ru if reg.code in _CITY_DISTRICTS else _CENTRES.get(reg.code, reg.ru)
            addresses.append(f"{town}, школа № {int(rng.integers(1, 120))}")
            station_regions.append(reg)
    in_mobile = rng.binomial(np.maximum(o_outside, 0), 0.97)
    in_mobile = np.minimum(in_mobile, official["in_boxes"])
    return _Election(
        codes,
        station_regions,
        districts,
        addresses,
        registered,
        true,
        official,
        np.minimum(early, o_issued - o_outside),
        in_mobile,
    )


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


def _photo(path: Path, lines: list[str], taken: datetime, rng: np.random.Generator) -> None:
    """A small JPEG with the scene described in text and the camera's EXIF time."""
    colour = tuple(int(c) for c in rng.integers(60, 200, 3))
    img = Image.new("RGB", (640, 480), colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 620, 460), outline=(255, 255, 255), width=3)
    for i, text in enumerate(lines):
        draw.text((40, 40 + 28 * i), text, fill=(255, 255, 255))
    exif = img.getexif()
    stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif[306] = stamp  # DateTime
    exif.get_ifd(0x8769)[36867] = stamp  # DateTimeOriginal
    img.save(path, "JPEG", quality=70, exif=exif.tobytes())


def _local(day: datetime, region: Region, hour: float) -> datetime:
    """Election-day local time ``hour`` (7.5 = 07:30) as aware UTC."""
    return day + timedelta(hours=hour - utc_offset_hours(region.code, day))


def _observer_file(
    blank: Path,
    target: Path,
    template: ElectionTemplate,
    e: _Election,
    i: int,
    name: str,
    figures: dict[str, int],
    rng: np.random.Generator,
    scratch: Path,
) -> ElectionStore:
    """One observer's station file, filled the way the app would, in a few transactions."""
    shutil.copyfile(blank, target)
    store = ElectionStore.open(target)
    store.set_observer(name, "Демо: Жас сайлаушылар лигасы")
    reg = e.regions[i]
    st = store.upsert_station(e.codes[i], reg.code, e.districts[i], e.addresses[i], int(e.registered[i]))
    store.select_station(st.id)
    oid = store.observer_id
    day = datetime(2021, 1, 10, tzinfo=UTC)
    t0 = _local(day, reg, 7.0)

    # Voters counted at the door (early and mobile-box voters never pass the observer).
    counted = int(e.true["issued"][i] - e.true["issued_outside"][i])
    counted = max(0, counted + int(rng.integers(-3, 4)))
    # Arrivals follow a two-hump day: a morning and an after-work peak.
    hours = np.sort(
        np.concatenate([rng.normal(10.5, 1.6, counted // 2), rng.normal(17.0, 1.5, counted - counted // 2)])
    )
    hours = np.clip(hours, 7.0, 19.99)
    stamps = [_local(day, reg, float(h)) for h in hours]
    rows: list[dict[str, object]] = [
        {
            "id": m.new_id(),
            "station_id": st.id,
            "observer_id": oid,
            "at": t,
            "delta": 1,
            "created_at": t,
            "updated_at": t,
        }
        for t in stamps
    ]
    official_issued = int(e.official["issued"][i])
    true_issued = int(e.true["issued"][i])
    reports = []
    for slot in template.reporting_times:
        hh = int(slot[:2]) + int(slot[3:]) / 60
        seen = int(np.searchsorted(hours, hh))
        share = seen / counted if counted else 0.0
        # The commission's announced figure runs ahead of the count as the official total does.
        announced = int(
            round(share * official_issued + (official_issued - true_issued) * min(1.0, (hh - 7) / 13) * 0.3)
        )
        t = _local(day, reg, hh)
        reports.append(
            {
                "id": m.new_id(),
                "station_id": st.id,
                "observer_id": oid,
                "slot": slot,
                "announced": min(announced, official_issued),
                "observed": seen,
                "created_at": t,
                "updated_at": t,
            }
        )
    with store.engine.begin() as conn:
        if rows:
            conn.execute(insert(m.HeadcountEvent), rows)
        conn.execute(insert(m.TurnoutReport), reports)
    pid = store.protocol_id(st.id, "posted_copy")
    t_close = _local(day, reg, 21.5)
    with store.engine.begin() as conn:
        conn.execute(
            insert(m.ProtocolValue),
            [
                {
                    "id": m.new_id(),
                    "protocol_id": pid,
                    "key": k,
                    "value": int(v),
                    "observer_id": oid,
                    "created_at": t_close,
                    "updated_at": t_close,
                }
                for k, v in figures.items()
            ],
        )
        # Spoiled/invalid ballots by reason: most blank or written on in protest (MISK 2021).
        reasons = [r.code for r in template.spoiled_reasons]
        split = rng.multinomial(int(figures.get("invalid", 0)), _reason_weights(reasons))
        conn.execute(
            insert(m.SpoiledCount),
            [
                {
                    "id": m.new_id(),
                    "station_id": st.id,
                    "observer_id": oid,
                    "reason": r,
                    "count": int(c),
                    "created_at": t_close,
                    "updated_at": t_close,
                }
                for r, c in zip(reasons, split)
            ],
        )
        answers = []
        for checklist, questions in (("opening", template.opening_checklist), ("closing", template.closing_checklist)):
            for q in questions:
                ans = "yes" if rng.random() < 0.85 else "no"
                answers.append(
                    {
                        "id": m.new_id(),
                        "station_id": st.id,
                        "observer_id": oid,
                        "checklist": checklist,
                        "question": q.key,
                        "answer": ans,
                        "note": "",
                        "created_at": t0,
                        "updated_at": t0,
                    }
                )
        if answers:
            conn.execute(insert(m.ChecklistAnswer), answers)

    if rng.random() < 0.7:
        shot = scratch / f"protocol-{e.codes[i]}-{rng.integers(1_000_000)}.jpg"
        _photo(
            shot,
            [f"UIK {e.codes[i]}", "Protocol (posted copy)", *(f"{k}: {v}" for k, v in figures.items())],
            t_close,
            rng,
        )
        store.add_evidence(st.id, shot, protocol_id=pid)
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 4))):
            category = _VIOLATIONS[int(rng.integers(len(_VIOLATIONS)))]
            hour = float(rng.uniform(7.0, 21.0))
            when = _local(day, reg, hour)
            known = template.category(category)
            vid = store.save_violation(
                st.id,
                category=category,
                occurred_at=when,
                description=f"Демо: {known.labels.get('ru') if known else category}",
                severity=("low", "medium", "high")[int(rng.integers(3))],
                action="remark_to_commission" if rng.random() < 0.5 else "none",
            )
            if rng.random() < 0.5:
                shot = scratch / f"violation-{e.codes[i]}-{rng.integers(1_000_000)}.jpg"
                _photo(shot, [f"UIK {e.codes[i]}", category, when.isoformat()], when, rng)
                store.add_evidence(st.id, shot, violation_id=vid)
    return store


def _reason_weights(reasons: list[str]) -> np.ndarray:
    w = np.array([{"BLANK": 4.0, "WRITTEN": 3.0, "MULTIPLE": 1.5, "TORN": 1.0}.get(r, 0.5) for r in reasons])
    return w / w.sum()


def _observed_figures(e: _Election, i: int, template: ElectionTemplate, rng: np.random.Generator) -> dict[str, int]:
    """The observer's protocol: the true count, with the odd slip of a vote or two in the party lines."""
    out = {k: int(e.true[k][i]) for k in template.all_keys}
    for p in template.party_keys:
        if rng.random() < 0.1:
            out[p] = max(0, out[p] + int(rng.integers(-2, 3)))
    out["valid"] = sum(out[p] for p in template.party_keys)
    out["in_boxes"] = out["valid"] + out["invalid"]
    return out


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
        hq.set_observer("Демо-штаб", "Демо: Жас сайлаушылар лигасы")
        import_stations(hq, paths.stations_csv)
        import_official(hq, paths.official_csv, paths.official_map)
        import_keys(hq, paths.keys_file, decided_by="demo")
        merge_packages(hq, [paths.packages_dir], progress=progress)
    finally:
        hq.close()
    return hq_path
