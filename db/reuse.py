"""Reused evidence: the same photo submitted for two different stations.

A protocol photo from one station passed off as another's is a cheap forgery
(or an honest mix-up) that the figures alone cannot reveal. Two tests:

* identical bytes: the same SHA-256 (the evidence table is indexed on it);
* near-duplicates: a 64-bit difference hash (dHash) of the stored thumbnail,
  compared by Hamming distance. Re-encoding, resizing, mild cropping or a
  messenger's recompression change a few bits; different photos differ in
  about half of them. ``DEFAULT_THRESHOLD`` (bits of 64) was chosen from the
  measurements in docs/security.md: recompressed, resized or cropped and
  blurred copies of our test photos stay at or below 5, unrelated photos
  were at least 16 apart.

A scan keeps the hashes it computed in the file (table ``thumbnail_hashes`` of revision
0015, keyed by the SHA-256 of the thumbnail's bytes, at best effort: ``remember_hashes``), so
the next process reads them instead of decoding 20,000 thumbnails again (~3 s at 100,000
stations); only the thumbnails merged since are decoded. Not in the merge: decoding there
cost ~0.7 ms a package on its critical path. The thumbnails are small JPEGs that Pillow
decodes at 1/8 scale. A per-process cache keyed by the evidence's SHA-256 makes a second
scan in the same process nearly free.

Only the coordinator sees the result, as pairs with both stations, observers
and files; whether a pair is a forgery is a human judgement (two photos of
similar blank forms can look alike), so nothing is excluded automatically.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from db.dbapi import Driver
from db.store import ElectionStore

HASH_BITS = 64
DEFAULT_THRESHOLD = 6
# Mean grey-level step between neighbouring cells of the 9x8 image below which a
# photo has no usable detail (a blank wall, a flat synthetic picture): its bits
# are noise and would match every other flat photo, so it is compared by bytes only.
MIN_DETAIL = 4.0
IDENTICAL = "identical"
NEAR = "near"
_THUMB_PIXEL_LIMIT = 1024 * 1024  # thumbnails are at most 320x320; anything bigger is not ours
_cache: dict[str, int | None] = {}
# A row of the scan (_rows): id, station id, station code, observer, original name, stored name, sha256, thumbnail
_Row = tuple[str, str, str, str, str, str, str, bytes | None]


@dataclass(frozen=True)
class EvidenceSide:
    evidence_id: str
    station_code: str
    observer_name: str
    original_name: str
    stored_name: str
    sha256: str


@dataclass(frozen=True)
class ReusePair:
    kind: str  # identical | near
    distance: int  # Hamming distance of the dHashes (0 for identical files)
    a: EvidenceSide
    b: EvidenceSide


def dhash(image: Image.Image) -> int | None:
    """64-bit difference hash: 9x8 grey image, one bit per horizontal neighbour pair (left brighter).

    None for an image without usable detail (see MIN_DETAIL).
    """
    grey = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    px = np.asarray(grey, dtype=np.int16)
    steps = px[:, :-1] - px[:, 1:]
    if float(np.abs(steps).mean()) < MIN_DETAIL:
        return None
    bits = (steps > 0).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def thumbnail_hash(data: bytes | None) -> int | None:
    """dHash of a stored thumbnail, or None if there is none or it cannot be decoded."""
    if not data:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.size[0] * img.size[1] > _THUMB_PIXEL_LIMIT:
                    return None
                # JPEG can decode straight to 1/2..1/8 scale: the hash needs 9x8 pixels only.
                img.draft("L", (36, 32))
                img.load()
                return dhash(img)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


def thumbnail_key(data: bytes) -> str:
    """What ``thumbnail_hashes`` is keyed by: the SHA-256 of the thumbnail's bytes."""
    return hashlib.sha256(data).hexdigest()


def _hex(value: int | None) -> str:
    return "" if value is None else f"{value:016x}"


def remember_hashes(hq: ElectionStore, found: dict[str, str]) -> None:
    """Keep the hashes a scan had to compute (``thumbnail_key`` -> hex, "" for none) for later processes.

    A cache, so at best effort and never waiting: a file whose writer is busy (a merge batch), a
    read-only file or an analyst's read-only role on PostgreSQL keeps what it has, and the next scan
    computes the rest again. Keyed by content: whatever wrote a key first wrote the same hash.
    """
    if not found:
        return
    from sqlalchemy.exc import DBAPIError

    rows = list(found.items())
    refused: tuple[type[Exception], ...] = (DBAPIError, sqlite3.Error)  # the Driver's own SQL is not wrapped
    if hq.engine.dialect.name == "postgresql":
        import psycopg

        refused += (psycopg.Error,)
    try:
        with hq.engine.connect() as conn:
            db = Driver(conn)
            # never wait for a writer: SQLite's busy timeout off on this connection while it tries
            saved = None if db.pg else db.db.execute("PRAGMA busy_timeout").fetchone()[0]
            if saved is not None:
                db.db.execute("PRAGMA busy_timeout = 0")
            try:
                with conn.begin():
                    if db.pg:
                        conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
                    for start in range(0, len(rows), 1000):
                        db.many(
                            "INSERT INTO thumbnail_hashes (thumb_sha256, dhash) VALUES "
                            f"({db.marks(2)}) ON CONFLICT (thumb_sha256) DO NOTHING",
                            rows[start : start + 1000],
                        )
            finally:
                if saved is not None:
                    db.db.execute(f"PRAGMA busy_timeout = {int(saved)}")
    except refused:
        return


