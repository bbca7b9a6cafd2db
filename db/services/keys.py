"""The coordinator's keys page: the import log, and trusting keys so that their held packages merge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from db import models as m
from db.held import release_held
from db.merge import TRUSTED, KeyInfo, MergeReport, import_keys, list_keys, trust_key
from db.store import ElectionStore


@dataclass(frozen=True)
class LoggedPackage:
    """One row of the import log; text fields a package did not carry are ""."""

    file_name: str
    outcome: str  # db.merge's outcome names (merged, duplicate, held, refused ...)
    station_code: str
    signer_name: str
    key_fingerprint: str
    merged_at: datetime | None  # aware UTC; None if it was not merged
    reason: str  # why it was held or refused


def import_log(store: ElectionStore) -> list[LoggedPackage]:
    """Every package of the ``packages`` table, newest first."""
    p = m.Package
    stmt = select(
        p.file_name, p.outcome, p.station_code, p.signer_name, p.key_fingerprint, p.merged_at, p.reason
    ).order_by(p.created_at.desc())
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        LoggedPackage(
            r.file_name or "",
            r.outcome,
            r.station_code or "",
            r.signer_name or "",
            r.key_fingerprint or "",
            r.merged_at,
            r.reason or "",
        )
        for r in rows
    ]


# ---- trusting keys releases what they hold -------------------------------------------------
# What ``baqylau keys trust`` and ``keys import`` do on the command line: a key the coordinator
# trusts gets its held packages merged at once, so nothing stays "waiting for trust" unseen.


def _combined(reports: list[MergeReport]) -> MergeReport:
    out = MergeReport()
    for r in reports:
        out.entries.extend(r.entries)
    return out


def trust_and_release(
    hq: ElectionStore, fingerprint: str, label: str = "", decided_by: str = "", role: str | None = None
) -> tuple[KeyInfo, MergeReport]:
    """Trust a key (``role``: observer | district, None keeps it) and merge the packages held for it."""
    info = trust_key(hq, fingerprint, label, decided_by, role=role)
    return info, release_held(hq, info.fingerprint)


def import_and_release(
    hq: ElectionStore, file: Path, decided_by: str = "", role: str | None = None
) -> tuple[list[KeyInfo], MergeReport]:
    """Trust every key of a key list (as ``keys import``) and merge the packages each held."""
    keys = import_keys(hq, file, decided_by, role=role)
    return keys, _combined([release_held(hq, k.fingerprint) for k in keys])


def release_all(hq: ElectionStore) -> MergeReport:
    """Merge every package held for a key that is trusted now (keys trusted elsewhere, e.g. by the CLI)."""
    return _combined(
        [release_held(hq, k.fingerprint) for k in list_keys(hq) if k.status == TRUSTED and k.held_packages]
    )


def releasable(hq: ElectionStore) -> int:
    """Packages held for keys that are trusted now: what "Release all" would merge."""
    return sum(k.held_packages for k in list_keys(hq) if k.status == TRUSTED)
