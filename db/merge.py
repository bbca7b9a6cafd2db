"""Merging station (and district HQ) packages into a coordinator's HQ file.

Rules, each for a reason:

* Every package is fully verified (db.package.read_package) before anything is
  written; a bad one is refused with its reason and the next one goes on.
  Refused packages leave the HQ file untouched (they are listed in the report).
* One savepoint per package, committed in batches (``_BATCH_SECONDS``): a crash
  mid-merge loses the packages of the last uncommitted batch whole, never part of
  one, and merging again recovers them. Evidence is flushed to disk and renamed
  into place just before the commit that cites it.
* A record may only be updated by a package of its own observer and station: a
  reused id of another's record refuses the package.
* Records keep their UUIDs. A record arriving again keeps the version with the
  newer ``updated_at``; ties go to the larger package id, so the result does not
  depend on the order of merging. Stations are matched by code; a station first
  seen in a package gets an id derived from its code, for the same reason.
* A package's identity is the SHA-256 of its signed manifest (which pins every
  member by hash). A package already merged is skipped before any heavy work.
* Packages signed by a key the coordinator has not trusted are held (kept in
  ``<HQ file>.held/``) until the key is trusted, unless trust on first use is on.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Connection, RootTransaction, insert, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from db import models as m
from db.package import RECORD_TABLES, VerifiedPackage, iter_packages, manifest_identity, read_package
from db.store import ElectionStore, durable_copy, now, storage_error
from observer.errors import PackageError, StorageError
from observer.i18n import tr
from observer.package import KIND_HQ, SUFFIX
from observer.sealed import SealedError, is_sealed_name, open_file
from observer.signing import fingerprint_of, is_public_hex, normalize_fingerprint

MERGED = "merged"
DUPLICATE = "duplicate"
REFUSED = "refused"
HELD = "held"
OUTCOMES = (MERGED, DUPLICATE, HELD, REFUSED)

TRUSTED = "trusted"
REVOKED = "revoked"
PENDING = "pending"
TOFU_META_KEY = "trust_new_keys"  # "1": approve unknown keys on first use (small teams)
TOFU_DECIDER = "trust-on-first-use"

# Fixed namespace so that ids derived from a package hash or a station code are
# the same in every HQ file (district and organisation alike).
_NAMESPACE = uuid.UUID("5b0d8c1e-6f0e-4b7a-9a63-3c1f3f0e2b11")
_CHUNK = 5000
# Packages share one transaction (a savepoint each) for this long: per-commit costs
# (WAL frames of every touched index page, checkpoints) are paid once per batch.
# Shorter than the store's busy timeout (5 s), so another writer on the HQ file
# (a second window, the command line) waits for the batch instead of failing.
_BATCH_SECONDS = 4.0
_CACHE_KIB = 512 * 1024  # page cache of the merge connection: a batch's dirty index pages fit
_WAL_PAGES = 100_000  # auto-checkpoint threshold while merging (~400 MB of WAL at most)
_TOTALS_TRIGGER = "trg_headcount_totals_insert"  # see _Merger._suspend_totals_trigger
_DATA_TABLES = tuple(t for t in RECORD_TABLES if t not in ("observers", "stations", "packages"))
_STATION_FIELDS = ("region", "district", "address", "registered")


def package_row_id(sha256: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "package:" + sha256))


def station_row_id(code: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "station:" + code))


@dataclass(frozen=True)
class PackageOutcome:
    path: Path
    outcome: str  # merged | duplicate | held | refused
    reason: str = ""  # translated, for refused and held
    sha256: str | None = None
    station_code: str | None = None
    fingerprint: str | None = None
    signer: str = ""
    kind: str = ""


@dataclass
class MergeReport:
    entries: list[PackageOutcome] = field(default_factory=list)
    cancelled: bool = False

    def counts(self) -> dict[str, int]:
        out = {o: 0 for o in OUTCOMES}
        for e in self.entries:
            out[e.outcome] += 1
        return out

    def of(self, outcome: str) -> list[PackageOutcome]:
        return [e for e in self.entries if e.outcome == outcome]


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    public_key: str
    label: str
    status: str  # trusted | revoked | pending
    decided_by: str
    decided_at: datetime | None
    merged_packages: int
    held_packages: int
    signers: tuple[str, ...] = ()  # names in the packages signed with this key


# ---- settings --------------------------------------------------------------------


def trust_on_first_use(hq: ElectionStore) -> bool:
    """Off unless the coordinator turned it on: a new key's packages wait for a human decision."""
    return hq.meta(TOFU_META_KEY) == "1"


