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
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from db.package import VerifiedPackage
from db.store import ElectionStore, durable_copy, storage_error
from db.workdirs import drop_work_dir, make_work_dir, remove_stale_work_dirs
from observer.errors import StorageError

# Packages share one transaction (a savepoint each) for this long: per-commit costs
# (WAL frames of every touched index page, checkpoints) are paid once per batch.
# Shorter than the store's busy timeout (5 s), so another writer on the HQ file
# (a second window, the command line) waits for the batch instead of failing.
BATCH_SECONDS = 4.0
_CACHE_KIB = 512 * 1024  # page cache of the merge connection: a batch's dirty index pages fit
_WAL_PAGES = 100_000  # auto-checkpoint threshold while merging (~400 MB of WAL at most)
_TOTALS_TRIGGER = "trg_headcount_totals_insert"  # see MergeBatch._suspend_totals_trigger


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

    def __enter__(self) -> Self:
        try:
            # One private folder per run (not per package) for verified copies, on the
            # HQ's file system so evidence is moved into place by a rename.
            remove_stale_work_dirs(self.hq.path.parent)
            self.work_dir = make_work_dir(self.hq.path.parent)
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
        except (OSError, sqlite3.Error, OperationalError, DatabaseError) as exc:
            self.__exit__()
            raise storage_error(exc, self.hq.path) from None
        return self

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
                    if self.committed:
                        # this run's WAL into the file now (and the WAL file back to empty),
                        # not left for whoever writes next
                        self._pragma("wal_checkpoint(TRUNCATE)")
                except (sqlite3.Error, OperationalError, DatabaseError):
                    pass  # the connection is discarded below anyway
                self.conn.invalidate()  # never hand the tuned connection back to the pool
                self.conn.close()
                self.conn = None
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
        """
        if self.batch is None:
            return
        batch, self.batch = self.batch, None
        raw: sqlite3.Connection = self.conn.connection.driver_connection  # type: ignore[union-attr, assignment]
        try:
            if not raw.in_transaction:
                raise sqlite3.OperationalError("the batch was rolled back")
            self._place_staged()
            self._restore_totals()
            batch.commit()
        except (OperationalError, DatabaseError, sqlite3.Error) as exc:
            self.totals_trigger = None
            self.touched.clear()
            try:
                batch.rollback()
            except (OperationalError, DatabaseError, sqlite3.Error):
                pass
            raise storage_error(exc, self.hq.path) from None
        self.committed = True
        done, self.after_commit = self.after_commit, []
        _remove(done)

    def _suspend_totals_trigger(self) -> None:
        """Drop the per-click totals trigger for this batch (inside its transaction).

        The trigger (schema 0005) costs an upsert per click, ~1/3 of a merge; the
        batch recomputes the totals of the pairs it touched instead (``_restore_totals``).
        DDL is transactional in SQLite: other connections never see the file without
        the trigger, and a crash or rollback brings it back with the batch undone.
        """
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
    def _tx(self) -> Iterator[Connection]:
        """One package's writes: a savepoint inside the batch transaction.

        A refused package rolls back alone; the batch is committed every
        ``_BATCH_SECONDS`` (and at the end), so a crash loses at most the last batch.
        """
        assert self.conn is not None
        try:
            if self.batch is None:
                self.batch = self.conn.begin()
                self.batch_started = time.monotonic()
                self._suspend_totals_trigger()
            with self.conn.begin_nested():
                yield self.conn
        except (IntegrityError, sqlite3.IntegrityError):
            raise
        except (
            OperationalError,
            DatabaseError,
            sqlite3.DatabaseError,
        ) as exc:  # raw statements raise the driver's errors
            raise storage_error(_first_cause(exc), self.hq.path) from None

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
