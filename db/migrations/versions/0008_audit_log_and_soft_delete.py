"""audit log and soft deletion

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-02

Why: evidence an observer records must be trustworthy afterwards. Every change
of a saved value (who, when, old, new) is kept in ``audit_log`` and travels in
the package like any record; violations and evidence files are no longer
deleted at once but marked (``deleted_at``), shown as deleted and recoverable
until the next export purges them (their last values stay in the audit log).

No table is rebuilt: one new table, two plain ADD COLUMNs (in place in SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("record_table", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("observer_id", sa.String(length=36), nullable=True),
        sa.Column("package_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["observer_id"], ["observers.id"], name="fk_audit_log_observer_id"),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], name="fk_audit_log_package_id"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_audit_log_station_id"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_record", "audit_log", ["record_id", "created_at"], unique=False)
    op.create_index("ix_audit_log_station_id", "audit_log", ["station_id"], unique=False)
    op.create_index("ix_audit_log_observer_id", "audit_log", ["observer_id"], unique=False)
    op.create_index("ix_audit_log_package_id", "audit_log", ["package_id"], unique=False)
    # A plain ADD COLUMN: SQLite does it in place, no table rebuild.
    op.add_column("violations", sa.Column("deleted_at", sa.String(length=32), nullable=True))
    op.add_column("evidence", sa.Column("deleted_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    op.drop_table("audit_log")
