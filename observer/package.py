"""The station package's manifest: its model, its exact bytes, and strict validation.

A package (``*.bqpkg``) is a zip with ``manifest.json``, ``manifest.sig`` (Ed25519
signature of the manifest's exact bytes), ``data.sqlite`` and ``evidence/<name>``
files; docs/package.md describes the format. This module is pure: it knows the
rules for names, sizes and manifest fields, and the zip and SQLite handling live
in db/package.py. Every check raises PackageError with a message for the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from observer.errors import PackageError
from observer.records import MAX_STATION_CODE
from observer.signing import fingerprint_of, is_public_hex

FORMAT = "baqylau-package"
# 2 (0.2.0): a station package holds only its station and its observer; an HQ package's
# database carries every station package's signed manifest (packages.manifest/signature).
# Station packages of format 1 are read under the same rules; HQ packages must be format 2.
FORMAT_VERSION = 2
MIN_HQ_FORMAT = 2
SUFFIX = ".bqpkg"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
DATA_NAME = "data.sqlite"
EVIDENCE_PREFIX = "evidence/"
KIND_STATION = "station"
KIND_HQ = "hq"
KINDS = (KIND_STATION, KIND_HQ)
# What a trusted key may sign: an observer key its own station packages, a district
# (coordinator) key also kind = "hq" packages (docs/security.md).
ROLE_OBSERVER = "observer"
ROLE_DISTRICT = "district"
KEY_ROLES = (ROLE_OBSERVER, ROLE_DISTRICT)

# Limits against hostile archives. A station package is a small database and a
# few photos; a district HQ package holds a few thousand stations' worth.
MAX_MEMBERS = 50_000
MAX_TOTAL_BYTES = 16 * 1024**3
MAX_MANIFEST_BYTES = 32 * 1024**2
MAX_SIGNATURE_BYTES = 1024
MAX_RATIO = 200  # uncompressed / compressed, for members big enough to matter
RATIO_FLOOR = 4 * 1024**2  # a 2 MB empty SQLite file legitimately compresses very well
SIGNATURE_BYTES = 64

_EVIDENCE_NAME = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9]{1,8})?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Member:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ManifestObserver:
    id: str
    name: str
    organisation: str


@dataclass(frozen=True)
class Manifest:
    format_version: int
    kind: str  # station | hq
    template_id: str
    schema_revision: str
    station_code: str | None  # None for an HQ package
    observer: ManifestObserver
    public_key: str
    fingerprint: str
    created_at: str  # ISO-8601 UTC, as written by the exporting machine
    counts: Mapping[str, int]
    members: tuple[Member, ...]
    app_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "kind": self.kind,
            "template_id": self.template_id,
            "schema_revision": self.schema_revision,
            "station_code": self.station_code,
            "observer": {
                "id": self.observer.id,
                "name": self.observer.name,
                "organisation": self.observer.organisation,
            },
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "created_at": self.created_at,
            "counts": dict(sorted(self.counts.items())),
            "members": [{"name": mb.name, "sha256": mb.sha256, "size": mb.size} for mb in self.members],
            "app_version": self.app_version,
        }

    def to_bytes(self) -> bytes:
        """The bytes that are signed and stored; readers verify these exact bytes, never a re-encoding."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")

    def member(self, name: str) -> Member | None:
        return next((mb for mb in self.members if mb.name == name), None)


def check_member_name(name: str, file: str) -> None:
    """Refuse any name that could escape a folder or that our exporter never writes."""
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or ":" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise PackageError("package.error.bad_name", file=file, member=name[:200])
    if name in (MANIFEST_NAME, SIGNATURE_NAME, DATA_NAME):
        return
    if name.startswith(EVIDENCE_PREFIX) and _EVIDENCE_NAME.match(name[len(EVIDENCE_PREFIX) :]):
        return
    raise PackageError("package.error.bad_name", file=file, member=name[:200])


def evidence_member(stored_name: str) -> str:
    return EVIDENCE_PREFIX + stored_name


