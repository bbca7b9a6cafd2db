"""What an observer records at the station: turnout reports, head-count, protocol, spoiled ballots, checklists.

A part of :class:`db.store.ElectionStore` (one of its base classes), kept in its
own module so each stays readable. Every method is a unit of work and commits,
as in the store; changes the observer types go to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select, update

from db import models as m
from db.engine import now
from db.rows import insert_new
from db.store_base import StorePart
from observer.errors import StorageError
from observer.records import ChecklistEntry, HeadcountPoint, TurnoutSlot

if TYPE_CHECKING:
    pass


class StationFigures(StorePart):
    """The station's figures, read and written for the observer of this file."""

    # ---- turnout -------------------------------------------------------
    def set_announced(self, station_id: str, slot: str, announced: int | None) -> None:
        if announced is not None and announced < 0:
            raise StorageError("error.storage.negative", field=slot)
        self._upsert(
            m.TurnoutReport,
            {"station_id": station_id, "observer_id": self._observer_id, "slot": slot},
            {"announced": announced, "observed": self.headcount(station_id)},
            audited=("announced",),
        )

    def turnout_slots(self, station_id: str) -> list[TurnoutSlot]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.TurnoutReport.slot, m.TurnoutReport.announced, m.TurnoutReport.observed)
                .where(m.TurnoutReport.station_id == station_id, m.TurnoutReport.observer_id == self._observer_id)
                .order_by(m.TurnoutReport.slot)
            ).all()
        return [TurnoutSlot(r.slot, r.announced, r.observed) for r in rows]

    def add_headcount(self, station_id: str, delta: int = 1, at: datetime | None = None) -> int:
        """Record one counted voter (+1) or undo (-1); returns the new total."""
        if delta not in (1, -1):
            raise ValueError("delta must be +1 or -1")
        with self._write() as conn:
            total = int(
                conn.execute(
                    select(func.coalesce(func.sum(m.HeadcountEvent.delta), 0)).where(
                        m.HeadcountEvent.station_id == station_id, m.HeadcountEvent.observer_id == self._observer_id
                    )
                ).scalar()
                or 0
            )
            if delta < 0 and total <= 0:
                return 0
            t = at or now()
            insert_new(
                conn, m.HeadcountEvent, t, station_id=station_id, observer_id=self._observer_id, at=t, delta=delta
            )
        return total + delta

    def headcount(self, station_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.coalesce(func.sum(m.HeadcountEvent.delta), 0)).where(
                        m.HeadcountEvent.station_id == station_id, m.HeadcountEvent.observer_id == self._observer_id
                    )
                ).scalar()
                or 0
            )

    def headcount_timeline(self, station_id: str) -> list[HeadcountPoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.HeadcountEvent.at, m.HeadcountEvent.delta)
                .where(m.HeadcountEvent.station_id == station_id, m.HeadcountEvent.observer_id == self._observer_id)
                .order_by(m.HeadcountEvent.at, m.HeadcountEvent.created_at)
            ).all()
        out: list[HeadcountPoint] = []
        total = 0
        for r in rows:
            total += r.delta
            out.append(HeadcountPoint(r.at, r.delta, total))
        return out

    # ---- protocol ------------------------------------------------------
    def protocol_id(self, station_id: str, source: str = "posted_copy") -> str:
        """The id of this observer's protocol of ``source`` at the station, created if needed."""
        with self._write() as conn:
            pid = conn.execute(
                select(m.Protocol.id).where(
                    m.Protocol.station_id == station_id,
                    m.Protocol.observer_id == self._observer_id,
                    m.Protocol.source == source,
                )
            ).scalar()
            if pid is None:
                pid = insert_new(
                    conn, m.Protocol, now(), station_id=station_id, observer_id=self._observer_id, source=source
                )
        return pid

    def set_protocol_value(self, protocol_id: str, key: str, value: int | None) -> None:
        """Save one protocol field at once (the hot path of data entry)."""
        template = self.template
        if key not in template.all_keys:
            raise StorageError("error.storage.unknown_line", key=key)
        if value is not None and value < 0:
            raise StorageError("error.storage.negative", field=template.label(key))
        t = self.clock()
        with self._write() as conn:
            old = conn.execute(_OLD_VALUE, {"pid": protocol_id, "k": key}).first()
            if old is not None:
                if old.value != value:
                    conn.execute(_UPDATE_VALUE, {"pid": protocol_id, "k": key, "v": value, "t": t})
                    self._audit(conn, t, old.station_id, "protocol_values", old.id, {key: (old.value, value)})
            else:
                vid = insert_new(
                    conn,
                    m.ProtocolValue,
                    t,
                    protocol_id=protocol_id,
                    key=key,
                    value=value,
                    observer_id=self._observer_id,
                )
                sid = conn.execute(select(m.Protocol.station_id).where(m.Protocol.id == protocol_id)).scalar()
                if sid is not None and value is not None:
                    self._audit(conn, t, sid, "protocol_values", vid, {key: (None, value)})

    def protocol_values(self, protocol_id: str) -> dict[str, int | None]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.ProtocolValue.key, m.ProtocolValue.value).where(m.ProtocolValue.protocol_id == protocol_id)
            ).all()
        return {r.key: r.value for r in rows}

    # ---- spoiled ballots ----------------------------------------------
    def set_spoiled(self, station_id: str, reason: str, count: int) -> None:
        if count < 0:
            raise StorageError("error.storage.negative", field=reason)
        self._upsert(
            m.SpoiledCount,
            {"station_id": station_id, "observer_id": self._observer_id, "reason": reason},
            {"count": count},
            audited=("count",),
        )

    def spoiled(self, station_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.SpoiledCount.reason, m.SpoiledCount.count).where(
                    m.SpoiledCount.station_id == station_id, m.SpoiledCount.observer_id == self._observer_id
                )
            ).all()
        return {reason: count for reason, count in rows}

    # ---- checklists ----------------------------------------------------
    def set_checklist_answer(
        self, station_id: str, checklist: str, question: str, answer: str | None, note: str = ""
    ) -> None:
        self._upsert(
            m.ChecklistAnswer,
            {"station_id": station_id, "observer_id": self._observer_id, "checklist": checklist, "question": question},
            {"answer": answer, "note": note},
            audited=("answer", "note"),
        )

    def checklist(self, station_id: str, checklist: str) -> dict[str, ChecklistEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.ChecklistAnswer).where(
                    m.ChecklistAnswer.station_id == station_id,
                    m.ChecklistAnswer.observer_id == self._observer_id,
                    m.ChecklistAnswer.checklist == checklist,
                )
            ).all()
        return {r.question: ChecklistEntry(r.checklist, r.question, r.answer, r.note) for r in rows}

    # ---- helpers -------------------------------------------------------
    def _upsert(
        self, model: type[m.Base], keys: dict[str, Any], values: dict[str, Any], audited: tuple[str, ...] = ()
    ) -> None:
        """Update the row matching ``keys`` or insert it: portable, no dialect UPSERT.

        Changes of the ``audited`` fields (those the observer types) go to the audit log,
        under the name ``<last key>.<field>`` (``10:00.announced``, ``BLANK.count``).
        """
        t = self.clock()
        cond = [getattr(model, k) == v if v is not None else getattr(model, k).is_(None) for k, v in keys.items()]
        table = model.__table__
        with self._write() as conn:
            old = conn.execute(select(table.c.id, *(table.c[f] for f in audited)).where(*cond)).first()
            if old is not None:
                conn.execute(update(model).where(*cond).values(updated_at=t, **values))
                record_id = old.id
                before = {f: getattr(old, f) for f in audited}
            else:
                record_id = insert_new(conn, model, t, **keys, **values)
                before = {f: None for f in audited}
            name = str(list(keys.values())[-1])
            changes = {f"{name}.{f}"[:40]: (before[f], values[f]) for f in audited if before[f] != values[f]}
            if changes and keys.get("station_id"):
                self._audit(conn, t, keys["station_id"], str(model.__tablename__), record_id, changes)


# Built once: the statements of the hottest write, so each edit skips SQL construction.
_OLD_VALUE = (
    select(m.ProtocolValue.id, m.ProtocolValue.value, m.Protocol.station_id)
    .join(m.Protocol, m.Protocol.id == m.ProtocolValue.protocol_id)
    .where(m.ProtocolValue.protocol_id == bindparam("pid"), m.ProtocolValue.key == bindparam("k"))
)
_UPDATE_VALUE = (
    update(m.ProtocolValue)
    .where(m.ProtocolValue.protocol_id == bindparam("pid"), m.ProtocolValue.key == bindparam("k"))
    .values(value=bindparam("v"), updated_at=bindparam("t"))
)
