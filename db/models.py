"""Typed SQLAlchemy 2.x models of an election file.

The same schema serves an observer's station file and a coordinator's HQ file:
an observer's file simply holds one station and one observer. Every record has a
UUID, created/updated times (UTC) and the observer who wrote it, so records from
many files can be merged without clashes and traced back to a person.

Schema changes go through Alembic (db/migrations); never edit a released
revision, add a new one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from observer.records import MAX_STATION_CODE


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as ISO-8601 UTC text: sortable, portable, exact."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times with a time zone")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if len(value) == 27 and value[10] == "T" and value[19] == "." and value[26] == "Z":
            # Our own format: fromisoformat reads it ~20x faster than strptime, which matters
            # when the report's fingerprint reads every row of a national HQ file.
            return datetime.fromisoformat(value)
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class Record:
    """Columns every record carries."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Authored(Record):
    observer_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("observers.id"), index=True)
    # The package this record was merged from (None: typed here). Provenance for coordinators.
    package_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("packages.id"), index=True)


class Meta(Base):
    """Key/value facts about the file (role, template, format)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Observer(Record, Base):
    __tablename__ = "observers"
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    public_key: Mapped[str | None] = mapped_column(String(64))  # Ed25519, hex
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)


class Station(Authored, Base):
    __tablename__ = "stations"
    # Who wrote a station and which package brought it are NULL for every station an import
    # creates (nearly all of an HQ's): partial indexes keep only the others (revision 0009), so
    # an import of 100,000 stations does not build two indexes of 100,000 NULLs. Lookups by a
    # value (``observer_id = ?``, joins on ``package_id``) still use them.
    __table_args__ = (
        Index("ix_stations_observer_id", "observer_id", sqlite_where=text("observer_id IS NOT NULL")),
        Index("ix_stations_package_id", "package_id", sqlite_where=text("package_id IS NOT NULL")),
    )
    observer_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("observers.id"))
    package_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("packages.id"))
    code: Mapped[str] = mapped_column(String(MAX_STATION_CODE), unique=True)
    # an ISO 3166-2 code, or the name a results file writes when the template lists no units (0012)
    region: Mapped[str] = mapped_column(String(200), default="", index=True)
    district: Mapped[str] = mapped_column(String(200), default="", index=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    registered: Mapped[int | None] = mapped_column(Integer)


class TurnoutReport(Authored, Base):
    """The commission's announced turnout at one official reporting time."""

    __tablename__ = "turnout_reports"
    __table_args__ = (UniqueConstraint("station_id", "observer_id", "slot"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    slot: Mapped[str] = mapped_column(String(5))  # "10:00"
    announced: Mapped[int | None] = mapped_column(Integer)  # voters who received ballots
    observed: Mapped[int | None] = mapped_column(Integer)  # observer's head-count at that time


class HeadcountEvent(Authored, Base):
    """One click of the observer's counter (+1) or an undo (-1); the sum is the count."""

    __tablename__ = "headcount_events"
    # Covering index: per-station totals are summed from the index alone (revision 0004).
    __table_args__ = (Index("ix_headcount_events_station_observer_delta", "station_id", "observer_id", "delta"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"))
    # Without the observer index the other records have (revision 0014): every query here names the
    # station first (the covering index above), and the merge writes ~300 of these rows a package.
    observer_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("observers.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    delta: Mapped[int] = mapped_column(Integer)


class HeadcountTotal(Base):
    """Sum and number of one observer's clicks at one station (revision 0005).

    Derived data, never written by Python: triggers on headcount_events keep it
    exact on every insert, delete and update, whoever writes (observer app, merge,
    demo, scripts). A row exists while its (station, observer) has clicks; a click
    without an observer is kept under observer_id ''. Not a record: packages do not
    carry it, the receiving file's triggers rebuild it from the merged clicks.
    """

    __tablename__ = "headcount_totals"
    __table_args__ = {"sqlite_with_rowid": False}
    station_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    observer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)


class Protocol(Authored, Base):
    """One version of a station's results protocol as one observer saw it."""

    __tablename__ = "protocols"
    __table_args__ = (UniqueConstraint("station_id", "observer_id", "source"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="posted_copy")  # announced | posted_copy


class ProtocolValue(Authored, Base):
    __tablename__ = "protocol_values"
    __table_args__ = (UniqueConstraint("protocol_id", "key"),)
    protocol_id: Mapped[str] = mapped_column(String(36), ForeignKey("protocols.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[int | None] = mapped_column(Integer)


class SpoiledCount(Authored, Base):
    __tablename__ = "spoiled_counts"
    __table_args__ = (UniqueConstraint("station_id", "observer_id", "reason"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer, default=0)


class Violation(Authored, Base):
    __tablename__ = "violations"
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    category: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(16), default="medium")  # low | medium | high
    description: Mapped[str] = mapped_column(Text, default="")
    involved: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(32), default="none")
    action_note: Mapped[str] = mapped_column(Text, default="")
    # Set when the observer deletes the record: hidden, recoverable, purged at export (revision 0008).
    deleted_at: Mapped[datetime | None] = mapped_column()


class Evidence(Authored, Base):
    """A photo/video/file kept unchanged beside the database, named by SHA-256."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_sha256", "sha256"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    violation_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("violations.id", ondelete="CASCADE"))
    protocol_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("protocols.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # photo | video | file
    original_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(80))  # <sha256><ext> in the evidence folder
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(64), default="")
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    exif_time: Mapped[str | None] = mapped_column(String(32))  # as written by the camera
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)  # small JPEG
    deleted_at: Mapped[datetime | None] = mapped_column()  # soft deletion, as for violations (0008)


class ThumbnailHash(Base):
    """The dHash of a photo thumbnail, keyed by the SHA-256 of the thumbnail's bytes (revision 0015).

    A cache of the reused-photo scan, written by it at best effort (``db.reuse.remember_hashes``) so
    that the next process does not decode every thumbnail again. Keyed by content, not by evidence
    row: the same bytes always give the same hash, whatever wrote it first and whichever row is later
    replaced, so it can never be stale. ``dhash`` is 16 hex digits, or "" for a thumbnail without a
    usable hash (flat or undecodable: ``db.reuse.thumbnail_hash`` None). Not copied by ``hq copy``.
    """

    __tablename__ = "thumbnail_hashes"
    thumb_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    dhash: Mapped[str] = mapped_column(String(16))


class ChecklistAnswer(Authored, Base):
    __tablename__ = "checklist_answers"
    __table_args__ = (UniqueConstraint("station_id", "observer_id", "checklist", "question"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    checklist: Mapped[str] = mapped_column(String(16))  # opening | closing
    question: Mapped[str] = mapped_column(String(40))
    answer: Mapped[str | None] = mapped_column(String(8))  # yes | no | na
    note: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Authored, Base):
    """One change of a saved value: who (observer_id), when (created_at, the first edit of a
    typing session; updated_at, its last), which record and field, the value before and after.

    Written by the store's own write methods (revision 0008), shipped in packages and merged
    like every record, so a coordinator sees how a figure or a violation came to be.
    Values are text (None: no value); ``action`` is create | update | delete | restore.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_record", "record_id", "created_at"),)
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    record_table: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(36))
    field: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(16), default="update")
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)


# ---- coordinator (HQ) tables: filled by merge, imports and decisions ----------


class Package(Record, Base):
    """One station package (or district HQ package) seen by this file: the import log."""

    __tablename__ = "packages"
    sha256: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # of manifest.json: a re-zipped copy is the same package
    file_name: Mapped[str] = mapped_column(String(255), default="")
    format_version: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(16), default="station")  # station | hq
    station_code: Mapped[str | None] = mapped_column(String(MAX_STATION_CODE))
    signer_name: Mapped[str] = mapped_column(String(200), default="")
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    public_key: Mapped[str | None] = mapped_column(String(64))
    created_in_package: Mapped[str | None] = mapped_column(String(40))  # manifest time, as written
    merged_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16))  # merged | duplicate | refused | held
    reason: Mapped[str] = mapped_column(Text, default="")
    via_package_id: Mapped[str | None] = mapped_column(String(36))  # reached us inside an HQ package
    # The exact signed manifest and its signature (revision 0006): a district passes them on,
    # and the organisation re-verifies every station package's signature itself.
    manifest: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    file_sha256: Mapped[str | None] = mapped_column(String(64))  # the file as merged: a quick duplicate check
    review: Mapped[str] = mapped_column(Text, default="", server_default="")  # observer.review JSON (revision 0007)


