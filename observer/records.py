"""Plain data records handed between storage, UI and reports.

They are frozen copies: the UI never holds live database objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

VIOLATION_ACTIONS: tuple[str, ...] = (
    "none",
    "complaint_filed",
    "complaint_refused",
    "remark_to_commission",
    "observer_removed",
    "police_called",
    "other",
)
SEVERITY_LEVELS: tuple[str, ...] = ("low", "medium", "high")
CHECKLIST_ANSWERS: tuple[str, ...] = ("yes", "no", "na")
PROTOCOL_SOURCES: tuple[str, ...] = ("posted_copy", "announced")
# Free text (a violation's description, who was involved, notes): 20,000 characters, some six
# printed pages. The observer's fields stop there, and a package with longer text is refused.
MAX_TEXT = 20_000
# A station's code: a number an observer types ("101") or a compound key joined from a published
# file's columns ("Республика Саха (Якутия)/Усть-Алданская ТИК/УИК №1234").
MAX_STATION_CODE = 160
# An audit row's value is the JSON of a field or of a whole new record: a record has at most
# three free-text fields, each of MAX_TEXT characters, and JSON writes a character in at most six
# (a control character as \u0000); so a faithful audit row of a valid record always fits.
MAX_AUDIT_VALUE = 3 * 6 * MAX_TEXT + 10_000


@dataclass(frozen=True)
class ObserverInfo:
    id: str
    name: str
    organisation: str
    public_key: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class StationInfo:
    id: str
    code: str
    region: str
    district: str
    address: str
    registered: int | None


@dataclass(frozen=True)
class TurnoutSlot:
    slot: str
    announced: int | None
    observed: int | None


@dataclass(frozen=True)
class HeadcountPoint:
    at: datetime
    delta: int
    total: int


@dataclass(frozen=True)
class ViolationInfo:
    id: str
    station_id: str
    occurred_at: datetime
    category: str
    severity: str
    description: str
    involved: str
    action: str
    action_note: str
    evidence_count: int = 0
    created_at: datetime | None = None  # when the record was first saved (the observer cannot change it)
    deleted_at: datetime | None = None  # soft-deleted: recoverable until the next export

    @property
    def is_draft(self) -> bool:
        """No category chosen yet: saved, but incomplete (the review lists it)."""
        return not self.category


@dataclass(frozen=True)
class EvidenceInfo:
    id: str
    station_id: str
    violation_id: str | None
    protocol_id: str | None
    kind: str
    original_name: str
    sha256: str
    size: int
    media_type: str
    width: int | None
    height: int | None
    exif_time: str | None
    thumbnail: bytes | None
    stored_name: str  # file name inside the evidence folder / package
    deleted_at: datetime | None = None  # soft-deleted: recoverable until the next export


@dataclass(frozen=True)
class AuditInfo:
    """One row of a record's history: ``old`` -> ``new`` of ``field`` (``*``: the whole record)."""

    id: str
    at: datetime  # the first edit of the session
    last_at: datetime  # its last edit
    who: str
    record_table: str
    record_id: str
    field: str
    action: str  # create | update | delete | restore
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ChecklistEntry:
    checklist: str
    question: str
    answer: str | None
    note: str
