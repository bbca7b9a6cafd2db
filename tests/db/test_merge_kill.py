"""Kill ``baqylau merge`` with SIGKILL at random moments: the HQ file is always whole packages.

Each round merges the same set of real packages into a fresh HQ file in a child
process and kills it after a random delay spread over the run's measured
duration. Afterwards the HQ file must pass ``PRAGMA integrity_check``, every
package must be all-or-nothing (all of its records with their package id, and
the package logged as merged, or nothing of it), every evidence record must have
its file, and merging again must complete to exactly the content of an
uninterrupted merge.

5 rounds in CI; ``BAQYLAU_KILLS=200 pytest -s tests/db/test_merge_kill.py`` for the
long version (the summary line gives kills, packages and records checked).

The same on a PostgreSQL HQ (a new database each round), where the killed run also
says what it had finished (``--print-committed``, one JSON line per package once its
commit is done): every package it acknowledged as merged is in the database.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from db.engine import pg_scratch_databases
from db.merge import merge_packages, package_row_id
from db.package import export_station_package, read_package
from db.store import ElectionStore
from observer.signing import KeyPair
from observer.template import builtin_template

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("BAQYLAU_KILLS", "5"))
PACKAGES = 12
DATA_TABLES = (
    "turnout_reports",
    "headcount_events",
    "protocols",
    "protocol_values",
    "spoiled_counts",
    "violations",
    "evidence",
    "checklist_answers",
)
CHILD = "import sys, main; sys.exit(main.main(sys.argv[1:]))"
# The merge committing after every package (``_BATCH_SECONDS = 0``): a dozen packages fit in one
# ordinary batch, so the kills above land before its only commit or after it; with a commit per
# package they also land between and inside the steps of a commit (evidence flushed and renamed
# into place, then the records), over and over.
EVERY_PACKAGE_CHILD = (
    "import sys, main, db.merge_batch; db.merge_batch.BATCH_SECONDS = 0.0; sys.exit(main.main(sys.argv[1:]))"
)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def _station(root: Path, template: Any, i: int) -> Path:
    s = ElectionStore.create(root / f"obs{i}.baqylau", template)
    try:
        s.set_observer(f"Наблюдатель {i}", "MISK")
        st = s.upsert_station(str(100 + i), "KZ-ALA", "Алмалы", "", 1500)
        s.select_station(st.id)
        pid = s.protocol_id(st.id)
        for k, key in enumerate(template.all_keys[:12]):
            s.set_protocol_value(pid, key, 100 + i + k)
        for _ in range(20):
            s.add_headcount(st.id)
        for reason in template.spoiled_reasons[:3]:
            s.set_spoiled(st.id, reason.code, i)
        from datetime import datetime

        for v in range(3):
            s.save_violation(
                st.id,
                category=template.violation_categories[v].code,
                occurred_at=datetime(2021, 1, 10, 9, v, tzinfo=UTC),
                description=f"случай {i}.{v}",
            )
        for p in range(2):
            img = root / f"p{i}-{p}.jpg"
            Image.new("RGB", (800, 600), (i * 20 % 255, p * 90, 40)).save(img, "JPEG", quality=95)
            s.add_evidence(st.id, img, protocol_id=pid)
        return export_station_package(s, root / "usb", KeyPair.generate())
    finally:
        s.close()


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    """The package folder, and per package id the record count of every data table (from its manifest)."""
    root = tmp_path_factory.mktemp("kill")
    template = builtin_template("kz-majilis-2021")
    expected: dict[str, dict[str, int]] = {}
    for i in range(PACKAGES):
        pkg = _station(root, template, i)
        with read_package(pkg) as verified:
            expected[package_row_id(verified.sha256)] = {t: verified.manifest.counts.get(t, 0) for t in DATA_TABLES}
    return root / "usb", expected


def _content(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What the HQ holds, without the columns that record *when* this HQ merged."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if table in ("packages", "trusted_keys"):
                cols = [
                    c
                    for c in cols
                    if c
                    not in (
                        "created_at",
                        "updated_at",
                        "merged_at",
                        "decided_at",
                        "id" if table == "trusted_keys" else "",
                    )
                ]
            rows = conn.execute(f'SELECT {", ".join(cols)} FROM "{table}"').fetchall()
            if table == "meta":
                rows = [r for r in rows if r[0] != "created_at"]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def _check_whole_packages(hq: Path, expected: dict[str, dict[str, int]]) -> tuple[int, int]:
    """(packages present, records checked); fails on any partial package or missing file."""
    conn = sqlite3.connect(hq)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        merged = {r[0] for r in conn.execute("SELECT id FROM packages WHERE outcome = 'merged'")}
        records = 0
        present = 0
        for pid, counts in expected.items():
            found = {
                t: conn.execute(f"SELECT count(*) FROM {t} WHERE package_id = ?", (pid,)).fetchone()[0]
                for t in DATA_TABLES
            }
            records += sum(found.values())
            if pid in merged:
                assert found == counts, f"package {pid} merged but incomplete: {found} != {counts}"
                present += 1
            else:
                assert not any(found.values()), f"records of unmerged package {pid}: {found}"
        evidence_dir = hq.with_name(hq.name + ".evidence")
        for (stored,) in conn.execute("SELECT stored_name FROM evidence"):
            assert (evidence_dir / stored).is_file(), stored
        return present, records
    finally:
        conn.close()


def _run(hq: Path, folder: Path, code: str) -> subprocess.Popen[bytes]:
    """Start the merge (``code`` runs it) and return once it has begun merging (its first progress line on stderr).

    Starting Python and opening the HQ take longer than merging a dozen packages,
    so delays are measured from this moment, not from the start of the process.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen(
        [sys.executable, "-c", code, "merge", str(hq), str(folder), "--trust-new-keys"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    while (byte := child.stderr.read(1)) and byte != b"\r":
        pass
    return child


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "seed"), [(CHILD, "1"), (EVERY_PACKAGE_CHILD, "2")], ids=["batched", "commit-per-package"]
)
def test_merge_killed_at_random_moments_leaves_whole_packages(
    packages: tuple[Path, dict[str, dict[str, int]]], tmp_path: Path, code: str, seed: str
) -> None:
    folder, expected = packages
    template = builtin_template("kz-majilis-2021")

    # The reference: one uninterrupted merge, timed, so kills can be spread over a whole run.
    reference = tmp_path / "reference" / "hq.baqylau"
    ElectionStore.create(reference, template, role="hq").close()
    child = _run(reference, folder, code)
    started = time.monotonic()
    assert child.wait(timeout=300) == 0
    duration = time.monotonic() - started
    assert child.stderr is not None
    child.stderr.close()
    assert _check_whole_packages(reference, expected)[0] == PACKAGES
    want = _content(reference)

    rnd = random.Random(int(os.environ.get("BAQYLAU_KILL_SEED", seed)))
    states = {"none": 0, "some": 0, "all": 0}  # packages in at the moment of the kill
    records_checked = 0
    for round_no in range(KILLS):
        hq = tmp_path / f"round{round_no}" / "hq.baqylau"
        ElectionStore.create(hq, template, role="hq").close()
        child = _run(hq, folder, code)
        # The kill moment: wait on the child that long (a merge that ends first is killed after its end).
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=rnd.uniform(0.0, duration))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        assert child.stderr is not None
        child.stderr.close()
        present, records = _check_whole_packages(hq, expected)
        records_checked += records
        states["none" if present == 0 else "all" if present == PACKAGES else "some"] += 1
        # Merging again completes the job: the same content as the uninterrupted merge.
        store = ElectionStore.open(hq)
        try:
            report = merge_packages(store, [folder], trust_new_keys=True)
        finally:
            store.close()
        assert report.counts()["refused"] == 0
        assert report.counts()["merged"] == PACKAGES - present
        assert _check_whole_packages(hq, expected)[0] == PACKAGES
        assert _content(hq) == want
    print(
        f"\nmerge kills: {KILLS} (before the first commit: {states['none']}, between packages: {states['some']}, "
        f"after the last: {states['all']}); packages checked: {KILLS * PACKAGES}; "
        f"records checked after the kills: {records_checked}; partial packages: 0"
    )


