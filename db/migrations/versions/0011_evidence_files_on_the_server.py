"""evidence files in a PostgreSQL HQ

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Why: a file HQ keeps evidence files (photos, videos) in a folder beside the file; a PostgreSQL HQ
is shared by coordinators on several machines, which have no such folder in common. The bytes go
into the database instead (issue 16; the choice, bytea parts rather than large objects or a shared
folder, is measured in docs/postgresql.md): they are written in the merge's own transaction, dumped
by ``pg_dump`` with everything else, and a rolled-back merge leaves nothing behind.

* ``evidence_files``: one row per stored file (``<sha256><ext>``, as ``evidence.stored_name``),
  its SHA-256, size and number of parts;
* ``evidence_file_parts``: its bytes in parts of 1 MiB (``db.store_records.EVIDENCE_PART``), so
  neither side ever holds a whole video in memory and a file may exceed the 1 GB limit of one
  ``bytea`` value (a video may be up to 1 GiB, observer.evidence.MAX_VIDEO_BYTES). Stored without
  compression (``STORAGE EXTERNAL``): JPEG and video do not compress, and trying costs time.

A SQLite file is left as it is: its evidence stays in its folder.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.create_table(
        "evidence_files",
        sa.Column("stored_name", sa.String(length=80), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
    )
    op.create_table(
        "evidence_file_parts",
        sa.Column(
            "stored_name",
            sa.String(length=80),
            sa.ForeignKey("evidence_files.stored_name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("part", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.execute("ALTER TABLE evidence_file_parts ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_table("evidence_file_parts")
    op.drop_table("evidence_files")
