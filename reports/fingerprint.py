"""A fingerprint of the data a report was built from, and reading it back from a PDF.

The digest must not change when the same packages are merged in another order
or into another HQ file, so it covers *content*, never row ids, creation times
or storage order: every record becomes one canonical JSON line (stations by
code, protocols by station code + observer + source), the lines are sorted,
and SHA-256 runs over the sorted lines. Anything that changes a figure, a
violation or a coordinator's decision changes the fingerprint.

The full digest goes into the PDF's Keywords (``baqylau-fingerprint:<hex>``);
the cover prints its first 16 hex digits so a paper copy can be traced too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

from db import models as m
from db.store import ElectionStore
from observer.errors import BaqylauError

KEYWORD_PREFIX = "baqylau-fingerprint:"
SHORT_LENGTH = 16
_MAX_PDF_BYTES = 2 * 1024**3
_KEYWORD_RE = re.compile(rb"baqylau-fingerprint:([0-9a-f]{64})")


class ReportVerifyError(BaqylauError):
    """The file given to verify-report is not a report we can read."""

    key = "report.error.verify"


def _line(kind: str, *fields: Any) -> bytes:
    return json.dumps([kind, *fields], ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")


def _records(store: ElectionStore) -> Iterator[bytes]:
    codes: dict[str, str] = {}
    for row in store.iter_table(m.Station):
        codes[row.id] = row.code
        yield _line("station", row.code, row.region, row.district, row.registered)
    protocols: dict[str, tuple[str, str | None, str]] = {}
    for row in store.iter_table(m.Protocol):
        protocols[row.id] = (codes.get(row.station_id, "?"), row.observer_id, row.source)
    values: dict[str, dict[str, int | None]] = defaultdict(dict)
    for row in store.iter_table(m.ProtocolValue):
        values[row.protocol_id][row.key] = row.value
    for pid, (code, observer, source) in protocols.items():
        yield _line("protocol", code, observer, source, values.get(pid, {}))
    for row in store.iter_table(m.OfficialResult):
        try:
            official: Any = json.loads(row.values_json)
        except ValueError:
            official = row.values_json  # hash what is stored, even if it is not JSON
        yield _line("official", codes.get(row.station_id, "?"), official)
    for row in store.iter_table(m.TurnoutReport):
        yield _line("turnout", codes.get(row.station_id, "?"), row.observer_id, row.slot, row.announced, row.observed)
    for row in store.iter_table(m.SpoiledCount):
        yield _line("spoiled", codes.get(row.station_id, "?"), row.observer_id, row.reason, row.count)
    for row in store.iter_table(m.Violation):
        yield _line(
            "violation",
            codes.get(row.station_id, "?"),
            row.observer_id,
            row.occurred_at.isoformat() if row.occurred_at else None,
            row.category,
            row.severity,
            row.description,
            row.action,
        )
    for row in store.iter_table(m.Resolution):
        chosen = protocols.get(row.protocol_id) if row.protocol_id else None
        yield _line(
            "resolution",
            codes.get(row.station_id, "?"),
            list(chosen) if chosen else None,
            row.status,
            row.reason,
            row.decided_at.isoformat() if row.decided_at else None,
        )


def data_fingerprint(hq: ElectionStore) -> str:
    """SHA-256 (hex) over a canonical, order-independent form of the HQ data."""
    digest = hashlib.sha256(b"baqylau-data-v1\n")
    for line in sorted(_records(hq)):
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