# ---- the same on a PostgreSQL HQ ----------------------------------------------------------------


def _pg_content(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What the HQ holds (as ``_content``), read through SQLAlchemy: columns by name, rows sorted."""
    from sqlalchemy import MetaData, select

    store = ElectionStore.open(url)
    try:
        with store.engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            out = {}
            for name in sorted(set(meta.tables) - {"alembic_version"}):
                table = meta.tables[name]
                cols = sorted(c.name for c in table.columns)
                if name in ("packages", "trusted_keys"):
                    drop = {
                        "created_at",
                        "updated_at",
                        "merged_at",
                        "decided_at",
                        "id" if name == "trusted_keys" else "",
                    }
                    cols = [c for c in cols if c not in drop]
                rows = [tuple(r) for r in conn.execute(select(*(table.c[c] for c in cols)))]
                if name == "meta":
                    rows = [r for r in rows if r[cols.index("key")] != "created_at"]
                out[name] = sorted(rows, key=repr)
            return out
    finally:
        store.close()


def _pg_whole_packages(url: str, expected: dict[str, dict[str, int]]) -> tuple[set[str], int]:
    """(ids of the packages merged, records checked); fails on any partial package."""
    from sqlalchemy import text

    store = ElectionStore.open(url)
    try:
        with store.engine.connect() as conn:
            merged = set(conn.execute(text("SELECT id FROM packages WHERE outcome = 'merged'")).scalars())
            records = 0
            for pid, counts in expected.items():
                found = {
                    t: conn.execute(text(f"SELECT count(*) FROM {t} WHERE package_id = :p"), {"p": pid}).scalar()
                    for t in DATA_TABLES
                }
                records += sum(v or 0 for v in found.values())
                if pid in merged:
                    assert found == counts, f"package {pid} merged but incomplete: {found} != {counts}"
                else:
                    assert not any(found.values()), f"records of unmerged package {pid}: {found}"
            # the head-count totals are those of the clicks there (kept by the trigger, package by package)
            totals = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT station_id, coalesce(observer_id, '') AS o, count(*) AS n, "
                    "sum(delta) AS s FROM headcount_events GROUP BY 1, 2) e FULL JOIN headcount_totals t "
                    "ON t.station_id = e.station_id AND t.observer_id = e.o "
                    "WHERE t.events IS DISTINCT FROM e.n OR t.total IS DISTINCT FROM e.s"
                )
            ).scalar()
            assert totals == 0
        return merged, records
    finally:
        store.close()


def _start_pg(url: str, folder: Path, code: str) -> tuple[subprocess.Popen[bytes], list[dict[str, Any]]]:
    """The merge in a child with ``--print-committed``; its acknowledged outcomes are collected as they come."""
    import json
    import threading

    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen(
        [sys.executable, "-c", code, "merge", url, str(folder), "--trust-new-keys", "--print-committed", "-q"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    acked: list[dict[str, Any]] = []

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith(b"{") and line.endswith(b"\n"):  # a whole line only: a cut one was not said
                acked.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    child.reader = reader  # type: ignore[attr-defined]
    return child, acked


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("code", "seed"), [(CHILD, "1"), (EVERY_PACKAGE_CHILD, "2")], ids=["batched", "commit-per-package"]
)
def test_merge_into_postgresql_killed_at_random_moments_loses_nothing_acknowledged(
    packages: tuple[Path, dict[str, dict[str, int]]], pg_server: str, code: str, seed: str
) -> None:
    folder, expected = packages
    template = builtin_template("kz-majilis-2021")
    with pg_scratch_databases(pg_server, "baqylau_kill") as new_database:
        reference = new_database()
        ElectionStore.create(reference, template, role="hq").close()
        started = time.monotonic()
        child, acked = _start_pg(reference, folder, code)
        assert child.wait(timeout=300) == 0
        duration = time.monotonic() - started
        child.reader.join(10)  # type: ignore[attr-defined]
        assert sorted(a["outcome"] for a in acked) == ["merged"] * PACKAGES  # everything said, once
        assert len(_pg_whole_packages(reference, expected)[0]) == PACKAGES
        want = _pg_content(reference)

        rnd = random.Random(int(os.environ.get("BAQYLAU_KILL_SEED", seed)))
        states = {"none": 0, "some": 0, "all": 0}
        acknowledged = 0
        for _ in range(KILLS):
            url = new_database()
            ElectionStore.create(url, template, role="hq").close()
            child, acked = _start_pg(url, folder, code)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=rnd.uniform(0.0, duration))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            child.reader.join(10)  # type: ignore[attr-defined]
            merged, _ = _pg_whole_packages(url, expected)
            said = {package_row_id(a["sha256"]) for a in acked if a["outcome"] == "merged"}
            assert said <= merged, "a package the killed run acknowledged is not in the database"
            acknowledged += len(said)
            states["none" if not merged else "all" if len(merged) == PACKAGES else "some"] += 1
            store = ElectionStore.open(url)
            try:
                report = merge_packages(store, [folder], trust_new_keys=True)
            finally:
                store.close()
            assert report.counts()["refused"] == 0
            assert report.counts()["merged"] == PACKAGES - len(merged)
            assert len(_pg_whole_packages(url, expected)[0]) == PACKAGES
            assert _pg_content(url) == want
    print(
        f"\nmerge kills on PostgreSQL: {KILLS} (none merged: {states['none']}, some: {states['some']}, "
        f"all: {states['all']}); acknowledged merges checked: {acknowledged}; partial packages: 0"
    )
