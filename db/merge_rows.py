"""Writing one authorized package's records into the HQ file (inside the merge's savepoint).

Records keep their UUIDs. A record arriving again keeps the version with the newer
``updated_at``; ties go to the larger package id, so the result does not depend on
the order of merging. Stations are matched by code; a station first seen in a
package gets an id derived from its code, for the same reason. Plain statements on
the driver connection (``sqlite3`` or ``psycopg``, through :class:`Driver`): merge
speed is dominated by per-statement and per-row overhead, not by the database.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from db import models as m
from db.authorize import DATA_TABLES, Grant
from db.dbapi import Driver
from db.package import VerifiedPackage
from db.store import now
from observer.package import KIND_HQ

MERGED = "merged"
# Fixed namespace so that ids derived from a package hash or a station code are
# the same in every HQ file (district and organisation alike).
_NAMESPACE = uuid.UUID("5b0d8c1e-6f0e-4b7a-9a63-3c1f3f0e2b11")
_STATION_FIELDS = ("region", "district", "address", "registered")
# Built once: a statement built per package (``.values(...)``, ``.where(... == pid)``) costs
# SQLAlchemy ~1 ms to coerce and key for its cache; these are compiled once and reused.
_FIND_PACKAGE = select(m.Package.outcome, m.Package.via_package_id).where(m.Package.id == bindparam("pid"))
_INSERT_PACKAGE = insert(m.Package)
_READ_BLOCK = 1024 * 1024  # file_digest


def package_row_id(sha256: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "package:" + sha256))


def station_row_id(code: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "station:" + code))


class AlreadyMerged(Exception):
    """Another run merged this package since this one started (found under the write lock)."""


def file_digest(path: Path) -> str | None:
    """SHA-256 of a whole package file (None if it cannot be read again: then only members are checked).

    Plain ``os.read`` of 1 MiB blocks: a re-merge is little else than this per file, and a Python
    file object (or ``hashlib.file_digest``'s fresh 256 KiB buffer) costs a tenth more than the hash
    of a 70 KB package."""
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            while block := os.read(fd, _READ_BLOCK):
                digest.update(block)
        finally:
            os.close(fd)
    except OSError:
        return None
    return digest.hexdigest()


def package_row(
    pkg: VerifiedPackage, outcome: str, via: str | None, t: datetime, file_sha256: str | None = None
) -> dict[str, Any]:
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
        "review": pkg.review,  # the observer's reason to export with open items (observer.review)
        "via_package_id": via,
        "manifest": pkg.manifest_bytes or None,
        "signature": pkg.signature or None,
        "file_sha256": file_sha256,
        "created_at": t,
        "updated_at": t,
    }


def apply(
    conn: Connection,
    pkg: VerifiedPackage,
    grant: Grant,
    touched: set[tuple[str, str | None]],
    file_sha256: str | None = None,
) -> list[str]:
    """All records of one authorized package, inside the caller's transaction.

    Adds the (station, observer) pairs of its head-count clicks to ``touched``.
    Returns the hashes of the station packages it carried (district packages).
    Raises AlreadyMerged if the package is in the log already (another run).
    """
    t = now()
    pid = package_row_id(pkg.sha256)
    own_pid = _log_package(conn, pkg, pid, t, file_sha256)
    district = pkg.manifest.kind == KIND_HQ
    provenance, direct = _inner_packages(conn, grant, pid, t) if district else ({}, set())

    def source(package_id: str | None) -> str:
        if not district or package_id is None:
            return pid
        return provenance[package_id]  # every record's package was verified by authorize()

    rows = pkg.rows
    observers = rows.get("observers", [])
    stations = rows.get("stations", [])
    if not district:
        # only the package's own station: an observer's file may hold others that no record cites
        stations = [dict(s, observer_id=grant.observer_id) for s in stations if s["id"] == grant.station_row]
    # On a server, what the HQ holds of every record id in the package comes in one round trip
    # (one SELECT per table on a file, where a statement costs no round trip).
    on_server = conn.dialect.name == "postgresql"
    known = _known_rows(conn, {t: rows.get(t, []) for t in ("observers", *DATA_TABLES)}) if on_server else {}
    upsert_rows(conn, "observers", observers, known=known.get("observers"))
    station_map = merge_stations(conn, stations, source)
    records: list[tuple[str, list[dict[str, Any]]]] = []
    for table in DATA_TABLES:
        out = []
        for r in rows.get(table, []):
            r = dict(r)
            r["package_id"] = source(r.get("package_id"))
            if r["package_id"] in direct:
                continue  # the HQ holds this station package's own signed records
            if r["observer_id"] is None and grant.observer_id is not None:
                r["observer_id"] = grant.observer_id  # typed before the name was set: the signer's
            if "station_id" in r:
                r["station_id"] = station_map[r["station_id"]]
            out.append(r)
        if table == "headcount_events":
            touched.update((r["station_id"], r.get("observer_id")) for r in out)
        records.append((table, out))
    if on_server or not _insert_all_new(Driver(conn), records):
        for table, out in records:
            upsert_rows(conn, table, out, own_pid, known=known.get(table))
    return [i.sha256 for i in grant.inner.values()]


def _insert_all_new(db: Driver, records: list[tuple[str, list[dict[str, Any]]]]) -> bool:
    """A file: insert every record as it is, in one savepoint, without first reading what the HQ
    holds of their ids (a first merge, where each is new: the reads were a tenth of the merge).
    True if done; False if a row broke a constraint (an id the HQ has already, mostly), and then
    nothing of the attempt is left: ``upsert_rows`` decides record by record, as always.
    Not on PostgreSQL: a failed statement there would spoil the package's savepoint, and its
    reads are one round trip for all tables anyway (``_known_rows``)."""
    db.db.execute("SAVEPOINT merge_new_records")
    try:
        for table, rows in records:
            if rows:
                db.insert(table, _columns(table), _values(table, rows))
    except sqlite3.IntegrityError:
        db.db.execute("ROLLBACK TO merge_new_records")
        db.db.execute("RELEASE merge_new_records")
        return False
    db.db.execute("RELEASE merge_new_records")
    return True


def _owner_columns(table: str) -> tuple[str, str, list[str]]:
    """(the columns a known row is read with, the package column, the owner columns) of ``table``."""
    cols = _columns(table)
    owners: list[str] = [c for c in ("observer_id", "station_id") if c in cols]
    pkg_col = "package_id" if "package_id" in cols else "''"
    return ", ".join(("id", "updated_at", pkg_col, *owners)), pkg_col, owners


def _known_rows(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, tuple[Any, ...]]]:
    """PostgreSQL: for every table, what the HQ holds of the given rows' ids (as ``upsert_rows`` reads
    them), all tables in one UNION ALL; a file: nothing (``upsert_rows`` reads each table itself)."""
    db = Driver(conn)
    if not db.pg:
        return {}
    parts: list[str] = []
    params: list[list[str]] = []
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for table, table_rows in rows.items():
        if not table_rows:
            continue
        out[table] = {}
        _, pkg_col, owners = _owner_columns(table)
        padded = [*owners, *["NULL"] * (2 - len(owners))]  # owners first, as upsert_rows zips them
        parts.append(
            f"SELECT '{table}'::text, id::text, updated_at::text, {pkg_col}::text, "
            f"{padded[0]}::text, {padded[1]}::text FROM {table} WHERE id = ANY(%s)"
        )
        params.append([r["id"] for r in table_rows])
    if parts:
        for table, *found in db.rows(" UNION ALL ".join(parts), params):
            out[table][found[0]] = tuple(found[1:])
    return out


def _log_package(conn: Connection, pkg: VerifiedPackage, pid: str, t: datetime, file_sha256: str | None) -> str | None:
    """The package's row in the log; returns its id if it replaces what a district vouched for."""
    found = conn.execute(_FIND_PACKAGE, {"pid": pid}).first()
    if found is None:
        conn.execute(_INSERT_PACKAGE, package_row(pkg, MERGED, None, t, file_sha256))
        return None
    if found[0] == MERGED and found[1] is None:
        raise AlreadyMerged(pkg.sha256)
    row = package_row(pkg, MERGED, None, t, file_sha256)
    del row["id"], row["created_at"]
    conn.execute(update(m.Package).where(m.Package.id == pid).values(**row))
    return pid if found[0] == MERGED else None


