"""Aggregation checked against figures worked out by hand.

Official results (kz-majilis-2021; share base = ballots in the boxes):

    station region  district registered issued in_boxes invalid valid  NO  AZ QHP AU AD
    A       KZ-ALA  D1        1000       600    600      0      600   500  50  30 10 10
    B       KZ-ALA  D2        2000      1000   1000    100      900   700 100  50 30 20
    C       KZ-AKM  D1         500       400    400      0      400   380  10   5  3  2
    D       KZ-AKM  D9         100        50     50     (empty)  50    50   0   0  0  0

National: registered 3600, issued 2050 -> turnout 2050/3600 = 56.944%; invalid share over the
stations that give it (A, B, C) 100/2000 = 5%; Nur Otan 1630/2050 = 79.512%, Ak Zhol 160/2050 =
7.805% (both pass 7%), QHP 85/2050 = 4.146% (fails).

Observed: A has one observer's protocol (registered 1000, issued 400, in boxes 400, invalid 40,
valid 360; NO 200, AZ 80, QHP 40, AU 20, AD 20), a head-count of 390 and the commission's 20:00
announcement of 550. B has two observers who disagree (unresolved: not counted). C, D: nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert

from db import models as m
from db.aggregate import aggregate, aggregate_levels, station_table, turnout_gaps
from db.aggregate_checks import check_failures, violations_by_category_region
from db.official import import_official
from db.store import ROLE_HQ, ElectionStore
from observer.aggregate import StationArrays, aggregate_arrays
from observer.aggregate import turnout_gaps as turnout_gaps_arrays
from observer.template import parse_template

CSV = """code,region,district,registered,issued,in_boxes,invalid,valid,nur_otan,ak_zhol,qhp,auyl,adal
A,KZ-ALA,D1,1000,600,600,0,600,500,50,30,10,10
B,KZ-ALA,D2,2000,1000,1000,100,900,700,100,50,30,20
C,KZ-AKM,D1,500,400,400,0,400,380,10,5,3,2
D,KZ-AKM,D9,100,50,50,,50,50,0,0,0,0
"""
MAP = """[station]
code = "code"
region = "region"
district = "district"
[lines]
registered = "registered"
issued = "issued"
in_boxes = "in_boxes"
invalid = "invalid"
valid = "valid"
[parties]
nur_otan = "nur_otan"
ak_zhol = "ak_zhol"
qhp = "qhp"
auyl = "auyl"
adal = "adal"
"""
OBSERVED_A = {
    "registered": 1000,
    "issued": 400,
    "in_boxes": 400,
    "invalid": 40,
    "valid": 360,
    "nur_otan": 200,
    "ak_zhol": 80,
    "qhp": 40,
    "auyl": 20,
    "adal": 20,
}


def add_protocol(hq: ElectionStore, station_id: str, observer: str, values: dict[str, int]) -> str:
    t = datetime(2021, 1, 10, 16, tzinfo=UTC)
    oid, pid = m.new_id(), m.new_id()
    with hq.engine.begin() as conn:
        conn.execute(insert(m.Observer).values(id=oid, name=observer, organisation="MISK", created_at=t, updated_at=t))
        conn.execute(
            insert(m.Protocol).values(
                id=pid, station_id=station_id, observer_id=oid, source="posted_copy", created_at=t, updated_at=t
            )
        )
        conn.execute(
            insert(m.ProtocolValue),
            [
                {
                    "id": m.new_id(),
                    "protocol_id": pid,
                    "key": k,
                    "value": v,
                    "observer_id": oid,
                    "created_at": t,
                    "updated_at": t,
                }
                for k, v in values.items()
            ],
        )
        if observer == "Aigerim":
            conn.execute(
                insert(m.TurnoutReport).values(
                    id=m.new_id(),
                    station_id=station_id,
                    observer_id=oid,
                    slot="18:00",
                    announced=480,
                    observed=350,
                    created_at=t,
                    updated_at=t,
                )
            )
            conn.execute(
                insert(m.TurnoutReport).values(
                    id=m.new_id(),
                    station_id=station_id,
                    observer_id=oid,
                    slot="20:00",
                    announced=550,
                    observed=390,
                    created_at=t,
                    updated_at=t,
                )
            )
            conn.execute(
                insert(m.Violation).values(
                    id=m.new_id(),
                    station_id=station_id,
                    observer_id=oid,
                    category="STUFF",
                    occurred_at=t,
                    created_at=t,
                    updated_at=t,
                )
            )
    return pid


def small_hq(where: str, tmp_path: Path, template: Any) -> ElectionStore:
    """4 stations with official figures, 3 observer protocols (B: two versions that differ)."""
    s = ElectionStore.create(where, template, role=ROLE_HQ)
    (tmp_path / "o.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "m.toml").write_text(MAP, encoding="utf-8")
    import_official(s, tmp_path / "o.csv", tmp_path / "m.toml")
    a, b = s.station_by_code("A"), s.station_by_code("B")
    assert a is not None and b is not None
    add_protocol(s, a.id, "Aigerim", OBSERVED_A)
    add_protocol(s, b.id, "Bolat", {**OBSERVED_A, "registered": 2000})
    add_protocol(s, b.id, "Dana", {**OBSERVED_A, "registered": 2000, "nur_otan": 210, "ak_zhol": 70})
    return s


@pytest.fixture
def hq(store_url: str, tmp_path: Path, template_2021: Any) -> Iterator[ElectionStore]:
    """The small HQ as a file and, again, in PostgreSQL: every figure below must hold on both."""
    s = small_hq(store_url, tmp_path, template_2021)
    yield s
    s.close()


def test_official_national(hq: ElectionStore) -> None:
    [unit] = aggregate(hq, "national", "official")
    t = unit.official
    assert t is not None and unit.observed is None and unit.unit == "national"
    assert t.stations == 4 and t.registered == 3600
    assert t.lines["issued"] == 2050 and t.lines["invalid"] == 100 and t.lines["cancelled"] is None
    assert t.parties["nur_otan"] == 1630
    assert t.turnout_pct == pytest.approx(100 * 2050 / 3600)
    assert t.invalid_pct == pytest.approx(5.0)  # D gives no invalid count, so it is left out of the share
    assert t.party_pct["nur_otan"] == pytest.approx(100 * 1630 / 2050)
    assert t.party_pct["ak_zhol"] == pytest.approx(100 * 160 / 2050)
    assert t.passes_threshold == {"nur_otan": True, "ak_zhol": True, "qhp": False, "auyl": False, "adal": False}


def test_official_region_and_district(hq: ElectionStore) -> None:
    regions = {u.unit: u.official for u in aggregate(hq, "region", "official")}
    assert list(regions) == ["KZ-AKM", "KZ-ALA"]
    ala = regions["KZ-ALA"]
    assert ala is not None and ala.stations == 2 and ala.registered == 3000
    assert ala.turnout_pct == pytest.approx(100 * 1600 / 3000)
    assert ala.invalid_pct == pytest.approx(100 * 100 / 1600)
    assert ala.party_pct["nur_otan"] == pytest.approx(75.0)
    assert ala.passes_threshold == {}  # the threshold applies to the national result only

    districts = {u.unit: u.official for u in aggregate(hq, "district", "official")}
    # "D1" exists in two regions: two separate units.
    assert list(districts) == ["KZ-AKM / D1", "KZ-AKM / D9", "KZ-ALA / D1", "KZ-ALA / D2"]
    assert districts["KZ-AKM / D1"].lines["issued"] == 400  # type: ignore[union-attr]
    assert districts["KZ-AKM / D9"].invalid_pct is None  # type: ignore[union-attr]
    assert districts["KZ-ALA / D1"].turnout_pct == pytest.approx(60.0)  # type: ignore[union-attr]


def test_observed_uses_the_effective_version_and_leaves_out_disputes(hq: ElectionStore) -> None:
    arr = station_table(hq, "observed")
    assert list(arr.codes) == ["A", "B", "C", "D"]
    assert arr.has_figures.tolist() == [True, False, False, False]
    assert arr.disputed.tolist() == [False, True, False, False]  # type: ignore[union-attr]
    assert arr.headcount.tolist() == [390, -1, -1, -1]  # type: ignore[union-attr]
    assert arr.announced.tolist() == [550, -1, -1, -1]  # type: ignore[union-attr]  # the 20:00 slot, not 18:00
    assert arr.has_violations.tolist() == [True, False, False, False]  # type: ignore[union-attr]
    assert arr.column("nur_otan").tolist() == [200, -1, -1, -1]
    [unit] = aggregate(hq, "national", "observed")
    assert unit.observed is not None and unit.observed.stations == 1
    assert unit.observed.turnout_pct == pytest.approx(40.0)
    assert unit.observed.party_pct["nur_otan"] == pytest.approx(50.0)


def test_both_compares_the_same_stations(hq: ElectionStore) -> None:
    [u] = aggregate(hq, "national", "both")
    assert u.observed is not None and u.official is not None and u.official_all is not None and u.comparison is not None
    # Official figures for the same station (A) only ...
    assert u.official.stations == 1 and u.official.turnout_pct == pytest.approx(60.0)
    assert u.official.party_pct["nur_otan"] == pytest.approx(100 * 500 / 600)
    # ... and over all stations, for reference.
    assert u.official_all.stations == 4 and u.official_all.turnout_pct == pytest.approx(100 * 2050 / 3600)
    c = u.comparison
    assert c.diff_pp["turnout"] == pytest.approx(40.0 - 60.0)
    assert c.diff_pp["invalid"] == pytest.approx(10.0 - 0.0)
    assert c.diff_pp["nur_otan"] == pytest.approx(50.0 - 100 * 500 / 600)
    # observer.definitions: A is counted, B observed but undecided (two versions differ).
    assert (c.stations_observed, c.stations_counted, c.stations_total) == (2, 1, 4)
    assert c.coverage_stations_pct == pytest.approx(25.0)  # counted / all
    assert c.registered_counted == 1000 and c.registered_total == 3600
    assert c.coverage_registered_pct == pytest.approx(100 * 1000 / 3600)
    assert (c.not_counted, c.disputed, c.undecided, c.excluded, c.unmatched) == (1, 0, 1, 0, 0)
    counts = c.counts
    assert counts.with_protocol == counts.counted + counts.not_counted == 2
    assert c.headcount_turnout_pct == pytest.approx(39.0)
    assert c.announced_turnout_pct == pytest.approx(55.0)

    by_region = {r.unit: r for r in aggregate(hq, "region", "both")}
    assert by_region["KZ-ALA"].comparison.stations_counted == 1  # type: ignore[union-attr]
    assert by_region["KZ-AKM"].comparison.stations_counted == 0  # type: ignore[union-attr]
    assert by_region["KZ-AKM"].official_all.turnout_pct == pytest.approx(100 * 450 / 600)  # type: ignore[union-attr]


def test_levels_from_one_read_match_single_calls(hq: ElectionStore) -> None:
    many = aggregate_levels(hq, ("national", "region", "district"), "both")
    assert many["district"] == aggregate(hq, "district", "both")
    assert [u.unit for u in many["region"]] == ["KZ-AKM", "KZ-ALA"]


def test_share_base_follows_the_template(hq: ElectionStore, template_2021) -> None:
    valid_based = parse_template(template_2021.source_text.replace('share_base = "in_boxes"', 'share_base = "valid"'))
    official = station_table(hq, "official")
    [u] = aggregate_arrays(valid_based, "national", "official", official=official)
    assert u.official is not None
    assert u.official.party_pct["nur_otan"] == pytest.approx(100 * 1630 / 1950)
    assert u.official.party_pct["qhp"] == pytest.approx(100 * 85 / 1950)


def test_turnout_gap_ranking_and_violation_counts(hq: ElectionStore) -> None:
    [gap] = turnout_gaps(hq)  # only A is observed and has an official result
    assert gap.code == "A"
    assert gap.headcount_turnout_pct == pytest.approx(39.0) and gap.observed_turnout_pct == pytest.approx(40.0)
    assert gap.gap_pp == pytest.approx(39.0 - 60.0)  # observed minus official; the head-count is preferred
    counts = violations_by_category_region(hq)
    assert [(v.region, v.category, v.count) for v in counts] == [("KZ-ALA", "STUFF", 1)]


def test_check_failures_both_sources(hq: ElectionStore) -> None:
    failures = check_failures(hq, "en")
    official = {f.code for f in failures if f.source == "official"}
    # Official rows leave "received" empty, so only relations they fully give are judged; all hold.
    assert official == set()
    observed = [f for f in failures if f.source == "observed"]
    # Every observed version: valid 360 != 200+80+40+20+20 = 360 holds; Dana's 210+70+... = 360 holds too.
    assert observed == []


def test_check_failures_reports_broken_figures(tmp_path: Path, template_2021) -> None:
    hq = ElectionStore.create(tmp_path / "hq2.baqylau", template_2021, role=ROLE_HQ)
    (tmp_path / "o.csv").write_text(
        CSV.replace("B,KZ-ALA,D2,2000,1000,1000,100,900", "B,KZ-ALA,D2,2000,1000,1000,100,950"), encoding="utf-8"
    )
    (tmp_path / "m.toml").write_text(MAP, encoding="utf-8")
    import_official(hq, tmp_path / "o.csv", tmp_path / "m.toml")
    add_protocol(hq, hq.station_by_code("C").id, "Yerlan", {**OBSERVED_A, "issued": 1200})  # type: ignore[union-attr]
    failures = {(f.source, f.code): f for f in check_failures(hq, "en")}
    assert set(failures) == {("official", "B"), ("observed", "C")}
    b = failures[("official", "B")]
    # in_boxes 1000 != valid 950 + invalid 100, and valid 950 != party sum 900.
    assert len(b.messages) == 2 and b.severity == "error"
    assert any("1050" in msg for msg in b.messages)
    c = failures[("observed", "C")]
    assert c.observer == "Yerlan" and any("1200" in msg for msg in c.messages)  # issued 1200 > registered 1000
    assert station_table(hq, "observed").breaks_check.tolist() == [False, False, True, False]  # type: ignore[union-attr]
    hq.close()


def test_empty_hq(tmp_path: Path, template_2021) -> None:
    hq = ElectionStore.create(tmp_path / "empty.baqylau", template_2021, role=ROLE_HQ)
    assert aggregate(hq, "national", "both") == []
    assert len(station_table(hq, "official")) == 0
    assert np.array_equal(station_table(hq, "observed").has_figures, np.array([], dtype=bool))
    hq.close()


def _arrays(source: str, values: list[list[int]], **extra: object) -> StationArrays:
    keys = ("registered", "issued")
    n = len(values)
    return StationArrays(
        source=source,
        keys=keys,
        station_ids=np.array([f"id{i}" for i in range(n)], dtype=object),
        codes=np.array([f"S{i}" for i in range(n)], dtype=object),
        regions=np.array(["KZ-ALA"] * n, dtype=object),
        districts=np.array(["D"] * n, dtype=object),
        registered=np.array([v[0] for v in values], dtype=np.int64),
        values=np.array(values, dtype=np.int64),
        has_figures=np.array([v[1] >= 0 for v in values]),
        **extra,  # type: ignore[arg-type]
    )


def test_turnout_gaps_are_ranked_largest_first() -> None:
    tpl = parse_template(
        "\n".join(
            [
                "format = 1",
                'id = "t"',
                "[name]",
                'en = "t"',
                "[turnout]",
                'voted = "issued"',
                'registered = "registered"',
                "[results]",
                'share_base = "issued"',
                'ballots_cast = "issued"',
                'invalid = "issued"',
                "[[lines]]",
                'key = "registered"',
                'en = "r"',
                "[[lines]]",
                'key = "issued"',
                'en = "i"',
                "[[parties]]",
                'key = "p"',
                'en = "p"',
                "[[violation_categories]]",
                'code = "X"',
                'en = "x"',
                "[[spoiled_reasons]]",
                'code = "Y"',
                'en = "y"',
            ]
        )
    )
    official = _arrays("official", [[1000, 800], [1000, 500], [1000, 900], [1000, -1]])
    observed = _arrays(
        "observed",
        [[1000, 400], [1000, 450], [1000, -1], [1000, 300]],
        headcount=np.array([-1, -1, 350, 300], dtype=np.int64),
    )
    gaps = turnout_gaps_arrays(tpl, official, observed)
    # S2 has only a head-count (35%) against 90% official: gap -55; S0 40% vs 80%: -40; S1 45% vs 50%: -5.
    # S3 has no official turnout and is left out.
    assert [g.code for g in gaps] == ["S2", "S0", "S1"]
    assert [round(g.gap_pp, 6) for g in gaps] == [-55.0, -40.0, -5.0]
    assert gaps[0].observed_turnout_pct is None and gaps[0].headcount_turnout_pct == pytest.approx(35.0)


@pytest.mark.parametrize("density", [0.0, 0.02, 0.5, 1.0])
def test_district_sums_match_a_plain_loop(density: float) -> None:
    from observer.rollup import district_sums

    rng = np.random.default_rng(3)
    district = np.sort(rng.integers(0, 12, 400))
    district = np.searchsorted(np.unique(district), district)  # every district has stations, as in real data
    groups = int(district.max()) + 1
    starts = np.searchsorted(district, np.arange(groups))
    matrix = rng.integers(0, 1000, (5, 400)).astype(np.float64)
    mask = rng.random(400) < density
    expected = np.array([[matrix[q, (district == g) & mask].sum() for q in range(5)] for g in range(groups)])
    assert np.array_equal(district_sums(matrix, starts, mask), expected)
    assert np.array_equal(
        district_sums(matrix, starts),
        np.array([[matrix[q, district == g].sum() for q in range(5)] for g in range(groups)]),
    )
