"""Shared fixtures. Qt runs offscreen; every test gets its own BAQYLAU_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from observer import i18n
from ui.qt import guard_singleton_refcounts

guard_singleton_refcounts()  # the PySide6 6.12 reference guard, before pytest-qt makes its first Qt call


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BAQYLAU_HOME", str(home))
    yield home
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


@pytest.fixture
def template_2021():
    from observer.template import builtin_template

    return builtin_template("kz-majilis-2021")


@pytest.fixture
def store(tmp_path: Path, template_2021):
    from db.store import ElectionStore

    s = ElectionStore.create(tmp_path / "station.baqylau", template_2021)
    s.set_observer("Айгүл Қасымова", "MISK")
    st = s.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    s.select_station(st.id)
    yield s
    s.close()


# ---- PostgreSQL: a throwaway server for the tests marked `postgres` ------------------------------
# The HQ can live in PostgreSQL (docs/postgresql.md). Its tests run against a real server: the one
# named by BAQYLAU_TEST_PG_URL (a role that may CREATE DATABASE), or else a cluster this session
# makes under a temporary folder from the distribution's binaries (initdb, pg_ctl), listening only
# on a unix socket in that folder (no port shared with anything else on the machine), stopped at
# the end. Without binaries the tests skip, except in CI (CI=true), where that is a failure.


def _pg_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: `pg_config --bindir`, the Debian layout, or PATH."""
    import shutil
    import subprocess

    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True)
            found.append(Path(out.stdout.strip()))
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    if shutil.which("initdb"):
        found.append(Path(shutil.which("initdb") or "").parent)
    return next((d for d in found if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server for the tests: {reason}")


class _ThrowawayCluster:
    """initdb + pg_ctl start in a temporary folder; as the `postgres` user when run as root
    (the server refuses to run as root)."""

    def __init__(self, bindir: Path) -> None:
        import tempfile

        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="baqylau-pg-"))  # short: a socket path has ~100 characters
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                _pg_unavailable("running as root and there is no `postgres` user to run the server as")
                raise
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@/postgres?host={self.root}&port=5432"

    def _run(self, *args: str) -> None:
        import subprocess

        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()[-800:]}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        # No TCP at all; fsync off: a throwaway cluster need not survive a power cut, and it is faster.
        options = f"-k {self.root} -c listen_addresses='' -p 5432 -c fsync=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        import shutil

        with suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A URL of a role on a running PostgreSQL server that may create databases."""
    given = os.environ.get("BAQYLAU_TEST_PG_URL")
    if given:
        yield given
        return
    try:
        import psycopg  # noqa: F401 - the driver the HQ store uses on PostgreSQL
    except ImportError:
        _pg_unavailable("the psycopg driver is not installed (pip install 'psycopg[binary]')")
    bindir = _pg_bindir()
    if bindir is None:
        _pg_unavailable("initdb/pg_ctl not found (Debian: apt-get install postgresql)")
    assert bindir is not None
    cluster = _ThrowawayCluster(bindir)
    try:
        cluster.start()
    except (OSError, RuntimeError) as exc:
        cluster.stop()
        _pg_unavailable(str(exc))
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A new, empty database on the test server for one test (dropped after it, connections and all)."""
    from db.engine import pg_scratch_databases

    with pg_scratch_databases(pg_server, "baqylau_test") as new_database:
        yield new_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an HQ store lives, once per backend: a new file path, or a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "hq.baqylau")
    return request.getfixturevalue("pg_url")
