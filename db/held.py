"""Releasing packages held for a key that is now trusted (db.merge holds them).

A file HQ keeps the held copies in its ``.held`` folder (``db.merge.held_dir``); a PostgreSQL HQ
in the database's file store (``db.merge.held_file_name``), so any coordinator's machine releases
them. Each copy is merged like any offered file: verified again, and its copy dropped once merged.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DatabaseError, OperationalError

from db import models as m
from db.engine import error_for
from db.keys import TRUSTED, find_key
from db.merge import HELD, MergeReport, _Merger, held_dir, held_file_name
from db.store import ElectionStore, storage_error
from db.store_records import fetch_evidence_file
from observer.package import SUFFIX


def release_held(hq: ElectionStore, fingerprint: str) -> MergeReport:
    """Merge the packages held for a key that is now trusted, from the copies kept when held
    (beside a file HQ; in a PostgreSQL HQ's database, so from any coordinator's machine)."""
    fpr, _ = find_key(hq, fingerprint)
    pk = m.Package
    with hq.engine.connect() as conn:
        held = conn.execute(
            select(pk.sha256, pk.file_sha256).where(pk.key_fingerprint == fpr, pk.outcome == HELD).order_by(pk.sha256)
        ).all()
    report = MergeReport()
    with _Merger(hq, trust_new_keys=False) as merger:
        if merger.book.status.get(fpr) != TRUSTED:
            return report
        for sha, file_sha in held:
            kept = _held_copy(merger, sha, file_sha)
            if kept is None:
                continue  # logged held, its copy not kept (lost, or released meanwhile): merged when offered again
            try:
                entry = merger.merge_file(kept)
            finally:
                if merger.pg:
                    kept.unlink(missing_ok=True)  # the fetched copy
            merger.log_outcome(entry)
            report.entries.append(entry)
            merger.commit_if_due()
    return report


def _held_copy(merger: _Merger, identity: str, file_sha: str | None) -> Path | None:
    """A readable copy of a held package (on PostgreSQL fetched and checked), or None when none is kept."""
    name = identity + SUFFIX
    if not merger.pg:
        path = held_dir(merger.hq) / name
        return path if path.is_file() else None
    if file_sha is None:
        return None
    assert merger.work_dir is not None
    target = merger.work_dir / name
    try:
        with merger.hq.engine.connect() as conn:
            found = fetch_evidence_file(conn, held_file_name(file_sha), file_sha, target)
    except OSError as exc:
        raise storage_error(exc, target) from None
    except (OperationalError, DatabaseError) as exc:
        raise error_for(exc, merger.hq.path, merger.hq.url) from None
    return target if found else None
