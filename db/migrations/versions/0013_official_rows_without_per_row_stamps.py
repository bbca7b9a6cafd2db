"""official rows without a per-row id, file name and times

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Why: importing 100,000 stations with a compound key must take at most twice a bare ``csv`` +
``sqlite3.executemany`` (issue 15), and storing what the import wrote was already 1.7x that
before a cell of the file was read (benchmarks/README.md, "The floor of the compound-key file").
Every official row carried 108 bytes that say nothing of its own: a record UUID nothing looks
up, the file's name and the import's time twice (``created_at``, ``updated_at``), the same in
all 100,000 rows, since an import replaces every row at once. Those facts are the import's and
are already kept once, in ``meta`` (``official_file``, ``official_sha256``,
``official_imported_at``). The table keeps its key (``station_id``), the figures
(``values_blob``, or ``values_json`` from other tools) and each row's ``source_line``.

Existing files: the rows are copied without the four columns. Downgrade gives each row a new
UUID and the file name and time ``meta`` records (empty / the downgrade's time without them).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_KEPT = "station_id, values_json, values_blob, source_line"
_DROPPED = ("id", "source_file", "created_at", "updated_at")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for column in _DROPPED:
            op.execute(f"ALTER TABLE official_results DROP COLUMN {column}")
        return
    op.execute("ALTER TABLE official_results RENAME TO official_results_0011")
    op.execute(
        "CREATE TABLE official_results ("
        "station_id VARCHAR(36) NOT NULL, "
        "values_json TEXT, "
        "values_blob BLOB, "
        "source_line INTEGER, "
        "CONSTRAINT pk_official_results PRIMARY KEY (station_id), "
        "CONSTRAINT fk_official_results_station_id FOREIGN KEY(station_id) REFERENCES stations (id)"
        ") WITHOUT ROWID"
    )
    op.execute(f"INSERT INTO official_results ({_KEPT}) SELECT {_KEPT} FROM official_results_0011 ORDER BY station_id")
    op.execute("DROP TABLE official_results_0011")


def _meta(key: str) -> str | None:
    value = op.get_bind().exec_driver_sql(f"SELECT value FROM meta WHERE key = '{key}'").scalar()
    return None if value is None else str(value)


def downgrade() -> None:
    conn = op.get_bind()
    source = (_meta("official_file") or "")[:255]
    stamp = _meta("official_imported_at") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stations = [sid for (sid,) in conn.exec_driver_sql("SELECT station_id FROM official_results").fetchall()]
    if conn.dialect.name != "sqlite":
        op.execute("ALTER TABLE official_results ADD COLUMN id VARCHAR(36)")
        op.execute("ALTER TABLE official_results ADD COLUMN source_file VARCHAR(255)")
        op.execute("ALTER TABLE official_results ADD COLUMN created_at VARCHAR(32)")
        op.execute("ALTER TABLE official_results ADD COLUMN updated_at VARCHAR(32)")
        mark = "%s"
    else:
        op.execute("ALTER TABLE official_results RENAME TO official_results_0013")
        op.execute(
            "CREATE TABLE official_results ("
            "station_id VARCHAR(36) NOT NULL, "
            "values_json TEXT, "
            "values_blob BLOB, "
            "source_file VARCHAR(255) NOT NULL, "
            "source_line INTEGER, "
            "id VARCHAR(36) NOT NULL, "
            "created_at VARCHAR(32) NOT NULL, "
            "updated_at VARCHAR(32) NOT NULL, "
            "CONSTRAINT pk_official_results PRIMARY KEY (station_id), "
            "CONSTRAINT fk_official_results_station_id FOREIGN KEY(station_id) REFERENCES stations (id)"
            ") WITHOUT ROWID"
        )
        op.execute(
            f"INSERT INTO official_results ({_KEPT}, source_file, id, created_at, updated_at) "
            f"SELECT {_KEPT}, '', '', '', '' FROM official_results_0013 ORDER BY station_id"
        )
        op.execute("DROP TABLE official_results_0013")
        mark = "?"
    if stations:
        conn.exec_driver_sql(
            f"UPDATE official_results SET id = {mark}, source_file = {mark}, created_at = {mark}, updated_at = {mark} "
            f"WHERE station_id = {mark}",
            [(str(uuid.uuid4()), source, stamp, stamp, sid) for sid in stations],
        )
    if conn.dialect.name != "sqlite":
        for column in _DROPPED:
            op.execute(f"ALTER TABLE official_results ALTER COLUMN {column} SET NOT NULL")
