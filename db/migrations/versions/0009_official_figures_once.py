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


def _partial_station_indexes(partial: bool) -> None:
    for column in ("observer_id", "package_id"):
        where = sa.text(f"{column} IS NOT NULL") if partial else None
        op.drop_index(f"ix_stations_{column}", table_name="stations")
        op.create_index(f"ix_stations_{column}", "stations", [column], sqlite_where=where, postgresql_where=where)


def _json_of(blob: bytes | None, layout: list[str]) -> str:
    figures = struct.unpack(f"<{len(layout)}q", blob) if blob and len(blob) == 8 * len(layout) else ()
    return json.dumps({k: (v if v >= 0 else None) for k, v in zip(layout, figures)}, separators=(",", ":"))


def _upgrade_server() -> None:
    """On a database server: the same result in place (no WITHOUT ROWID there; a primary key is its index)."""
    op.execute("ALTER TABLE official_results ALTER COLUMN values_json DROP NOT NULL")
    op.execute("ALTER TABLE official_results DROP CONSTRAINT official_results_pkey")
    op.execute("ALTER TABLE official_results DROP CONSTRAINT official_results_station_id_key")
    op.execute("ALTER TABLE official_results ADD CONSTRAINT pk_official_results PRIMARY KEY (station_id)")
    layout = _layout()
    op.get_bind().execute(
        sa.text(
            "UPDATE official_results SET values_json = NULL "
            "WHERE values_blob IS NOT NULL AND octet_length(values_blob) = :width"
        ),
        {"width": 8 * len(layout) if layout else -1},
    )
    _partial_station_indexes(True)


def _downgrade_server() -> None:
    _partial_station_indexes(False)
    layout = _layout() or []
    conn = op.get_bind()
    rows = conn.exec_driver_sql("SELECT station_id, values_blob FROM official_results WHERE values_json IS NULL")
    for sid, blob in rows.fetchall():
        conn.execute(
            sa.text("UPDATE official_results SET values_json = :text WHERE station_id = :sid"),
            {"text": _json_of(blob, layout), "sid": sid},
        )
    op.execute("ALTER TABLE official_results DROP CONSTRAINT pk_official_results")
    op.execute("ALTER TABLE official_results ADD CONSTRAINT official_results_pkey PRIMARY KEY (id)")
    op.execute("ALTER TABLE official_results ADD CONSTRAINT official_results_station_id_key UNIQUE (station_id)")
    op.execute("ALTER TABLE official_results ALTER COLUMN values_json SET NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        _upgrade_server()
        return
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
    _partial_station_indexes(True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        _downgrade_server()
        return
    _partial_station_indexes(False)
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
        out.append((sid, _json_of(blob, layout) if text is None else text, blob, *rest))
    if out:
        conn.exec_driver_sql(f"INSERT INTO official_results_0008 ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", out)
    op.drop_table("official_results")
    op.rename_table("official_results_0008", "official_results")