def _stored_hashes(hq: ElectionStore) -> dict[str, str]:
    with hq.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT thumb_sha256, dhash FROM thumbnail_hashes").all())  # type: ignore[arg-type]


def _cached_hash(sha256: str, thumbnail: bytes | None, stored: dict[str, str], computed: dict[str, str]) -> int | None:
    """The dHash for the evidence file ``sha256`` (from its ``thumbnail``): from the process cache,
    else from ``stored`` (``thumbnail_hashes``), else decoded (and added to ``computed``, for
    ``remember_hashes``); cached in the process either way."""
    if sha256 not in _cache:
        key = thumbnail_key(thumbnail) if thumbnail else ""
        found = stored.get(key) if key else None
        if found is None:
            _cache[sha256] = thumbnail_hash(thumbnail)
            if key:
                computed[key] = _hex(_cache[sha256])
        else:
            _cache[sha256] = int(found, 16) if found else None
    return _cache[sha256]


def file_hashes(hq: ElectionStore, rows: list[_Row], check: Callable[[], None] | None = None) -> dict[str, int | None]:
    """The dHash of each distinct evidence file of ``rows`` (``_rows``), from its first row's thumbnail.

    ``check`` is called before each row (the window's scan raises from it to stop); what had to be
    decoded is kept in the file for the next process (``remember_hashes``) once all are hashed.
    """
    # thumbnail_hashes is read only when some file's hash is not in the process cache yet
    stored = _stored_hashes(hq) if any(r[6] not in _cache for r in rows) else {}
    computed: dict[str, str] = {}
    out: dict[str, int | None] = {}
    for row in rows:
        if check is not None:
            check()
        if row[6] not in out:
            out[row[6]] = _cached_hash(row[6], row[7], stored, computed)
    remember_hashes(hq, computed)
    return out


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def _rows(hq: ElectionStore) -> list[_Row]:
    sql = (
        "SELECT e.id, e.station_id, COALESCE(s.code, ''), COALESCE(o.name, ''), e.original_name, e.stored_name, e.sha256, "
        "CASE WHEN e.kind = 'photo' THEN e.thumbnail END "
        "FROM evidence e LEFT JOIN stations s ON s.id = e.station_id LEFT JOIN observers o ON o.id = e.observer_id "
        "ORDER BY s.code, e.id"
    )
    with hq.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]  # type: ignore[misc]


def find_reused_evidence(hq: ElectionStore, threshold: int = DEFAULT_THRESHOLD) -> list[ReusePair]:
    """Pairs of evidence records of *different* stations showing the same photo.

    Identical files first, then near-duplicates by increasing distance; each
    pair once (a before b by station code). ``threshold`` 0 still finds
    re-encoded copies whose hash did not change at all.
    """
    if not 0 <= threshold <= HASH_BITS:
        raise ValueError("threshold out of range")
    rows = _rows(hq)
    sides = [EvidenceSide(r[0], r[2], r[3], r[4], r[5], r[6]) for r in rows]
    stations = [r[1] for r in rows]
    pairs: list[ReusePair] = []

    by_sha: dict[str, list[int]] = {}
    for i, side in enumerate(sides):
        by_sha.setdefault(side.sha256, []).append(i)
    for members in by_sha.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if stations[i] != stations[j]:
                    pairs.append(ReusePair(IDENTICAL, 0, sides[i], sides[j]))

    # One representative per distinct file: identical copies are already paired above.
    hashed: list[tuple[int, int]] = []  # (row index, hash)
    hashes = file_hashes(hq, rows)
    for members in by_sha.values():
        h = hashes[sides[members[0]].sha256]
        if h is not None:
            hashed.append((members[0], h))
    near = _near_pairs([h for _, h in hashed], threshold)
    file_rows = {sides[i].sha256: by_sha[sides[i].sha256] for i, _ in hashed}
    for x, y, dist in near:
        i, j = hashed[x][0], hashed[y][0]
        for a in file_rows[sides[i].sha256]:
            for b in file_rows[sides[j].sha256]:
                if stations[a] != stations[b]:
                    first, second = sorted((a, b), key=lambda k: (sides[k].station_code, sides[k].evidence_id))
                    pairs.append(ReusePair(NEAR, dist, sides[first], sides[second]))
    pairs.sort(
        key=lambda p: (
            p.kind != IDENTICAL,
            p.distance,
            p.a.station_code,
            p.b.station_code,
            p.a.evidence_id,
            p.b.evidence_id,
        )
    )
    return pairs


def _near_pairs(hashes: Iterable[int], threshold: int) -> list[tuple[int, int, int]]:
    """All (i, j, distance) with i < j and Hamming distance <= threshold, vectorised row by row."""
    arr = np.array(list(hashes), dtype=np.uint64)
    out: list[tuple[int, int, int]] = []
    for i in range(len(arr) - 1):
        dist = np.bitwise_count(arr[i + 1 :] ^ arr[i])
        for j in np.flatnonzero(dist <= threshold).tolist():
            out.append((i, i + 1 + j, int(dist[j])))
    return out


def reused_evidence_by_station(hq: ElectionStore, threshold: int = DEFAULT_THRESHOLD) -> dict[str, list[ReusePair]]:
    """Station code -> the reuse pairs it takes part in (for a report section or a column)."""
    out: dict[str, list[ReusePair]] = {}
    for pair in find_reused_evidence(hq, threshold):
        out.setdefault(pair.a.station_code, []).append(pair)
        out.setdefault(pair.b.station_code, []).append(pair)
    return out
