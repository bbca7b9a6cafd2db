"""The embedded database of a package: schema, integrity and every value, checked read-only.

Nothing of the package's SQL is ever run: the file is opened read-only (immutable
on disk, or a private in-memory copy), with ``trusted_schema=OFF``; no views and no
triggers but our migrations' own are accepted, the tables, columns and indexes
must be those our migrations produce at the file's revision, and every value of
every record is checked against its model column before anything reads it.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, Text, create_engine

from db import models as m
from db.audit import AUDIT_ACTIONS
from db.store import _migrate, known_revisions
from observer import records
from observer.errors import PackageError
from observer.package import KIND_HQ, KIND_STATION, Manifest
from observer.review import REVIEW_META_KEY, parse_review

_SQLITE_MAGIC = b"SQLite format 3\x00"
RECORD_TABLES: tuple[str, ...] = (
    "observers",
    "stations",
    "packages",
    "turnout_reports",
    "headcount_events",
    "protocols",
    "protocol_values",
    "spoiled_counts",
    "violations",
    "evidence",
    "checklist_answers",
    "audit_log",  # revision 0008: every change of a saved value travels with the records, and is merged
)
COUNTED_TABLES = tuple(t for t in RECORD_TABLES if t != "packages")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# [0-9], not \d (which takes any Unicode digit), and fullmatch (a "$" also matches before a final
# newline): a hostile "２０２６-..." would otherwise sort after every real timestamp and win "newest".
# Field ranges in the pattern, and the days 29-31 checked against the calendar (_real_days): a
# "2021-02-30" passed a plain digit pattern and then broke every report of the HQ file for good.
_UTC_CORE = (
    r"[12][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z"
)
_UTC = re.compile(_UTC_CORE)
MAX_FIGURE = 100_000_000  # no polling station has 100 million of anything
# Free text is refused over observer.records.MAX_TEXT with the field named; shorter fields have
# their column's length; an audit row's JSON value has its own bound (MAX_AUDIT_VALUE).
MAX_TEXT = records.MAX_TEXT
_TEXT_LIMITS: dict[tuple[str, str], int] = {
    ("audit_log", "old"): records.MAX_AUDIT_VALUE,
    ("audit_log", "new"): records.MAX_AUDIT_VALUE,
}
MAX_BLOB = 1024 * 1024  # thumbnails are a few tens of KB
_CHOICES: dict[tuple[str, str], frozenset[str | None]] = {
    ("protocols", "source"): frozenset(records.PROTOCOL_SOURCES),
    ("evidence", "kind"): frozenset({"photo", "video", "file"}),
    ("violations", "severity"): frozenset(records.SEVERITY_LEVELS),
    ("violations", "action"): frozenset(records.VIOLATION_ACTIONS),
    ("checklist_answers", "answer"): frozenset((*records.CHECKLIST_ANSWERS, None)),
    ("checklist_answers", "checklist"): frozenset({"opening", "closing"}),
    ("packages", "kind"): frozenset({KIND_STATION, KIND_HQ}),
    ("packages", "outcome"): frozenset({"merged", "duplicate", "refused", "held"}),
    ("audit_log", "action"): frozenset(AUDIT_ACTIONS),
}
_SIGNED = {("headcount_events", "delta")}  # the only integer that may be negative


def _real_days(values: list[str]) -> bool:
    """Every value (already matching ``_UTC``) names a day the calendar has (no 2021-02-30)."""
    late = [v for v in values if v[8] in "23" and v[8:10] >= "29"]
    try:
        for v in late:
            datetime.fromisoformat(v[:-1])
    except ValueError:
        return False
    return True


def _is_utc(v: Any) -> bool:
    return isinstance(v, str) and _UTC.fullmatch(v) is not None and _real_days([v])


# ---- the embedded database ------------------------------------------------------

Schema = dict[str, tuple[tuple[Any, ...], frozenset[tuple[Any, ...]]]]


def _describe_schema(conn: sqlite3.Connection) -> Schema:
    """Tables -> (columns, indexes), from PRAGMAs: independent of how the DDL text was formatted."""
    out: Schema = {}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        quoted = table.replace('"', '""')
        columns = tuple(
            (r[1], str(r[2]).upper(), r[3], r[4], r[5], r[6]) for r in conn.execute(f'PRAGMA table_xinfo("{quoted}")')
        )
        indexes = set()
        for idx in conn.execute(f'PRAGMA index_list("{quoted}")').fetchall():
            iname = idx[1]
            qi = str(iname).replace('"', '""')
            cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{qi}")'))
            shown = "(auto)" if str(iname).startswith("sqlite_autoindex_") else iname
            indexes.add((shown, idx[2], idx[3], idx[4], cols))
        out[table] = (columns, frozenset(indexes))
    return out


def _known_revisions() -> tuple[str, ...]:
    return tuple(known_revisions())


Master = tuple[tuple[Any, ...], ...]
_MASTER_SQL = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"


# Revision -> the schema our migrations produce at it; a merge's helper process gets the merge's
# (seed_references): building one runs every migration in a scratch file, ~0.35 s.
_REFERENCES: dict[str, tuple[Schema, Master]] = {}


def _reference(revision: str) -> tuple[Schema, Master]:
    """The schema our migrations produce at ``revision`` (built once per process, or seeded)."""
    found = _REFERENCES.get(revision)
    if found is None:
        found = _REFERENCES[revision] = _build_reference(revision)
    return found


def references() -> dict[str, tuple[Schema, Master]]:
    """The reference schemas this process holds, the newest revision's included (built if need be)."""
    _reference(_known_revisions()[-1])
    return dict(_REFERENCES)


