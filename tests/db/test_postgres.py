"""The HQ store on PostgreSQL: a real server (tests/conftest.py), the same schema and checks as on SQLite.

Each test gets its own empty database (``pg_url``); ``store_url`` runs a test once on a SQLite
file and once on PostgreSQL, for the results that must be the same on both.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select, text

from db.engine import _migrate, make_engine, pg_display
from db.fileformat import FORMAT, ROLE_HQ, ROLE_STATION
from db.revisions import head_revision
from db.services.hq import open_hq
from db.store import ElectionStore
from observer.errors import StorageError

pytestmark = pytest.mark.postgres


def _hq(where: str, template) -> ElectionStore:
    return ElectionStore.create(where, template, role=ROLE_HQ)


def test_migrations_give_the_models_schema(pg_url: str) -> None:
    """Every revision runs on PostgreSQL and the result is what db.models describes, nothing missing."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.models import SERVER_ONLY, Base

    engine = make_engine(pg_url)
    with engine.begin() as conn:
        _migrate(conn)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        triggers = conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'headcount_events'::regclass AND NOT tgisinternal "
            "ORDER BY tgname"
        ).scalars()
        assert list(triggers) == [
            "trg_headcount_totals_delete",
            "trg_headcount_totals_insert",
            "trg_headcount_totals_update",
        ]
    # Tables and columns: none missing or extra. (Types may be spelled differently by the two dialects.)
    # The server-only tables (evidence bytes, revision 0011) are described by their own metadata.
    server_only = set(SERVER_ONLY.tables)
    found = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")]
    assert [d for d in found if not (d[0] == "remove_table" and d[1].name in server_only)] == []
    assert sorted(d[1].name for d in found) == sorted(server_only)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SERVER_ONLY)
    engine.dispose()
    assert [
        d for d in diff if d[0] == "add_table" or (d[0] in ("add_column", "remove_column") and d[2] in server_only)
    ] == []


