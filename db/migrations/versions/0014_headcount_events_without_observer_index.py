"""head-count events without an index of their own on observer_id

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Why: a station package carries one row per click of the head counter (~300 in the benchmark's
synthetic day, over a thousand at a busy station), so the merge writes more of these rows than of
all other records together, and each row went into five B-trees. The one on ``observer_id`` alone
answered no query: every read of the events names the station first and uses the covering index
(station_id, observer_id, delta) of revision 0004, and the per-station totals are kept by triggers
(0005). Dropping it cut the merge of 1,000 packages into the 100,000-station HQ by ~0.3-0.6 ms a
package (benchmarks/README.md, "Merge profile"). The other records keep theirs.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_headcount_events_observer_id", table_name="headcount_events")


def downgrade() -> None:
    op.create_index("ix_headcount_events_observer_id", "headcount_events", ["observer_id"])
