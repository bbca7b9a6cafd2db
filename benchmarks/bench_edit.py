"""One field edit committed to disk: the observer's hot path vs raw sqlite3 UPDATE + commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from benchmarks.common import Row, median_time
from db.store import ElectionStore
from observer.template import builtin_template

EDITS = 200


def run(work: Path, repeat: int) -> list[Row]:
    path = work / "edit.baqylau"
    path.unlink(missing_ok=True)
    store = ElectionStore.create(path, builtin_template("kz-majilis-2021"))
    store.set_observer("Bench", "Bench")
    st = store.upsert_station("1", "KZ-ALA", "", "", 1000)
    pid = store.protocol_id(st.id)
    store.set_protocol_value(pid, "issued", 0)

    def ours() -> None:
        for i in range(EDITS):
            store.set_protocol_value(pid, "issued", i)

    # Baseline: the same durability settings, one UPDATE and a commit per edit.
    raw_path = work / "edit-raw.sqlite"
    raw_path.unlink(missing_ok=True)
    raw = sqlite3.connect(raw_path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE v (protocol_id TEXT, key TEXT, value INTEGER, PRIMARY KEY (protocol_id, key))")
    raw.execute("INSERT INTO v VALUES ('p', 'issued', 0)")

    def baseline() -> None:
        for i in range(EDITS):
            raw.execute("BEGIN")
            raw.execute("UPDATE v SET value = ? WHERE protocol_id = 'p' AND key = 'issued'", (i,))
            raw.execute("COMMIT")

    ours_t = median_time(ours, repeat) / EDITS
    base_t = median_time(baseline, repeat) / EDITS
    store.close()
    raw.close()
    return [
        Row(
            "one field edit committed to disk",
            1,
            ours_t,
            base_t,
            "<= 3x baseline",
            3.0,
            runs=repeat,
            note=f"per edit, median of {repeat} runs of {EDITS} edits, WAL + synchronous=FULL on both",
        )
    ]