def _inner_packages(conn: Connection, grant: Grant, pid: str, t: datetime) -> tuple[dict[str, str], set[str]]:
    """Station packages a district merged, each re-verified: logged here (via the district package).

    Returns the mapping of their ids there to ids here, and the ids of those this HQ
    merged directly (signed by their observer): the district's copy of their records is not taken.
    """
    mapping: dict[str, str] = {}
    direct: set[str] = set()
    for inner_id, inner in grant.inner.items():
        man = inner.manifest
        row_id = package_row_id(inner.sha256)
        mapping[inner_id] = row_id
        found = conn.execute(select(m.Package.outcome, m.Package.via_package_id).where(m.Package.id == row_id)).first()
        if found is not None and found[0] == MERGED:
            if found[1] is None:
                direct.add(row_id)
            continue
        values = {
            "sha256": inner.sha256,
            "file_name": inner.file_name[:255],
            "format_version": man.format_version,
            "kind": man.kind,
            "station_code": man.station_code,
            "signer_name": man.observer.name,
            "key_fingerprint": man.fingerprint,
            "public_key": man.public_key,
            "created_in_package": man.created_at,
            "merged_at": t,
            "outcome": MERGED,
            "reason": "",
            "via_package_id": pid,
            "manifest": inner.manifest_bytes,
            "signature": inner.signature,
            "updated_at": t,
        }
        if found is None:
            conn.execute(insert(m.Package).values(id=row_id, created_at=t, **values))
        else:
            # held here, but a district key trusted here vouched for it (and its signature checks out)
            conn.execute(update(m.Package).where(m.Package.id == row_id).values(**values))
    return mapping, direct


