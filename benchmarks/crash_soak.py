"""Kill an observer's writer process with SIGKILL at random moments; check nothing acknowledged is lost.

    python -m benchmarks.crash_soak [--kills 200] [--seed 1]

The child process saves entries through the same store calls the observer app
uses (protocol fields, head-count clicks, violations with text), printing each
entry's number once the call has returned: that is the moment the app shows it
as saved. After each SIGKILL the file must pass ``PRAGMA integrity_check`` and
hold every acknowledged entry. Prints one summary line and exits 1 on any loss.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from db.store import ElectionStore
from observer.template import builtin_template

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys
from datetime import datetime, timezone
from db.store import ElectionStore
s = ElectionStore.open(sys.argv[1])
st = s.current_station()
pid = s.protocol_id(st.id)
keys = s.template.all_keys
start = int(sys.argv[2])
n = start
while True:
    n += 1
    kind = n % 3
    if kind == 0:
        s.set_protocol_value(pid, keys[n % len(keys)], n)
    elif kind == 1:
        s.add_headcount(st.id)
    else:
        s.save_violation(st.id, category="OTHER", occurred_at=datetime.now(timezone.utc), description=f"entry-{n}")
    print(n, flush=True)
"""


def soak(kills: int, seed: int) -> int:
    rnd = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="baqylau-soak-"))
    path = work / "station.baqylau"
    store = ElectionStore.create(path, builtin_template("kz-majilis-2021"))
    store.set_observer("Soak", "Soak")
    st = store.upsert_station("1", "KZ-ALA", "", "", 3000)
    store.select_station(st.id)
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    acked: set[int] = set()
    last = 0
    checked = lost = 0
    t0 = time.perf_counter()
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(last)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        assert proc.stdout is not None
        # Kill after a random number of acknowledged entries, or mid-startup now and then.
        target = rnd.choice([0, 1, 2, 5, 10, 25, 60])
        delay = rnd.random() * 0.02
        count = 0
        if target == 0:
            time.sleep(rnd.random() * 0.3)
        else:
            for line in proc.stdout:
                last = max(last, int(line))
                acked.add(int(line))
                count += 1
                if count >= target:
                    time.sleep(delay)  # land the kill at a random point inside the next write
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for line in proc.stdout.read().split() if proc.stdout else []:
            last = max(last, int(line))
            acked.add(int(line))
        with sqlite3.connect(path) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                print("integrity_check failed", file=sys.stderr)
                return 1
            described = {r[0] for r in conn.execute("SELECT description FROM violations")}
            heads = conn.execute("SELECT COALESCE(SUM(delta), 0) FROM headcount_events").fetchone()[0]
        expected_violations = {f"entry-{n}" for n in acked if n % 3 == 2}
        missing = expected_violations - described
        expected_heads = sum(1 for n in acked if n % 3 == 1)
        checked = len(acked)
        if missing or heads < expected_heads:
            lost += len(missing) + max(0, expected_heads - heads)
            print(f"LOST: {sorted(missing)[:5]} headcount {heads} < {expected_heads}", file=sys.stderr)
    # Protocol fields: the value acknowledged last for each key is there (or a later one).
    s = ElectionStore.open(path)
    values = s.protocol_values(s.protocol_id(s.current_station().id))  # type: ignore[union-attr]
    keys = s.template.all_keys
    for n in acked:
        if n % 3 == 0:
            key = keys[n % len(keys)]
            if (values.get(key) or 0) < n and max(m for m in acked if m % 3 == 0 and keys[m % len(keys)] == key) == n:
                lost += 1
    s.close()
    elapsed = time.perf_counter() - t0
    print(
        f"kills: {kills}, entries acknowledged and checked: {checked}, lost: {lost}, integrity_check ok after every kill, {elapsed:.0f} s"
    )
    return 1 if lost else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    return soak(args.kills, args.seed)


if __name__ == "__main__":
    sys.exit(main())
