"""A fingerprint of the data a report was built from, and reading it back from a PDF.

The digest must not change when the same packages are merged in another order
or into another HQ file, so it covers *content*, never row ids, creation times
or storage order: every record becomes one canonical JSON line keyed by station
code, the lines are sorted, and SHA-256 runs over the sorted lines.

What it covers is what the report is computed from: per station the figures
that count (after conflict decisions and inclusion rules) and the official
result, every conflicting protocol version with the decision on it, the
inclusion rules, the turnout at each reporting time (per station, as the report
uses it), spoiled-ballot counts and violations. Any change that could change a
printed figure changes the fingerprint.

The full digest goes into the PDF's Keywords (``baqylau-fingerprint:<hex>``);
the cover prints its first 16 hex digits so a paper copy can be traced too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from db import models as m
from db.conflicts import station_conflicts
from db.rules import META_KEY as RULES_META_KEY
from db.store import ElectionStore
from observer.errors import BaqylauError
from reports.data import Snapshot, read_snapshot

KEYWORD_PREFIX = "baqylau-fingerprint:"
SHORT_LENGTH = 16
_MAX_PDF_BYTES = 2 * 1024**3
_KEYWORD_RE = re.compile(rb"baqylau-fingerprint:([0-9a-f]{64})")


class ReportVerifyError(BaqylauError):
    """The file given to verify-report is not a report we can read."""

    key = "report.error.verify"


# One encoder for all lines: json.dumps with options builds a new encoder per call, which was
# half the fingerprint's time at 100,000 stations. Same output, byte for byte.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def _line(kind: str, *fields: Any) -> bytes:
    return _ENCODER.encode([kind, *fields]).encode("utf-8")


def _records(store: ElectionStore, snap: Snapshot) -> Iterator[bytes]:
    official, observed = snap.official, snap.observed
    not_counted = observed.not_counted
    for i in range(len(observed)):
        yield _line(
            "station",
            str(observed.codes[i]),
            str(observed.regions[i]),
            str(observed.districts[i]),
            int(observed.registered[i]),
            observed.values[i].tolist() if observed.has_figures[i] else None,
            official.values[i].tolist() if official.has_figures[i] else None,
            bool(not_counted[i]) if not_counted is not None else False,
            snap.announced[i].tolist() if snap.reported[i] else None,
            snap.counted[i].tolist() if snap.reported[i] else None,
        )
    yield _line("slots", list(snap.slots))
    yield _line("keys", list(observed.keys))
    yield _line("rules", store.meta(RULES_META_KEY) or "")
    codes = dict(zip(observed.station_ids.tolist(), observed.codes.tolist()))
    for conflict in station_conflicts(store):
        chosen = None
        for v in conflict.versions:
            yield _line("version", conflict.station_code, v.observer_id, v.source, dict(v.values))
            if conflict.resolution is not None and v.protocol_id == conflict.resolution.protocol_id:
                chosen = [v.observer_id, v.source]
        res = conflict.resolution
        if res is not None:
            yield _line("decision", conflict.station_code, chosen, res.status, res.reason, res.decided_at.isoformat())
    for row in store.iter_table(m.SpoiledCount, "station_id", "observer_id", "reason", "count"):
        yield _line("spoiled", codes.get(row.station_id, "?"), row.observer_id, row.reason, row.count)
    for viol in store.violations():
        yield _line(
            "violation",
            codes.get(viol.station_id, "?"),
            viol.occurred_at.isoformat(),
            viol.category,
            viol.severity,
            viol.description,
            viol.action,
            viol.evidence_count,
        )


def data_fingerprint(hq: ElectionStore, snapshot: Snapshot | None = None) -> str:
    """SHA-256 (hex) over a canonical, order-independent form of the HQ data.

    ``snapshot`` is the read the report's figures came from (read here if not given).
    """
    digest = hashlib.sha256(b"baqylau-data-v1\n")
    for line in sorted(_records(hq, snapshot or read_snapshot(hq))):
        digest.update(line)
        digest.update(b"\n")
    return digest.hexdigest()


def short_fingerprint(full: str) -> str:
    """The printed form: 16 hex digits in groups of four (easy to read aloud)."""
    head = full[:SHORT_LENGTH].upper()
    return "-".join(head[i : i + 4] for i in range(0, len(head), 4))


def read_pdf_fingerprint(path: str | Path) -> str | None:
    """The full fingerprint stored in a report's metadata, or None if there is none.

    ReportLab writes the document information dictionary uncompressed, so the
    keyword can be found in the raw bytes without a PDF parser; a PDF that was
    re-saved by another program may have lost it (then None).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > _MAX_PDF_BYTES:
            raise ReportVerifyError("report.error.not_pdf", file=p.name)
        with p.open("rb") as fh:
            if not fh.read(5).startswith(b"%PDF-"):
                raise ReportVerifyError("report.error.not_pdf", file=p.name)
            fh.seek(0)
            data = fh.read()
    except OSError as exc:
        raise ReportVerifyError("report.error.unreadable", file=p.name, problem=exc.strerror or str(exc)) from None
    found = _KEYWORD_RE.findall(data)
    return found[-1].decode("ascii") if found else None
