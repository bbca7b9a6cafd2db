"""Reads of the observers' reviews: packages exported with open items, and the reason typed for each.

The coordinator's ``conflicts`` command prints them; the query is here so that
the command only prints, and a page of the coordinator window can list the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from db import models as m
from db.merge_rows import MERGED
from db.store import ElectionStore
from observer.review import ExportReview, parse_review


@dataclass(frozen=True)
class ReviewedPackage:
    """A merged package whose observer exported it with open review items."""

    station_code: str
    signer_name: str
    file_name: str
    review: ExportReview  # items is never empty


def open_reviews(hq: ElectionStore, station_code: str | None = None) -> list[ReviewedPackage]:
    """Merged packages exported with open items (of one station, if given), by station and time of export.

    A review that does not parse was refused when it was merged, and one without items
    (a district's copy) says nothing: both are left out.
    """
    p = m.Package
    stmt = select(p.station_code, p.signer_name, p.file_name, p.review).where(p.review != "", p.outcome == MERGED)
    if station_code is not None:
        stmt = stmt.where(p.station_code == station_code)
    with hq.engine.connect() as conn:
        rows = conn.execute(stmt.order_by(p.station_code, p.created_in_package)).fetchall()
    out = []
    for code, signer, file_name, text in rows:
        try:
            review = parse_review(text)
        except ValueError:
            continue
        if review.items:
            out.append(ReviewedPackage(code or "", signer, file_name, review))
    return out