def test_an_older_hq_is_upgraded_on_open(pg_url: str, template_2021) -> None:
    """An HQ left at revision 0004 (before head-count totals) opens at head, its totals filled in."""
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        _migrate(conn, "0004")
        conn.execute(
            text(
                "INSERT INTO meta (key, value) VALUES ('format', :f), ('role', 'hq'), ('template_id', :i), ('template_toml', :t)"
            ),
            {"f": FORMAT, "i": template_2021.id, "t": template_2021.source_text},
        )
        conn.exec_driver_sql(
            "INSERT INTO stations (id, code, region, district, address, created_at, updated_at) "
            "VALUES ('s1', '101', 'KZ-ALA', '', '', '', '')"
        )
        conn.exec_driver_sql(
            "INSERT INTO headcount_events (id, station_id, at, delta, observer_id, created_at, updated_at) VALUES "
            "('h1', 's1', '', 1, NULL, '', ''), ('h2', 's1', '', 1, NULL, '', ''), ('h3', 's1', '', -1, NULL, '', '')"
        )
    engine.dispose()
    store = ElectionStore.open(pg_url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
            rows = conn.exec_driver_sql("SELECT station_id, observer_id, events, total FROM headcount_totals").all()
        assert [tuple(r) for r in rows] == [("s1", "", 3, 1)]
        assert store.headcount("s1") == 1
    finally:
        store.close()


def test_headcount_totals_are_kept_the_same_on_both(store_url: str, template_2021) -> None:
    """The triggers (SQLite's statements, PostgreSQL's function) keep the same totals through clicks and undos."""
    store = _hq(store_url, template_2021)
    try:
        store.set_observer("Айгүл Қасымова", "MISK")
        a = store.upsert_station("101", "KZ-ALA", "Алмалы", "", 1500)
        b = store.upsert_station("102", "KZ-ALA", "Алмалы", "", 900)
        for _ in range(5):
            store.add_headcount(a.id)
        store.add_headcount(a.id, -1)
        store.add_headcount(b.id)
        store.add_headcount(b.id, -1)
        assert (store.headcount(a.id), store.headcount(b.id)) == (4, 0)
        with store.engine.connect() as conn:
            totals = conn.exec_driver_sql(
                "SELECT s.code, t.events, t.total FROM headcount_totals t JOIN stations s ON s.id = t.station_id "
                "ORDER BY s.code"
            ).all()
            summed = conn.exec_driver_sql(
                "SELECT s.code, count(*), sum(e.delta) FROM headcount_events e JOIN stations s ON s.id = e.station_id "
                "GROUP BY s.code ORDER BY s.code"
            ).all()
        assert [tuple(r) for r in totals] == [tuple(r) for r in summed] == [("101", 6, 4), ("102", 2, 0)]
    finally:
        store.close()


def test_a_station_file_is_never_a_database(pg_url: str, template_2021) -> None:
    with pytest.raises(StorageError) as info:
        ElectionStore.create(pg_url, template_2021, role=ROLE_STATION)
    assert info.value.key == "error.storage.pg_station_file"
    assert "PostgreSQL" in info.value.message("kk") and ".baqylau" in info.value.message("en")
    with psycopg.connect(pg_url) as conn:  # nothing was created
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_an_empty_database_is_created_on_first_use_only_with_a_template(pg_url: str, template_2021) -> None:
    with pytest.raises(StorageError) as info:
        open_hq(pg_url)
    assert info.value.key == "error.storage.pg_empty"
    hq = open_hq(pg_url, template=template_2021.id)
    assert hq.role == ROLE_HQ and hq.url == pg_url and hq.template.id == template_2021.id
    assert hq.path.name == pg_url.split("/")[3].split("?")[0]  # messages name the database
    hq.close()
    again = open_hq(pg_url, template=template_2021.id)  # now it is there: opened, not created again
    assert again.meta("created_at") == hq.meta("created_at")
    with pytest.raises(StorageError) as exists:
        ElectionStore.create(pg_url, template_2021, role=ROLE_HQ)
    assert exists.value.key == "error.storage.exists"
    again.close()


def test_a_database_holding_other_tables_is_not_taken_over(pg_url: str, template_2021) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE users (id integer)")
    for attempt in (lambda: open_hq(pg_url), lambda: open_hq(pg_url, template=template_2021.id)):
        with pytest.raises(StorageError) as info:
            attempt()
        assert info.value.key == "error.storage.not_election"
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall() == [("users",)]


def test_two_coordinators_creating_the_hq_at_once_get_one(pg_url: str, template_2021) -> None:
    """Creation is serialised by an advisory lock: the second opener waits, then opens the first's HQ."""
    import threading

    start = threading.Barrier(4)
    stores: list[ElectionStore] = []
    errors: list[BaseException] = []

    def coordinator() -> None:
        start.wait()
        try:
            stores.append(open_hq(pg_url, template=template_2021.id))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=coordinator) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    assert len({s.meta("created_at") for s in stores}) == 1
    for s in stores:
        s.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'format'").fetchone() == (1,)


