"""Opening a coordinator's (HQ) file: for a command, and for the app's first window.

:func:`open_hq` is what every command on an HQ file starts with. The app takes
a faster path for a plain, current HQ file: :func:`current_hq_reader` checks it
with ``sqlite3`` alone and returns the stations table's reader, the window is
shown, and :class:`StoreOpener` opens the store on a helper thread behind it.
Anything else (an older file to upgrade, a station file, not an election) gets
None and goes through ``ElectionStore.open``, which owns those checks and their
messages. This module is imported before the first window: it loads SQLAlchemy
(through :mod:`db.store`) only inside the functions that open a store.

A shared HQ in PostgreSQL (a ``postgresql://`` URL) takes the same path: the
reader connects with psycopg alone and checks the same revision and ``meta``
rows; an empty or older database gets None (``ElectionStore.open`` upgrades it
or says what is wrong), and a server that cannot be reached raises the message
``ElectionStore.open`` would give, in the user's language.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from db.fileformat import FORMAT, ROLE_HQ, is_pg_url
from db.revisions import head_revision
from db.services.station_reader import StationReader

if TYPE_CHECKING:
    from db.store import ElectionStore


def open_hq(path: str | Path, *, template: str | None = None) -> ElectionStore:
    """Open a coordinator file; with ``template`` (a built-in id or a TOML path), create it on first use.

    The one way every command opens an HQ file: a missing file without a template
    says what creates one, and an observer's station file is refused by its role.
    ``path`` may be a ``postgresql://`` URL: an existing database, whose HQ is
    created on first use in the same way (an empty database stands for a missing file).
    """
    from db.store import ElectionStore
    from observer.errors import PackageError, StorageError
    from observer.template import resolve_template

    if is_pg_url(path):
        try:
            store = ElectionStore.open(str(path))
        except StorageError as exc:
            if exc.key != "error.storage.pg_empty" or template is None:
                raise
            try:
                return ElectionStore.create(str(path), resolve_template(template), role=ROLE_HQ)
            except StorageError as lost:
                if lost.key != "error.storage.exists":
                    raise
                # Another coordinator created it in the meantime (creation is serialised): open theirs.
                store = ElectionStore.open(str(path))
        where = store.location
    else:
        p = Path(path)
        if not p.exists():
            if template is None:
                raise StorageError("coord.hq.missing", file=str(p))
            return ElectionStore.create(p, resolve_template(template), role=ROLE_HQ)
        store = ElectionStore.open(p)
        where = str(p)
    if store.role != ROLE_HQ:
        role = store.role
        store.close()
        raise PackageError("package.cli.not_hq", file=where, role=role)
    return store


def current_hq_reader(path: Path | str) -> StationReader | None:
    """A stations reader for ``path`` if it is plainly a current HQ (a file, or a ``postgresql://`` URL),
    else None (open it the usual way).

    A server that cannot be reached or refuses the login raises the StorageError that opening the
    usual way would (db.engine.server_error): asking it a second time would only wait again.
    """
    if is_pg_url(path):
        reader = _connect(str(path))
    else:
        try:
            with Path(path).open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    return None
            reader = StationReader(Path(path))
        except (OSError, sqlite3.Error):  # no file, not a database: the usual path says which
            return None
    try:
        if reader.schema_revision() != head_revision():
            raise LookupError
        if reader.meta("format") != FORMAT or reader.meta("role") != ROLE_HQ:
            raise LookupError
        _ = reader.template  # a template that does not parse is reported by the usual path
    except Exception:  # noqa: BLE001 - any doubt: the usual path checks and explains
        reader.close()
        return None
    return reader


class StoreOpener:
    """``ElectionStore.open(path)`` on a helper thread, started once the window is up.

    Whoever needs the store calls :meth:`result`, which starts the opening if
    nobody has yet (so it can never wait for a start that is queued behind it)
    and waits for it; ``future`` tells who only wants to be told.
    """

    def __init__(self, path: Path | str) -> None:
        # A URL is kept as given (a Path would fold its "//"); ``path`` is then the database's name.
        self.target: Path | str = str(path) if is_pg_url(path) else Path(path)
        self.path = Path(path) if isinstance(self.target, Path) else _database_name(str(path))
        self.future: Future[ElectionStore] = Future()
        self._lock = threading.Lock()
        self._started = False

    @classmethod
    def opened(cls, store: ElectionStore) -> StoreOpener:
        opener = cls(store.url or store.path)
        opener._started = True
        opener.future.set_result(store)
        return opener

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="baqylau-open", daemon=False).start()

    def _run(self) -> None:
        try:
            from db.store import ElectionStore  # SQLAlchemy and the models load here, off the UI thread

            store = ElectionStore.open(self.target)
        except BaseException as exc:  # noqa: BLE001 - delivered to whoever waits for the store
            self.future.set_exception(exc)
        else:
            self.future.set_result(store)

    @property
    def url(self) -> str | None:
        """The PostgreSQL URL of a shared HQ, None for a file."""
        return self.target if isinstance(self.target, str) else None

    @property
    def location(self) -> str:
        """What the window calls the HQ: the file's name, or the URL without its password and its
        query (the socket folder, TLS files, ``options``: too long for a title, and not its name)."""
        if self.url is None:
            return self.path.name
        from db.engine import pg_display  # a shared HQ's window loads SQLAlchemy anyway

        return pg_display(self.url).split("?", 1)[0]

    @property
    def started(self) -> bool:
        with self._lock:
            return self._started

    def result(self) -> ElectionStore:
        self.start()
        return self.future.result()


def _connect(url: str) -> StationReader:
    try:
        return StationReader(url)
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg"):
            from db.engine import server_error

            raise server_error(exc, url) from None
        raise


def _database_name(url: str) -> Path:
    """The database's name, as ``ElectionStore.path`` has it for a URL (what messages call the HQ)."""
    from db.engine import pg_database_name

    return Path(pg_database_name(url))