def seed_references(known: dict[str, tuple[Schema, Master]]) -> None:
    """Take reference schemas built by another process of this same installation (the merge's)."""
    _REFERENCES.update(known)


def _build_reference(revision: str) -> tuple[Schema, Master]:
    folder = Path(tempfile.mkdtemp(prefix="baqylau-schema-"))
    try:
        engine = create_engine(f"sqlite:///{folder / 'ref.sqlite'}")
        with engine.begin() as conn:
            _migrate(conn, revision)
        engine.dispose()
        with sqlite3.connect(folder / "ref.sqlite") as ref:
            result = _describe_schema(ref), tuple(ref.execute(_MASTER_SQL).fetchall())
        ref.close()
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# sqlite_master contents already proven equal to a revision's schema. The same
# contents mean the same schema, so the PRAGMA walk is done once per variant (the
# DDL text of tables rebuilt by migrations varies in constraint order).
_SCHEMA_SEEN: dict[Master, str] = {}


def expected_schema(revision: str) -> Schema:
    return _reference(revision)[0]


def _open_readonly(path: Path) -> sqlite3.Connection:
    # immutable: no locks, no -wal/-shm look-ups beside our private copy
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA query_only=ON")
    return conn


def _open_in_memory(data: bytes) -> sqlite3.Connection:
    """The verified bytes as a private in-memory database (same pragmas as ``_open_readonly``)."""
    image = data  # deserialize copies it: no copy of our own unless the header must change
    if data[18:20] == b"\x02\x02":
        # WAL-mode header: read it as a rollback-journal file, as immutable=1 does on disk
        image = data[:18] + b"\x01\x01" + data[20:]
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(image)
        conn.execute("PRAGMA trusted_schema=OFF")
        conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def read_database(
    source: Path | bytes, manifest: Manifest, name: str
) -> tuple[dict[str, list[dict[str, Any]]], str, str]:
    """Check and read the embedded database, from its private copy or from memory.

    Returns the rows by table, the template id and the observer's review before export
    (meta ``export_review``, "" if none)."""
    if isinstance(source, bytes):
        head = source[:16]
    else:
        with source.open("rb") as fh:
            head = fh.read(16)
    if head != _SQLITE_MAGIC:
        raise PackageError("package.error.not_sqlite", file=name)
    try:
        conn = _open_in_memory(source) if isinstance(source, bytes) else _open_readonly(source)
    except sqlite3.Error:
        raise PackageError("package.error.not_sqlite", file=name) from None
    try:
        try:
            master = tuple(conn.execute(_MASTER_SQL).fetchall())
        except sqlite3.DatabaseError:
            raise PackageError("package.error.not_sqlite", file=name) from None
        for kind, obj, _table, _sql in master:
            if kind not in ("table", "index", "trigger"):
                raise PackageError("package.error.schema_object", file=name, kind=kind, name=str(obj)[:80])
        try:
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.DatabaseError:
            raise PackageError("package.error.schema", file=name, problem="alembic_version") from None
        revision = versions[0][0] if len(versions) == 1 else None
        if not isinstance(revision, str) or revision not in _known_revisions():
            raise PackageError("package.error.schema", file=name, problem=f"revision {str(revision)[:40]}")
        # The only triggers allowed are our own (revision 0005 keeps head-count totals
        # with them), to the letter; the file is read-only here, so none ever fires.
        own = set(_reference(revision)[1])
        for row in master:
            if row[0] == "trigger" and row not in own:
                raise PackageError("package.error.schema_object", file=name, kind=row[0], name=str(row[1])[:80])
        if revision != manifest.schema_revision:
            raise PackageError("package.error.schema", file=name, problem=f"revision {revision}")
        # Fast path: sqlite_master identical to our migrations' output, or to a file
        # already proven equal. Otherwise compare tables, columns and indexes via PRAGMAs.
        if _SCHEMA_SEEN.get(master) != revision and _reference(revision)[1] != master:
            try:
                found = _describe_schema(conn)
            except sqlite3.DatabaseError as exc:
                raise PackageError("package.error.integrity", file=name, problem=str(exc)[:120]) from None
            expected = expected_schema(revision)
            for table in sorted(found.keys() | expected.keys()):
                if found.get(table) != expected.get(table):
                    raise PackageError("package.error.schema", file=name, problem=f"table {table[:60]}")
        if len(_SCHEMA_SEEN) < 10_000:
            _SCHEMA_SEEN[master] = revision
        try:
            check = conn.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise PackageError("package.error.integrity", file=name, problem=str(check[0][0])[:120])
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise PackageError("package.error.integrity", file=name, problem="foreign keys")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            tables = expected_schema(revision)
            rows = {t: _read_table(conn, t, tables[t][0], name) for t in RECORD_TABLES if t in tables}
        except sqlite3.DatabaseError as exc:
            raise PackageError("package.error.integrity", file=name, problem=str(exc)[:120]) from None
    finally:
        conn.close()
    template_id = meta.get("template_id")
    if meta.get("format") != "baqylau-election" or template_id != manifest.template_id:
        raise PackageError("package.error.schema", file=name, problem="meta")
    for table in COUNTED_TABLES:
        if len(rows.get(table, [])) != manifest.counts.get(table, 0):
            raise PackageError("package.error.schema", file=name, problem=f"count {table}")
    if manifest.kind == KIND_STATION:
        if not any(s["code"] == manifest.station_code for s in rows["stations"]):
            raise PackageError("package.error.schema", file=name, problem="station_code")
    return rows, str(template_id), _review(meta.get(REVIEW_META_KEY), name)


