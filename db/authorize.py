"""What a signed package may change at the HQ: authorization, checked before anything is written.

A signature proves who sent a package; these rules decide what that sender may
write (docs/security.md, "Authorization"):

* A **station package** holds its manifest's station and its signer's observer only:
  its own ``observers`` row, records of that observer at that station (records
  without an observer are the signer's), and no log of merged packages. Station rows
  of other stations that no record cites (an observer's station list) are ignored.
* Its key is **bound** to the observer id it signs for: a key bound to another
  observer, or an observer bound to another key, refuses the package. The first
  package of an unbound key is also checked against the records already held: the
  observer's records signed by another key, or the key's records of another observer,
  refuse it (``check_prior_records``).
* A **district package** (``kind = "hq"``) is accepted only from a key trusted with
  the district role, in format 2 or later. Every station package it carries is
  re-verified from its own signed manifest (signature, identity, template, revoked
  keys, bindings); every record must belong to the carried package it names (that
  package's station, observer and evidence), or be the district's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection

from db.dbapi import Driver
from db.keys import REVOKED, KeyBook
from db.package import VerifiedPackage
from observer.errors import PackageError
from observer.package import (
    DATA_NAME,
    KIND_HQ,
    KIND_STATION,
    MIN_HQ_FORMAT,
    Manifest,
    evidence_member,
    parse_manifest,
)
from observer.signing import verify_signature

# Record tables that name a station and an observer (the station package's data).
DATA_TABLES = (
    "turnout_reports",
    "headcount_events",
    "protocols",
    "protocol_values",
    "spoiled_counts",
    "violations",
    "evidence",
    "checklist_answers",
    "audit_log",  # revision 0008: the history of the signer's own records, confined like them
)
_HQ_SCHEMA = "0006"  # a district's file must carry packages.manifest / signature
# Tables whose observer_id tells whose records the HQ holds (the bound-key check on first use).
_OWNED_TABLES = ("protocols", "violations", "turnout_reports", "checklist_answers", "spoiled_counts", "evidence")


@dataclass(frozen=True)
class Inner:
    """A station package a district merged, re-verified here from its signed manifest."""

    sha256: str
    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes
    file_name: str


@dataclass
class Grant:
    """What the merge may write for one authorized package."""

    observer_id: str | None = None  # station package: the signer's observer (records without one are theirs)
    station_row: str | None = None  # station package: the id of its station in the package
    inner: dict[str, Inner] = field(default_factory=dict)  # district: package row id there -> verified


def _who(name: str, observer_id: str) -> str:
    return f"{name} ({observer_id})" if name else observer_id


def authorize(pkg: VerifiedPackage, book: KeyBook, template_id: str) -> Grant:
    """The package's rights, or PackageError naming what it tried to change."""
    if pkg.manifest.kind == KIND_HQ:
        return _district(pkg, book, template_id)
    return _station(pkg, book)


def _station(pkg: VerifiedPackage, book: KeyBook) -> Grant:
    man, rows, name = pkg.manifest, pkg.rows, pkg.path.name
    oid = man.observer.id
    for row in rows.get("observers", []):
        if row["id"] != oid:
            raise PackageError("package.auth.other_observer_row", file=name, observer=_who(row["name"], row["id"]))
        if row["public_key"] not in (None, man.public_key):
            raise PackageError("package.auth.observer_key_row", file=name)
    if rows.get("packages"):
        raise PackageError("package.auth.log_rows", file=name)
    codes = {s["id"]: s["code"] for s in rows.get("stations", [])}
    (sid,) = [i for i, c in codes.items() if c == man.station_code]  # codes are unique (read_database checked)
    for table in DATA_TABLES:
        for r in rows.get(table, []):
            station = r.get("station_id", sid)
            if station != sid:
                code = codes.get(station, station)
                raise PackageError(
                    "package.auth.other_station", file=name, station=man.station_code, code=code, table=table
                )
            if r["observer_id"] not in (None, oid):
                raise PackageError(
                    "package.auth.other_observer", file=name, observer=oid, table=table, id=r["observer_id"]
                )
    check_binding(book, man.fingerprint, oid, man.observer.name, name)
    return Grant(observer_id=oid, station_row=sid)


