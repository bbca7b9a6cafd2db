"""region names up to 200 characters

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Why: ``stations.region`` was 16 characters, made for an ISO 3166-2 code (``KZ-ALA``). A template
without a list of units takes the region as the results file writes it (observer.units: any name
up to ``MAX_FREE_NAME``, 200 characters), e.g. «Республика Адыгея (Адыгея)» in a Russian CIK
file. SQLite does not enforce a VARCHAR's length, so a file HQ took such names; PostgreSQL refused
the whole import (``value too long for type character varying(16)``): the two backends must
accept the same files.

As in 0010, a SQLite file is left as it is; a server database has the column widened (a change
of the declared length only: PostgreSQL rewrites nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("stations", "region", type_=sa.String(length=200), existing_type=sa.String(length=16))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("stations", "region", type_=sa.String(length=16), existing_type=sa.String(length=200))