def set_trust_on_first_use(hq: ElectionStore, enabled: bool) -> None:
    hq.set_meta(TOFU_META_KEY, "1" if enabled else "0")


def held_dir(hq: ElectionStore) -> Path:
    return hq.path.with_name(hq.path.name + ".held")


# ---- merging ---------------------------------------------------------------------


class _Merger:
    def __init__(self, hq: ElectionStore, trust_new_keys: bool, org_key: X25519PrivateKey | None = None) -> None:
        self.hq = hq
        self.tofu = trust_new_keys
        self.org_key = org_key
        self.template_id = hq.meta("template_id") or ""
        self.template = hq.template
        self.keys_allowed = set(self.template.all_keys)
        self.categories = {c.code for c in self.template.violation_categories}
        with hq.engine.connect() as conn:
            self.known = {r[0]: r[1] for r in conn.execute(select(m.Package.sha256, m.Package.outcome))}
            self.key_status = {r[0]: r[1] for r in conn.execute(select(m.TrustedKey.fingerprint, m.TrustedKey.status))}
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

    def __enter__(self) -> _Merger:
        try:
            # One private folder per run (not per package) for verified copies, on the
            # HQ's file system so evidence is moved into place by a rename.
            self.work_dir = Path(tempfile.mkdtemp(prefix=".baqylau-incoming-", dir=self.hq.path.parent))
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
            shutil.rmtree(self.work_dir, ignore_errors=True)
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
        crash before the commit leaves at most unreferenced files.
        """
        if not self.staged:
            return
        staged, self.staged = self.staged, {}
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
        """Commit the batch once it is ``_BATCH_SECONDS`` old: called between packages, never
        inside one, so a failing commit is a storage error, not a package's refusal."""
        if self.batch is not None and time.monotonic() - self.batch_started >= _BATCH_SECONDS:
            self.commit()

    def merge_file(self, path: Path, *, release: bool = False) -> PackageOutcome:
        if is_sealed_name(path):
            return self._merge_sealed(path)
        identity = manifest_identity(path)
        if identity is not None and self.known.get(identity) in (MERGED, DUPLICATE):
            return PackageOutcome(path, DUPLICATE, sha256=identity)
        try:
            pkg = read_package(path, work_dir=self.work_dir)
        except PackageError as exc:
            return PackageOutcome(path, REFUSED, str(exc))
        with pkg:
            return self._merge_verified(pkg, release=release)

    def _merge_sealed(self, path: Path) -> PackageOutcome:
        """Decrypt into the private work folder, then merge the plain package like any other.

        The outcome names the sealed file the coordinator gave, not the temporary copy.
        """
        if self.org_key is None:
            return PackageOutcome(path, REFUSED, tr("rel.sealed.need_key", file=path.name))
        assert self.work_dir is not None
        # Own sub-folder: the decrypted copy keeps the sealed file's name in every message.
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        plain = folder / path.name[: -len(".sealed")]
        try:
            try:
                open_file(path, plain, self.org_key)
            except SealedError as exc:
                return PackageOutcome(path, REFUSED, str(exc))
            except OSError as exc:
                return PackageOutcome(
                    path, REFUSED, tr("package.error.unreadable", file=path.name, problem=exc.strerror or str(exc))
                )
            return replace(self.merge_file(plain), path=path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _merge_verified(self, pkg: VerifiedPackage, *, release: bool) -> PackageOutcome:
        man = pkg.manifest
        name = pkg.path.name

        def outcome(kind: str, reason: str = "") -> PackageOutcome:
            return PackageOutcome(
                pkg.path, kind, reason, pkg.sha256, man.station_code, man.fingerprint, man.observer.name, man.kind
            )

        if self.known.get(pkg.sha256) in (MERGED, DUPLICATE):
            return outcome(DUPLICATE)
        if man.template_id != self.template_id:
            return outcome(
                REFUSED, tr("package.error.other_election", file=name, found=man.template_id, expected=self.template_id)
            )
        status = self.key_status.get(man.fingerprint)
        if status == REVOKED:
            return outcome(REFUSED, tr("package.error.revoked", file=name, fingerprint=man.fingerprint))
        if man.kind == KIND_HQ:
            # a revoked key's data must not come back through a district's package
            for inner in pkg.rows.get("packages", []):
                if inner["outcome"] == MERGED and self.key_status.get(inner["key_fingerprint"]) == REVOKED:
                    return outcome(
                        REFUSED,
                        tr(
                            "package.error.revoked_inside",
                            file=name,
                            fingerprint=inner["key_fingerprint"],
                            inner=inner["file_name"],
                        ),
                    )
        try:
            self._check_content(pkg)
        except PackageError as exc:
            return outcome(REFUSED, str(exc))
        trust_now = status != TRUSTED
        if trust_now and not self.tofu:
            self._hold(pkg)
            return outcome(HELD, tr("package.held.reason", fingerprint=man.fingerprint))
        placed: list[str] = []
        try:
            placed = self._place_evidence(pkg)
            with self._tx() as conn:
                if trust_now:
                    # in the package's transaction: a crash undoes the decision with the data
                    _write_key(conn, man.public_key, "", TRUSTED, TOFU_DECIDER)
                carried = _apply(conn, pkg, self.touched)
        except (IntegrityError, sqlite3.IntegrityError) as exc:
            self._unstage(placed)
            problem = str(exc.orig if isinstance(exc, IntegrityError) else exc)
            return outcome(REFUSED, tr("package.error.conflict", file=name, problem=problem[:120]))
        except PackageError as exc:
            self._unstage(placed)
            return outcome(REFUSED, str(exc))
        except _ForeignRecord as exc:
            self._unstage(placed)
            return outcome(REFUSED, tr("package.error.foreign_record", file=name, table=exc.table, id=exc.record_id))
        except BaseException:
            self._unstage(placed)
            raise
        self.known[pkg.sha256] = MERGED
        if trust_now:
            self.key_status[man.fingerprint] = TRUSTED
        for sha in carried:
            self.known[sha] = MERGED
        if release:
            self.after_commit.append(held_dir(self.hq) / (pkg.sha256 + SUFFIX))
        return outcome(MERGED)

    def _check_content(self, pkg: VerifiedPackage) -> None:
        """Figures and categories must exist in this election's template."""
        name = pkg.path.name
        for row in pkg.rows.get("protocol_values", []):
            if row["key"] not in self.keys_allowed:
                raise PackageError("package.error.unknown_line", file=name, key=str(row["key"])[:40])
        for row in pkg.rows.get("violations", []):
            # "" is a draft the observer exported without a category (the review warned them)
            if row["category"] and row["category"] not in self.categories:
                raise PackageError("package.error.unknown_category", file=name, code=str(row["category"])[:40])

    def _set_key(self, public_key: str, status: str, decided_by: str) -> None:
        # No label: the coordinator gives one; who signed with the key is in KeyInfo.signers.
        # On the merge connection: another one would wait for the batch's write lock.
        with self._tx() as conn:
            _write_key(conn, public_key, "", status, decided_by)
        self.key_status[fingerprint_of(public_key)] = status

    def _hold(self, pkg: VerifiedPackage) -> None:
        """Keep the package file and log it as held; its data waits for a trust decision."""
        man = pkg.manifest
        folder = held_dir(self.hq)
        target = folder / (pkg.sha256 + SUFFIX)
        try:
            folder.mkdir(exist_ok=True)
            if not target.exists():
                durable_copy(pkg.path, target)
        except OSError as exc:
            raise storage_error(exc, target) from None
        if man.fingerprint not in self.key_status:
            self._set_key(man.public_key, PENDING, "")
        if pkg.sha256 in self.known:
            return
        t = now()
        with self._tx() as conn:
            conn.execute(insert(m.Package).values(_package_row(pkg, HELD, None, t)))
        self.known[pkg.sha256] = HELD

    def _place_evidence(self, pkg: VerifiedPackage) -> list[str]:
        """Stage verified evidence for the batch's commit (see ``_place_staged``).

        Content-addressed: files already there (or staged) stay. Returns the names
        this call staged, so a refused package can take them back (``_unstage``).
        """
        assert self.work_dir is not None
        folder = self.hq.evidence_dir
        staged: list[str] = []
        try:
            folder.mkdir(exist_ok=True)
            for stored, source in pkg.evidence_files.items():
                if stored in self.staged or (folder / stored).exists():
                    continue
                # out of the package's hands (closing it deletes its copies), same file system
                keep = self.work_dir / f"staged-{stored}"
                os.replace(source, keep)
                self.staged[stored] = keep
                staged.append(stored)
        except OSError as exc:
            self._unstage(staged)
            raise storage_error(exc, folder) from None
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


def _package_row(pkg: VerifiedPackage, outcome: str, via: str | None, t: datetime) -> dict[str, Any]:
    man = pkg.manifest
    return {
        "id": package_row_id(pkg.sha256),
        "sha256": pkg.sha256,
        "file_name": pkg.path.name[:255],
        "format_version": man.format_version,
        "kind": man.kind,
        "station_code": man.station_code,
        "signer_name": man.observer.name,
        "key_fingerprint": man.fingerprint,
        "public_key": man.public_key,
        "created_in_package": man.created_at,
        "merged_at": t if outcome == MERGED else None,
        "outcome": outcome,
        "reason": "",
        "via_package_id": via,
        "created_at": t,
        "updated_at": t,
    }


def _apply(conn: Connection, pkg: VerifiedPackage, touched: set[tuple[str, str | None]]) -> list[str]:
    """All records of one verified package, inside the caller's transaction.

    Adds the (station, observer) pairs of its head-count clicks to ``touched``.
    Returns the hashes of the station packages it carried (district packages).
    """
    t = now()
    pid = package_row_id(pkg.sha256)
    exists = conn.execute(select(m.Package.id).where(m.Package.id == pid)).scalar()
    if exists:
        conn.execute(update(m.Package).where(m.Package.id == pid).values(outcome=MERGED, merged_at=t, updated_at=t))
    else:
        conn.execute(insert(m.Package).values(_package_row(pkg, MERGED, None, t)))
    provenance = _inner_packages(conn, pkg, pid, t) if pkg.manifest.kind == KIND_HQ else {}

    def source(package_id: str | None) -> str:
        if pkg.manifest.kind != KIND_HQ or package_id is None:
            return pid
        mapped = provenance.get(package_id)
        if mapped is None:
            # a record whose package the district never merged: not trustworthy provenance
            raise PackageError("package.error.schema", file=pkg.path.name, problem="provenance")
        return mapped

    rows = pkg.rows
    _upsert_rows(conn, "observers", rows.get("observers", []))
    stations = rows.get("stations", [])
    if pkg.manifest.kind != KIND_HQ:
        # an observer's file may hold a whole imported station list: take only what its records cite
        cited = {pkg.manifest.station_code}
        cited_ids = {r["station_id"] for table in _DATA_TABLES for r in rows.get(table, []) if "station_id" in r}
        stations = [s for s in stations if s["code"] in cited or s["id"] in cited_ids]
    station_map = _merge_stations(conn, stations, source)
    for table in _DATA_TABLES:
        out = []
        for r in rows.get(table, []):
            r = dict(r)
            r["package_id"] = source(r.get("package_id"))
            if "station_id" in r:
                r["station_id"] = station_map[r["station_id"]]
            out.append(r)
        if table == "headcount_events":
            touched.update((r["station_id"], r.get("observer_id")) for r in out)
        _upsert_rows(conn, table, out)
    return [r["sha256"] for r in pkg.rows.get("packages", []) if r["outcome"] == MERGED]


def _inner_packages(conn: Connection, pkg: VerifiedPackage, pid: str, t: datetime) -> dict[str, str]:
    """Station packages a district merged: logged here (via the district package), ids mapped."""
    mapping: dict[str, str] = {}
    inner = [r for r in pkg.rows.get("packages", []) if r["outcome"] == MERGED]
    for r in inner:
        row_id = package_row_id(r["sha256"])
        mapping[r["id"]] = row_id
        current = conn.execute(select(m.Package.outcome).where(m.Package.id == row_id)).scalar()
        if current is None:
            values = {k: r[k] for k in r if k in m.Package.__table__.columns.keys()}
            values.update(id=row_id, via_package_id=pid, outcome=MERGED, merged_at=t, created_at=t, updated_at=t)
            conn.execute(insert(m.Package).values(**values))
        elif current != MERGED:
            # held here, but the district (whose key we trust) vouched for it
            conn.execute(
                update(m.Package)
                .where(m.Package.id == row_id)
                .values(outcome=MERGED, via_package_id=pid, merged_at=t, updated_at=t)
            )
    return mapping


def _merge_stations(
    conn: Connection, rows: Sequence[dict[str, Any]], source: Callable[[str | None], str]
) -> dict[str, str]:
    """Package station id -> HQ station id, matching by code. HQ's own station list wins."""
    mapping: dict[str, str] = {}
    codes = [r["code"] for r in rows]
    existing: dict[str, dict[str, Any]] = {}
    fields = ("id", "code", "package_id", "created_at", "updated_at", *_STATION_FIELDS)
    for start in range(0, len(codes), _CHUNK):
        chunk = tuple(codes[start : start + _CHUNK])
        sql = f"SELECT {', '.join(fields)} FROM stations WHERE code IN ({_placeholders(len(chunk))})"
        for found in conn.exec_driver_sql(sql, chunk):
            existing[found[1]] = dict(zip(fields, found))
    inserts: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda x: x["code"]):
        incoming = dict(r)
        incoming["package_id"] = source(r.get("package_id"))
        have = existing.get(r["code"])
        if have is None:
            incoming["id"] = station_row_id(r["code"])
            inserts.append(incoming)
            existing[r["code"]] = incoming
        elif have["package_id"] is None:
            # from the coordinator's station list (or typed here): only fill what it lacks
            fill = {f: incoming[f] for f in _STATION_FIELDS if have[f] in (None, "") and incoming[f] not in (None, "")}
            if fill:
                conn.exec_driver_sql(
                    f"UPDATE stations SET {', '.join(f'{f} = :{f}' for f in fill)} WHERE id = :id",
                    {**fill, "id": have["id"]},
                )
                have.update(fill)
        else:
            sets = {}
            if (incoming["updated_at"], incoming["package_id"]) > (have["updated_at"], have["package_id"]):
                sets = {f: incoming[f] for f in (*_STATION_FIELDS, "observer_id", "package_id", "updated_at")}
            if incoming["created_at"] < have["created_at"]:
                # first seen = earliest of all versions, whatever order they arrive in
                sets["created_at"] = incoming["created_at"]
            if sets:
                conn.exec_driver_sql(
                    f"UPDATE stations SET {', '.join(f'{f} = :{f}' for f in sets)} WHERE id = :id",
                    {**sets, "id": have["id"]},
                )
                have.update(sets)
        mapping[r["id"]] = existing[r["code"]]["id"]
    if inserts:
        cols = _columns("stations")
        conn.exec_driver_sql(
            f"INSERT INTO stations ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})",
            [{c: r.get(c) for c in cols} for r in inserts],
        )
    return mapping


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


