"""The demo's simulated election: every station's true figures and the official ones.

The 17 regions of January 2021 with roughly their share of the 11.9 million
voters; stations of a few hundred to 3,000 voters (bigger in the three cities);
a true turnout around 35% and a true result close to the observers' 2021 tally;
and official results in which most stations report extra ballots for the
leader, some also move other parties' votes and invalid ballots to the leader
(docs/domain.md §0, §3). One seeded numpy generator draws everything, always in
the same order, so a seed always gives the same election. :mod:`db.demo`
writes it out as files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from observer.regions import Region, regions_on
from observer.template import ElectionTemplate

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
    """``n`` stations of the election of ``template``, drawn from ``rng``."""
    regions = [r for r in regions_on(template.date) if r.code in _ELECTORATE_K]
    counts = _stations_per_region(regions, n, rng)
    region_idx = np.repeat(np.arange(len(regions)), counts)
    is_city = np.array([r.code in _CITY_DISTRICTS for r in regions])[region_idx]
    size = np.where(
        is_city,
        rng.normal(2000, 450, n),
        np.exp(rng.normal(np.log(750), 0.55, n)),  # rural stations: many small, a few large
    )
    registered = np.clip(np.rint(size), 150, 3000).astype(np.int64)
    true, early = _true_figures(template, registered, is_city, region_idx, len(regions), rng)
    official = _official_figures(template, true, rng)
    codes, station_regions, districts, addresses = _station_names(regions, counts, rng)
    o_outside = official["issued_outside"]
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
        np.minimum(early, official["issued"] - o_outside),
        in_mobile,
    )


def _stations_per_region(regions: list[Region], n: int, rng: np.random.Generator) -> np.ndarray:
    """Every region gets at least one station, the rest in proportion to its electorate (city stations are bigger)."""
    city = np.array([r.code in _CITY_DISTRICTS for r in regions])
    avg_size = np.where(city, 1900.0, 950.0)
    weights = np.array([_ELECTORATE_K[r.code] for r in regions], dtype=float) / avg_size
    if n < len(regions):
        return rng.multinomial(n, weights / weights.sum())
    return np.ones(len(regions), dtype=np.int64) + rng.multinomial(n - len(regions), weights / weights.sum())


def _true_figures(
    template: ElectionTemplate,
    registered: np.ndarray,
    is_city: np.ndarray,
    region_idx: np.ndarray,
    region_count: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """What the voters did, per protocol line and party, and the ballots issued before election day."""
    n = len(registered)
    # True turnout: around 35%, lower in the cities (Almaty's was 30.6% even officially).
    turnout = np.clip(rng.beta(14, 26, n) - 0.04 * is_city, 0.12, 0.75)
    voted = rng.binomial(registered, turnout)
    outside = rng.binomial(voted, 0.02)
    early = rng.binomial(voted - outside, 0.01)
    invalid = rng.binomial(voted, _TRUE_INVALID)
    valid = voted - invalid
    parties = template.party_keys
    base = np.array([_TRUE_SHARES[p] for p in parties])
    region_tilt = rng.dirichlet(base * 300, region_count)  # each region leans its own way
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
    return true, early


def _official_figures(
    template: ElectionTemplate, true: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The commission's figures: 85% of stations add ballots for the leader; of those, 40% also
    move other parties' votes and most invalid ballots to the leader."""
    registered, voted, invalid = true["registered"], true["issued"], true["invalid"]
    n = len(registered)
    parties = template.party_keys
    votes = np.stack([true[p] for p in parties], axis=1)
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
    spoiled = true["spoiled"]
    # More ballots issued than received: the commission "received" more.
    received = np.maximum(true["received"], o_issued + spoiled)
    return {
        "registered": registered,
        "received": received,
        "issued": o_issued,
        "issued_outside": true["issued_outside"]
        + np.where(stuffed, np.rint(extra * 0.3).astype(np.int64), 0),  # the mobile box is where it hides
        "cancelled": received - o_issued - spoiled,
        "spoiled": spoiled,
        "in_boxes": o_issued.copy(),
        "invalid": o_invalid,
        "valid": o_votes.sum(axis=1),
        **{p: o_votes[:, j] for j, p in enumerate(parties)},
    }


def _station_names(
    regions: list[Region], counts: np.ndarray, rng: np.random.Generator
) -> tuple[list[str], list[Region], list[str], list[str]]:
    """Each station's code, region, district and address, region by region."""
    codes: list[str] = []
    station_regions: list[Region] = []
    districts: list[str] = []
    addresses: list[str] = []
    for ri, reg in enumerate(regions):
        k = int(counts[ri])
        names = _CITY_DISTRICTS.get(reg.code) or tuple(
            [f"{_CENTRES.get(reg.code, reg.ru)} (город)"] + [f"Район №{i}" for i in range(1, 4 + min(12, k // 40))]
        )
        prefix = reg.numeric.split("-")[1]
        town = reg.ru if reg.code in _CITY_DISTRICTS else _CENTRES.get(reg.code, reg.ru)
        for s in range(k):
            codes.append(f"{prefix}{s + 1:04d}")
            districts.append(names[int(rng.integers(len(names)))])
            addresses.append(f"{town}, школа № {int(rng.integers(1, 120))}")
            station_regions.append(reg)
    return codes, station_regions, districts, addresses
