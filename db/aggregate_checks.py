"""Stations that break control relations, and violations counted by region (``check``, ``violations``).

Read with the aggregate's own station reader (db.aggregate), so the stations, their order and
their figures are the ones every other output uses, on both backends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from db.aggregate import _Base, _dbapi_rows, _official_arrays, _read_base
from db.official import gc_paused
from db.store import ElectionStore
from observer.aggregate import failing_checks
from observer.checks import run_checks
from observer.template import ElectionTemplate


@dataclass(frozen=True)
class ViolationCount:
    region: str
    category: str
    count: int


def violations_by_category_region(hq: ElectionStore) -> list[ViolationCount]:
    """Violation records counted by region and category (every record, whoever reported it)."""
    rows = _dbapi_rows(
        hq,
        "SELECT s.region, v.category, count(*) FROM violations v JOIN stations s ON s.id = v.station_id "
        "GROUP BY s.region, v.category ORDER BY s.region, v.category",
    )
    return [ViolationCount(r, c, int(n)) for r, c, n in rows]


@dataclass(frozen=True)
class CheckFailure:
    """A station whose figures break control relations, with the rules in words."""

    source: str  # official | observed
    station_id: str
    code: str
    region: str
    district: str
    observer: str  # who gave the observed version ("" for official)
    severity: str  # error | warning (the worst of the failures)
    messages: tuple[str, ...]


def check_failures(hq: ElectionStore, lang: str | None = None) -> list[CheckFailure]:
    """Every official result and every observed protocol version that breaks a control relation."""
    template = hq.template
    out: list[CheckFailure] = []
    with gc_paused():
        base = _read_base(hq, template)
        official = _official_arrays(base, template.all_keys)
        failing = failing_checks(template, official, ("error", "warning")).any(axis=1) & official.has_figures
        for i in np.flatnonzero(failing).tolist():
            values = {key: (int(v) if v >= 0 else None) for key, v in zip(template.all_keys, official.values[i])}
            failure = _failure(template, "official", base, i, "", values, lang)
            if failure is not None:
                out.append(failure)

        by_protocol: dict[str, dict[str, int | None]] = defaultdict(dict)
        for pid, key, value in _dbapi_rows(hq, "SELECT protocol_id, key, value FROM protocol_values"):
            by_protocol[pid][key] = value
        protocols = _dbapi_rows(
            hq,
            "SELECT p.id, p.station_id, coalesce(o.name, '') FROM protocols p LEFT JOIN observers o ON o.id = p.observer_id",
        )
        # By station code, then protocol id: one order on both backends (not the order rows were stored in).
        located = sorted(
            ((base.row[sid], pid, name) for pid, sid, name in protocols if sid in base.row and pid in by_protocol),
            key=lambda x: (base.codes[x[0]], x[1]),
        )
        for row, pid, name in located:
            failure = _failure(template, "observed", base, row, name, by_protocol[pid], lang)
            if failure is not None:
                out.append(failure)
    return out


def _failure(
    template: ElectionTemplate,
    source: str,
    base: _Base,
    i: int,
    observer: str,
    values: dict[str, int | None],
    lang: str | None,
) -> CheckFailure | None:
    failed = [o for o in run_checks(template, values) if o.failed]
    if not failed:
        return None
    severity = "error" if any(o.check.severity == "error" for o in failed) else "warning"
    return CheckFailure(
        source,
        str(base.ids[i]),
        str(base.codes[i]),
        str(base.regions[i]),
        str(base.districts[i]),
        observer,
        severity,
        tuple(o.describe(template, lang) for o in failed),
    )
