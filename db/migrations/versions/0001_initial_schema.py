"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "observers",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("observers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observers_fingerprint"), ["fingerprint"], unique=False)

    op.create_table(
        "stations",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=True),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stations_district"), ["district"], unique=False)
        batch_op.create_index(batch_op.f("ix_stations_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stations_region"), ["region"], unique=False)

    op.create_table(
        "checklist_answers",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("checklist", sa.String(length=16), nullable=False),
        sa.Column("question", sa.String(length=40), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "observer_id", "checklist", "question"),
    )
    with op.batch_alter_table("checklist_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checklist_answers_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_checklist_answers_station_id"), ["station_id"], unique=False)

    op.create_table(
        "headcount_events",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("headcount_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_headcount_events_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_headcount_events_station_id"), ["station_id"], unique=False)

    op.create_table(
        "protocols",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "observer_id", "source"),
    )
    with op.batch_alter_table("protocols", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protocols_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_protocols_station_id"), ["station_id"], unique=False)

    op.create_table(
        "spoiled_counts",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "observer_id", "reason"),
    )
    with op.batch_alter_table("spoiled_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spoiled_counts_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_spoiled_counts_station_id"), ["station_id"], unique=False)

    op.create_table(
        "turnout_reports",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("slot", sa.String(length=5), nullable=False),
        sa.Column("announced", sa.Integer(), nullable=True),
        sa.Column("observed", sa.Integer(), nullable=True),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "observer_id", "slot"),
    )
    with op.batch_alter_table("turnout_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_turnout_reports_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_turnout_reports_station_id"), ["station_id"], unique=False)

    op.create_table(
        "violations",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("involved", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("action_note", sa.Text(), nullable=False),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_violations_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_violations_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_violations_station_id"), ["station_id"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("violation_id", sa.String(length=36), nullable=True),
        sa.Column("protocol_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("exif_time", sa.String(length=32), nullable=True),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=True),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(["protocol_id"], ["protocols.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.ForeignKeyConstraint(["violation_id"], ["violations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_observer_id"), ["observer_id"], unique=False)
        batch_op.create_index("ix_evidence_sha256", ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_station_id"), ["station_id"], unique=False)

    op.create_table(
        "protocol_values",
        sa.Column("protocol_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"],
            ["observers.id"],
        ),
        sa.ForeignKeyConstraint(["protocol_id"], ["protocols.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("protocol_id", "key"),
    )
    with op.batch_alter_table("protocol_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protocol_values_observer_id"), ["observer_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("protocol_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_values_observer_id"))

    op.drop_table("protocol_values")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_station_id"))
        batch_op.drop_index("ix_evidence_sha256")
        batch_op.drop_index(batch_op.f("ix_evidence_observer_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_violations_station_id"))
        batch_op.drop_index(batch_op.f("ix_violations_observer_id"))
        batch_op.drop_index(batch_op.f("ix_violations_category"))

    op.drop_table("violations")
    with op.batch_alter_table("turnout_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_turnout_reports_station_id"))
        batch_op.drop_index(batch_op.f("ix_turnout_reports_observer_id"))

    op.drop_table("turnout_reports")
    with op.batch_alter_table("spoiled_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spoiled_counts_station_id"))
        batch_op.drop_index(batch_op.f("ix_spoiled_counts_observer_id"))

    op.drop_table("spoiled_counts")
    with op.batch_alter_table("protocols", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocols_station_id"))
        batch_op.drop_index(batch_op.f("ix_protocols_observer_id"))

    op.drop_table("protocols")
    with op.batch_alter_table("headcount_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_headcount_events_station_id"))
        batch_op.drop_index(batch_op.f("ix_headcount_events_observer_id"))

    op.drop_table("headcount_events")
    with op.batch_alter_table("checklist_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checklist_answers_station_id"))
        batch_op.drop_index(batch_op.f("ix_checklist_answers_observer_id"))

    op.drop_table("checklist_answers")
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stations_region"))
        batch_op.drop_index(batch_op.f("ix_stations_observer_id"))
        batch_op.drop_index(batch_op.f("ix_stations_district"))

    op.drop_table("stations")
    with op.batch_alter_table("observers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observers_fingerprint"))

    op.drop_table("observers")
    op.drop_table("meta")
