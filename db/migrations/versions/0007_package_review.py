"""the observer's review of a package: open items and the reason to export anyway

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01

Why: an observer may export a station package with open items (a broken control
relation, empty lines, unanswered questions, failed cross-checks) only with a
typed reason. The package carries that review in the station file's meta
(``export_review``, observer/review.py); the merge keeps it with the package's
row so the coordinator can read it later (``baqylau conflicts``). A column, not a
table: one value per package, added in place (no table rebuild).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("packages", sa.Column("review", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_column("review")