def _review(value: Any, name: str) -> str:
    """The observer's review (meta ``export_review``): exactly what observer.review writes, or refused."""
    if value is None:
        return ""
    try:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError("not a text")
        parse_review(value)
    except ValueError:
        raise PackageError(
            "package.error.bad_value", file=name, table="meta", column=REVIEW_META_KEY, value=repr(value)[:60]
        ) from None
    return value


@cache
def _column_validators(table: str) -> dict[str, Callable[[Any], bool]]:
    """One check per model column: type, length, range, allowed values, NULL."""
    out: dict[str, Callable[[Any], bool]] = {}
    for col in m.Base.metadata.tables[table].columns:
        nullable = bool(col.nullable)
        ctype = col.type
        choices = _CHOICES.get((table, col.name))
        signed = (table, col.name) in _SIGNED
        check: Callable[[Any], bool]
        if isinstance(ctype, m.UTCDateTime):
            check = _is_utc
        elif col.name == "id" or (col.name.endswith("_id") and isinstance(ctype, String) and ctype.length == 36):
            check = lambda v: isinstance(v, str) and _UUID.fullmatch(v) is not None  # noqa: E731
        elif isinstance(ctype, Integer):
            if signed:
                check = lambda v: isinstance(v, int) and v in (-1, 1)  # noqa: E731
            else:
                check = lambda v: isinstance(v, int) and 0 <= v <= MAX_FIGURE  # noqa: E731
        elif isinstance(ctype, LargeBinary):
            check = lambda v: isinstance(v, bytes) and len(v) <= MAX_BLOB  # noqa: E731
        elif isinstance(ctype, Text):
            text_limit = _TEXT_LIMITS.get((table, col.name), MAX_TEXT)
            check = lambda v, limit=text_limit: isinstance(v, str) and len(v) <= limit  # type: ignore[misc]  # noqa: E731
        elif isinstance(ctype, String):
            limit = ctype.length or MAX_TEXT
            check = lambda v, limit=limit: isinstance(v, str) and len(v) <= limit  # type: ignore[misc]  # noqa: E731
        else:  # pragma: no cover - every model column has one of the types above
            raise AssertionError(f"no validator for {table}.{col.name}")
        if choices is not None:
            inner = check
            check = lambda v, inner=inner, choices=choices: v in choices and (v is None or inner(v))  # type: ignore[misc]  # noqa: E731
        if nullable:
            inner2 = check
            check = lambda v, inner2=inner2: v is None or inner2(v)  # type: ignore[misc]  # noqa: E731
        out[col.name] = check
    return out