def peek_format(data: bytes, file: str) -> tuple[Any, Any]:
    """(format marker, version) of a manifest, read before anything else so a newer format says so."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageError("package.error.manifest_json", file=file, problem=str(exc)[:160]) from None
    if not isinstance(doc, dict):
        raise PackageError("package.error.manifest_json", file=file, problem="not an object")
    return doc.get("format"), doc.get("format_version")


def parse_manifest(data: bytes, file: str) -> Manifest:
    """Validate every field and type of a manifest; refuse newer formats by name."""
    version = _format_version(data, file)
    doc = json.loads(data.decode("utf-8"))
    f = _Fields(file)
    kind = f.text(doc, "kind", "kind")
    if kind not in KINDS:
        f.refuse("kind")
    observer = doc.get("observer")
    if not isinstance(observer, dict):
        f.refuse("observer")
    public_key = f.text(doc, "public_key", "public_key")
    if not is_public_hex(public_key) or public_key != public_key.lower():
        f.refuse("public_key")
    fingerprint = f.text(doc, "fingerprint", "fingerprint")
    if fingerprint != fingerprint_of(public_key):
        f.refuse("fingerprint")
    station_code = f.text(doc, "station_code", "station_code", limit=MAX_STATION_CODE, optional=True)
    if kind == KIND_STATION and not station_code:
        f.refuse("station_code")
    observer_id = f.text(observer, "id", "observer.id", limit=36)
    if kind == KIND_STATION and not _UUID.fullmatch(observer_id):
        f.refuse("observer.id")  # the signer's identity at the HQ: a key is bound to exactly this id
    counts = doc.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(k, str) and _is_int(v) and v >= 0 for k, v in counts.items()):
        f.refuse("counts")
    return Manifest(
        format_version=version,
        kind=kind,
        template_id=f.text(doc, "template_id", "template_id", limit=100),
        schema_revision=f.text(doc, "schema_revision", "schema_revision", limit=40),
        station_code=station_code,
        observer=ManifestObserver(
            observer_id,
            f.text(observer, "name", "observer.name"),
            f.text(observer, "organisation", "observer.organisation"),
        ),
        public_key=public_key,
        fingerprint=fingerprint,
        created_at=f.text(doc, "created_at", "created_at", limit=40),
        counts={k: int(v) for k, v in counts.items()},
        members=_members(doc, f),
        app_version=f.text(doc, "app_version", "app_version", limit=40, optional=True) or "",
    )


def _format_version(data: bytes, file: str) -> int:
    """The manifest's format version, once its size and format name are ours and the version is not newer."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise PackageError("package.error.too_big", file=file, limit_mb=MAX_MANIFEST_BYTES // 1024**2)
    fmt, version = peek_format(data, file)
    if fmt != FORMAT:
        raise PackageError("package.error.not_package", file=file, found=str(fmt)[:60])
    if not _is_int(version) or version < 1:
        raise PackageError("package.error.manifest_field", file=file, field="format_version")
    if version > FORMAT_VERSION:
        raise PackageError("package.error.newer", file=file, found=version, supported=FORMAT_VERSION)
    return int(version)


@dataclass(frozen=True)
class _Fields:
    """Reads a manifest's fields, refusing the file by the name of the first field that is wrong."""

    file: str

    def refuse(self, field: str) -> NoReturn:
        raise PackageError("package.error.manifest_field", file=self.file, field=field)

    def text(self, obj: Mapping[str, Any], key: str, where: str, *, limit: int = 200, optional: bool = False) -> Any:
        value = obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > limit:
            self.refuse(where)
        return value


def _members(doc: Mapping[str, Any], f: _Fields) -> tuple[Member, ...]:
    """The listed files: safe distinct names, digests and sizes, the data file among them, not too big in all."""
    raw_members = doc.get("members")
    if not isinstance(raw_members, list) or len(raw_members) > MAX_MEMBERS:
        f.refuse("members")
    members: list[Member] = []
    seen: set[str] = set()
    for i, item in enumerate(raw_members):
        where = f"members[{i}]"
        if not isinstance(item, dict):
            f.refuse(where)
        name = f.text(item, "name", where + ".name", limit=300)
        digest = f.text(item, "sha256", where + ".sha256", limit=64)
        size = item.get("size")
        if not _SHA256.match(digest):
            f.refuse(where + ".sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            f.refuse(where + ".size")
        check_member_name(name, f.file)
        if name in (MANIFEST_NAME, SIGNATURE_NAME) or name in seen:
            raise PackageError("package.error.duplicate_member", file=f.file, member=name)
        seen.add(name)
        members.append(Member(name, digest, size))
    if DATA_NAME not in seen:
        f.refuse("members")
    if sum(mb.size for mb in members) > MAX_TOTAL_BYTES:
        raise PackageError("package.error.too_big", file=f.file, limit_mb=MAX_TOTAL_BYTES // 1024**2)
    return tuple(members)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