def test_a_database_sorting_text_another_way_is_refused(pg_server: str, template_2021) -> None:
    """The store needs code-point order (as SQLite's): a database with a linguistic collation is refused."""
    import uuid

    from db.engine import pg_with_database

    name = f"baqylau_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        try:
            conn.execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
                ).format(sql.Identifier(name))
            )
        except psycopg.Error as exc:
            pytest.skip(f"this server cannot make an ICU database: {exc}")
    url = pg_with_database(pg_server, name)
    try:
        with pytest.raises(StorageError) as info:
            ElectionStore.create(url, template_2021, role=ROLE_HQ)
        assert info.value.key == "error.storage.pg_collation"
        with psycopg.connect(url) as conn:  # nothing was created
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _analyst_url(pg_url: str) -> str:
    """The documented read-only analyst role (docs/postgresql.md), made on the test database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE baqylau_analyst LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        conn.execute(
            "ALTER ROLE baqylau_analyst LOGIN"
        )  # roles are the cluster's: another test may have made it NOLOGIN
        db = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO baqylau_analyst").format(sql.Identifier(db)))
        conn.execute("GRANT USAGE ON SCHEMA public TO baqylau_analyst")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO baqylau_analyst")
    return pg_url.replace("postgresql://postgres@", "postgresql://baqylau_analyst@", 1)


def test_the_analyst_role_reads_and_is_told_it_may_not_write(pg_url: str, template_2021) -> None:
    hq = _hq(pg_url, template_2021)
    hq.upsert_station("101", "KZ-ALA", "Алмалы", "", 1500)
    hq.close()
    ro = ElectionStore.open(_analyst_url(pg_url))
    try:
        assert [s.code for s in ro.stations()] == ["101"]
        with pytest.raises(StorageError) as info:
            ro.upsert_station("102", "KZ-ALA")
        assert info.value.key == "error.storage.pg_read_only"
        assert "baqylau_analyst" in info.value.message("en")
    finally:
        ro.close()
    again = ElectionStore.open(pg_url)
    assert [s.code for s in again.stations()] == ["101"]  # nothing half-written
    again.close()


def _documented_grants(database: str) -> list[str]:
    """The SQL of docs/postgresql.md's server setup, for ``database`` (the database itself is the test's)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "postgresql.md").read_text(encoding="utf-8")
    block = doc.split("```sql\n", 1)[1].split("```", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith(("--", "\\c"))]
    statements = [st.strip() for st in "\n".join(lines).split(";") if st.strip()]
    return [st.replace("election2026", f'"{database}"') for st in statements if not st.startswith("CREATE DATABASE")]


