"""coordinator tables and provenance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "packages",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("station_code", sa.String(length=32), nullable=True),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("public_key", sa.String(length=64), nullable=True),
        sa.Column("created_in_package", sa.String(length=40), nullable=True),
        sa.Column("merged_at", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("via_package_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_packages_key_fingerprint"), ["key_fingerprint"], unique=False)

    op.create_table(
        "trusted_keys",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.String(length=32), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_table(
        "official_results",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id"),
    )
    op.create_table(
        "resolutions",
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("protocol_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["protocol_id"],
            ["protocols.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resolutions_station_id"), ["station_id"], unique=False)

    with op.batch_alter_table("checklist_answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_checklist_answers_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_checklist_answers_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_evidence_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_evidence_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("headcount_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_headcount_events_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_headcount_events_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("protocol_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_protocol_values_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_protocol_values_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("protocols", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_protocols_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_protocols_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("spoiled_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_spoiled_counts_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_spoiled_counts_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_stations_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_stations_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("turnout_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_turnout_reports_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_turnout_reports_package_id", "packages", ["package_id"], ["id"])

    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_violations_package_id"), ["package_id"], unique=False)
        batch_op.create_foreign_key("fk_violations_package_id", "packages", ["package_id"], ["id"])


def downgrade() -> None:

    with op.batch_alter_table("violations", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_violations_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_violations_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("turnout_reports", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_turnout_reports_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_turnout_reports_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("stations", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_stations_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_stations_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("spoiled_counts", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_spoiled_counts_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_spoiled_counts_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("protocols", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_protocols_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_protocols_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("protocol_values", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_protocol_values_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_protocol_values_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("headcount_events", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_headcount_events_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_headcount_events_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_evidence_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_evidence_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("checklist_answers", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_checklist_answers_package_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_checklist_answers_package_id"))
        batch_op.drop_column("package_id")

    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolutions_station_id"))

    op.drop_table("resolutions")
    op.drop_table("official_results")
    op.drop_table("trusted_keys")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_packages_key_fingerprint"))

    op.drop_table("packages")
