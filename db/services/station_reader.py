"""The stations table's own reads, in plain DB-API: what the coordinator window shows first.

Opening the app on an HQ file must show the stations at once. SQLAlchemy and
the ORM models take longer to import than the rest of the start-up together,
so the first screen (station ids in order, the station list's columns, the
official figures, regions, the count) is read here with the standard library,
while :class:`db.store.ElectionStore` is opened in the background
(:mod:`db.services.hq`). The table keeps using these reads afterwards: they are
the hot path of scrolling and filtering, and SQLAlchemy's row processing costs
several times the query. Importing this module must stay that cheap:
``benchmarks/bench_startup.py`` measures it.

A shared HQ in PostgreSQL (``postgresql://`` URL, docs/postgresql.md) is read
the same way through psycopg's own connection (imported only then): the same
SQL, ``%s`` for ``?``, with NULLs placed where SQLite places them, so that the
table's order is the file's (the database's C collation orders text as SQLite).
The reader also says whether the role may write (:meth:`StationReader.writable`)
and gives the change marker that a window on a shared HQ polls
(:meth:`StationReader.change_marker`).
"""

from __future__ import annotations

import json
import sqlite3
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from db.dbapi import driver_sql, mark
from db.fileformat import IN_CHUNK, is_pg_url
from observer.template import ElectionTemplate, parse_template

# Sort keys the table offers -> column (db.models.Station).
SORT_COLUMNS = {"code": "code", "region": "region", "district": "district", "registered": "registered"}
# Of them, those that may be NULL: ordered on the server with NULLs where SQLite puts them. Only
# these: "NULLS FIRST" on a NOT NULL column would keep the server from reading its index in order.
NULLABLE_SORTS = frozenset({"registered"})


LAYOUT_META = "official_layout"  # meta key of the packed figures' key order (db.official.LAYOUT_META)
# Tables the window's actions write (merge, imports, decisions, keys, rules): a role that may not
# change every one of them gets a read-only window rather than an error half-way through an action.
WRITTEN_TABLES = ("packages", "protocols", "resolutions", "trusted_keys", "stations", "official_results", "meta")
# Seconds to wait for a server that does not answer at all (no route, a dropped packet), unless the
# URL says (libpq's ``connect_timeout``): the window is waiting for the first screen meanwhile.
CONNECT_TIMEOUT_S = 10
# What a poll of a shared HQ compares: per table, its rows and the newest row version (``xmin``,
# the id of the transaction that wrote it: any insert or update makes a new one, whoever wrote it,
# with or without an ``updated_at``). What every coordinator command writes: a merge logs each
# package in ``packages``, a decision is a new ``resolutions`` row, ``keys`` changes
# ``trusted_keys``, the imports ``stations`` and ``official_results``, the inclusion rules ``meta``.
MARKER_TABLES = ("packages", "resolutions", "trusted_keys", "stations", "official_results", "meta")


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


