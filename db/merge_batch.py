"""The merge's transaction machinery: batches of savepoints, staged evidence, head-count totals.

* One savepoint per package (``_tx``), committed in batches (``BATCH_SECONDS``):
  a crash mid-merge loses the packages of the last uncommitted batch whole, never
  part of one, and merging again recovers them.
* Evidence is verified into a private work folder, flushed to disk and renamed
  into place just before the commit that cites it.
* The per-click totals trigger is suspended for a batch and the touched totals
  recomputed before its commit (docs/architecture.md).
* The private work folder is ``.baqylau-incoming-<pid>-*`` beside the HQ file
  (db/workdirs.py); folders left by a run that no longer exists (a crash, a full
  disk) are removed when the next merge starts and when the app opens the file.
  A PostgreSQL HQ has no folder of its own: its merges work in the user's
  ``<BAQYLAU_HOME>/incoming`` (db.workdirs.work_parent).

On PostgreSQL (docs/postgresql.md, "Merging from several machines") several merges
run at once, from different machines. The batch is an ordinary READ COMMITTED
transaction; each package's savepoint first takes transaction-level advisory locks
on what it writes (its package ids, station codes, observer ids, key fingerprints,
evidence), so two merges never write the same rows at once and each sees the
other's committed result. Locks are taken in sorted order; a batch that already
holds locks only *tries* the next package's, and if one is taken commits itself
(releasing everything) before waiting: a merge never waits while holding a lock,
so merges cannot deadlock each other. The totals trigger stays on (the per-pair
upsert is covered by the station's lock; dropping it would lock the table).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from db.engine import error_for
from db.package import VerifiedPackage
from db.store import ElectionStore, durable_copy, storage_error
from db.workdirs import drop_work_dir, make_work_dir, remove_stale_work_dirs, work_parent
from observer.errors import StorageError

try:  # the PostgreSQL driver, present where a PostgreSQL HQ can be used
    import psycopg

    _DRIVER_ERRORS: tuple[type[BaseException], ...] = (sqlite3.DatabaseError, psycopg.Error)
    DRIVER_INTEGRITY_ERRORS: tuple[type[BaseException], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)
except ImportError:  # pragma: no cover - SQLite-only installs
    _DRIVER_ERRORS = (sqlite3.DatabaseError,)
    DRIVER_INTEGRITY_ERRORS = (sqlite3.IntegrityError,)
# What the merge's own statements raise (SQLAlchemy's or the driver's) for a constraint a
# package breaks: its refusal, not a storage error.
INTEGRITY_ERRORS: tuple[type[BaseException], ...] = (IntegrityError, *DRIVER_INTEGRITY_ERRORS)
# What a failing database raises through SQLAlchemy or its driver: a storage error of the run.
_DB_ERRORS: tuple[type[BaseException], ...] = (OperationalError, DatabaseError, *_DRIVER_ERRORS)
_DB_OR_OS_ERRORS: tuple[type[BaseException], ...] = (OSError, *_DB_ERRORS)
# PostgreSQL: a unique key taken by another transaction meanwhile, a deadlock (docs/postgresql.md)
_CONTENDED = frozenset({"23505", "40P01"})


class Contended(Exception):
    """On PostgreSQL, a package's rows met rows another merge had not committed yet: a record id
    the advisory locks do not cover (only a package reusing another observer's ids does that), as
    a unique key taken meanwhile or a deadlock. Its savepoint is rolled back; the merge commits
    and tries the package again (db.merge), when what the other merge wrote can be seen."""


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(getattr(exc, "orig", exc), "sqlstate", None)


# Packages share one transaction (a savepoint each) for this long: per-commit costs
# (WAL frames of every touched index page, checkpoints) are paid once per batch.
# Shorter than the store's busy timeout (5 s), so another writer on the HQ file
# (a second window, the command line) waits for the batch instead of failing.
BATCH_SECONDS = 4.0
_CACHE_KIB = 512 * 1024  # page cache of the merge connection: a batch's dirty index pages fit
_WAL_PAGES = 100_000  # auto-checkpoint threshold while merging (~400 MB of WAL at most)
_TOTALS_TRIGGER = "trg_headcount_totals_insert"  # see MergeBatch._suspend_totals_trigger
# Blocking and non-blocking transaction-level advisory locks on a set of keys, in key order (the
# ordered subquery fixes the order the function is called in). One round trip per package.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY 1) AS keys"
_TRY_LOCK_SQL = (
    "SELECT coalesce(bool_and(pg_try_advisory_xact_lock(k)), true) "
    "FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY 1) AS keys"
)


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (``"station:101"``, ``"package:<id>"``...).

    The 64-bit key space of advisory locks is shared by every user of the database: the
    namespace in the hash keeps these apart from the store's migration lock and anyone else's.
    """
    digest = hashlib.sha256(b"baqylau-merge\0" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class MergeBatch:
    """A merge's connection, batch transaction and staged evidence (use as a context manager)."""

    def __init__(self, hq: ElectionStore) -> None:
        self.hq = hq
        self.work_dir: Path | None = None
        self.conn: Connection | None = None
        self.batch: RootTransaction | None = None
        self.batch_started = 0.0
        self.committed = False
        # Evidence of the current batch, verified and staged in work_dir (stored name ->
        # staged file): flushed to disk and renamed into place just before the commit.
        self.staged: dict[str, Path] = {}
        self.after_commit: list[Path] = []  # held copies to delete once their merge is committed
        # (station, observer) pairs whose clicks this batch wrote: their head-count totals
        # are recomputed once before the commit instead of by a trigger per click.
        self.touched: set[tuple[str, str | None]] = set()
        self.totals_trigger: str | None = None  # the insert trigger's SQL while it is suspended
        self.pg = hq.url is not None
        self.locked: set[int] = set()  # advisory locks the open batch holds (PostgreSQL)
        # Outcomes waiting for the commit that makes them durable, and who is told then.
        self.pending: list[Any] = []
        self.on_commit: Callable[[list[Any]], None] | None = None

    def __enter__(self) -> Self:
        try:
            # One private folder per run (not per package) for verified copies, on the
            # HQ's file system so evidence is moved into place by a rename.
            parent = work_parent(self.hq.path, self.pg)
            remove_stale_work_dirs(parent)
            self.work_dir = make_work_dir(parent)
            if self.pg:
                # READ COMMITTED (the server's default) and advisory locks per package (see above).
                self.conn = self.hq.engine.connect()
                return self
            # IMMEDIATE: a batch takes the write lock when it starts, so a second writer waits for
            # it (busy timeout) instead of failing after it, and this one never fails to upgrade.
            self.conn = self.hq.engine.connect().execution_options(begin="BEGIN IMMEDIATE")
            # WAL keeps every commit atomic; NORMAL skips the fsync per commit. A power cut
            # can only lose the last whole batches merged, and merging them again is
            # idempotent; evidence files are fsynced before the commit that cites them.
            self._pragma("synchronous=NORMAL")
            # A batch's dirty index pages stay in memory until its commit, and the WAL is
            # checkpointed every few batches instead of after every commit.
            self._pragma(f"cache_size=-{_CACHE_KIB}")
            self._pragma(f"wal_autocheckpoint={_WAL_PAGES}")
        except _DB_OR_OS_ERRORS as exc:
            self.__exit__()
            raise self._error(exc) from None
        return self

    def _error(self, exc: BaseException) -> StorageError:
        """A storage failure in the user's words: the work folder's, the file's or the server's."""
        if isinstance(exc, OSError) and self.pg:
            return storage_error(exc, Path(exc.filename) if exc.filename else work_parent(self.hq.path, True))
        return error_for(exc, self.hq.path, self.hq.url)

    def __exit__(self, exc_type: type[BaseException] | None = None, *exc: object) -> None:
        if self.conn is not None:
            try:
                # Packages already released from their savepoints were merged whole:
                # keep them, whatever stopped the run (end, cancel, error).
                self.commit()
            except StorageError:
                if exc_type is None:
                    raise
                # the error that stopped the run is the one to report, not this consequence
            finally:
                try:
                    self.conn.rollback()
                    if self.committed and not self.pg:
                        # this run's WAL into the file now (and the WAL file back to empty),
                        # not left for whoever writes next
                        self._pragma("wal_checkpoint(TRUNCATE)")
                except _DB_ERRORS:
                    pass  # the connection is discarded below anyway
                if not self.pg:
                    self.conn.invalidate()  # never hand the tuned connection back to the pool
                self.conn.close()
                self.conn = None
                self.locked.clear()
        if self.work_dir is not None:
            drop_work_dir(self.work_dir)
            self.work_dir = None

    def _pragma(self, setting: str) -> None:
        # On the driver connection: SQLAlchemy would wrap it in a transaction, where SQLite refuses it.
        assert self.conn is not None
        self.conn.connection.driver_connection.execute(f"PRAGMA {setting}")  # type: ignore[union-attr]

    def commit(self) -> None:
        """Commit the current batch of packages: evidence first (on disk, in place), then the records.

        If SQLite already rolled the batch back by itself (a full disk, an I/O error
        in one of its statements), there is nothing to commit: the error that did it
        has been raised already, and merging the same files again recovers the batch.
        Then whoever waits for outcomes (``on_commit``) hears of those it made durable.
        """
        if self.batch is None:
            self._acknowledge()
            return
        batch, self.batch = self.batch, None
        try:
            if not self._in_transaction():
                raise sqlite3.OperationalError("the batch was rolled back")
            self._place_staged()
            self._restore_totals()
            batch.commit()
        except _DB_ERRORS as exc:
            self.totals_trigger = None
            self.touched.clear()
            self.pending.clear()
            try:
                batch.rollback()
            except _DB_ERRORS:
                pass
            raise self._error(exc) from None
        finally:
            self.locked.clear()  # committed or rolled back: the transaction's locks are gone
        self.touched.clear()  # PostgreSQL: kept by the trigger, nothing to recompute
        self.committed = True
        done, self.after_commit = self.after_commit, []
        _remove(done)
        self._acknowledge()

    def acknowledge(self, outcome: Any) -> None:
        """``outcome`` is told to ``on_commit`` once what it wrote is committed (at once if nothing is open)."""
        self.pending.append(outcome)
        if self.batch is None:
            self._acknowledge()

    def _acknowledge(self) -> None:
        if self.pending and self.on_commit is not None:
            done, self.pending = self.pending, []
            self.on_commit(done)

    def _in_transaction(self) -> bool:
        assert self.conn is not None
        raw: Any = self.conn.connection.driver_connection
        if self.pg:
            # psycopg: a transaction an error has aborted cannot commit (INERROR = 3)
            return int(raw.info.transaction_status) != 3
        return bool(raw.in_transaction)

    def _suspend_totals_trigger(self) -> None:
        """Drop the per-click totals trigger for this batch (inside its transaction).

        The trigger (schema 0005) costs an upsert per click, ~1/3 of a merge; the
        batch recomputes the totals of the pairs it touched instead (``_restore_totals``).
        DDL is transactional in SQLite: other connections never see the file without
        the trigger, and a crash or rollback brings it back with the batch undone.
        Not on PostgreSQL: dropping a trigger locks its table against every other merge.
        """
        if self.pg:
            return
        raw: sqlite3.Connection = self.conn.connection.driver_connection  # type: ignore[union-attr, assignment]
        found = raw.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_TOTALS_TRIGGER,)
        ).fetchone()
        if found is None:
            return
        raw.execute(f"DROP TRIGGER {_TOTALS_TRIGGER}")
        self.totals_trigger = found[0]

    def _restore_totals(self) -> None:
        """Totals of the batch's (station, observer) pairs from their clicks, then the trigger back."""
        if self.totals_trigger is None:
            return
        raw: sqlite3.Connection = self.conn.connection.driver_connection  # type: ignore[union-attr, assignment]
        # Keyed as the table is: a click without an observer counts under '' (see migration 0005).
        pairs = sorted({(st, ob or "") for st, ob in self.touched})
        raw.executemany("DELETE FROM headcount_totals WHERE station_id = ? AND observer_id = ?", pairs)
        raw.executemany(
            "INSERT INTO headcount_totals (station_id, observer_id, events, total) "
            "SELECT station_id, coalesce(observer_id, ''), count(*), sum(delta) FROM headcount_events "
            "WHERE station_id = ? AND coalesce(observer_id, '') = ? GROUP BY station_id, coalesce(observer_id, '')",
            pairs,
        )
        raw.execute(self.totals_trigger)
        self.totals_trigger = None
        self.touched.clear()

    def _place_staged(self) -> None:
        """Flush the batch's evidence files to disk (one file system sync), then rename them into place.

        Content-addressed names are only ever given to complete, durable files: a
        crash before the commit leaves at most unreferenced files. On PostgreSQL the
        files are written into the database in the batch's own transaction instead
        (``put_evidence_file``): committed with the records that cite them, or not at all.
        """
        if not self.staged:
            return
        staged, self.staged = self.staged, {}
        if self.hq.url is not None:
            assert self.conn is not None  # the batch's transaction, never one of put_evidence_file's own
            try:
                for stored, source in staged.items():
                    # A stored name is <sha256><ext>: checked against its record when the package was read
                    # (db.package.check_evidence_records), and the bytes hashed again while written.
                    self.hq.put_evidence_file(stored, source, stored[:64], self.conn)
            finally:
                _remove(list(staged.values()))
            return
        folder = self.hq.evidence_dir
        try:
            _sync_files(list(staged.values()))
            for stored, source in staged.items():
                target = folder / stored
                try:
                    os.replace(source, target)
                except OSError:
                    durable_copy(source, target)  # another file system (work folder elsewhere)
        except OSError as exc:
            raise storage_error(exc, folder) from None

    @contextmanager
    def _tx(self, locks: Iterable[str] = ()) -> Iterator[Connection]:
        """One package's writes: a savepoint inside the batch transaction.

        A refused package rolls back alone; the batch is committed every
        ``_BATCH_SECONDS`` (and at the end), so a crash loses at most the last batch.
        ``locks`` name what the package writes (:func:`lock_key`): on PostgreSQL they are
        held from here to the batch's commit, so no other merge writes the same rows meanwhile.
        """
        assert self.conn is not None
        try:
            self._begin()
            if self.pg:
                self._lock(locks)
            with self.conn.begin_nested():
                yield self.conn
        except INTEGRITY_ERRORS as exc:
            if self.pg and _sqlstate(exc) in _CONTENDED:
                raise Contended(str(getattr(exc, "orig", exc))) from exc
            raise
        except _DB_ERRORS as exc:  # raw statements raise the driver's errors
            if self.pg and _sqlstate(exc) in _CONTENDED:
                raise Contended(str(getattr(exc, "orig", exc))) from exc
            raise self._error(_first_cause(exc)) from None

    def _begin(self) -> None:
        assert self.conn is not None
        if self.batch is None:
            self.batch = self.conn.begin()
            self.batch_started = time.monotonic()
            self._suspend_totals_trigger()

    def _lock(self, names: Iterable[str]) -> None:
        """Take the advisory locks of ``names`` in this batch, never waiting while holding others.

        With none held yet, wait for them in key order (every merge does the same: no cycle).
        Holding some (earlier packages of the batch), only try: if another merge has one,
        commit the batch first (its locks go with it), then wait in key order.
        """
        assert self.conn is not None
        keys = sorted({lock_key(n) for n in names} - self.locked)
        if not keys:
            return
        raw: Any = self.conn.connection.driver_connection
        if self.locked:
            with raw.cursor() as cur:
                got = cur.execute(_TRY_LOCK_SQL, (keys,)).fetchone()[0]
            if got:
                self.locked.update(keys)
                return
            self.commit()
            self._begin()
            keys = sorted({lock_key(n) for n in names})
        with raw.cursor() as cur:
            cur.execute(_LOCK_SQL, (keys,))
        self.locked.update(keys)

    def commit_if_due(self) -> None:
        """Commit the batch once it is ``BATCH_SECONDS`` old: called between packages, never
        inside one, so a failing commit is a storage error, not a package's refusal."""
        if self.batch is not None and time.monotonic() - self.batch_started >= BATCH_SECONDS:
            self.commit()

    def _place_evidence(self, pkg: VerifiedPackage) -> list[str]:
        """Stage verified evidence for the batch's commit (see ``_place_staged``).

        Content-addressed: files already there (or staged) stay. Returns the names
        this call staged, so a refused package can take them back (``_unstage``).
        On PostgreSQL "there" is the database (``has_evidence_file``, what is committed:
        a file another merge writes at the same moment is claimed once, ``put_evidence_file``).
        """
        assert self.work_dir is not None
        folder = None if self.hq.url is not None else self.hq.evidence_dir
        staged: list[str] = []
        try:
            if folder is not None:
                folder.mkdir(exist_ok=True)
            for stored, source in pkg.evidence_files.items():
                if stored in self.staged or self.hq.has_evidence_file(stored):
                    continue
                # out of the package's hands (closing it deletes its copies), same file system
                keep = self.work_dir / f"staged-{stored}"
                os.replace(source, keep)
                self.staged[stored] = keep
                staged.append(stored)
        except OSError as exc:
            self._unstage(staged)
            raise storage_error(exc, folder or self.work_dir) from None
        except StorageError:  # the server could not be asked
            self._unstage(staged)
            raise
        return staged

    def _unstage(self, names: list[str]) -> None:
        _remove([self.staged.pop(n) for n in names if n in self.staged])


def _sync_files(files: list[Path]) -> None:
    """Every file's data on disk: one syncfs(2) of their file system on Linux, else one fsync each."""
    if _syncfs is not None and files:
        fd = os.open(files[0], os.O_RDONLY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for f in files:
        with f.open("rb+") as fh:
            os.fsync(fh.fileno())


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()


def _first_cause(exc: BaseException) -> BaseException:
    """The error behind a failed savepoint rollback: after a full disk or an I/O error SQLite has
    rolled the whole transaction back, and "no such savepoint" would hide what happened."""
    while "no such savepoint" in str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    return exc


def _remove(files: list[Path]) -> None:
    for f in files:
        try:
            f.unlink(missing_ok=True)
        except OSError:
            pass  # an unreferenced content-addressed file is harmless
