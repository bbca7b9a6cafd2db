"""The readers on a PostgreSQL HQ: the same bytes as on the file it was copied from (issue 16).

A demo HQ (observers' packages merged: conflicts, violations, head-counts, photos) is copied into
a PostgreSQL database once per module (``db.hq_copy.copy_hq``, verified by its content digest);
every reading command then runs through ``main.main`` on both and the outputs are compared byte
for byte: ``conflicts``, ``aggregate`` (every source and level, every format but xlsx), ``check``,
``gaps``, ``violations`` and ``forensics``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import main
from db.demo import demo_hq
from db.engine import is_pg_url, pg_database_name, pg_scratch_databases
from db.hq_copy import copy_hq
from db.rules import InclusionRules, save_rules
from db.store import ElectionStore

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_hq(tmp_path_factory.mktemp("demo"), stations=150, seed=3)


@pytest.fixture(scope="module")
def both(demo: Path, pg_server: str) -> Iterator[tuple[str, str]]:
    """(the demo file, a PostgreSQL copy of it): one copy for every test of the module."""
    with pg_scratch_databases(pg_server, "baqylau_test") as new_database:
        url = new_database()
        copy_hq(demo, url)
        yield str(demo), url


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main.main(["--lang", "en", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


COMMANDS = {
    "conflicts": ["conflicts", "{hq}"],
    "aggregate-both-national": ["aggregate", "{hq}", "--format", "json"],
    "aggregate-observed-region": ["aggregate", "{hq}", "--source", "observed", "--level", "region", "--format", "json"],
    "aggregate-both-district": ["aggregate", "{hq}", "--source", "both", "--level", "district", "--format", "json"],
    "aggregate-table": ["aggregate", "{hq}", "--level", "region"],
    "aggregate-csv": ["aggregate", "{hq}", "--level", "district", "--format", "csv"],
    "check-json": ["check", "{hq}", "--format", "json"],
    "check-text": ["check", "{hq}"],
    "gaps": ["gaps", "{hq}", "--format", "json", "--top", "1000"],
    "gaps-table": ["gaps", "{hq}"],
    "violations": ["violations", "{hq}", "--format", "json"],
    "violations-table": ["violations", "{hq}"],
    "forensics-region": ["forensics", "{hq}", "--level", "region", "--format", "json"],
    "forensics-text": ["forensics", "{hq}"],
}


def _output(argv: list[str], hq: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code, out, err = _run([a.format(hq=hq) for a in argv], capsys)
    if argv[0] == "forensics" and "--format" in argv:
        # The one field that names where the data came from: the file's name, or the database's.
        data = json.loads(out)
        assert data["meta"]["file"] == (pg_database_name(hq) if is_pg_url(hq) else Path(hq).name)
        data["meta"]["file"] = "HQ"
        out = json.dumps(data)
    return code, out, err


@pytest.mark.parametrize("argv", list(COMMANDS.values()), ids=list(COMMANDS))
def test_each_reading_command_prints_the_same_bytes_on_both(
    argv: list[str], both: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    on_file, on_server = (_output(argv, hq, capsys) for hq in both)
    assert on_file[0] in (0, 1)  # check: 1 when a relation is broken, as a linter does
    assert on_file == on_server
    assert len(on_file[1]) > 100  # something was printed: conflicts, figures, failures, tests


def test_the_demo_has_what_the_comparison_needs(both: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """Two outputs that are empty in the same way would compare equal and prove nothing."""
    _, listed, _ = _run(["conflicts", both[1]], capsys)
    assert "versions differ" in listed
    _, check, _ = _run(["check", both[1], "--format", "json"], capsys)
    assert json.loads(check)["observed"] > 0
    _, gaps, _ = _run(["gaps", both[1], "--format", "json"], capsys)
    assert any(g["headcount_turnout_pct"] is not None for g in json.loads(gaps))
    _, national, _ = _run(["aggregate", both[1], "--format", "json"], capsys)
    assert json.loads(national)[0]["stations"]["observed"] > 0


@pytest.mark.parametrize(
    "rules",
    [
        InclusionRules(only_trusted_keys=True),
        InclusionRules(True, True, True),  # every condition of db.conflicts._candidates at once
    ],
    ids=["trusted", "all"],
)
def test_the_inclusion_rules_leave_out_the_same_stations_on_both(
    rules: InclusionRules, demo: Path, pg_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pg_scratch_databases(pg_server, "baqylau_test") as new_database:
        url = new_database()
        copy_hq(demo, url)
        file_copy = tmp_path / "hq.baqylau"
        copy_hq(demo, file_copy)
        printed = []
        for hq in (str(file_copy), url):
            store = ElectionStore.open(hq)
            save_rules(store, rules)
            store.close()
            argv = ["aggregate", hq, "--source", "observed", "--level", "region", "--format", "json"]
            printed.append([_run(argv, capsys), _run(["conflicts", hq], capsys)[1].splitlines()[-2:]])
        assert printed[0] == printed[1]
        assert "All received protocols count" not in printed[0][0][1]


def test_readers_are_not_held_up_by_a_writer_nor_see_its_uncommitted_rows(both: tuple[str, str]) -> None:
    """MVCC at READ COMMITTED: the readers take no row locks, so a writer's open transaction (every
    station row locked, figures changed, not committed) neither stops them nor shows in them."""
    from db.aggregate import aggregate_levels
    from db.aggregate_checks import check_failures
    from db.conflicts import station_conflicts
    from reports.fingerprint import data_fingerprint

    store = ElectionStore.open(both[1])

    def read() -> tuple[object, ...]:
        return (
            aggregate_levels(store, ("national", "region"), "both"),
            check_failures(store),
            station_conflicts(store),
            data_fingerprint(store),
        )

    try:
        before = read()
        during: list[tuple[object, ...]] = []
        with psycopg.connect(both[1]) as writer:
            writer.execute("SELECT id FROM stations FOR UPDATE")
            writer.execute("UPDATE protocol_values SET value = value + 1 WHERE value IS NOT NULL")
            writer.execute("UPDATE official_results SET values_blob = NULL")
            reader = threading.Thread(target=lambda: during.append(read()))
            reader.start()
            reader.join(timeout=120)
            assert not reader.is_alive(), "a reader waited for the writer's locks"
            writer.rollback()
        assert during == [before]
    finally:
        store.close()