class TrustedKey(Record, Base):
    """Observer signing keys the coordinator has decided about."""

    __tablename__ = "trusted_keys"
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # trusted | revoked | pending
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[datetime | None] = mapped_column()
    # observer | district (revision 0006): only district keys may sign kind = "hq" packages
    role: Mapped[str] = mapped_column(String(16), default="observer", server_default="observer")
    # The one observer this key signs for, set by its first merged package; never moved silently.
    observer_id: Mapped[str | None] = mapped_column(String(36), index=True, unique=True)


class Resolution(Record, Base):
    """A coordinator's decision on a station with conflicting versions; newest row wins, history kept."""

    __tablename__ = "resolutions"
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), index=True)
    protocol_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("protocols.id"))
    status: Mapped[str] = mapped_column(String(16))  # chosen | disputed
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfficialResult(Base):
    """The official per-station result, one row per station (keyed by it: revision 0009).

    The figures are stored once, packed: little-endian int64 (-1 = not given) in the key order
    of meta.official_layout, so aggregation reads 100,000 of them without parsing anything
    (revision 0003) and an import writes each figure once. ``values_json`` ({key: int or null})
    is NULL for such rows; rows from other tools or older versions may carry only the JSON.
    Readers go through db.official.official_values or db.services.station_reader.official_json.

    Not a Record: an import replaces every row at once, so the file's name, its SHA-256 and the
    import's time are the import's, kept once in meta (official_file, official_sha256,
    official_imported_at), not 100,000 times; nothing looks a row up but by station (revision 0013).
    """

    __tablename__ = "official_results"
    # One B-tree keyed by station: every reader looks rows up or joins by station (revision 0009).
    __table_args__ = {"sqlite_with_rowid": False}
    station_id: Mapped[str] = mapped_column(String(36), ForeignKey("stations.id"), primary_key=True)
    values_json: Mapped[str | None] = mapped_column(Text)
    values_blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_line: Mapped[int | None] = mapped_column(Integer)


# ---- tables only a PostgreSQL HQ has (revision 0011) -------------------------------------------
# A file HQ keeps evidence files in a folder beside it; a server HQ keeps their bytes here, so
# every coordinator reaches them (docs/postgresql.md, "Evidence files"). Their own metadata, not
# Base's: a SQLite file has no such tables, and everything that walks Base's tables (the package
# reader, the merge, hq copy's digest) walks both backends alike.
SERVER_ONLY = MetaData()

EVIDENCE_FILES = Table(
    "evidence_files",
    SERVER_ONLY,
    # <sha256><ext>, as Evidence.stored_name; written once, never changed (content-addressed)
    Column("stored_name", String(80), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("parts", Integer, nullable=False),
)

EVIDENCE_FILE_PARTS = Table(
    "evidence_file_parts",
    SERVER_ONLY,
    Column("stored_name", String(80), ForeignKey("evidence_files.stored_name", ondelete="CASCADE"), primary_key=True),
    Column("part", Integer, primary_key=True),  # 0, 1, ...: the file is the parts in this order
    Column("data", LargeBinary, nullable=False),  # EVIDENCE_PART bytes, the last one fewer
)
