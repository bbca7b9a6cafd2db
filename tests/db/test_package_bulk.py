"""The column-at-a-time value checks of a package's database never accept what the per-cell checks refuse."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from db import models as m
from db.package import _CHOICES, MAX_BLOB, MAX_FIGURE, MAX_TEXT, RECORD_TABLES, _bulk_validators, _column_validators
from observer.records import MAX_AUDIT_VALUE

UUID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
UTC = "2021-01-10T09:00:00.000000Z"
# Valid values, and the near misses a hand-made package could carry.
POOL: list[Any] = [
    None,
    UUID,
    UUID.upper(),
    UUID + "\n",
    UUID[:-1] + "\n",
    f"{UUID}\n{UUID}",
    UUID[:35],
    UUID + "0",
    UTC,
    UTC + "\n",
    UTC[:-1] + "\n",
    f"{UTC}\n{UTC}",
    UTC.replace("2", "\u0662"),
    UTC.replace("T", " "),
    UTC[:26],
    "",
    "x",
    "x" * 37,
    "x" * MAX_TEXT,
    "x" * (MAX_TEXT + 1),
    "x" * MAX_AUDIT_VALUE,
    "x" * (MAX_AUDIT_VALUE + 1),
    "\n",
    0,
    1,
    -1,
    2,
    -2,
    MAX_FIGURE,
    MAX_FIGURE + 1,
    True,
    1.0,
    10**30,
    b"",
    b"\xff\xd8",
    b"x" * (MAX_BLOB + 1),
    *sorted(v for choices in _CHOICES.values() for v in choices if v is not None),
]


def _columns() -> list[tuple[str, str]]:
    return [(t, c.name) for t in RECORD_TABLES for c in m.Base.metadata.tables[t].columns]


@pytest.mark.parametrize("table,column", _columns())
def test_bulk_check_implies_every_cell_check(table: str, column: str) -> None:
    exact = _column_validators(table)[column]
    bulk = _bulk_validators(table)[column]
    accepted = 0
    for n in (1, 2):
        for values in itertools.product(POOL, repeat=n):
            if bulk(list(values)):
                accepted += 1
                assert all(exact(v) for v in values), (table, column, values)
    # the fast path is taken for good data (else it would be pointless, not wrong)
    assert accepted > 0, (table, column)


def test_bulk_check_takes_valid_columns() -> None:
    bulk = _bulk_validators("headcount_events")
    assert bulk["id"]([UUID] * 300)
    assert bulk["at"]([UTC] * 300)
    assert bulk["delta"]([1, -1, 1])
    assert not bulk["delta"]([1, 0])
    # a value holding two ids (or ending in a newline) never passes as two rows
    assert not bulk["id"]([f"{UUID}\n{UUID}", UUID])
    assert not bulk["id"]([UUID[:35] + "\n", UUID])


@pytest.mark.parametrize(
    "value",
    [UUID + "\n", UTC + "\n", UTC.replace("2", "\u0662"), UTC.replace("2", "\uff12"), UTC.replace("0", "\u0660")],
)
def test_cell_checks_refuse_trailing_newlines_and_other_digits(value: str) -> None:
    """A timestamp in other scripts' digits would sort after every real one and win "newest" for ever."""
    table = m.Base.metadata.tables["headcount_events"]
    checks = _column_validators("headcount_events")
    column = "id" if value.startswith(UUID[:8]) else "updated_at"
    assert column in table.columns
    assert not checks[column](value)
    assert not _bulk_validators("headcount_events")[column]([value])


def test_an_audit_value_has_room_for_a_whole_record_and_no_more() -> None:
    """A new violation's audit row holds all its texts as JSON: longer than one text may be, bounded still."""
    for check in (_column_validators("audit_log")["new"], lambda v: _bulk_validators("audit_log")["new"]([v])):
        assert check("x" * (3 * MAX_TEXT + 100))
        assert not check("x" * (MAX_AUDIT_VALUE + 1))
    assert not _column_validators("violations")["description"]("x" * (MAX_TEXT + 1))
