"""thumbnail hashes kept in the file

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Why: the reused-photo scan (db/reuse.py) compares a 64-bit difference hash (dHash) of every photo's
thumbnail. It decoded every thumbnail again in each process: 20,000 at 100,000 stations, ~3 s that
every `baqylau report`, `evidence-reuse` and coordinator window paid before its first result
(docs/report.md, "Speed"). A scan now keeps what it computed in ``thumbnail_hashes``, keyed by the
SHA-256 of the thumbnail's bytes (content, not row: never stale, the same whatever wrote it first),
and the next process decodes only the thumbnails merged since. The table starts empty: the first
scan after the upgrade fills it (hashing in the migration would make the first opening of a large HQ
seconds slower, and the merge does not hash: ~0.7 ms a package on its critical path).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thumbnail_hashes",
        sa.Column("thumb_sha256", sa.String(length=64), nullable=False),
        sa.Column("dhash", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("thumb_sha256", name="pk_thumbnail_hashes"),
    )


def downgrade() -> None:
    op.drop_table("thumbnail_hashes")
