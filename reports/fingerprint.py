"""A fingerprint of the data a report was built from, and reading it back from a PDF.

The digest must not change when the same packages are merged in another order
or into another HQ file, so it covers *content*, never row ids, creation times
or storage order: every record becomes one canonical JSON line keyed by station
code, the lines are sorted, and SHA-256 runs over the sorted lines.

What it covers is what the report is computed from: per station the figures
that count (after conflict decisions and inclusion rules) and the official
result, every conflicting protocol version with the decision on it, the
inclusion rules, the turnout at each reporting time (per station, as the report
uses it), spoiled-ballot counts and violations, and everything else the report
prints: the template's text (party and category names), evidence files and
reuse flags (db/reuse.py, with observers' names), the import log, the chosen version's
observer and the official
import. Any change that could change a printed word or figure changes it.

The full digest goes into the PDF's Keywords (``baqylau-fingerprint:<hex>``);
the cover prints its first 16 hex digits so a paper copy can be traced too.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from db.rules import META_KEY as RULES_META_KEY
from db.store import ElectionStore
from observer.errors import BaqylauError
from reports.data import Snapshot, conflicts_of, read_snapshot, reuse_of, spoiled_of

KEYWORD_PREFIX = "baqylau-fingerprint:"
OPTIONS_PREFIX = "baqylau-options:"
_OPTIONS_RE = re.compile(rb"baqylau-options:([A-Za-z0-9_-]{1,4000}={0,2})")
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


def _ints(values: list[int]) -> str:
    """A list of ints as the compact JSON encoder writes it: ``[1,-2,3]``."""
    return str(values).replace(" ", "")


def station_line_reference(fields: list[Any]) -> bytes:
    """A station line through the general encoder (what the direct form must equal)."""
    return _line("station", *fields)


# Stations per chunk when their lines are streamed: a few thousand rows of the columns as Python
# objects at a time instead of all 100,000 (the whole-column lists and lines were +80 MB at the peak).
_CHUNK = 4096


def _station_lines(snap: Snapshot, rows: Sequence[int]) -> Iterator[bytes]:
    """The station lines of ``rows`` (row numbers of the snapshot), in that order, a chunk at a time."""
    official, observed = snap.official, snap.observed
    enc = _ENCODER.encode
    codes, regions, districts = observed.codes, observed.regions, observed.districts
    for start in range(0, len(rows), _CHUNK):
        idx = np.asarray(rows[start : start + _CHUNK], dtype=np.intp)
        # Whole (chunk) columns to Python objects at once (numpy's tolist), not element by element:
        # the same values, so the same lines, in a fraction of the time.
        nc = observed.not_counted[idx].tolist() if observed.not_counted is not None else [False] * len(idx)
        obs_has, off_has, reported = (
            observed.has_figures[idx].tolist(),
            official.has_figures[idx].tolist(),
            snap.reported[idx].tolist(),
        )
        obs_values, off_values = observed.values[idx].tolist(), official.values[idx].tolist()
        announced, counted = snap.announced[idx].tolist(), snap.counted[idx].tolist()
        # The lines are written directly in the encoder's compact form ("[1,2,3]", null, true):
        # byte for byte what _line gives (tests/reports/test_report.py checks it), without encoding
        # 100,000 nested lists through json's machinery one by one.
        for k, (code, region, district, registered) in enumerate(
            zip(
                codes[idx].tolist(),
                regions[idx].tolist(),
                districts[idx].tolist(),
                observed.registered[idx].tolist(),
            )
        ):
            yield (
                f'["station",{enc(str(code))},{enc(str(region))},{enc(str(district))},{int(registered)},'
                f"{_ints(obs_values[k]) if obs_has[k] else 'null'},{_ints(off_values[k]) if off_has[k] else 'null'},"
                f"{'true' if nc[k] else 'false'},"
                f"{_ints(announced[k]) if reported[k] else 'null'},{_ints(counted[k]) if reported[k] else 'null'}]"
            ).encode()


def _sorted_station_lines(snap: Snapshot) -> Iterator[bytes]:
    """Every station line in byte order, without holding them all.

    A line starts ``["station","<code>",``; the code's JSON string holds no unescaped quote
    before its end, so two lines with different codes compare as these heads do, and only
    the order of the heads (a few MB) is sorted. Lines of one code (not expected: codes are
    unique) are sorted among themselves, so the order is that of sorting the lines, always.
    """
    enc = _ENCODER.encode
    heads = [f'["station",{enc(str(code))},'.encode() for code in snap.observed.codes.tolist()]
    order = sorted(range(len(heads)), key=heads.__getitem__)
    run: list[bytes] = []
    run_head = b""
    for row, line in zip(order, _station_lines(snap, order)):
        if run and heads[row] != run_head:
            yield from sorted(run) if len(run) > 1 else run
            run = []
        run_head = heads[row]
        run.append(line)
    yield from sorted(run)


def _records(store: ElectionStore, snap: Snapshot) -> Iterator[bytes]:
    """Every line but the stations' (_sorted_station_lines), in no particular order."""
    observed = snap.observed
    yield _line("slots", list(snap.slots))
    yield _line("keys", list(observed.keys))
    yield _line("rules", store.meta(RULES_META_KEY) or "")
    codes = dict(zip(observed.station_ids.tolist(), observed.codes.tolist()))
    for conflict in conflicts_of(store, snap):
        chosen = None
        for v in conflict.versions:
            yield _line("version", conflict.station_code, v.observer_id, v.source, dict(v.values))
            if conflict.resolution is not None and v.protocol_id == conflict.resolution.protocol_id:
                chosen = [v.observer_id, v.source, v.observer_name]  # the annex prints the name
        res = conflict.resolution
        if res is not None:
            yield _line("decision", conflict.station_code, chosen, res.status, res.reason, res.decided_at.isoformat())
    for station_id, observer_id, reason, count in spoiled_of(store, snap):
        yield _line("spoiled", codes.get(station_id, "?"), observer_id, reason, count)
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
    yield from _shown_elsewhere(store, snap, codes)


def _shown_elsewhere(store: ElectionStore, snap: Snapshot, codes: dict[str, str]) -> Iterator[bytes]:
    """What the report prints beyond the figures: template texts, photos, reuse flags, the import log, names."""
    # Party names, categories, the election's name: all come from the template's text.
    yield _line("template", store.meta("template_toml") or "")
    for pair in reuse_of(store, snap):
        yield _line(
            "reuse",
            pair.kind,
            pair.distance,
            sorted(
                [[side.station_code, side.observer_name, side.original_name, side.sha256] for side in (pair.a, pair.b)]
            ),
        )
    for ev in store.iter_table("evidence", "station_id", "sha256", "kind", "original_name"):
        yield _line("evidence", codes.get(ev.station_id, "?"), ev.sha256, ev.kind, ev.original_name)
    for pkg in store.iter_table("packages", "sha256", "outcome"):
        # The annex of imports counts packages by outcome. Merge times are left out on purpose: the
        # same packages merged into another file give the same fingerprint (the rebuild checks times).
        yield _line("package", pkg.sha256, pkg.outcome)
    yield _line("official", store.meta("official_sha256") or "")


@dataclass(frozen=True)
class ReportOptions:
    """What besides the data decides a report's bytes; recorded in the PDF so it can be rebuilt."""

    lang: str
    title: str
    organisation: str
    logo_sha256: str  # "" without a logo: the logo file itself is not in the PDF's metadata

    def keyword(self) -> str:
        raw = _ENCODER.encode({"v": 1, **asdict(self)}).encode("utf-8")
        return OPTIONS_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def from_pdf(cls, data: bytes) -> ReportOptions | None:
        """The options recorded in a report's metadata (None if absent or unreadable).

        Whatever a tampered file claims here only decides how it is rebuilt; the
        rebuilt bytes must then equal the file's, so a false claim cannot pass.
        """
        found = _OPTIONS_RE.findall(data)
        if not found:
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(found[-1]).decode("utf-8"))
            if raw.get("v") != 1:
                return None
            return cls(str(raw["lang"]), str(raw["title"]), str(raw["organisation"]), str(raw["logo_sha256"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def data_fingerprint(hq: ElectionStore, snapshot: Snapshot | None = None) -> str:
    """SHA-256 (hex) over a canonical, order-independent form of the HQ data.

    ``snapshot`` is the read the report's figures came from (read here if not given).
    """
    snap = snapshot or read_snapshot(hq)
    digest = hashlib.sha256(b"baqylau-data-v2\n")
    # The same sequence as sorting every line at once: the stations (most of the lines) stream in
    # order from a sort of their codes; the rest (a fraction of them) is sorted as a list.
    for line in heapq.merge(_sorted_station_lines(snap), sorted(_records(hq, snap))):
        digest.update(line)
        digest.update(b"\n")
    return digest.hexdigest()


def short_fingerprint(full: str) -> str:
    """The printed form: 16 hex digits in groups of four (easy to read aloud)."""
    head = full[:SHORT_LENGTH].upper()
    return "-".join(head[i : i + 4] for i in range(0, len(head), 4))


def read_pdf_bytes(path: str | Path) -> bytes:
    """A file given as a report: a PDF of reasonable size, read whole (or a user error)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > _MAX_PDF_BYTES:
            raise ReportVerifyError("report.error.not_pdf", file=p.name)
        with p.open("rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ReportVerifyError("report.error.unreadable", file=p.name, problem=exc.strerror or str(exc)) from None
    if not data.startswith(b"%PDF-"):
        raise ReportVerifyError("report.error.not_pdf", file=p.name)
    return data


def read_pdf_fingerprint(path: str | Path) -> str | None:
    """The full fingerprint stored in a report's metadata, or None if there is none.

    Only a hint for the message of ``verify-report`` (which data the report claims);
    whether the report shows that data is decided by rebuilding it (reports.verify).
    """
    found = _KEYWORD_RE.findall(read_pdf_bytes(path))
    return found[-1].decode("ascii") if found else None