def _read_table(
    conn: sqlite3.Connection, table: str, columns: tuple[tuple[Any, ...], ...], name: str
) -> list[dict[str, Any]]:
    present = {c[0] for c in columns}
    validators = _column_validators(table)
    cols = [c for c in validators if c in present]
    sql = "SELECT " + ", ".join(f'"{c}"' for c in cols) + f' FROM "{table}"'
    raws = conn.execute(sql).fetchall()
    if raws:
        bulk = _bulk_validators(table)
        # A whole column at a time (a few C-level passes); should one fail, the exact
        # per-cell checks find the first bad value and word the message as always.
        if not all(bulk[col](list(values)) for col, values in zip(cols, zip(*raws))):
            checks = [validators[c] for c in cols]
            for raw in raws:
                for col, check, value in zip(cols, checks, raw):
                    if not check(value):
                        raise PackageError(
                            "package.error.bad_value", file=name, table=table, column=col, value=repr(value)[:60]
                        )
    return [dict(zip(cols, raw)) for raw in raws]


# Fixed-width formats, checked column-wise on the values joined as ASCII bytes: every slot of
# every value at once by C-level slicing and deletion (a regular expression over the joined
# text cost ~1 us per value and column, most of reading a package). Exactly the single-value
# patterns (_UUID, _UTC): the marks at their places, every other place a (hex) digit, the
# fields in range.
_HEX = b"0123456789abcdef"
_DIGITS = b"0123456789"
_UUID_MARKS = ((8, b"-"), (13, b"-"), (18, b"-"), (23, b"-"))
_UTC_MARKS = ((4, b"-"), (7, b"-"), (10, b"T"), (13, b":"), (16, b":"), (19, b"."), (26, b"Z"))


# Month, day and hour of every value side by side (MMDDHH...), each field in its range.
_UTC_FIELDS = re.compile(rb"(?:(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3]))*")
_UTC_FIELD_PLACES = (5, 6, 8, 9, 11, 12)
_UTC_TENS = ((0, b"12"), (14, b"012345"), (17, b"012345"))  # year's first digit, minute's and second's tens


