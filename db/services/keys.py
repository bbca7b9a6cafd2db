"""Reads for the coordinator's keys page: the import log (every package the HQ file has seen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from db import models as m
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