def check_binding(book: KeyBook, fingerprint: str, observer_id: str, observer_name: str, name: str) -> None:
    """The key signs for this observer only, and this observer is signed for by this key only."""
    bound = book.bound.get(fingerprint)
    if bound is not None and bound != observer_id:
        raise PackageError(
            "package.auth.key_bound",
            file=name,
            fingerprint=fingerprint,
            bound=bound,
            observer=_who(observer_name, observer_id),
        )
    owner = book.owner.get(observer_id)
    if owner is not None and owner != fingerprint:
        raise PackageError(
            "package.auth.observer_bound",
            file=name,
            fingerprint=fingerprint,
            bound=owner,
            observer=_who(observer_name, observer_id),
        )


@cache
def _prior_records_sql(mark: str) -> str:
    """Both checks of :func:`check_prior_records` for every owned table, in one statement (one round
    trip to a server instead of twelve), with the driver's parameter ``mark``: row ``2i`` the other
    key of this observer's records in table ``i``, row ``2i + 1`` the other observer of this key's
    records there (NULL: none). Parameters: (observer, key, key, kind, observer) per table."""
    parts = []
    for i, table in enumerate(_OWNED_TABLES):
        parts.append(
            f"SELECT {2 * i} AS ord, (SELECT k.key_fingerprint FROM {table} r JOIN packages k ON k.id = r.package_id "
            f"WHERE r.observer_id = {mark} AND k.key_fingerprint IS NOT NULL AND k.key_fingerprint != {mark} "
            "LIMIT 1) AS found"
        )
        parts.append(
            f"SELECT {2 * i + 1}, (SELECT r.observer_id FROM packages k JOIN {table} r ON r.package_id = k.id "
            f"WHERE k.key_fingerprint = {mark} AND k.kind = {mark} AND r.observer_id IS NOT NULL "
            f"AND r.observer_id != {mark} LIMIT 1)"
        )
    return " UNION ALL ".join(parts) + " ORDER BY ord"


def check_prior_records(conn: Connection, fingerprint: str, observer_id: str, name: str) -> None:
    """Before a key's first binding: the HQ holds no record of this observer signed by another key,
    and no record of another observer signed by this key (files merged before bindings existed)."""

    db = Driver(conn)
    params = (observer_id, fingerprint, fingerprint, KIND_STATION, observer_id) * len(_OWNED_TABLES)
    for ord_, other in db.rows(_prior_records_sql(db.mark), params):
        if other is None:
            continue
        if ord_ % 2 == 0:
            raise PackageError(
                "package.auth.prior_records", file=name, observer=observer_id, bound=other, fingerprint=fingerprint
            )
        raise PackageError(
            "package.auth.key_bound", file=name, fingerprint=fingerprint, bound=other, observer=observer_id
        )


# ---- district packages ------------------------------------------------------------


def _district(pkg: VerifiedPackage, book: KeyBook, template_id: str) -> Grant:
    man, name = pkg.manifest, pkg.path.name
    if man.format_version < MIN_HQ_FORMAT or man.schema_revision < _HQ_SCHEMA:
        raise PackageError("package.auth.reexport", file=name, found=man.format_version, needed=MIN_HQ_FORMAT)
    inner = _verified_inner(pkg, book, template_id)
    _check_district_records(pkg, inner)
    return Grant(inner=inner)


def _verified_inner(pkg: VerifiedPackage, book: KeyBook, template_id: str) -> dict[str, Inner]:
    """Every station package the district merged, verified from its own manifest and signature."""
    name = pkg.path.name
    out: dict[str, Inner] = {}
    keys: dict[str, str] = {}  # within this package too: one observer per key, one key per observer
    owners: dict[str, str] = {}
    for row in pkg.rows.get("packages", []):
        if row["outcome"] != "merged" or row["kind"] != KIND_STATION:
            continue  # held or refused there, or a district's own package: nothing of it is taken
        inner_name = str(row["file_name"])[:120]

        def refuse(problem: str, inner_name: str = inner_name) -> PackageError:
            return PackageError("package.auth.inner_unverified", file=name, inner=inner_name, problem=problem)

        body, signature = row.get("manifest"), row.get("signature")
        if body is None or signature is None:
            raise refuse("manifest.sig")
        if hashlib.sha256(body).hexdigest() != row["sha256"]:
            raise refuse("sha256")
        try:
            inner = parse_manifest(body, inner_name)
        except PackageError as exc:
            raise refuse(str(exc)[:160]) from None
        if inner.kind != KIND_STATION or not verify_signature(inner.public_key, body, signature):
            raise refuse("manifest.sig")
        if inner.template_id != template_id:
            raise refuse(f"template_id {inner.template_id[:40]}")
        if book.status.get(inner.fingerprint) == REVOKED:
            raise PackageError(
                "package.error.revoked_inside", file=name, fingerprint=inner.fingerprint, inner=inner_name
            )
        oid = inner.observer.id
        if (
            keys.setdefault(inner.fingerprint, oid) != oid
            or owners.setdefault(oid, inner.fingerprint) != inner.fingerprint
        ):
            raise PackageError(
                "package.auth.key_bound",
                file=name,
                fingerprint=inner.fingerprint,
                bound=keys[inner.fingerprint],
                observer=oid,
            )
        check_binding(book, inner.fingerprint, oid, inner.observer.name, name)
        out[row["id"]] = Inner(row["sha256"], inner, body, signature, inner_name)
    return out