def libpq_url(url: str) -> str:
    """The URL as libpq takes it: SQLAlchemy's ``postgresql+psycopg://`` without the driver name."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.lower().startswith("postgres") else url


def cancel_on_server(conn: Any) -> None:
    """Ask the server to stop ``conn``'s running statement (psycopg's ``cancel()``; the waiting call
    then raises QueryCanceled). Sent from a helper thread: the request is a connection of its own,
    which a server that does not answer would keep waiting, and whoever cancels must not wait."""

    def send() -> None:
        try:
            conn.cancel()
        except Exception:  # noqa: BLE001 - a connection closed meanwhile has nothing to stop
            pass

    threading.Thread(target=send, name="baqylau-cancel", daemon=True).start()


class StationReader:
    """Read-only queries of one HQ for the stations table (UI thread only).

    ``target``: the HQ file, or a ``postgresql://`` URL (then :attr:`url` is set and
    :attr:`path` is the database's name, as ``ElectionStore.path``).
    """

    def __init__(self, target: Path | str) -> None:
        self.url: str | None = str(target) if is_pg_url(target) else None
        self._conn: Any
        if self.url is not None:
            import psycopg  # a shared HQ only: a file's window never loads it
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            conninfo = libpq_url(self.url)
            if "connect_timeout" not in conninfo_to_dict(conninfo):
                conninfo = make_conninfo(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
            # Autocommit: every read its own snapshot (READ COMMITTED), so others' commits are seen
            # next time, and no transaction stays open for hours holding back the server's vacuum.
            self._conn = psycopg.connect(conninfo, autocommit=True)
            name = self._conn.info.dbname
            self.path = Path(name or "postgres")
        else:
            self.path = Path(target)
            # Autocommit: every read is its own snapshot, so merges committed meanwhile are seen next time.
            self._conn = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=5000")
        self._template: ElectionTemplate | None = None
        self._marker: tuple[str, tuple[object, ...]] | None = None  # (the server's snapshot, the marker then)

    @property
    def on_server(self) -> bool:
        """The HQ is a PostgreSQL database (shared by several coordinators)."""
        return self.url is not None

    @property
    def mark(self) -> str:
        """The driver's parameter mark, for SQL run on the store's own raw connections."""
        return mark(self.url is not None)

    def _run(self, sql: str, params: Sequence[object] = ()) -> Any:
        """A cursor over ``sql`` (written with ``?``, SQLite's and this module's marks)."""
        return self._conn.execute(driver_sql(sql, self.url is not None), params)

    def close(self) -> None:
        self._conn.close()

    def interrupt(self) -> None:
        """Stop the query running on this connection (from another thread; returns at once)."""
        if self.url is not None:
            cancel_on_server(self._conn)
        else:
            self._conn.interrupt()

    def limit_statements(self, ms: int) -> None:
        """A server gives up any statement of this connection after ``ms`` (a file: nothing to limit)."""
        if self.url is not None:
            self._run(f"SET statement_timeout = {int(ms)}")

    def meta(self, key: str) -> str | None:
        row = self._run("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def schema_revision(self) -> str | None:
        """The Alembic revision the file is at, None if it has none (not an election file)."""
        if self.url is not None:
            found = self._run("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]
        else:
            found = (
                self._run("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
                is not None
            )
        if not found:
            return None
        row = self._run("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    def writable(self) -> bool:
        """Whether this connection may change the HQ: False for an analyst's role (docs/postgresql.md),
        a read-only server (a hot standby, ``default_transaction_read_only``). A file: True (a file
        that cannot be written is refused when opened, as before)."""
        if self.url is None:
            return True
        if self._run("SELECT current_setting('transaction_read_only')").fetchone()[0] == "on":
            return False
        marks = ", ".join("?" * len(WRITTEN_TABLES))
        sql = (
            "SELECT bool_and(has_table_privilege(current_user, t, 'INSERT') "
            f"AND has_table_privilege(current_user, t, 'UPDATE')) FROM unnest(ARRAY[{marks}]) AS t"
        )
        return bool(self._run(sql, WRITTEN_TABLES).fetchone()[0])

    def change_marker(self) -> tuple[object, ...]:
        """Something that differs after anyone committed a change the window shows (see MARKER_TABLES).

        A file: SQLite's ``data_version``, which changes when another connection commits.

        On the server the marker scans the tables (tens of milliseconds at 100,000 stations), so
        it is read only when the server's snapshot moved: the same snapshot (no transaction that
        writes, anywhere on the server, began or ended since; those in progress then are listed
        in it) means the same data, for a fraction of a millisecond.
        """
        if self.url is None:
            return tuple(self._run("PRAGMA data_version").fetchone())
        snapshot = str(self._run("SELECT pg_current_snapshot()::text").fetchone()[0])
        if self._marker is not None and self._marker[0] == snapshot:
            return self._marker[1]
        parts = ", ".join(
            f"(SELECT count(*) FROM {t}), (SELECT max(xmin::text::bigint) FROM {t})" for t in MARKER_TABLES
        )
        marker = tuple(self._run(f"SELECT {parts}").fetchone())
        self._marker = (snapshot, marker)
        return marker

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
        order = "DESC" if descending else "ASC"
        if self.url is not None and col in NULLABLE_SORTS:
            # SQLite puts NULLs (a station list without a registered count) first ascending, last descending.
            order += " NULLS LAST" if descending else " NULLS FIRST"
        sql += f" ORDER BY s.{col} {order}, s.code"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [r[0] for r in self._run(sql, params).fetchall()]

    def stations(self, ids: Sequence[str]) -> list[tuple[str, str, str, str, int | None]]:
        """(id, code, region, district, registered) of ``ids``, in no particular order."""
        out: list[tuple[str, str, str, str, int | None]] = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            out.extend(
                self._run(
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
            out.update((sid, official_json(text, blob, layout)) for sid, text, blob in self._run(sql, chunk))
        return out

    def regions(self) -> list[str]:
        return [r[0] for r in self._run("SELECT DISTINCT region FROM stations ORDER BY region").fetchall() if r[0]]

    def total(self) -> int:
        return int(self._run("SELECT count(*) FROM stations").fetchone()[0])
