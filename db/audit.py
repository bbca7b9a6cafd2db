"""The audit trail: every change of a saved value, who made it, when, the value before and after.

The store's write methods call :func:`record_change` inside their own transaction,
so a value and its history are committed together or not at all. Edits are saved
at every keystroke; a run of edits of one field by one observer, each within
:data:`SESSION` of the previous one, is one row (the value before the run, the
value after it), not one row per key press. A record's creation is one row with
field ``*`` whose ``new`` holds its first values as JSON; edits in the same
session fold into it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from db import models as m
from db.dbapi import driver_sql, is_postgres
from db.rows import insert_new
from observer.records import AuditInfo

SESSION = timedelta(minutes=2)
WHOLE_RECORD = "*"
CREATE, UPDATE, DELETE, RESTORE = "create", "update", "delete", "restore"
AUDIT_ACTIONS = (CREATE, UPDATE, DELETE, RESTORE)


def as_text(value: Any) -> str | None:
    """A stored value as the audit log keeps it: times as UTC ISO text, numbers as digits."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def as_json(values: Mapping[str, Any]) -> str:
    return json.dumps({k: as_text(v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True)


# Plain SQL on the driver: the protocol's hot path saves at every keystroke, and building
# SQLAlchemy statements cost more than the writes themselves.
_LAST = (
    "SELECT id, field, action, observer_id, updated_at, new FROM audit_log "
    "WHERE record_id = ? ORDER BY updated_at DESC LIMIT 1"
)
_FOLD = "UPDATE audit_log SET new = ?, updated_at = ? WHERE id = ?"
_INSERT = (
    "INSERT INTO audit_log (id, station_id, observer_id, record_table, record_id, field, action, old, new, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def record_change(
    conn: Connection,
    *,
    at: datetime,
    observer_id: str | None,
    station_id: str,
    table: str,
    record_id: str,
    changes: Mapping[str, tuple[Any, Any]],
    action: str = UPDATE,
) -> None:
    """Log ``changes`` ({field: (old, new)}) of one record; unchanged fields are skipped."""
    when = as_text(at)
    for field, (old, new) in changes.items():
        old_text, new_text = as_text(old), as_text(new)
        if old_text == new_text and action == UPDATE:
            continue
        last = conn.exec_driver_sql(driver_sql(_LAST, is_postgres(conn)), (record_id,)).first()
        if action == UPDATE and last is not None and _same_session(last, observer_id, at):
            if last.field == field:
                conn.exec_driver_sql(driver_sql(_FOLD, is_postgres(conn)), (new_text, when, last.id))
                continue
            if last.field == WHOLE_RECORD and last.action == CREATE:
                # Still filling in a record just created: its creation row gets the values.
                first = json.loads(last.new or "{}")
                first[field] = new_text
                conn.exec_driver_sql(
                    driver_sql(_FOLD, is_postgres(conn)),
                    (json.dumps(first, ensure_ascii=False, sort_keys=True), when, last.id),
                )
                continue
        conn.exec_driver_sql(
            driver_sql(_INSERT, is_postgres(conn)),
            (m.new_id(), station_id, observer_id, table, record_id, field, action, old_text, new_text, when, when),
        )


def record_created(
    conn: Connection,
    *,
    at: datetime,
    observer_id: str | None,
    station_id: str,
    table: str,
    record_id: str,
    values: Mapping[str, Any],
) -> None:
    insert_new(
        conn,
        m.AuditEntry,
        at,
        station_id=station_id,
        observer_id=observer_id,
        record_table=table,
        record_id=record_id,
        field=WHOLE_RECORD,
        action=CREATE,
        old=None,
        new=as_json(values),
    )


def _same_session(last: Any, observer_id: str | None, at: datetime) -> bool:
    if last.observer_id != observer_id or last.action not in (CREATE, UPDATE):
        return False
    try:
        previous = datetime.fromisoformat(str(last.updated_at).replace("Z", "+00:00"))
    except ValueError:  # a row merged from elsewhere in another format: start a new one
        return False
    return at - previous <= SESSION


def history(conn: Connection, record_ids: Iterable[str]) -> list[AuditInfo]:
    """The audit rows of these records, oldest first, with the observer's name."""
    ids = list(record_ids)
    if not ids:
        return []
    rows = conn.execute(
        select(m.AuditEntry, m.Observer.name.label("who"))
        .outerjoin(m.Observer, m.Observer.id == m.AuditEntry.observer_id)
        .where(m.AuditEntry.record_id.in_(ids))
        .order_by(m.AuditEntry.created_at, m.AuditEntry.id)
    ).all()
    return [
        AuditInfo(
            r.id, r.created_at, r.updated_at, r.who or "", r.record_table, r.record_id, r.field, r.action, r.old, r.new
        )
        for r in rows
    ]
