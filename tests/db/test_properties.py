"""Properties checked on random data (hypothesis).

* Merging is idempotent and independent of order: random observers' files
  (stations shared or not, random figures, violations, a second export after an
  edit) exported with the real export function, merged in two random orders and
  then once more, give the same HQ content.
* Aggregation is the plain sum over stations: random official results imported
  through the real CSV import, then db.aggregate at national, region and
  district level, against sums computed here.
* Control relations agree with a straightforward re-implementation written
  here, for the built-in templates' relations and for random relations.

Settings are small for CI (``BAQYLAU_HYPOTHESIS=N`` raises the example counts).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.aggregate import aggregate
from db.merge import merge_packages
from db.official import import_official
from db.package import export_station_package
from db.store import ElectionStore
from observer.checks import Status, run_checks
from observer.expressions import parse_relation
from observer.signing import KeyPair
from observer.template import builtin_template

SCALE = int(os.environ.get("BAQYLAU_HYPOTHESIS", "1"))
TEMPLATE = builtin_template("kz-majilis-2021")
KEYS = TEMPLATE.all_keys
SMALL = settings(
    max_examples=25 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXAMPLES_RUN: dict[str, int] = {}


def _count(name: str) -> None:
    EXAMPLES_RUN[name] = EXAMPLES_RUN.get(name, 0) + 1


# ---- merge: idempotent and order-independent ---------------------------------------------


class Blanks:
    """Migrated empty files made once and copied: creating one per example would dominate the run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.station = root / "blank-station.baqylau"
        self.hq = root / "blank-hq.baqylau"
        if not self.station.exists():
            ElectionStore.create(self.station, TEMPLATE).close()
            ElectionStore.create(self.hq, TEMPLATE, role="hq").close()
        self.n = 0

    def copy(self, blank: Path, folder: Path) -> Path:
        self.n += 1
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"f{self.n}.baqylau"
        shutil.copyfile(blank, target)
        return target


_BLANKS: Blanks | None = None


def blanks(tmp_root: Path) -> Blanks:
    global _BLANKS
    if _BLANKS is None or not _BLANKS.station.exists():
        _BLANKS = Blanks(tmp_root)
    return _BLANKS


figures = st.dictionaries(st.sampled_from(KEYS), st.integers(min_value=0, max_value=5000), max_size=6)
violation = st.tuples(
    st.sampled_from([c.code for c in TEMPLATE.violation_categories]), st.text(max_size=30), st.integers(0, 600)
)
observer_file = st.fixed_dictionaries(
    {
        "station": st.sampled_from(["1", "2", "3"]),  # few codes: stations are shared, versions conflict
        "values": figures,
        "violations": st.lists(violation, max_size=2),
        "headcount": st.integers(0, 3),
        "edit_after_export": st.one_of(st.none(), st.tuples(st.sampled_from(KEYS), st.integers(0, 5000))),
    }
)


def _make_packages(spec: list[dict[str, Any]], b: Blanks, out: Path) -> list[Path]:
    packages: list[Path] = []
    for i, f in enumerate(spec):
        store = ElectionStore.open(b.copy(b.station, out / "files"))
        try:
            store.set_observer(f"Observer {i}", "MISK")
            s = store.upsert_station(f["station"], "KZ-ALA", "Алмалы", "", 1500)
            store.select_station(s.id)
            pid = store.protocol_id(s.id)
            for key, value in f["values"].items():
                store.set_protocol_value(pid, key, value)
            for _ in range(f["headcount"]):
                store.add_headcount(s.id)
            for cat, text, minute in f["violations"]:
                store.save_violation(
                    s.id,
                    category=cat,
                    occurred_at=datetime(2021, 1, 10, 8, tzinfo=UTC).replace(minute=minute % 60),
                    description=text,
                )
            keys = KeyPair.generate()
            packages.append(export_station_package(store, out / "usb", keys))
            if f["edit_after_export"] is not None:
                # The same observer sends a corrected package: same record ids, newer times.
                key, value = f["edit_after_export"]
                store.set_protocol_value(pid, key, value)
                packages.append(export_station_package(store, out / "usb", keys))
        finally:
            store.close()
    return packages


