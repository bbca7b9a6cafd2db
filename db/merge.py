"""Merging station (and district HQ) packages into a coordinator's HQ file.

Rules, each for a reason:

* Every package is verified (db.package) and authorized (db.authorize) before
  anything is written; a bad one is refused with its reason and the next one goes
  on, whatever it raises while being read. Refused packages leave the HQ's records
  untouched: only the package log keeps their line and reason (below).
* A signature decides what a package may change: a station package its signer's
  own records at its own station (the key bound to one observer), a district
  package only from a key with the district role, its station packages re-verified
  from their own signatures (docs/security.md).
* One savepoint per package, committed in batches (db.merge_batch): a crash
  mid-merge loses the packages of the last uncommitted batch whole, never part of
  one, and merging again recovers them.
* A package's identity is the SHA-256 of its signed manifest (which pins every
  member by hash). A package already merged is a duplicate only once its signature
  and every member's hash are checked again: a tampered copy is refused. Under the
  write lock the log is read again, so two runs of the same set never both merge it.
* A refused file stays in the package log (``packages``, outcome ``refused``) with
  its reason, keyed by a hash of its name and content (it may have no manifest to
  name it): one row per file, gone once that file is merged after all.
* Packages signed by a key the coordinator has not trusted are held until the key is
  trusted, unless trust on first use is on (never for district packages). A file HQ keeps
  the held copies in ``<HQ file>.held/`` (``held_dir``); a PostgreSQL HQ keeps them in the
  database's file store (as evidence files are, named ``<SHA-256 of the file>.bqpkg``),
  written in the transaction that logs them as held, so trusting the key on any
  coordinator's machine releases them.
* On PostgreSQL several merges may run at once (db.merge_batch): every write names
  the rows it touches (``_package_locks``), and decisions another run may have
  changed since this one started (a key's trust, a package's or a refusal's line in
  the log) are read again under those locks before they are written.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from db import models as m
from db.authorize import Grant, authorize, check_prior_records, package_locks
from db.dbapi import Driver
from db.keys import (  # noqa: F401  (the keys service, re-exported for the UI and the command line)
    PENDING,
    REVOKED,
    TOFU_DECIDER,
    TOFU_META_KEY,
    TRUSTED,
    KeyBook,
    KeyInfo,
    find_key,
    import_keys,
    list_keys,
    revoke_key,
    set_key_role,
    set_trust_on_first_use,
    trust_key,
    trust_on_first_use,
    write_key,
)
from db.merge_batch import INTEGRITY_ERRORS, Contended, MergeBatch
from db.merge_rows import (  # noqa: F401  (package_row_id, station_row_id: re-exported)
    AlreadyMerged,
    ForeignRecord,
    apply,
    file_digest,
    package_row,
    package_row_id,
    station_row_id,
)
from db.package import (
    READ_ERRORS,
    VerifiedPackage,
    extract_evidence,
    iter_packages,
    manifest_identity,
    verify_duplicate,
)
from db.package_reader import PackageRead, PackageReader, ReadAhead
from db.store import ElectionStore, durable_copy, now, storage_error
from db.store_records import store_evidence_file
from observer.errors import PackageError
from observer.i18n import tr
from observer.package import KIND_HQ, KIND_STATION, SUFFIX
from observer.sealed import SealedError, is_sealed_name, open_file

MERGED = "merged"
DUPLICATE = "duplicate"
REFUSED = "refused"
HELD = "held"
OUTCOMES = (MERGED, DUPLICATE, HELD, REFUSED)
# A package meeting another merge's uncommitted rows is written again after a commit (Contended):
# the other merge may itself be waiting for this one's rows (a deadlock, one of the two is stopped
# by the server), so a try or two more see what it committed.
_CONTENDED_TRIES = 3
# Evidence unpacked by one run, at most: a run over a folder of hostile files stops
# unpacking (the rest is refused, to be merged in another run) long before a disk fills.
MAX_RUN_BYTES = 64 * 1024**3


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


@dataclass
class _Logged:
    outcome: str
    via: bool  # merged only as carried by a district package (not yet signed here by its observer)
    signed: bool  # its manifest and signature are stored
    file_sha256: str | None = None  # the file as merged


def held_dir(hq: ElectionStore) -> Path:
    """Where a file HQ keeps held package files: beside it (a PostgreSQL HQ keeps them in the database)."""
    if hq.url is not None:
        raise ValueError("a PostgreSQL HQ keeps held packages in the database")
    return hq.path.with_name(hq.path.name + ".held")


def held_file_name(file_sha256: str) -> str:
    """A held package's name in a PostgreSQL HQ's file store: content-addressed, like evidence."""
    return file_sha256 + SUFFIX


class _Merger(MergeBatch):
    def __init__(self, hq: ElectionStore, trust_new_keys: bool, org_key: X25519PrivateKey | None = None) -> None:
        super().__init__(hq)
        self.tofu = trust_new_keys
        self.org_key = org_key
        self.template_id = hq.meta("template_id") or ""
        self.template = hq.template
        self.keys_allowed = set(self.template.all_keys)
        self.categories = {c.code for c in self.template.violation_categories}
        q = "SELECT sha256, outcome, via_package_id IS NOT NULL, manifest IS NOT NULL, file_sha256 FROM packages"
        with hq.engine.connect() as conn:
            # on the driver: one row per package ever merged, read at every start (a re-merge is mostly this)
            self.known = {r[0]: _Logged(r[1], bool(r[2]), bool(r[3]), r[4]) for r in Driver(conn).rows(q)}
        # file SHA-256 -> identity of the packages merged here from exactly that file (_same_file)
        self.merged_files = {
            logged.file_sha256: sha for sha, logged in self.known.items() if logged.file_sha256 and logged.signed
        }
        self.run_bytes = 0
        self.refusals = {sha for sha, logged in self.known.items() if logged.outcome == REFUSED}

    def log_outcome(self, entry: PackageOutcome) -> None:
        """Keep a refusal in the package log (with its reason); a file merged after all leaves it."""
        if entry.outcome != REFUSED and not self.refusals:
            return  # nothing to take back: no second hash of every merged file
        key = _refusal_key(entry.path)
        locks = ["refused:" + key]
        if entry.outcome != REFUSED:
            if key in self.refusals:
                with self._tx(locks) as conn:
                    conn.execute(text("DELETE FROM packages WHERE sha256 = :k AND outcome = 'refused'"), {"k": key})
                self.refusals.discard(key)
                self.known.pop(key, None)
            return
        reason = entry.reason[:2000]
        pk = m.Package
        with self._tx(locks) as conn:
            # read again under the lock: another run may have refused the same file since this one started
            if key in self.refusals or conn.execute(select(pk.id).where(pk.sha256 == key)).first() is not None:
                # the same file refused again: only a new reason is news (a repeated run writes nothing)
                conn.execute(
                    update(pk).where(pk.sha256 == key, pk.reason != reason).values(reason=reason, updated_at=now())
                )
            else:
                conn.execute(insert(m.Package).values(_refusal_row(entry, key, reason)))
        self.refusals.add(key)
        self.known[key] = _Logged(REFUSED, False, False)

    @cached_property
    def book(self) -> KeyBook:
        """The keys' decisions, read when a package first needs them (a re-merge of files already merged
        never does); read again under the key's lock before a decision is written (_trust_on_first_use)."""
        with self.hq.engine.connect() as conn:
            return KeyBook.load(conn)

    @property
    def key_status(self) -> dict[str, str]:
        return self.book.status

    def _merged_here(self, sha: str) -> bool:
        """Merged from this very package (not only as carried by a district)."""
        logged = self.known.get(sha)
        return logged is not None and logged.outcome in (MERGED, DUPLICATE) and not logged.via

    def merge_file(self, path: Path) -> PackageOutcome:
        """One file's outcome. Whatever a hostile file raises while being read is its refusal
        (db.package.READ_ERRORS); only a problem of the HQ's own storage (a full disk) stops the run."""
        return self.finish(self.prepare(path))

    def prepare(self, path: Path, reader: PackageReader | None = None) -> PackageRead:
        """What no decision of this run changes: the file's hash, identity and (by ``reader``, in a helper
        process, unless the run's log calls it a duplicate) verified contents; done ahead of its turn."""
        if is_sealed_name(path):
            return PackageRead(path)  # decrypted and merged by finish
        # Hashed once, first: a file byte for byte one merged here is a duplicate without opening
        # it (most of a re-merge); otherwise the same hash is logged with the package (_write).
        digest = file_digest(path)
        if self._same_file(digest) is not None:
            return PackageRead(path, digest)
        identity = manifest_identity(path)
        read = PackageRead(path, digest, identity)
        if reader is not None and self.work_dir is not None and not (identity and self._merged_here(identity)):
            read.opening, read.reader = reader.submit(path, self.work_dir), reader
        return read

    def finish(self, read: PackageRead) -> PackageOutcome:
        """The outcome of a prepared file, decided on what the run has merged by now (the file
        before it may have been another copy of the same package)."""
        path, digest = read.path, read.digest
        if is_sealed_name(path):
            return self._merge_sealed(path)
        identity = self._same_file(digest)
        if identity is not None:
            read.drop()
            return PackageOutcome(path, DUPLICATE, sha256=identity)
        if read.identity is not None and self._merged_here(read.identity):
            read.drop()
            return self._duplicate(path, read.identity, digest)
        pkg = read.opened(self.work_dir)
        if isinstance(pkg, str):
            return PackageOutcome(path, REFUSED, pkg)
        with pkg:
            return self._merge_verified(pkg, digest)

    def _same_file(self, digest: str | None) -> str | None:
        """The identity of the package merged here (signed) from a file with this SHA-256, if any."""
        identity = self.merged_files.get(digest) if digest is not None else None
        if identity is None or not self._merged_here(identity):
            return None
        logged = self.known[identity]
        return identity if logged.signed and logged.file_sha256 == digest else None

    def _duplicate(self, path: Path, identity: str, digest: str | None) -> PackageOutcome:
        """Already merged: so it is if the file is byte for byte the one merged (``digest``, the file's
        SHA-256), or else once its signature and every member's hash are checked again (a changed
        copy is refused)."""
        logged = self.known[identity]
        if digest is not None and digest == logged.file_sha256 and logged.signed:
            return PackageOutcome(path, DUPLICATE, sha256=identity)
        try:
            body, signature = verify_duplicate(path)
        except PackageError as exc:
            return PackageOutcome(path, REFUSED, tr("package.error.tampered_copy", file=path.name, problem=str(exc)))
        if not logged.signed or logged.file_sha256 is None:
            # merged by 0.1.0: keep its signed manifest now (a district package passes it on) and
            # the file's hash (the next time it is offered is one hash)
            with self._tx(["package:" + identity]) as conn:
                conn.execute(
                    text(
                        "UPDATE packages SET manifest = coalesce(manifest, :b), signature = coalesce(signature, :s), "
                        "file_sha256 = coalesce(file_sha256, :f) WHERE sha256 = :h"
                    ),
                    {"b": body, "s": signature, "f": digest, "h": identity},
                )
            logged.signed = True
            logged.file_sha256 = logged.file_sha256 or digest
            if logged.file_sha256:
                self.merged_files[logged.file_sha256] = identity
        return PackageOutcome(path, DUPLICATE, sha256=identity)

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

    def _merge_verified(self, pkg: VerifiedPackage, digest: str | None) -> PackageOutcome:
        man = pkg.manifest
        name = pkg.path.name

        def outcome(kind: str, reason: str = "") -> PackageOutcome:
            return PackageOutcome(
                pkg.path, kind, reason, pkg.sha256, man.station_code, man.fingerprint, man.observer.name, man.kind
            )

        if self._merged_here(pkg.sha256):
            return self._duplicate(pkg.path, pkg.sha256, digest)
        if man.template_id != self.template_id:
            return outcome(
                REFUSED, tr("package.error.other_election", file=name, found=man.template_id, expected=self.template_id)
            )
        status = self.book.status.get(man.fingerprint)
        if status == REVOKED:
            return outcome(REFUSED, tr("package.error.revoked", file=name, fingerprint=man.fingerprint))
        try:
            grant = authorize(pkg, self.book, self.template_id)
            self._check_content(pkg)
        except PackageError as exc:
            return outcome(REFUSED, str(exc))
        except READ_ERRORS as exc:  # rows are checked already: never expected, still a refusal
            return outcome(REFUSED, tr("package.error.damaged", file=name, problem=type(exc).__name__))
        if man.kind == KIND_HQ and not self.book.is_district(man.fingerprint):
            if status == TRUSTED:
                return outcome(REFUSED, tr("package.auth.not_district", file=name, fingerprint=man.fingerprint))
            self._hold(pkg, digest)  # a district key is never trusted on first use
            return outcome(HELD, tr("package.held.district", fingerprint=man.fingerprint))
        if status != TRUSTED and not self.tofu:
            self._hold(pkg, digest)
            return outcome(HELD, tr("package.held.reason", fingerprint=man.fingerprint))
        if self.run_bytes + pkg.evidence_bytes > MAX_RUN_BYTES:
            return outcome(REFUSED, tr("package.error.run_budget", file=name, limit_gb=MAX_RUN_BYTES // 1024**3))
        try:
            extract_evidence(pkg)
        except PackageError as exc:
            return outcome(REFUSED, str(exc))
        self.run_bytes += pkg.evidence_bytes
        logged = self.known.get(pkg.sha256)
        refused = self._write(pkg, grant, digest, trust_now=status != TRUSTED)
        if refused is not None:
            return outcome(DUPLICATE) if refused == DUPLICATE else outcome(REFUSED, refused)
        if logged is not None and logged.outcome == HELD:
            # released by a trust decision, or offered again after it: its held copy is done with
            self._drop_held_copy(pkg.sha256, logged.file_sha256)
        return outcome(MERGED)

    def _write(
        self, pkg: VerifiedPackage, grant: Grant, digest: str | None, *, trust_now: bool, tries: int = 1
    ) -> str | None:
        """The package's records in its own savepoint; None when merged, else DUPLICATE or the reason.

        ``digest`` (the file's SHA-256, taken before it was verified) is logged: the next offer of the
        same file is one hash. Taken before rather than after the checks, it is no weaker: a file
        changed between hash and checks could as well have been changed between checks and hash."""
        man, name = pkg.manifest, pkg.path.name
        placed: list[str] = []
        try:
            placed = self._place_evidence(pkg)
            with self._tx(package_locks(pkg, grant) if self.pg else ()) as conn:
                if trust_now:
                    # in the package's transaction: a crash undoes the decision with the data
                    self._trust_on_first_use(conn, pkg)
                if man.kind == KIND_STATION:
                    self._bind(conn, pkg)
                carried = apply(conn, pkg, grant, self.touched, digest)
        except AlreadyMerged:
            self._unstage(placed)
            self.known[pkg.sha256] = _Logged(MERGED, False, True)  # the other run's file hash is not known here
            return DUPLICATE
        except Contended as exc:
            if tries >= _CONTENDED_TRIES:
                self._unstage(placed)
                return tr("package.error.conflict", file=name, problem=str(exc)[:120])
            # Another merge's rows, not yet committed: commit this batch (its locks go; the other
            # merge goes on) and write the package again, then seeing them once they are committed:
            # a record id another observer owns is refused by name, as on a file. Its staged
            # evidence is kept (placed by the commit, found there by the next try).
            self.commit()
            return self._write(pkg, grant, digest, trust_now=trust_now, tries=tries + 1)
        except INTEGRITY_ERRORS as exc:
            self._unstage(placed)
            problem = str(exc.orig if isinstance(exc, IntegrityError) else exc)
            return tr("package.error.conflict", file=name, problem=problem[:120])
        except PackageError as exc:
            self._unstage(placed)
            return str(exc)
        except ForeignRecord as exc:
            self._unstage(placed)
            return tr("package.error.foreign_record", file=name, table=exc.table, id=exc.record_id)
        except BaseException:
            self._unstage(placed)
            raise
        self.known[pkg.sha256] = _Logged(MERGED, False, True, digest)
        if digest is not None:
            self.merged_files[digest] = pkg.sha256
        if trust_now:
            self.book.status[man.fingerprint] = TRUSTED
        if man.kind == KIND_STATION:
            self.book.bind(man.fingerprint, man.observer.id)
        for sha in carried:
            self.known.setdefault(sha, _Logged(MERGED, True, True))
        return None

    def _bind(self, conn: Connection, pkg: VerifiedPackage) -> None:
        """Bind the key to the package's observer on its first package (checked against what the HQ holds)."""
        man, name = pkg.manifest, pkg.path.name
        fpr, oid = man.fingerprint, man.observer.id
        if self.book.bound.get(fpr) == oid:
            return
        check_prior_records(conn, fpr, oid, name)
        # Plain statements (db.dbapi.Driver): once per key, but on every package of a new team.
        # Checked before the update rather than caught from the unique index: on PostgreSQL a failed
        # statement would spoil the package's savepoint. Under the observer's merge lock (PostgreSQL)
        # nobody binds this observer meanwhile; the index stays the last word.
        db = Driver(conn)
        owner = db.rows(f"SELECT fingerprint FROM trusted_keys WHERE observer_id = {db.mark}", (oid,))
        if owner and owner[0][0] != fpr:
            raise PackageError(
                "package.auth.observer_bound", file=name, fingerprint=fpr, bound=owner[0][0], observer=oid
            )
        db.rows(
            f"UPDATE trusted_keys SET observer_id = {db.mark} WHERE fingerprint = {db.mark} AND observer_id IS NULL",
            (oid, fpr),
        )
        bound = db.rows(f"SELECT observer_id FROM trusted_keys WHERE fingerprint = {db.mark}", (fpr,))
        if not bound or bound[0][0] != oid:  # another run bound it meanwhile
            raise PackageError(
                "package.auth.key_bound", file=name, fingerprint=fpr, bound=bound[0][0] if bound else "?", observer=oid
            )

    def _trust_on_first_use(self, conn: Connection, pkg: VerifiedPackage) -> None:
        """Trust the package's key (trust on first use), unless a coordinator decided about it since
        this run started: a key revoked meanwhile refuses the package, one trusted stays as decided."""
        man = pkg.manifest
        db = Driver(conn)
        found = db.rows(f"SELECT status FROM trusted_keys WHERE fingerprint = {db.mark}", (man.fingerprint,))
        status = found[0][0] if found else None
        if status == REVOKED:
            self.book.status[man.fingerprint] = REVOKED
            raise PackageError("package.error.revoked", file=pkg.path.name, fingerprint=man.fingerprint)
        if status != TRUSTED:
            write_key(conn, man.public_key, "", TRUSTED, TOFU_DECIDER, new=status is None)

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

    def _hold(self, pkg: VerifiedPackage, digest: str | None) -> None:
        """Keep the package file and log it as held; its data waits for a trust decision.

        A file HQ keeps the copy in its folder (durable before the log line says held); a
        PostgreSQL HQ keeps it in the database, in the transaction that writes the log line.
        """
        man = pkg.manifest
        # the kept copy's hash is logged: the copy is checked against it when released or copied
        # (on PostgreSQL the offered file itself, hashed by merge_file and again while it is stored)
        kept = pkg.path if self.pg else held_dir(self.hq) / (pkg.sha256 + SUFFIX)
        try:
            if not self.pg:
                kept.parent.mkdir(parents=True, exist_ok=True)
                if not kept.exists():
                    durable_copy(pkg.path, kept)
            if digest is None or not self.pg:
                with kept.open("rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as exc:
            raise storage_error(exc, kept) from None
        if man.fingerprint not in self.book.status:
            # No label: the coordinator gives one; who signed with the key is in KeyInfo.signers.
            tk = m.TrustedKey
            with self._tx(["key:" + man.fingerprint]) as conn:
                # read again under the lock: another run may have decided about this key meanwhile
                status = conn.execute(select(tk.status).where(tk.fingerprint == man.fingerprint)).scalar()
                if status is None:
                    write_key(conn, man.public_key, "", PENDING, "", new=True)
            self.book.status[man.fingerprint] = status or PENDING
        if pkg.sha256 in self.known:
            return
        t = now()
        pk = m.Package
        with self._tx(["package:" + pkg.sha256]) as conn:
            if conn.execute(select(pk.id).where(pk.sha256 == pkg.sha256)).first() is None:  # another run's line?
                if self.pg:
                    try:
                        store_evidence_file(conn, held_file_name(digest), pkg.path, digest)
                    except OSError as exc:
                        raise storage_error(exc, pkg.path) from None
                conn.execute(insert(m.Package).values(package_row(pkg, HELD, None, t, file_sha256=digest)))
        self.known[pkg.sha256] = _Logged(HELD, False, True, digest)

    def _drop_held_copy(self, identity: str, file_sha: str | None) -> None:
        """Forget a merged package's held copy once its merge is committed (on PostgreSQL, with it)."""
        if not self.pg:
            self.after_commit.append(held_dir(self.hq) / (identity + SUFFIX))
        elif file_sha is not None:
            with self._tx(["package:" + identity]) as conn:
                stored = held_file_name(file_sha)
                conn.execute(delete(m.EVIDENCE_FILES).where(m.EVIDENCE_FILES.c.stored_name == stored))


def merge_packages(
    hq: ElectionStore,
    paths: Iterable[Path],
    *,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    trust_new_keys: bool | None = None,
    org_key: X25519PrivateKey | None = None,
    committed: Callable[[list[PackageOutcome]], None] | None = None,
    read_ahead: bool = False,
) -> MergeReport:
    """Merge package files and folders (searched recursively for ``*.bqpkg``) into ``hq``.

    ``trust_new_keys`` None uses the HQ file's setting (off unless turned on). ``org_key`` (the
    organisation's private key) opens sealed ``*.bqpkg.sealed`` files; without it they are refused
    with a message saying so. ``committed`` is called with outcomes, in order, once what they wrote
    is committed: a run killed after that loses none of them. ``read_ahead``: a helper process opens
    the next packages (db/package_reader.py); it imports the caller's main module (__main__ guard!).
    """
    files = iter_packages(paths)
    report = MergeReport()
    total = len(files)
    with _Merger(hq, trust_on_first_use(hq) if trust_new_keys is None else trust_new_keys, org_key) as merger:
        merger.on_commit = committed
        reads = ReadAhead(files, merger.prepare, read_ahead)
        try:
            for i, path in enumerate(files):
                if cancel is not None and cancel():
                    report.cancelled = True
                    break
                if progress is not None:
                    progress(i, total, path.name)
                entry = merger.finish(reads.take(i))
                merger.log_outcome(entry)
                report.entries.append(entry)
                merger.acknowledge(entry)
                merger.commit_if_due()
        finally:
            reads.close()  # before the merge's work folder is removed
    if progress is not None and not report.cancelled:
        progress(total, total, "")
    return report


def _refusal_key(path: Path) -> str:
    """A refused file's key in the log: the SHA-256 of its name and content (of its path if unreadable).

    Copies of one file on two sticks are one refusal; two files that happen to hold
    the same bytes under different names are two lines the coordinator can find.
    """
    digest = file_digest(path) or "unreadable:" + str(path)
    return hashlib.sha256(f"{path.name}\0{digest}".encode()).hexdigest()


def _refusal_row(entry: PackageOutcome, key: str, reason: str) -> dict[str, object]:
    t = now()
    return {
        "id": package_row_id("refused:" + key),
        "sha256": key,
        "file_name": entry.path.name[:255],
        "kind": entry.kind or KIND_STATION,
        "station_code": entry.station_code,
        "signer_name": entry.signer[:200],
        # no public key: a refused package's key is never offered for trust (db.keys._known_keys)
        "key_fingerprint": entry.fingerprint,
        "outcome": REFUSED,
        "reason": reason,
        "file_sha256": file_digest(entry.path),
        "created_at": t,
        "updated_at": t,
    }
