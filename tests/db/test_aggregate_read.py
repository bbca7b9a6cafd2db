"""How db.aggregate reads the HQ file: every path gives the same figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert, text

from db import models as m
from db.aggregate import (
    _columns_by_row,
    _columns_in_one_row,
    _read_base,
    aggregate_levels,
    station_table,
    station_tables,
)
from db.official import MISSING
from db.store import ElectionStore
from observer.aggregate import aggregate_levels_arrays
from tests.db.test_aggregate import small_hq

LEVELS = ("national", "region", "district")
T = datetime(2021, 1, 10, 16, tzinfo=UTC)


@pytest.fixture
def hq(tmp_path: Path, template_2021: Any) -> Iterator[ElectionStore]:
    """The small HQ of test_aggregate, as a file only: these tests read it through SQLite's own paths."""
    s = small_hq(str(tmp_path / "hq.baqylau"), tmp_path, template_2021)
    yield s
    s.close()


@pytest.fixture
def hq_any(store_url: str, tmp_path: Path, template_2021: Any) -> Iterator[ElectionStore]:
    """The same HQ as a file and in PostgreSQL: for what both backends read with their own SQL."""
    s = small_hq(store_url, tmp_path, template_2021)
    yield s
    s.close()


def _params(hq: ElectionStore) -> tuple[int, bytes]:
    n = len(hq.template.all_keys)
    return 8 * n, np.full(n, MISSING, dtype="<i8").tobytes()


def _from_station_tables(hq: ElectionStore) -> dict[str, list]:  # type: ignore[type-arg]
    official, observed = station_tables(hq)  # the row-by-row read, in code order
    return aggregate_levels_arrays(hq.template, LEVELS, "both", official=official, observed=observed)


@pytest.mark.parametrize("codes", [False, True])
def test_one_row_read_equals_the_row_read(hq: ElectionStore, codes: bool) -> None:
    # Codes whose storage order is not their order: the one-row read must sort like ORDER BY code.
    with hq.engine.begin() as conn:
        for old, new in (("A", "Ә10"), ("B", "10"), ("C", "9"), ("D", "Z")):
            conn.exec_driver_sql("UPDATE stations SET code = ? WHERE code = ?", (new, old))
    one = _columns_in_one_row(hq, _params(hq), codes)
    rows = _columns_by_row(hq, _params(hq), codes)
    assert one is not None
    assert list(one.ids) == list(rows.ids) and list(one.regions) == list(rows.regions)
    assert list(one.districts) == list(rows.districts)
    assert list(one.codes) == (["10", "9", "Z", "Ә10"] if codes else [""] * 4) == list(rows.codes)
    assert np.array_equal(one.registered, rows.registered) and np.array_equal(one.states, rows.states)
    assert one.packed == rows.packed
    assert aggregate_levels(hq, LEVELS, "both") == _from_station_tables(hq)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE stations SET district = 'D' || char(31) || '1' WHERE code = 'C'",  # the separator in a name
        "UPDATE stations SET registered = 500.5 WHERE code = 'C'",  # a voter number stored as a real
    ],
)
def test_unusual_values_take_the_row_path_with_the_same_figures(hq: ElectionStore, sql: str) -> None:
    with hq.engine.begin() as conn:
        conn.exec_driver_sql(sql)
    assert _columns_in_one_row(hq, _params(hq), False) is None and _columns_in_one_row(hq, _params(hq), True) is None
    base = _read_base(hq, hq.template, codes=False)
    assert len(base.ids) == 4 and int(base.registered[list(base.ids).index(hq.station_by_code("C").id)]) == 500  # type: ignore[union-attr]
    assert aggregate_levels(hq, LEVELS, "both") == _from_station_tables(hq)


def test_official_rows_without_packed_figures_are_read_from_json(hq_any: ElectionStore) -> None:
    hq = hq_any
    before = aggregate_levels(hq, LEVELS, "both")
    import json

    from db.official import official_values

    with hq.engine.begin() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT station_id FROM official_results")]
        rows = [(json.dumps(official_values(hq, sid)), sid) for sid in ids]  # the JSON another tool would write
        conn.execute(
            text("UPDATE official_results SET values_json = :j, values_blob = NULL WHERE station_id = :s"),
            [{"j": j, "s": sid} for j, sid in rows],
        )
    assert aggregate_levels(hq, LEVELS, "both") == before


def test_announced_figure_is_the_largest_at_the_last_slot_any_observer_noted(hq_any: ElectionStore) -> None:
    hq = hq_any  # SQLite takes the figure from max()'s row, PostgreSQL by DISTINCT ON: the same figures
    c, d = hq.station_by_code("C"), hq.station_by_code("D")
    assert c is not None and d is not None
    rows = []
    for station, observer, slot, announced, observed in [
        (c.id, "x", "18:00", 300, 200),
        (c.id, "x", "20:00", 350, 250),  # x's last slot: 20:00
        (c.id, "y", "20:00", 360, 240),  # y at the same slot says more: the largest counts
        (c.id, "z", "18:00", 999, 999),  # z stopped earlier: a larger figure at an earlier slot does not
        (d.id, "x", "10:00", 20, None),
        (d.id, "y", "12:00", None, 30),  # a slot without an announced figure
    ]:
        oid = m.new_id()
        rows.append((station, oid, observer, slot, announced, observed))
    with hq.engine.begin() as conn:
        observers = {}
        for station, oid, name, slot, announced, observed in rows:
            if name not in observers:
                observers[name] = oid
                conn.execute(insert(m.Observer).values(id=oid, name=name, organisation="", created_at=T, updated_at=T))
            conn.execute(
                insert(m.TurnoutReport).values(
                    id=m.new_id(),
                    station_id=station,
                    observer_id=observers[name],
                    slot=slot,
                    announced=announced,
                    observed=observed,
                    created_at=T,
                    updated_at=T,
                )
            )
    table = station_table(hq, "observed")
    assert table.announced is not None and table.announced_slot is not None and table.headcount is not None
    got = {
        code: (int(a), s, int(h))
        for code, a, s, h in zip(table.codes, table.announced, table.announced_slot, table.headcount)
    }
    assert got["C"] == (360, "20:00", 999)  # head-count: the largest count noted by anyone
    assert got["D"] == (20, "10:00", 30)
    assert got["A"] == (550, "20:00", 390)


@pytest.mark.parametrize(
    ("sql", "adal"),
    [
        ("", 20),  # the concatenated read
        (
            "UPDATE protocol_values SET value = 20.5 WHERE key = 'adal'",
            20,
        ),  # a real figure: the row read, truncated as before
        ("UPDATE protocol_values SET key = 'x' || char(31) || 'y' WHERE key = 'issued'", 20),  # the separator in a key
    ],
)
def test_protocol_values_read_both_ways(hq: ElectionStore, sql: str, adal: int) -> None:
    if sql:
        with hq.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    table = station_table(hq, "observed")
    a = list(table.codes).index("A")
    figures = dict(zip(table.keys, table.values[a].tolist()))
    assert figures["adal"] == adal and figures["valid"] == 360
    assert figures["issued"] == (MISSING if "char(31)" in sql else 400)
