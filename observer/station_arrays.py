"""Figures of many stations as aligned columns, and the template's expressions over them.

:class:`StationArrays` holds one row per station and one column per template
line and party (``-1`` where a figure is missing); ``db.aggregate`` reads them
from the database and everything in :mod:`observer.aggregate`,
:mod:`observer.rollup` and :mod:`observer.turnout_gaps` works on whole columns
at once. Here: the arrays, the template's terms and control relations evaluated
per station, the station's status, and the grouping of stations into units.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from observer.definitions import station_status
from observer.expressions import Relation, Term
from observer.template import ElectionTemplate

MISSING = -1


@dataclass(frozen=True)
class StationArrays:
    """Figures of many stations, aligned by row.

    ``values`` has one column per key of ``keys`` (template lines then parties),
    ``-1`` where missing. The observed-only arrays are None for official figures.
    """

    source: str  # "official" | "observed"
    keys: tuple[str, ...]
    station_ids: np.ndarray  # object (str)
    codes: np.ndarray  # object (str)
    regions: np.ndarray  # object (str), ISO codes
    districts: np.ndarray  # object (str)
    registered: np.ndarray  # int64: voters on the station list (or the official figure when the list lacks it), -1
    values: np.ndarray  # int64 (n, len(keys))
    has_figures: np.ndarray  # bool: the station has figures that count
    headcount: np.ndarray | None = None  # int64: observers' own count of voters, -1
    announced: np.ndarray | None = None  # int64: commission's announced turnout at the last reporting slot, -1
    announced_slot: np.ndarray | None = None  # object: that slot ("20:00"), ""
    disputed: np.ndarray | None = None  # bool: versions differ (unresolved) or marked disputed
    not_counted: np.ndarray | None = None  # bool: has figures that the rules or a dispute leave out
    has_violations: np.ndarray | None = None  # bool
    breaks_check: np.ndarray | None = None  # bool: the counted figures break an error-level control relation
    status: np.ndarray | None = None  # int8: observer.definitions status code (not observed ... excluded)

    def __len__(self) -> int:
        return len(self.codes)

    def column(self, key: str) -> np.ndarray:
        return self.values[:, self.keys.index(key)]

    def subset(self, mask: np.ndarray) -> StationArrays:
        """The same arrays restricted to the rows where ``mask`` is true."""
        changes = {
            name: getattr(self, name)[mask]
            for name in (
                "station_ids",
                "codes",
                "regions",
                "districts",
                "registered",
                "values",
                "has_figures",
                "headcount",
                "announced",
                "announced_slot",
                "disputed",
                "not_counted",
                "has_violations",
                "breaks_check",
                "status",
            )
            if getattr(self, name) is not None
        }
        return replace(self, **changes)


# ---- expressions over columns ---------------------------------------------------


def evaluate_term(term: Term, arrays: StationArrays, party_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The term per station and whether every figure it reads is present there."""
    return _eval(term.node, arrays, tuple(party_keys))


def _eval(node: ast.expr, arrays: StationArrays, party_keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    n = len(arrays)
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int)  # the template grammar admits whole numbers only
        return np.full(n, node.value, dtype=np.int64), np.ones(n, dtype=bool)
    if isinstance(node, ast.Name):
        col = arrays.column(node.id)
        return col, col >= 0
    if isinstance(node, ast.Call):  # sum(parties): the grammar allows no other call
        cols = arrays.values[:, [arrays.keys.index(k) for k in party_keys]]
        return cols.sum(axis=1), np.asarray((cols >= 0).all(axis=1))
    if isinstance(node, ast.UnaryOp):
        v, ok = _eval(node.operand, arrays, party_keys)
        return -v, ok
    if isinstance(node, ast.BinOp):
        lv, lok = _eval(node.left, arrays, party_keys)
        rv, rok = _eval(node.right, arrays, party_keys)
        if isinstance(node.op, ast.Add):
            out = lv + rv
        elif isinstance(node.op, ast.Sub):
            out = lv - rv
        else:
            out = lv * rv
        return out, lok & rok
    raise ValueError(f"unsupported expression node {ast.dump(node)}")  # parse_term already refused it


