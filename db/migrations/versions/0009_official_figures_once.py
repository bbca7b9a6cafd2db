"""official figures stored once, keyed by station

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Why: importing 100,000 stations' official results must take at most twice a
bare ``csv`` + ``sqlite3.executemany`` (issue 18), and SQLite's own writing was
already 2x before any cell was checked. Each row carried its figures twice
(``values_json``, readable, and ``values_blob``, packed little-endian int64 in
the key order of ``meta.official_layout``) and three B-trees (the rows by
rowid, the ``id`` primary key, the unique ``station_id``). Now:

* the figures are stored once, as the packed blob; ``values_json`` is NULL for
  such rows and readers derive it (``db.official.official_values``,
  ``db.services.station_reader.official_json``). Rows without a blob (written by
  other tools or older versions) keep their JSON, which readers still use;
* the table is ``WITHOUT ROWID`` with ``station_id`` as its primary key (there
  is one official result per station, and every reader looks rows up or joins
  by station): one B-tree instead of three. ``id`` stays, a record's UUID, but
  nothing looks rows up by it, so it has no index of its own.

The stations' ``observer_id`` and ``package_id`` indexes become partial (``IS NOT
NULL``): both are NULL for every station an import creates, and nothing looks
stations up by a NULL; ``= ?`` lookups and joins still use them.

Existing files: rows are copied, and the JSON of rows whose blob has the
layout's length is dropped. Downgrade rebuilds the old table and writes the
JSON back from the blobs.
"""

from __future__ import annotations

import json
import struct

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = "station_id, values_json, values_blob, source_file, source_line, id, created_at, updated_at"


def _layout() -> list[str] | None:
    raw = op.get_bind().exec_driver_sql("SELECT value FROM meta WHERE key = 'official_layout'").scalar()
    try:
        keys = json.loads(raw) if raw else None
    except ValueError:
        return None
    return [str(k) for k in keys] if isinstance(keys, list) else None


def upgrade() -> None:
    op.execute("ALTER TABLE official_results RENAME TO official_results_0008")
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
    layout = _layout()
    width = 8 * len(layout) if layout else -1
    # The JSON goes where the packed copy is whole; rows without one keep it (readers fall back to it).
    op.get_bind().exec_driver_sql(
        f"INSERT INTO official_results ({_COLUMNS}) "
        "SELECT station_id, "
        "CASE WHEN typeof(values_blob) = 'blob' AND length(values_blob) = ? THEN NULL ELSE values_json END, "
        "values_blob, source_file, source_line, id, created_at, updated_at "
        "FROM official_results_0008 ORDER BY station_id",
        (width,),
    )
    op.execute("DROP TABLE official_results_0008")
    for column in ("observer_id", "package_id"):
        op.drop_index(f"ix_stations_{column}", table_name="stations")
        op.create_index(f"ix_stations_{column}", "stations", [column], sqlite_where=sa.text(f"{column} IS NOT NULL"))


def downgrade() -> None:
    for column in ("observer_id", "package_id"):
        op.drop_index(f"ix_stations_{column}", table_name="stations")
        op.create_index(f"ix_stations_{column}", "stations", [column])
    op.create_table(
        "official_results_0008",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("values_blob", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id"),
    )
    layout = _layout() or []
    conn = op.get_bind()
    rows = conn.exec_driver_sql(f"SELECT {_COLUMNS} FROM official_results").fetchall()
    out = []
    for sid, text, blob, *rest in rows:
        if text is None:
            figures = struct.unpack(f"<{len(layout)}q", blob) if blob and len(blob) == 8 * len(layout) else ()
            text = json.dumps({k: (v if v >= 0 else None) for k, v in zip(layout, figures)}, separators=(",", ":"))
        out.append((sid, text, blob, *rest))
    if out:
        conn.exec_driver_sql(f"INSERT INTO official_results_0008 ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", out)
    op.drop_table("official_results")
    op.rename_table("official_results_0008", "official_results")
