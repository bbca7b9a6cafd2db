"""What every part of :class:`db.store.ElectionStore` stands on: the engine, the clock, writes, the audit log.

The store is assembled from parts by the data they keep (:mod:`db.store`,
:mod:`db.store_figures`, :mod:`db.store_records`); each part inherits this base
so the write transaction and the audit call are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DatabaseError, OperationalError

from db import audit
from db.engine import error_for

if TYPE_CHECKING:
    from observer.template import ElectionTemplate


class StorePart:
    """The state an ElectionStore has (set in its ``__init__``) and the two helpers every part uses."""

    path: Path
    url: str | None  # a PostgreSQL HQ's URL; None for a file
    engine: Engine
    clock: Callable[[], datetime]  # the time of records and audit rows; tests put their own clock here
    _observer_id: str | None

    if TYPE_CHECKING:

        @property
        def template(self) -> ElectionTemplate: ...

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction whose OS/database failures (at begin, in the body or at commit) become a StorageError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (OSError, OperationalError, DatabaseError) as exc:
            raise error_for(exc, self.path, self.url) from None

    def _audit(
        self,
        conn: Connection,
        at: datetime,
        station_id: str,
        table: str,
        record_id: str,
        changes: dict[str, tuple[Any, Any]],
        action: str = audit.UPDATE,
    ) -> None:
        audit.record_change(
            conn,
            at=at,
            observer_id=self._observer_id,
            station_id=station_id,
            table=table,
            record_id=record_id,
            changes=changes,
            action=action,
        )