def relation_failures(relation: Relation, arrays: StationArrays, party_keys: Sequence[str]) -> np.ndarray:
    """True where the station gives every figure of the relation and it does not hold."""
    lv, lok = evaluate_term(relation.left, arrays, party_keys)
    rv, rok = evaluate_term(relation.right, arrays, party_keys)
    ops = {
        "==": np.equal,
        "!=": np.not_equal,
        "<=": np.less_equal,
        ">=": np.greater_equal,
        "<": np.less,
        ">": np.greater,
    }
    return lok & rok & ~ops[relation.op](lv, rv)


def failing_checks(
    template: ElectionTemplate, arrays: StationArrays, severities: Sequence[str] = ("error",)
) -> np.ndarray:
    """Boolean matrix (stations x checks of the given severities): where each check fails."""
    checks = [c for c in template.checks if c.severity in severities]
    out = np.zeros((len(arrays), len(checks)), dtype=bool)
    for j, check in enumerate(checks):
        out[:, j] = relation_failures(check.relation, arrays, template.party_keys)
    return out


# ---- grouping -------------------------------------------------------------------


def factorize(labels: Sequence[str] | np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct labels in sorted order and each row's index into them.

    dict.fromkeys and map run in C; np.unique on an object array would sort
    all 100,000 Python strings by Python comparison, several times slower.
    """
    uniques = sorted(dict.fromkeys(labels))
    lookup = {label: i for i, label in enumerate(uniques)}
    return uniques, np.fromiter(map(lookup.__getitem__, labels), dtype=np.int64, count=len(labels))


def unit_index(arrays: StationArrays, level: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(region, district) of each unit at ``level`` and each station's unit number."""
    n = len(arrays)
    if level == "national":
        return [("", "")], np.zeros(n, dtype=np.int64)
    if level == "region":
        uniques, inv = factorize(arrays.regions)
        return [(r, "") for r in uniques], inv
    if level == "district":
        # District names repeat across regions ("Центральный"), so the unit is the pair. Regions
        # and names are numbered apart (no 100,000 joined strings) and the pairs from the numbers;
        # the pairs are ordered as the joined "region<US>district" texts always were.
        regions, region_no = factorize(arrays.regions)
        names, name_no = factorize(arrays.districts)
        pair_codes, inv = _dense(region_no * max(len(names), 1) + name_no, len(regions) * len(names))
        pairs = [(regions[c // len(names)], names[c % len(names)]) for c in pair_codes.tolist()]
        rank = sorted(range(len(pairs)), key=lambda i: f"{pairs[i][0]}\x1f{pairs[i][1]}")
        new_no = np.empty(len(pairs), dtype=np.int64)
        new_no[rank] = np.arange(len(pairs))
        return [pairs[i] for i in rank], new_no[inv.reshape(-1)]
    raise ValueError(f"unknown level {level!r}")


def _dense(codes: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for codes in [0, bound): by marking, not sorting, when
    the range is small (districts: a few thousand pairs against 100,000 stations)."""
    if bound > 4 * len(codes) + 1024:
        return np.unique(codes, return_inverse=True)
    present = np.zeros(bound, dtype=bool)
    present[codes] = True
    return np.flatnonzero(present), (np.cumsum(present) - 1)[codes]


def statuses(observed: StationArrays) -> np.ndarray:
    """Each station's status (observer.definitions); built from the flags for arrays read without one."""
    if observed.status is not None:
        return observed.status
    n = len(observed)
    zeros = np.zeros(n, dtype=bool)
    disputed = observed.disputed if observed.disputed is not None else zeros
    not_counted = observed.not_counted if observed.not_counted is not None else zeros
    status = station_status(observed.has_figures, observed.has_figures, zeros, disputed, not_counted & ~disputed)
    return status
