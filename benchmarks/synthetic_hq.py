"""A large synthetic HQ file in seconds, and a quick look at the stations table on it.

:func:`build_hq` writes an HQ election file with N stations, official results
for all of them and observer protocols for one in ten (one in fifty with a
second, disagreeing observer) by bulk inserts; the tests use it at a few
hundred stations. ``python -m benchmarks.synthetic_hq [N]`` builds one of N
stations (default 100,000) in a temporary folder, then times what the coordinator does first:
open the table, jump to the last row, and apply a filter. Runs offscreen.
Wall time depends on what else the machine is doing; the CPU time printed
beside it is the work itself.
"""

from __future__ import annotations

import json
import os
import random
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from db import models as m
from db.fileformat import ROLE_HQ
from db.official import LAYOUT_META
from db.store import ElectionStore
from observer.regions import regions_on
from observer.template import builtin_template


def _packed(layout: tuple[str, ...], figures: dict[str, int]) -> bytes:
    """Figures as db.official stores them: little-endian int64 per key of the layout, -1 = not given."""
    return struct.pack(f"<{len(layout)}q", *(figures.get(k, -1) for k in layout))


def _observe(
    protocols: list[dict[str, object]],
    values: list[dict[str, object]],
    sid: str,
    pid: str,
    k: int,
    reg: int,
    seen: int,
    t: datetime,
) -> None:
    """Observer ``k``'s protocol at station ``sid``: ``seen`` voters got ballots."""
    protocols.append(
        {
            "id": pid,
            "station_id": sid,
            "observer_id": f"obs-{k}",
            "source": "posted_copy",
            "created_at": t,
            "updated_at": t,
        }
    )
    for key, val in (("registered", reg), ("issued", seen), ("in_boxes", seen), ("valid", seen - 5), ("invalid", 5)):
        values.append(
            {"id": f"{pid}-{key}", "protocol_id": pid, "key": key, "value": val, "created_at": t, "updated_at": t}
        )


def build_hq(path: Path, n: int, seed: int = 7) -> ElectionStore:
    """A synthetic HQ file written with bulk inserts (the merge would take minutes for 100,000)."""
    tpl = builtin_template("kz-majilis-2021")
    store = ElectionStore.create(path, tpl, role=ROLE_HQ)
    layout = tpl.all_keys
    rng = random.Random(seed)
    regions = [r.code for r in regions_on(tpl.date)]
    t = datetime.now(UTC)
    stations: list[dict[str, object]] = []
    official: list[dict[str, object]] = []
    protocols: list[dict[str, object]] = []
    values: list[dict[str, object]] = []
    observers = [
        {"id": f"obs-{k}", "name": f"Observer {k}", "organisation": "bench", "created_at": t, "updated_at": t}
        for k in range(2)
    ]
    for i in range(n):
        sid = f"st-{i:06d}"
        reg = rng.randint(300, 3000)
        stations.append(
            {
                "id": sid,
                "code": f"{i + 1:06d}",
                "region": regions[i % len(regions)],
                "district": f"D{i % 211}",
                "address": "",
                "registered": reg,
                "created_at": t,
                "updated_at": t,
            }
        )
        issued = int(reg * rng.uniform(0.4, 0.9))
        official.append(
            {
                "station_id": sid,
                # Stored as an import stores them since revision 0009: packed once, in the layout's key order.
                "values_blob": _packed(layout, {"registered": reg, "issued": min(reg, int(issued * 1.1))}),
                "source_line": i + 2,
            }
        )
        if i % 10 == 0:  # every tenth station observed, every fiftieth by two observers who disagree
            for k in range(2 if i % 50 == 0 else 1):
                _observe(protocols, values, sid, f"p-{i}-{k}", k, reg, issued + k * 7, t)
    store.set_meta(LAYOUT_META, json.dumps(list(layout)))
    with store.engine.begin() as conn:
        conn.execute(insert(m.Observer), observers)
        conn.execute(insert(m.Station), stations)
        conn.execute(insert(m.OfficialResult), official)
        conn.execute(insert(m.Protocol), protocols)
        conn.execute(insert(m.ProtocolValue), values)
    return store


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 100_000
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.app import make_application
    from ui.coordinator.stations import StationsPage

    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = build_hq(Path(tmp) / "hq.baqylau", n)
        print(f"built {n} stations in {time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        c0 = time.process_time()
        page = StationsPage(store)
        page.resize(1300, 700)
        page.show()
        app.processEvents()
        t_open = time.perf_counter() - t0
        t0 = time.perf_counter()
        page.view.scrollToBottom()
        app.processEvents()
        page.view.viewport().repaint()
        t_end = time.perf_counter() - t0
        cpu = time.process_time() - c0
        last = page.model.index(page.model.rowCount() - 1, 0).data()
        print(f"open + first paint: {t_open * 1000:.0f} ms ({page.model.rowCount()} rows)")
        print(
            f"scroll to the end and paint: {t_end * 1000:.0f} ms (last code {last}); pages loaded {page.model.pages_loaded}"
        )
        print(f"open + scroll to end: {(t_open + t_end) * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU (all threads)")
        t0 = time.perf_counter()
        page.search.setText("99")
        page.apply_filters()
        app.processEvents()
        print(f"search '99': {(time.perf_counter() - t0) * 1000:.0f} ms -> {page.model.rowCount()} rows")
        t0 = time.perf_counter()
        page.search.clear()
        page.checks.setChecked(True)
        app.processEvents()
        print(
            f"filter 'breaks a control relation' (first time, computes the set): {(time.perf_counter() - t0) * 1000:.0f} ms -> {page.model.rowCount()} rows"
        )
        page.close()
        page.deleteLater()
        app.processEvents()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
