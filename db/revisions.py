"""Schema revisions known to this program, from the migration files' names alone.

Revisions are numbered ("0003_official_values_blob.py" is "0003"), so telling
whether a file is current needs neither Alembic nor SQLAlchemy: the app's first
window (ui.coordinator.quick) and ElectionStore.open use the same rule from here.
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")


def known_revisions() -> list[str]:
    """Revision ids of db/migrations/versions, oldest first."""
    return sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def head_revision() -> str:
    return known_revisions()[-1]
