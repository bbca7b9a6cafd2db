"""thumbnail hashes kept in the file

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Why: the reused-photo scan (db/reuse.py) compares a 64-bit difference hash (dHash) of every photo's
thumbnail. It decoded every thumbnail again in each process: 20,000 at 100,000 stations, ~3 s that
every `baqylau report`, `evidence-reuse` and coordinator window paid before its first result
(docs/report.md, "Speed"). The merge now hashes the thumbnails it writes into ``thumbnail_hashes``,
keyed by the SHA-256 of the thumbnail's bytes (content, not row: never stale, the same whatever the
merge order). This revision makes the table and hashes the thumbnails already in the file, with a
frozen copy of the hash of db/reuse.py (a migration must not change when that module does); the
result is the same bits (tests/db/test_migrations.py compares them).
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import sqlalchemy as sa
from alembic import op
from PIL import Image

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_MIN_DETAIL = 4.0
_PIXEL_LIMIT = 1024 * 1024
_BLOCK = 500


def _dhash_hex(data: bytes) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.size[0] * img.size[1] > _PIXEL_LIMIT:
                    return ""
                img.draft("L", (36, 32))
                img.load()
                grey = img.convert("L").resize((9, 8), Image.Resampling.BOX)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return ""
    px = np.asarray(grey, dtype=np.int16)
    steps = px[:, :-1] - px[:, 1:]
    if float(np.abs(steps).mean()) < _MIN_DETAIL:
        return ""
    return f"{int.from_bytes(np.packbits((steps > 0).ravel()).tobytes(), 'big'):016x}"


def upgrade() -> None:
    op.create_table(
        "thumbnail_hashes",
        sa.Column("thumb_sha256", sa.String(length=64), nullable=False),
        sa.Column("dhash", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("thumb_sha256", name="pk_thumbnail_hashes"),
    )
    bind = op.get_bind()
    table = sa.table("thumbnail_hashes", sa.column("thumb_sha256"), sa.column("dhash"))
    seen: set[str] = set()
    block: list[dict[str, str]] = []
    rows = bind.execute(sa.text("SELECT thumbnail FROM evidence WHERE kind = 'photo' AND thumbnail IS NOT NULL"))
    for (data,) in rows:
        data = bytes(data)
        key = hashlib.sha256(data).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        block.append({"thumb_sha256": key, "dhash": _dhash_hex(data)})
        if len(block) >= _BLOCK:
            op.bulk_insert(table, block)
            block = []
    if block:
        op.bulk_insert(table, block)


def downgrade() -> None:
    op.drop_table("thumbnail_hashes")