def _marks_and_digits(joined: bytes, n: int, width: int, marks: tuple[tuple[int, bytes], ...], digits: bytes) -> bool:
    """``n`` values of ``width`` bytes each: the marks at their places and nothing but ``digits`` elsewhere."""
    if len(joined) != n * width or not all(joined[at::width] == mark * n for at, mark in marks):
        return False
    # what is left once the digits are deleted can only be the marks (never digits): exactly them
    return len(joined.translate(None, digits)) == len(marks) * n


def _uuids(values: list[str]) -> bool:
    try:
        joined = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return False
    return _marks_and_digits(joined, len(values), 36, _UUID_MARKS, _HEX)


def _utcs(values: list[str]) -> bool:
    try:
        joined = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return False
    n, width = len(values), 27
    if not _marks_and_digits(joined, n, width, _UTC_MARKS, _DIGITS):
        return False
    if any(joined[at::width].translate(None, allowed) for at, allowed in _UTC_TENS):
        return False
    fields = bytearray(len(_UTC_FIELD_PLACES) * n)
    for k, at in enumerate(_UTC_FIELD_PLACES):
        fields[k :: len(_UTC_FIELD_PLACES)] = joined[at::width]
    if _UTC_FIELDS.fullmatch(fields) is None:
        return False
    # the calendar, for the few values that may be on a 29th, 30th or 31st (a day's tens 3 or units 9)
    return (b"3" not in joined[8::width] and b"9" not in joined[9::width]) or _real_days(values)


_FIXED: dict[str, tuple[int, Callable[[list[str]], bool]]] = {"uuid": (36, _uuids), "utc": (27, _utcs)}


@cache
def _bulk_validators(table: str) -> dict[str, Callable[[list[Any]], bool]]:
    """Per column, a check of all its values at once: True only if every value would pass
    ``_column_validators`` (it may say False for valid values; the exact checks then decide)."""
    out: dict[str, Callable[[list[Any]], bool]] = {}
    for col in m.Base.metadata.tables[table].columns:
        ctype = col.type
        kind: str
        limit = 0
        if isinstance(ctype, m.UTCDateTime):
            kind = "utc"
        elif col.name == "id" or (col.name.endswith("_id") and isinstance(ctype, String) and ctype.length == 36):
            kind = "uuid"
        elif isinstance(ctype, Integer):
            kind = "sign" if (table, col.name) in _SIGNED else "figure"
        elif isinstance(ctype, LargeBinary):
            kind, limit = "blob", MAX_BLOB
        elif isinstance(ctype, Text):
            kind, limit = "text", _TEXT_LIMITS.get((table, col.name), MAX_TEXT)
        elif isinstance(ctype, String):
            kind, limit = "text", ctype.length or MAX_TEXT
        else:  # pragma: no cover - _column_validators refuses such a column first
            raise AssertionError(f"no validator for {table}.{col.name}")
        out[col.name] = _bulk_check(kind, limit, bool(col.nullable), _CHOICES.get((table, col.name)))
    return out


def _bulk_check(
    kind: str, limit: int, nullable: bool, choices: frozenset[str | None] | None
) -> Callable[[list[Any]], bool]:
    def check(values: list[Any]) -> bool:
        types = set(map(type, values))
        if type(None) in types:
            if not nullable:
                return False
            values = [v for v in values if v is not None]
            types.discard(type(None))
        if choices is not None and not set(values) <= choices:
            return False
        if not values:
            return True
        if kind in _FIXED:
            width, fixed = _FIXED[kind]
            return types == {str} and set(map(len, values)) == {width} and fixed(values)
        if kind == "figure":
            return types == {int} and min(values) >= 0 and max(values) <= MAX_FIGURE
        if kind == "sign":
            return types == {int} and set(values) <= {-1, 1}
        wanted = bytes if kind == "blob" else str
        return types == {wanted} and max(map(len, values)) <= limit

    return check
