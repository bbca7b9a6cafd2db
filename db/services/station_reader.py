"""The stations table's own reads, in plain ``sqlite3``: what the coordinator window shows first.

Opening the app on an HQ file must show the stations at once. SQLAlchemy and
the ORM models take longer to import than the rest of the start-up together,
so the first screen (station ids in order, the station list's columns, the
official figures, regions, the count) is read here with the standard library,
while :class:`db.store.ElectionStore` is opened in the background
(:mod:`db.services.hq`). The table keeps using these reads afterwards: they are
the hot path of scrolling and filtering, and SQLAlchemy's row processing costs
several times the query. Importing this module must stay that cheap:
``benchmarks/bench_startup.py`` measures it.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Sequence
from pathlib import Path

from db.fileformat import IN_CHUNK
from observer.template import ElectionTemplate, parse_template

# Sort keys the table offers -> column (db.models.Station).
SORT_COLUMNS = {"code": "code", "region": "region", "district": "district", "registered": "registered"}


LAYOUT_META = "official_layout"  # meta key of the packed figures' key order (db.official.LAYOUT_META)


def official_json(text: str | None, blob: bytes | None, layout: str | None) -> str:
    """An official result's figures as JSON {key: int or null}, from its row.

    Since revision 0009 an import stores the figures once, packed (little-endian
    int64, -1 = not given, in the key order of ``meta.official_layout``, given
    here as its JSON text) and ``values_json`` is NULL; rows from other tools or
    older versions carry the JSON only.
    """
    if text is not None or not isinstance(blob, bytes):
        return text or "{}"
    try:
        keys = json.loads(layout or "[]")
    except ValueError:
        return "{}"
    if not isinstance(keys, list) or not keys or len(blob) != 8 * len(keys):
        return "{}"
    figures = struct.unpack(f"<{len(keys)}q", blob)
    return json.dumps({str(k): (v if v >= 0 else None) for k, v in zip(keys, figures)}, separators=(",", ":"))


class StationReader:
    """Read-only queries of one election file for the stations table (UI thread only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Autocommit: every read is its own snapshot, so merges committed meanwhile are seen next time.
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._template: ElectionTemplate | None = None

    def close(self) -> None:
        self._conn.close()

    def interrupt(self) -> None:
        self._conn.interrupt()

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def schema_revision(self) -> str | None:
        """The Alembic revision the file is at, None if it has none (not an election file)."""
        conn = self._conn
        if (
            conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
            is None
        ):
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    @property
    def template(self) -> ElectionTemplate:
        """The file's template, parsed as ``ElectionStore.template`` does."""
        if self._template is None:
            self._template = parse_template(self.meta("template_toml") or "", f"{self.meta('template_id')}.toml")
        return self._template

    def ids(
        self,
        region: str = "",
        code_search: str = "",
        has_violations: bool = False,
        sort: str = "code",
        descending: bool = False,
        limit: int | None = None,
    ) -> list[str]:
        """Station ids in table order (ties broken by code), narrowed by the SQL-side filters."""
        where: list[str] = []
        params: list[object] = []
        if region:
            where.append("s.region = ?")
            params.append(region)
        text = code_search.strip()
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("s.code LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if has_violations:
            where.append("EXISTS (SELECT 1 FROM violations v WHERE v.station_id = s.id)")
        col = SORT_COLUMNS.get(sort, "code")
        sql = "SELECT s.id FROM stations s"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY s.{col} {'DESC' if descending else 'ASC'}, s.code"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [r[0] for r in self._conn.execute(sql, params).fetchall()]

    def stations(self, ids: Sequence[str]) -> list[tuple[str, str, str, str, int | None]]:
        """(id, code, region, district, registered) of ``ids``, in no particular order."""
        out: list[tuple[str, str, str, str, int | None]] = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            out.extend(
                self._conn.execute(
                    f"SELECT id, code, region, district, registered FROM stations WHERE id IN ({marks})", chunk
                ).fetchall()
            )
        return out

    def official(self, ids: Sequence[str]) -> dict[str, str]:
        """Station id -> the official result's JSON, for those of ``ids`` that have one."""
        out: dict[str, str] = {}
        layout = self.meta(LAYOUT_META)
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT station_id, values_json, values_blob FROM official_results WHERE station_id IN ({marks})"
            out.update((sid, official_json(text, blob, layout)) for sid, text, blob in self._conn.execute(sql, chunk))
        return out

    def regions(self) -> list[str]:
        return [
            r[0] for r in self._conn.execute("SELECT DISTINCT region FROM stations ORDER BY region").fetchall() if r[0]
        ]

    def total(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM stations").fetchone()[0])
