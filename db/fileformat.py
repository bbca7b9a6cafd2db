"""What an election file is, importable without SQLAlchemy.

The app's first window decides whether a file is a current HQ file with plain
``sqlite3`` before SQLAlchemy is imported (:mod:`db.services.hq`), and
:mod:`db.store` creates and checks files by the same names: they are defined
here once.
"""

from __future__ import annotations

FILE_SUFFIX = ".baqylau"
FORMAT = "baqylau-election"  # meta.format of every election file, station or HQ
ROLE_STATION = "station"  # meta.role of an observer's file
ROLE_HQ = "hq"  # meta.role of a coordinator's file

# A PostgreSQL HQ is named by a URL where a file HQ is named by its path (docs/postgresql.md).
PG_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_pg_url(target: object) -> bool:
    """True for a PostgreSQL URL (``postgresql://user@host/db``), False for a file path."""
    return isinstance(target, str) and target.lower().startswith(PG_SCHEMES)


# Ids per ``IN (...)`` list in one query: well under SQLite's bound-parameter limit
# (32,766 since SQLite 3.32), large enough that a 100,000-station read is 20 queries.
IN_CHUNK = 5000
