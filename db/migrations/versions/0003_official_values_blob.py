"""official results as packed integers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Why: aggregating 100,000 stations must be faster than reading the same data
with pandas. Parsing 100,000 JSON objects in Python alone takes longer than
that, so each official result also carries its figures as one packed array of
little-endian int64 (-1 = not given), in the key order stored in
``meta.official_layout``. ``values_json`` stays the readable copy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite does it in place, no table rebuild.
    op.add_column("official_results", sa.Column("values_blob", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("official_results", schema=None) as batch_op:
        batch_op.drop_column("values_blob")
