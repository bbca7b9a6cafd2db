"""station codes up to 160 characters

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Why: an election published with a compound station key (Russia's CIK files: region, territorial
commission, precinct commission) gives station codes such as «Республика Саха (Якутия)/Усть-Алданская
ТИК/УИК №1234»; an observer at such a station types that code, and the package must carry it
(observer.records.MAX_STATION_CODE). ``stations.code`` and ``packages.station_code`` were 32
characters.

SQLite does not enforce a VARCHAR's length (the application checks it: the store, the package
reader), so a SQLite file is left as it is: no table is rebuilt. A server database that enforces
lengths has the two columns widened.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = (("stations", "code"), ("packages", "station_code"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length=160), existing_type=sa.String(length=32))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length=32), existing_type=sa.String(length=160))