def test_the_documented_roles_work_as_documented(pg_url: str, template_2021) -> None:
    """docs/postgresql.md's grants, run as written: two coordinators write one HQ, an analyst only reads."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        for statement in _documented_grants(database):
            try:
                conn.execute(statement.replace("PASSWORD '...'", ""))
            except psycopg.errors.DuplicateObject:
                pass  # the roles are the server's, made by an earlier test of this session
        conn.execute(
            "DO $$ BEGIN CREATE ROLE dana LOGIN IN ROLE baqylau_coordinator; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    as_group = "&options=-crole%3Dbaqylau_coordinator"
    first = ElectionStore.create(pg_url.replace("postgres@", "aigul@", 1) + as_group, template_2021, role=ROLE_HQ)
    first.upsert_station("101", "KZ-ALA")
    first.close()
    second = ElectionStore.open(pg_url.replace("postgres@", "dana@", 1) + as_group)
    second.upsert_station("102", "KZ-ALA")
    second.close()
    with psycopg.connect(pg_url) as conn:
        owners = conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert owners == [("baqylau_coordinator",)]
    analyst = ElectionStore.open(pg_url.replace("postgres@", "berik@", 1))
    try:
        assert [s.code for s in analyst.stations()] == ["101", "102"]
        with pytest.raises(StorageError) as info:
            analyst.set_meta("trust_on_first_use", "1")
        assert info.value.key == "error.storage.pg_read_only"
    finally:
        analyst.close()


def test_an_unreachable_server_is_a_message_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://coordinator:s3cret@/hq?host={tmp_path}&port=5432"  # no server listens there
    with pytest.raises(StorageError) as info:
        ElectionStore.open(url)
    assert info.value.key == "error.storage.pg_unreachable"
    shown = info.value.message("ru")
    assert "s3cret" not in shown and "coordinator" in shown
    assert pg_display(url).startswith("postgresql://coordinator:***@/hq")


# ---- the command line: what runs on PostgreSQL, and the refusal of what does not yet ------------


def _keys_file(tmp_path: Path) -> Path:
    from observer.signing import KeyPair

    lines = [f"{KeyPair.generate().public_hex} {label}" for label in ("Айгүл", "Berik")]
    f = tmp_path / "keys.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f


def test_keys_list_and_revoke_print_the_same_on_both(
    pg_url: str, tmp_path: Path, template_2021, capsys: pytest.CaptureFixture[str]
) -> None:
    from db.keys import import_keys, list_keys
    from main import main

    keys = _keys_file(tmp_path)
    printed = []
    for where in (str(tmp_path / "hq.baqylau"), pg_url):
        hq = _hq(where, template_2021)
        imported = import_keys(hq, keys, "Координатор")
        hq.close()
        assert main(["--lang", "kk", "keys", where, "list"]) == 0
        assert main(["--lang", "kk", "keys", where, "revoke", imported[0].fingerprint]) == 0
        assert main(["--lang", "kk", "keys", where, "list"]) == 0
        printed.append(capsys.readouterr().out)
        hq = open_hq(where)
        assert sorted(k.status for k in list_keys(hq)) == ["revoked", "trusted"]
        hq.close()
    assert printed[0] == printed[1] and "Айгүл" in printed[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "{url}"],  # commands that take no HQ at all
        ["org-keygen", "{url}"],
        ["keys", "{url}", "--label", "list", "trust", "abc"],  # an option's value is not the action
    ],
    ids=["demo", "org-keygen", "keys-option-value"],
)
def test_commands_not_ported_are_refused_before_anything_is_written(
    argv: list[str], pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from main import main

    url = pg_url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@", 1)
    assert main(["--lang", "en", *(a.format(url=url) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert "does not work on a PostgreSQL HQ yet" in err and "keys list" in err and "hunter2" not in err
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_other_database_urls_are_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from main import main

    assert main(["--lang", "en", "keys", "mysql://u@host/hq", "list"]) == 2
    assert "database URLs are not supported" in capsys.readouterr().err


# ---- bulk import on PostgreSQL (db/pg_bulk.py), called by `stations import` ---------------------


def test_station_list_import_gives_the_same_stations_on_both(pg_url: str, tmp_path: Path, template_2021) -> None:
    from db.stations_import import import_stations

    first = tmp_path / "stations.csv"
    rows = [f'{100 + i},KZ-ALA,Алмалинский,"ул. Абая, {i}",{1000 + i}' for i in range(300)]
    first.write_text("code,region,district,address,registered\n" + "\n".join(rows) + "\n", encoding="utf-8")
    second = tmp_path / "update.csv"  # no address column: addresses stay; one new station; a number removed
    second.write_text("code;region;registered\n105;Ақмола облысы;\n101;KZ-ALA;77\n9999;kz-55;5\n", encoding="utf-8")
    seen = []
    for where in (str(tmp_path / "hq.baqylau"), pg_url):
        hq = _hq(where, template_2021)
        try:
            a = import_stations(hq, first)
            b = import_stations(hq, second)
            counts = [(r.rows, r.stations_created, r.stations_updated) for r in (a, b)]
            stations = [(s.code, s.region, s.district, s.address, s.registered) for s in hq.stations()]
            with hq.engine.connect() as conn:
                stamps = conn.exec_driver_sql("SELECT count(DISTINCT id), min(length(created_at)) FROM stations").one()
        finally:
            hq.close()
        seen.append((counts, stations, tuple(stamps)))
    assert seen[0] == seen[1]
    counts, stations, stamps = seen[1]
    assert counts == [(300, 300, 0), (3, 1, 2)] and stamps == (301, 27)
    assert ("105", "KZ-AKM", "Алмалинский", "ул. Абая, 5", None) in stations
    assert ("101", "KZ-ALA", "Алмалинский", "ул. Абая, 1", 77) in stations


def test_a_failed_import_on_pg_writes_nothing(pg_url: str, template_2021) -> None:
    """A row the database refuses (a code too long for the column: over 160 characters) rolls the whole COPY back."""
    from db.pg_bulk import write_stations

    hq = _hq(pg_url, template_2021)
    try:
        with pytest.raises(StorageError):
            write_stations(hq, ["1", "2" * 161], ["KZ-ALA", "KZ-ALA"], {}, None)
        assert hq.station_count() == 0
    finally:
        hq.close()


# ---- migrations: an older HQ upgrades on PostgreSQL to the same content as the same file -------------

SCHEMA_FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "schema").glob("*.baqylau"))


def _copy_into_pg(fixture: Path, url: str) -> None:
    """The fixture file's rows, at its own revision, into a PostgreSQL database migrated to that revision.

    headcount_totals (0005+) is left to PostgreSQL's triggers, which fill it as the clicks are copied.
    """
    import sqlite3

    from sqlalchemy import MetaData

    from db.models import SERVER_ONLY

    with sqlite3.connect(fixture) as src:
        revision = src.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        engine = make_engine(url)
        with engine.begin() as conn:
            _migrate(conn, revision)
        with engine.begin() as conn:
            tables = MetaData()
            tables.reflect(conn)
            for table in tables.sorted_tables:
                if table.name in ("alembic_version", "headcount_totals") or table.name in SERVER_ONLY.tables:
                    continue
                cur = src.execute(f'SELECT * FROM "{table.name}"')
                names = [d[0] for d in cur.description]
                rows = [dict(zip(names, r)) for r in cur.fetchall()]
                if rows:
                    conn.execute(table.insert(), rows)
            conn.exec_driver_sql("UPDATE meta SET value = 'hq' WHERE key = 'role'")  # PostgreSQL holds HQs only
        engine.dispose()


# Tables the test's own write adds a row to: that row has a new id and the time of the write.
_WRITTEN_NOW = {"audit_log", "protocol_values"}


def _content(store: ElectionStore) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    from db.models import Base

    out = {}
    with store.engine.connect() as conn:
        for name, table in sorted(Base.metadata.tables.items()):
            skip = {"id", "record_id", "created_at", "updated_at"} if name in _WRITTEN_NOW else set()
            cols = [c for c in table.columns if c.name not in skip]
            out[name] = sorted((tuple(r) for r in conn.execute(select(*cols))), key=repr)
    return out


@pytest.mark.parametrize("fixture", SCHEMA_FIXTURES, ids=lambda p: p.stem)
def test_an_old_hq_upgrades_to_the_same_content_on_both(fixture: Path, pg_url: str, tmp_path: Path) -> None:
    import shutil

    _copy_into_pg(fixture, pg_url)
    copy = tmp_path / fixture.name
    shutil.copy(fixture, copy)
    contents = []
    for where in (str(copy), pg_url):
        store = ElectionStore.open(where)
        try:
            store.set_meta("role", "hq")
            st = store.current_station()
            assert st is not None and st.code == "101" and store.headcount(st.id) == 1
            store.set_protocol_value(store.protocol_id(st.id), "adal", 12)  # today's code writes it
            contents.append(_content(store))
        finally:
            store.close()
    assert contents[0].keys() == contents[1].keys()
    for name in contents[0]:
        assert contents[0][name] == contents[1][name], name
    assert any(12 in row for row in contents[1]["protocol_values"])


def test_an_hq_from_a_newer_program_is_refused(pg_url: str, template_2021) -> None:
    _hq(pg_url, template_2021).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError) as info:
        ElectionStore.open(pg_url)
    assert info.value.key == "error.storage.newer" and "9999" in info.value.message("en")


def test_stations_import_command_creates_and_fills_a_postgresql_hq(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's first coordinator step, unchanged but for the URL: the same JSON summary as on a file."""
    from main import main

    csv = tmp_path / "stations.csv"
    csv.write_text("code,region,registered\n" + "\n".join(f"{i},KZ-ALA,{900 + i}" for i in range(1, 51)) + "\n")
    summaries = []
    for where in (str(tmp_path / "hq.baqylau"), pg_url):
        argv = ["stations", "import", where, str(csv), "--template", "kz-majilis-2021", "--format", "json"]
        assert main(argv) == 0
        summary = json.loads(capsys.readouterr().out)
        summary.pop("seconds", None)
        summaries.append(summary)
        hq = open_hq(where)
        try:
            assert hq.station_count() == 50
        finally:
            hq.close()
    assert summaries[0] == summaries[1] and summaries[0]["stations_created"] == 50