def content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """HQ content without the columns that only say when this HQ merged."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if table in ("packages", "trusted_keys"):
                cols = [
                    c
                    for c in cols
                    if c not in ("created_at", "updated_at", "merged_at", "decided_at")
                    and not (table == "trusted_keys" and c == "id")
                ]
            rows = conn.execute(f'SELECT {", ".join(cols)} FROM "{table}"').fetchall()
            if table == "meta":
                rows = [r for r in rows if r[0] != "created_at"]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def exact(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


@SMALL
@given(spec=st.lists(observer_file, min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_merge_is_idempotent_and_order_independent(
    spec: list[dict[str, Any]], seed: int, tmp_path_factory: Any
) -> None:
    _count("merge")
    b = blanks(_blank_root(tmp_path_factory))
    out = Path(tmp_path_factory.mktemp("merge"))
    packages = _make_packages(spec, b, out)
    order_a = list(packages)
    order_b = list(packages)
    random.Random(seed).shuffle(order_b)
    results: list[Path] = []
    for order in (order_a, order_b):
        hq = ElectionStore.open(b.copy(b.hq, out / f"hq{len(results)}"))
        try:
            report = merge_packages(hq, order, trust_new_keys=True)
            assert report.counts()["refused"] == 0, [e.reason for e in report.entries]
            assert report.counts()["merged"] == len(packages)
        finally:
            hq.close()
        results.append(hq.path)
    assert content(results[0]) == content(results[1])
    # Again, in yet another order: nothing changes, not even a time stamp.
    before = exact(results[0])
    hq = ElectionStore.open(results[0])
    try:
        again = merge_packages(hq, list(reversed(order_b)), trust_new_keys=True)
    finally:
        hq.close()
    assert again.counts()["duplicate"] == len(packages)
    assert exact(results[0]) == before
    # The newest version of each record won, whichever package came first.
    conn = sqlite3.connect(results[0])
    try:
        for f in spec:
            if f["edit_after_export"] is not None:
                key, value = f["edit_after_export"]
                rows = conn.execute(
                    "SELECT v.value FROM protocol_values v JOIN protocols p ON p.id = v.protocol_id "
                    "JOIN observers o ON o.id = p.observer_id WHERE o.name = ? AND v.key = ?",
                    (f"Observer {spec.index(f)}", key),
                ).fetchall()
                assert rows == [(value,)]
    finally:
        conn.close()


def _blank_root(factory: Any) -> Path:
    root = Path(factory.getbasetemp()) / "property-blanks"
    root.mkdir(exist_ok=True)
    return root


# ---- aggregation equals the sum over stations --------------------------------------------

REGIONS = ("KZ-ALA", "KZ-AST", "KZ-AKM")
DISTRICTS = ("D1", "D2")
MAP = "\n".join(
    [
        'encoding = "utf-8"',
        'delimiter = ";"',
        "[station]",
        'code = "code"',
        'region = "region"',
        'district = "district"',
        "[lines]",
    ]
    + [f'{k} = "{k}"' for k in TEMPLATE.line_keys]
    + ["[parties]"]
    + [f'{k} = "{k}"' for k in TEMPLATE.party_keys]
)
station_row = st.fixed_dictionaries(
    {
        "region": st.sampled_from(REGIONS),
        "district": st.sampled_from(DISTRICTS),
        "values": st.fixed_dictionaries(
            {"registered": st.integers(1, 3000)},
            optional={k: st.integers(0, 3000) for k in KEYS if k != "registered"},
        ),
    }
)


def _sum(rows: list[Mapping[str, int]], key: str) -> int | None:
    given_ = [r[key] for r in rows if key in r]
    return sum(given_) if given_ else None


@SMALL
@given(rows=st.lists(station_row, min_size=1, max_size=30))
def test_aggregation_equals_the_sum_over_stations(rows: list[dict[str, Any]], tmp_path_factory: Any) -> None:
    _count("aggregate")
    b = blanks(_blank_root(tmp_path_factory))
    out = Path(tmp_path_factory.mktemp("agg"))
    csv_path = out / "official.csv"
    header = ["code", "region", "district", *KEYS]
    lines = [";".join(header)]
    for i, r in enumerate(rows):
        lines.append(
            ";".join([str(1000 + i), r["region"], r["district"], *(str(r["values"].get(k, "")) for k in KEYS)])
        )
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    map_path = out / "map.toml"
    map_path.write_text(MAP, encoding="utf-8")
    hq = ElectionStore.open(b.copy(b.hq, out / "hq"))
    try:
        import_official(hq, csv_path, map_path)
        units = {
            level: {u.unit: u.official for u in aggregate(hq, level, "official")}
            for level in ("national", "region", "district")
        }
    finally:
        hq.close()

    def groups(level: str) -> dict[str, list[Mapping[str, int]]]:
        out_: dict[str, list[Mapping[str, int]]] = {}
        for r in rows:
            unit = (
                "national"
                if level == "national"
                else r["region"]
                if level == "region"
                else f"{r['region']} / {r['district']}"
            )
            out_.setdefault(unit, []).append(r["values"])
        return out_

    for level in ("national", "region", "district"):
        expected = groups(level)
        assert sorted(units[level]) == sorted(expected), level
        for unit, members in expected.items():
            totals = units[level][unit]
            assert totals is not None
            assert totals.stations == len(members)
            assert totals.registered == sum(m["registered"] for m in members)
            for k in TEMPLATE.line_keys:
                assert totals.lines[k] == _sum(members, k), (level, unit, k)
            for k in TEMPLATE.party_keys:
                assert totals.parties[k] == _sum(members, k), (level, unit, k)
            both = [m for m in members if "issued" in m]
            if both:
                want = 100.0 * sum(m["issued"] for m in both) / sum(m["registered"] for m in both)
                assert totals.turnout_pct is not None and abs(totals.turnout_pct - want) < 1e-9
            else:
                assert totals.turnout_pct is None


# ---- control relations against a plain re-implementation -----------------------------------

_OPS = ("==", "!=", "<=", ">=", "<", ">")


def naive_check(source: str, values: Mapping[str, int | None], parties: tuple[str, ...]) -> bool | None:
    """``a + b - 3 OP c + sum(parties)`` by hand: split on the operator, add up signed terms."""
    op = next(o for o in _OPS if o in source)  # two-character operators are listed first
    left, right = source.split(op)

    def side(text: str) -> int | None:
        total = 0
        for sign, token in re.findall(r"([+-]?)\s*(sum\(parties\)|[a-z_][a-z0-9_]*|\d+)", text.replace(" ", "")):
            if token == "sum(parties)":
                part = [values.get(p) for p in parties]
                if any(v is None for v in part):
                    return None
                value: int | None = sum(v for v in part if v is not None)
            elif token.isdigit():
                value = int(token)
            else:
                value = values.get(token)
            if value is None:
                return None
            total += -value if sign == "-" else value
        return total

    a, c = side(left), side(right)
    if a is None or c is None:
        return None
    return {"==": a == c, "!=": a != c, "<=": a <= c, ">=": a >= c, "<": a < c, ">": a > c}[op]


protocol_values = st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), st.integers(0, 2000)), max_size=len(KEYS))


@SMALL
@given(values=protocol_values)
def test_builtin_checks_agree_with_a_plain_reimplementation(values: dict[str, int | None]) -> None:
    _count("builtin checks")
    for template in (TEMPLATE, builtin_template("kz-majilis-2023")):
        for outcome in run_checks(template, values):
            want = naive_check(outcome.check.source, values, template.party_keys)
            got = None if outcome.status is Status.INCOMPLETE else outcome.status is Status.OK
            assert got == want, (outcome.check.source, values)


term = st.lists(
    st.tuples(
        st.sampled_from(["+", "-"]),
        st.one_of(st.sampled_from(KEYS), st.just("sum(parties)"), st.integers(0, 99).map(str)),
    ),
    min_size=1,
    max_size=4,
).map(lambda parts: "".join(f" {s} {t}" if i else (f"-{t}" if s == "-" else t) for i, (s, t) in enumerate(parts)))


@SMALL
@given(left=term, op=st.sampled_from(_OPS), right=term, values=protocol_values)
def test_random_relations_agree_with_a_plain_reimplementation(
    left: str, op: str, right: str, values: dict[str, int | None]
) -> None:
    _count("random relations")
    source = f"{left} {op} {right}"
    relation = parse_relation(source)
    holds, _, _ = relation.evaluate(values, TEMPLATE.party_keys)
    assert holds == naive_check(source, values, TEMPLATE.party_keys), source


def test_zz_report_examples_run() -> None:
    """Runs last in this file: the number of examples each property saw (for the closing note)."""
    print("\nhypothesis examples run:", EXAMPLES_RUN)
    if EXAMPLES_RUN:
        assert all(n >= 1 for n in EXAMPLES_RUN.values())