class _ForeignRecord(Exception):
    """A package record reuses the id of a record another observer (or station) owns here."""

    def __init__(self, table: str, record_id: str) -> None:
        super().__init__(table, record_id)
        self.table = table
        self.record_id = record_id


def _upsert_rows(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert new records, replace older versions of known ones (newer updated_at wins).

    A record id the HQ already holds for another observer or station is refused
    (_ForeignRecord): a signed package may only update its own observers' records.
    Plain statements on the driver connection, in the caller's transaction: merge
    speed is dominated by per-statement and per-row overhead, not by SQLite.
    """
    if not rows:
        return
    raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
    cols = _columns(table)
    owners = [c for c in ("observer_id", "station_id") if c in cols]
    pkg_col = "package_id" if "package_id" in cols else "''"
    existing: dict[str, tuple[Any, ...]] = {}
    ids = [r["id"] for r in rows]
    select_cols = ", ".join(("id", "updated_at", pkg_col, *owners))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        sql = f"SELECT {select_cols} FROM {table} WHERE id IN ({_placeholders(len(chunk))})"
        for found in raw.execute(sql, chunk):
            existing[found[0]] = found[1:]
    # Every row of a table has the same keys: a C-level getter when all columns are there.
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]
    first = rows[0].keys()
    if all(c in first for c in cols) and all(r.keys() == first for r in rows):
        values_of = itemgetter(*cols)  # type: ignore[assignment]
    else:
        values_of = lambda r: tuple(r.get(c) for c in cols)  # noqa: E731
    if not existing:
        inserts = list(map(values_of, rows))
        updates: list[tuple[Any, ...]] = []
    else:
        inserts, updates = [], []
        at = {c: i for i, c in enumerate(cols)}
        id_at, owner_at, pkg_at = at["id"], [at[c] for c in owners], at.get("package_id")
        for r in rows:
            values = values_of(r)
            have = existing.get(values[id_at])
            if have is None:
                inserts.append(values)
                continue
            for i, held in zip(owner_at, have[2:]):
                if held != values[i]:
                    raise _ForeignRecord(table, str(values[id_at])[:40])
            if (values[at["updated_at"]], (values[pkg_at] if pkg_at is not None else None) or "") > (
                have[0],
                have[1] or "",
            ):
                updates.append(values)
    if inserts:
        raw.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({_placeholders(len(cols))})", inserts)
    if updates:
        keep = [i for i, c in enumerate(cols) if c not in ("id", "created_at")]
        sets = ", ".join(f"{cols[i]} = ?" for i in keep)
        id_at = cols.index("id")
        raw.executemany(
            f"UPDATE {table} SET {sets} WHERE id = ?", [tuple(v[i] for i in keep) + (v[id_at],) for v in updates]
        )


@cache
def _columns(table: str) -> tuple[str, ...]:
    return tuple(m.Base.metadata.tables[table].columns.keys())


def merge_packages(
    hq: ElectionStore,
    paths: Iterable[Path],
    *,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    trust_new_keys: bool | None = None,
    org_key: X25519PrivateKey | None = None,
) -> MergeReport:
    """Merge package files and folders (searched recursively for ``*.bqpkg``) into ``hq``.

    ``trust_new_keys`` None uses the HQ file's setting (off unless turned on).
    ``org_key`` (the organisation's private key) opens sealed ``*.bqpkg.sealed``
    files; without it they are refused with a message saying so.
    """
    files = iter_packages(paths)
    report = MergeReport()
    total = len(files)
    with _Merger(hq, trust_on_first_use(hq) if trust_new_keys is None else trust_new_keys, org_key) as merger:
        for i, path in enumerate(files):
            if cancel is not None and cancel():
                report.cancelled = True
                break
            if progress is not None:
                progress(i, total, path.name)
            report.entries.append(merger.merge_file(path))
            merger.commit_if_due()
    if progress is not None and not report.cancelled:
        progress(total, total, "")
    return report


# ---- keys ------------------------------------------------------------------------


def _write_key(conn: Connection, public_key: str, label: str, status: str, decided_by: str) -> None:
    fpr = fingerprint_of(public_key)
    t = now()
    decided_at = t if status != PENDING else None
    done = conn.execute(
        update(m.TrustedKey)
        .where(m.TrustedKey.fingerprint == fpr)
        .values(
            status=status,
            decided_by=decided_by,
            decided_at=decided_at,
            updated_at=t,
            **({"label": label} if label else {}),
        )
    ).rowcount
    if not done:
        conn.execute(
            insert(m.TrustedKey).values(
                id=m.new_id(),
                fingerprint=fpr,
                public_key=public_key,
                label=label,
                status=status,
                decided_by=decided_by,
                decided_at=decided_at,
                created_at=t,
                updated_at=t,
            )
        )


def _upsert_key(hq: ElectionStore, public_key: str, label: str, status: str, decided_by: str) -> None:
    with hq._write() as conn:
        _write_key(conn, public_key, label, status, decided_by)


def _find_key(hq: ElectionStore, fingerprint: str) -> tuple[str, str]:
    """(fingerprint, public key) for what the user typed: a full fingerprint or a unique prefix."""
    wanted = normalize_fingerprint(fingerprint)
    if not wanted:
        raise PackageError("package.key.unknown", fingerprint=fingerprint)
    with hq.engine.connect() as conn:
        known = {r[0]: r[1] for r in conn.execute(select(m.TrustedKey.fingerprint, m.TrustedKey.public_key))}
        for fpr, pub in conn.execute(select(m.Package.key_fingerprint, m.Package.public_key).distinct()):
            if fpr and pub:
                known.setdefault(fpr, pub)
    matches = [f for f in known if f.startswith(wanted)]
    if not matches:
        raise PackageError("package.key.unknown", fingerprint=fingerprint)
    if len(matches) > 1:
        raise PackageError("package.key.ambiguous", fingerprint=fingerprint)
    return matches[0], known[matches[0]]


def trust_key(hq: ElectionStore, fingerprint: str, label: str = "", decided_by: str = "") -> KeyInfo:
    """Trust a key seen in a held package or imported before (``release_held`` then merges its packages)."""
    fpr, pub = _find_key(hq, fingerprint)
    _upsert_key(hq, pub, label.strip(), TRUSTED, decided_by.strip())
    return next(k for k in list_keys(hq) if k.fingerprint == fpr)


def revoke_key(hq: ElectionStore, fingerprint: str, decided_by: str = "") -> KeyInfo:
    """Refuse the key's future packages; data already merged stays but the trusted-only rule drops it."""
    fpr, pub = _find_key(hq, fingerprint)
    _upsert_key(hq, pub, "", REVOKED, decided_by.strip())
    return next(k for k in list_keys(hq) if k.fingerprint == fpr)


MAX_KEY_FILE = 1024 * 1024


def import_keys(hq: ElectionStore, file: Path, decided_by: str = "") -> list[KeyInfo]:
    """Trust the keys listed in a text file: one ``<public key hex> [label]`` per line, ``#`` comments.

    The whole file is checked first: one bad line and no key is imported.
    """
    path = Path(file)
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise PackageError("package.key.too_big", file=path.name)
        data = path.read_bytes()
    except OSError as exc:
        raise PackageError("package.error.unreadable", file=path.name, problem=exc.strerror or str(exc)) from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackageError("package.key.bad_line", file=path.name, line=1) from None
    entries: list[tuple[str, str]] = []
    for number, line in enumerate(content.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        pub = parts[0].lower()
        if not is_public_hex(pub):
            raise PackageError("package.key.bad_line", file=path.name, line=number)
        entries.append((pub, parts[1].strip()[:200] if len(parts) > 1 else ""))
    if not entries:
        raise PackageError("package.key.empty_file", file=path.name)
    for pub, label in entries:
        _upsert_key(hq, pub, label, TRUSTED, decided_by.strip())
    wanted = {fingerprint_of(pub) for pub, _ in entries}
    return [k for k in list_keys(hq) if k.fingerprint in wanted]


def list_keys(hq: ElectionStore) -> list[KeyInfo]:
    with hq.engine.connect() as conn:
        counts: dict[tuple[str, str], int] = {}
        q = text(
            "SELECT key_fingerprint, outcome, count(*) FROM packages WHERE key_fingerprint IS NOT NULL GROUP BY key_fingerprint, outcome"
        )
        for fpr, outcome, n in conn.execute(q):
            counts[(fpr, outcome)] = int(n)
        signers: dict[str, list[str]] = {}
        q = text(
            "SELECT DISTINCT key_fingerprint, signer_name FROM packages WHERE key_fingerprint IS NOT NULL ORDER BY signer_name"
        )
        for fpr, name in conn.execute(q):
            if name:
                signers.setdefault(fpr, []).append(name)
        rows = conn.execute(select(m.TrustedKey).order_by(m.TrustedKey.status, m.TrustedKey.fingerprint)).all()
    return [
        KeyInfo(
            r.fingerprint,
            r.public_key,
            r.label,
            r.status,
            r.decided_by,
            r.decided_at,
            counts.get((r.fingerprint, MERGED), 0),
            counts.get((r.fingerprint, HELD), 0),
            tuple(signers.get(r.fingerprint, ())),
        )
        for r in rows
    ]


def release_held(hq: ElectionStore, fingerprint: str) -> MergeReport:
    """Merge the packages held for a key that is now trusted (from the copies kept when held)."""
    fpr, _ = _find_key(hq, fingerprint)
    with hq.engine.connect() as conn:
        shas = [
            r[0]
            for r in conn.execute(
                select(m.Package.sha256).where(m.Package.key_fingerprint == fpr, m.Package.outcome == HELD)
            )
        ]
    report = MergeReport()
    with _Merger(hq, trust_new_keys=False) as merger:
        if merger.key_status.get(fpr) != TRUSTED:
            return report
        for sha in sorted(shas):
            kept = held_dir(hq) / (sha + SUFFIX)
            report.entries.append(merger.merge_file(kept, release=True))
            merger.commit_if_due()
    return report