def _check_district_records(pkg: VerifiedPackage, inner: Mapping[str, Inner]) -> None:
    """Each record belongs to the carried package it names (its station, observer, evidence) or is the district's own."""
    name, rows = pkg.path.name, pkg.rows
    own = pkg.manifest.observer.id or None
    allowed = {i.manifest.observer.id for i in inner.values()} | ({own} if own else set())
    for row in rows.get("observers", []):
        if row["id"] not in allowed:
            raise PackageError("package.auth.other_observer_row", file=name, observer=_who(row["name"], row["id"]))
    codes = {s["id"]: s["code"] for s in rows.get("stations", [])}
    members = {
        key: {mb.name: mb.sha256 for mb in i.manifest.members if mb.name != DATA_NAME} for key, i in inner.items()
    }
    for table in DATA_TABLES:
        for r in rows.get(table, []):
            _check_district_record(name, table, r, inner, codes, members, own)


def _check_district_record(
    name: str,
    table: str,
    r: Mapping[str, Any],
    inner: Mapping[str, Inner],
    codes: Mapping[str, str],
    members: Mapping[str, Mapping[str, str]],
    own: str | None,
) -> None:
    source = r.get("package_id")
    if source is None:  # typed at the district: its own records only
        if r["observer_id"] not in (None, own):
            raise PackageError(
                "package.auth.other_observer", file=name, observer=own or "", table=table, id=r["observer_id"]
            )
        return
    carried = inner.get(source)
    if carried is None:
        raise PackageError("package.auth.provenance", file=name, table=table, id=str(r["id"]))
    man = carried.manifest
    problem = ""
    if r["observer_id"] not in (None, man.observer.id):
        problem = f"observer {r['observer_id']}"
    elif "station_id" in r and codes.get(r["station_id"]) != man.station_code:
        problem = f"station {codes.get(r['station_id'], r['station_id'])}"
    elif table == "evidence" and members[source].get(evidence_member(r["stored_name"])) != r["sha256"]:
        problem = f"evidence {str(r['stored_name'])[:70]}"
    if problem:
        raise PackageError(
            "package.auth.inner_record",
            file=name,
            table=table,
            id=str(r["id"]),
            inner=carried.file_name,
            problem=problem,
        )


def package_locks(pkg: VerifiedPackage, grant: Grant) -> list[str]:
    """What merging ``pkg`` writes, as advisory lock names (db.merge_batch.lock_key): its package
    lines, stations (by code), observers, keys and evidence. Two packages that share none of
    these write no row in common, so they are merged at the same time by two runs."""
    man = pkg.manifest
    names = {"package:" + pkg.sha256, "key:" + man.fingerprint}
    if man.station_code:
        names.add("station:" + man.station_code)
    if man.observer.id:
        names.add("observer:" + man.observer.id)
    names.update("station:" + str(r["code"]) for r in pkg.rows.get("stations", []))
    names.update("observer:" + str(r["id"]) for r in pkg.rows.get("observers", []))
    names.update("evidence:" + stored for stored in pkg.evidence_files)
    for inner in grant.inner.values():
        names.update(("package:" + inner.sha256, "key:" + inner.manifest.fingerprint))
        if inner.manifest.observer.id:
            names.add("observer:" + inner.manifest.observer.id)
    return sorted(names)