def merge_stations(
    conn: Connection, rows: Sequence[dict[str, Any]], source: Callable[[str | None], str]
) -> dict[str, str]:
    """Package station id -> HQ station id, matching by code. HQ's own station list wins."""
    mapping: dict[str, str] = {}
    db = Driver(conn)
    existing: dict[str, dict[str, Any]] = {}
    fields = ("id", "code", "package_id", "created_at", "updated_at", *_STATION_FIELDS)
    for found in db.select_in(", ".join(fields), "stations", "code", [r["code"] for r in rows]):
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
                db.update("stations", fill, have["id"])
                have.update(fill)
        else:
            sets = {}
            if (incoming["updated_at"], incoming["package_id"]) > (have["updated_at"], have["package_id"]):
                sets = {f: incoming[f] for f in (*_STATION_FIELDS, "observer_id", "package_id", "updated_at")}
            if incoming["created_at"] < have["created_at"]:
                # first seen = earliest of all versions, whatever order they arrive in
                sets["created_at"] = incoming["created_at"]
            if sets:
                db.update("stations", sets, have["id"])
                have.update(sets)
        mapping[r["id"]] = existing[r["code"]]["id"]
    if inserts:
        cols = _columns("stations")
        db.insert("stations", cols, [tuple(r.get(c) for c in cols) for r in inserts])
    return mapping


class ForeignRecord(Exception):
    """A package record reuses the id of a record another observer (or station) owns here."""

    def __init__(self, table: str, record_id: str) -> None:
        super().__init__(table, record_id)
        self.table = table
        self.record_id = record_id


def upsert_rows(
    conn: Connection,
    table: str,
    rows: list[dict[str, Any]],
    own_pid: str | None = None,
    *,
    known: dict[str, tuple[Any, ...]] | None = None,
) -> None:
    """Insert new records, replace older versions of known ones (newer updated_at wins).

    A record id the HQ already holds for another observer or station is refused
    (ForeignRecord): a signed package may only update its own observers' records.
    ``own_pid``: the package arrives signed after a district vouched for it; the
    versions the district gave of *its* records are replaced whatever their time.
    ``known``: what the HQ holds of these ids, read already (``_known_rows``); else read here.
    Plain statements on the driver connection (:class:`Driver`), in the caller's transaction.
    """
    if not rows:
        return
    db = Driver(conn)
    cols = _columns(table)
    select_cols, _, owners = _owner_columns(table)
    existing: dict[str, tuple[Any, ...]] = {}
    if known is not None:
        existing = known
    else:
        for found in db.select_in(select_cols, table, "id", [r["id"] for r in rows]):
            existing[found[0]] = found[1:]
    if not existing:
        inserts = _values(table, rows)
        updates: list[tuple[Any, ...]] = []
    else:
        inserts, updates = [], []
        at = {c: i for i, c in enumerate(cols)}
        id_at, owner_at, pkg_at = at["id"], [at[c] for c in owners], at.get("package_id")
        for values in _values(table, rows):
            have = existing.get(values[id_at])
            if have is None:
                inserts.append(values)
                continue
            for i, held in zip(owner_at, have[2:]):
                if held != values[i]:
                    raise ForeignRecord(table, str(values[id_at])[:40])
            if (values[at["updated_at"]], (values[pkg_at] if pkg_at is not None else None) or "") > (
                have[0],
                have[1] or "",
            ) or (own_pid is not None and have[1] == own_pid):
                updates.append(values)
    if inserts:
        db.insert(table, cols, inserts)
    if updates:
        keep = [i for i, c in enumerate(cols) if c not in ("id", "created_at")]
        sets = ", ".join(f"{cols[i]} = {db.mark}" for i in keep)
        id_at = cols.index("id")
        db.many(
            f"UPDATE {table} SET {sets} WHERE id = {db.mark}",
            [tuple(v[i] for i in keep) + (v[id_at],) for v in updates],
        )


def _values(table: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows as tuples in the order of ``_columns(table)`` (a missing column is NULL)."""
    cols = _columns(table)
    # Every row of a table has the same keys: a C-level getter when all columns are there.
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]
    first = rows[0].keys()
    if all(c in first for c in cols) and all(r.keys() == first for r in rows):
        values_of = itemgetter(*cols)  # type: ignore[assignment]
    else:
        values_of = lambda r: tuple(r.get(c) for c in cols)  # noqa: E731
    return list(map(values_of, rows))


@cache
def _columns(table: str) -> tuple[str, ...]:
    return tuple(m.Base.metadata.tables[table].columns.keys())
