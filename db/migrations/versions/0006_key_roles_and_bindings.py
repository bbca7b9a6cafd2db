"""key roles, key-observer bindings, signed manifests of merged packages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Why (issue 12, trust model): a signature said *who* sent a package, not *what*
that sender may change.

* ``trusted_keys.role``: ``observer`` (default: may sign its own station's
  packages) or ``district`` (may also sign ``kind = "hq"`` packages of a
  district coordinator). Every key already trusted becomes an observer key; an
  organisation that merged district packages marks their keys again
  (``baqylau keys HQ trust FPR --role district``).
* ``trusted_keys.observer_id``: the one observer a key signs for, recorded by the
  first package merged from it; unique, so one observer id is never signed for by
  two keys. Keys already in the file get their binding from their next package
  (the merge checks it against the provenance of the records already held).
* ``packages.manifest`` and ``packages.signature``: the exact signed manifest of
  every merged package, so a district HQ package can carry its station packages'
  manifests and the organisation re-verifies each signature itself.
* ``packages.file_sha256``: the SHA-256 of the package file as merged. A file offered
  again with the same bytes is a duplicate at the cost of one hash; any other copy
  with a known manifest has every member checked again (a tampered copy is refused).

Only columns and an index are added: no table is rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trusted_keys", sa.Column("role", sa.String(length=16), nullable=False, server_default="observer"))
    op.add_column("trusted_keys", sa.Column("observer_id", sa.String(length=36), nullable=True))
    op.create_index("ix_trusted_keys_observer_id", "trusted_keys", ["observer_id"], unique=True)
    op.add_column("packages", sa.Column("manifest", sa.LargeBinary(), nullable=True))
    op.add_column("packages", sa.Column("signature", sa.LargeBinary(), nullable=True))
    op.add_column("packages", sa.Column("file_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_column("file_sha256")
        batch_op.drop_column("signature")
        batch_op.drop_column("manifest")
    op.drop_index("ix_trusted_keys_observer_id", table_name="trusted_keys")
    with op.batch_alter_table("trusted_keys", schema=None) as batch_op:
        batch_op.drop_column("observer_id")
        batch_op.drop_column("role")
