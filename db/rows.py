"""A new row, written the one way every table of the election file takes it.

Each table has a UUID primary key and ``created_at``/``updated_at`` columns
(db/models.py); a new row gets a fresh id and both times equal, the moment it
was made. The store, the audit log and the coordinator's decisions all insert
through :func:`insert_new`, so none forgets a column or stamps two times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from db import models as m


def insert_new(conn: Connection, model: type[m.Base], made_at: datetime, **values: Any) -> str:
    """Insert one row of ``model`` with ``values``, a new id and ``made_at`` as both its times; returns the id."""
    row_id = values.pop("id", None) or m.new_id()
    conn.execute(insert(model).values(id=row_id, created_at=made_at, updated_at=made_at, **values))
    return str(row_id)
