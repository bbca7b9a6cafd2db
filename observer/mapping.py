"""Column mappings: which columns of a coordinator's CSV hold the station's identity and each figure.

A mapping is a small TOML file (docs/official-import.md). The station key is one
column (``code = "Номер УИК"``) or several that are unique only together
(``code = ["Регион", "ТИК", "УИК"]``, as Russia's CIK publishes its results): the
parts are stripped and joined with ``code_separator`` (default ``/``), so
"Москва", "ТИК №5", "УИК №1234" become the station code "Москва/ТИК №5/УИК №1234".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from observer.csvio import DELIMITERS, ENCODINGS, CsvTable
from observer.errors import ImportDataError
from observer.records import MAX_STATION_CODE

if TYPE_CHECKING:
    from observer.csv_columns import PlainCsv

MAX_MAPPING_BYTES = 256 * 1024
STATION_FIELDS: tuple[str, ...] = ("code", "region", "district", "address", "registered")
MAX_SUMMED_COLUMNS = 50  # a figure split into more parts than this is a broken mapping
MAX_KEY_PARTS = 6  # country / region / district / commission / station ... more is a broken mapping
DEFAULT_SEPARATOR = "/"
MAX_CODE_CHARS = 32  # a single-column station number (what observers type on the phone)
MAX_COMPOUND_CODE_CHARS = MAX_STATION_CODE  # "Республика Саха (Якутия)/Усть-Алданская ТИК/УИК №1234"


@dataclass(frozen=True)
class ColumnMapping:
    """Which CSV columns hold the station's identity and each figure.

    ``station`` maps a station field to its column; for ``code`` that is the first
    part of the key, and ``key`` lists all the parts (one for a plain code).
    ``values`` maps a template key (line or party) to the columns to add up;
    usually one column, several for a figure the source splits (ballots issued
    early + at the station + outside).
    """

    station: dict[str, str]
    values: dict[str, tuple[str, ...]]
    encoding: str = "auto"
    delimiter: str = "auto"
    key: tuple[str, ...] = ()
    separator: str = DEFAULT_SEPARATOR

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self.key or ((self.station["code"],) if "code" in self.station else ())

    @property
    def key_name(self) -> str:
        """The key's columns as one name for messages: «Регион + ТИК + УИК»."""
        return " + ".join(self.key_columns)

    @property
    def code_limit(self) -> int:
        return MAX_COMPOUND_CODE_CHARS if len(self.key_columns) > 1 else MAX_CODE_CHARS


def read_mapping(path: str | Path) -> tuple[dict[str, object], str]:
    """Load a mapping TOML file as a plain dict; the second value is its name for messages."""
    import tomllib

    from observer.toml_limits import TomlLimit, read_toml

    p = Path(path)
    try:
        raw = p.read_bytes()[: MAX_MAPPING_BYTES + 1]
    except OSError as exc:
        raise ImportDataError("coord.map.unreadable", file=p.name, problem=exc.strerror or str(exc)) from None
    if len(raw) > MAX_MAPPING_BYTES:
        raise ImportDataError("coord.map.too_big", file=p.name, limit=MAX_MAPPING_BYTES // 1024)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportDataError("coord.map.encoding", file=p.name) from None
    try:
        return read_toml(text), p.name
    except tomllib.TOMLDecodeError as exc:
        raise ImportDataError("coord.map.syntax", file=p.name, problem=str(exc)) from None
    except TomlLimit as exc:
        raise ImportDataError("coord.map.limit", file=p.name, line=exc.line or "?", problem=exc.problem) from None


def parse_mapping(
    data: dict[str, object],
    origin: str,
    *,
    value_keys: Sequence[str],
    line_keys: Sequence[str],
    party_keys: Sequence[str],
    required_station: Sequence[str] = ("code",),
    station_fields: Sequence[str] = STATION_FIELDS,
) -> ColumnMapping:
    """Validate a mapping against the template's keys; unknown names are errors, not ignored.

    A misspelt key silently ignored would import an election with a party's
    votes missing, so every key must be one the template knows.
    """
    allowed_top = {"encoding", "delimiter", "station", "lines", "parties"}
    for key in data:
        if key not in allowed_top:
            raise ImportDataError("coord.map.unknown_key", file=origin, key=key, known=", ".join(sorted(allowed_top)))
    encoding = data.get("encoding", "auto")
    if encoding not in ("auto", *ENCODINGS):
        raise ImportDataError("coord.map.bad_value", file=origin, key="encoding", known=", ".join(("auto", *ENCODINGS)))
    delimiter = data.get("delimiter", "auto")
    if delimiter not in ("auto", *DELIMITERS):
        raise ImportDataError("coord.map.bad_value", file=origin, key="delimiter", known="auto, ',', ';'")
    station, key_columns, separator = _station(data.get("station", {}), origin, station_fields)
    for name in required_station:
        if name not in station:
            raise ImportDataError("coord.map.missing", file=origin, key=f"station.{name}")
    values = _values(data, origin, value_keys, line_keys, party_keys)
    return ColumnMapping(station, values, str(encoding), str(delimiter), key_columns, separator)


def _station(raw: object, origin: str, station_fields: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...], str]:
    """The ``[station]`` table: field -> column, the key's columns (compound or not), the separator."""
    if not isinstance(raw, dict):
        raise ImportDataError("coord.map.not_table", file=origin, key="station")
    station: dict[str, str] = {}
    key: tuple[str, ...] = ()
    separator = raw.get("code_separator", DEFAULT_SEPARATOR)
    if not isinstance(separator, str) or not 1 <= len(separator) <= 3 or not separator.isprintable():
        raise ImportDataError("coord.map.bad_separator", file=origin, key="station.code_separator")
    for name, col in raw.items():
        if name == "code_separator":
            continue
        if name not in station_fields:
            raise ImportDataError(
                "coord.map.unknown_key", file=origin, key=f"station.{name}", known=", ".join(station_fields)
            )
        if name == "code" and isinstance(col, list):
            if not 1 <= len(col) <= MAX_KEY_PARTS or not all(isinstance(c, str) and c.strip() for c in col):
                raise ImportDataError("coord.map.bad_column", file=origin, key="station.code")
            key = tuple(c.strip() for c in col)
            if len(set(key)) != len(key):
                raise ImportDataError("coord.map.bad_column", file=origin, key="station.code")
            col = key[0]
        if not isinstance(col, str) or not col.strip():
            raise ImportDataError("coord.map.bad_column", file=origin, key=f"station.{name}")
        station[name] = col.strip()
    if "code" in station and not key:
        key = (station["code"],)
    return station, key, separator


def _values(
    data: dict[str, object],
    origin: str,
    value_keys: Sequence[str],
    line_keys: Sequence[str],
    party_keys: Sequence[str],
) -> dict[str, tuple[str, ...]]:
    values: dict[str, tuple[str, ...]] = {}
    for section, known in (("lines", line_keys), ("parties", party_keys)):
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise ImportDataError("coord.map.not_table", file=origin, key=section)
        for key, spec in raw.items():
            if key not in known or key not in value_keys:
                raise ImportDataError(
                    "coord.map.unknown_key", file=origin, key=f"{section}.{key}", known=", ".join(known)
                )
            cols = (spec,) if isinstance(spec, str) else tuple(spec) if isinstance(spec, list) else ()
            if not cols or len(cols) > MAX_SUMMED_COLUMNS or not all(isinstance(c, str) and c.strip() for c in cols):
                raise ImportDataError("coord.map.bad_column", file=origin, key=f"{section}.{key}")
            values[key] = tuple(c.strip() for c in cols)
    return values


def resolve_columns(
    table: CsvTable, mapping: ColumnMapping
) -> tuple[dict[str, int], dict[str, tuple[int, ...]], tuple[int, ...]]:
    """Indexes of the station fields, the figures and the key's parts; raise naming every column the file lacks."""
    missing: list[str] = []

    def find(name: str) -> int:
        idx = table.column_index(name)
        if idx is None:
            missing.append(name)
            return -1
        return idx

    station = {k: find(c) for k, c in mapping.station.items()}
    values = {k: tuple(find(c) for c in cols) for k, cols in mapping.values.items()}
    key = tuple(find(c) for c in mapping.key_columns)
    if missing:
        raise ImportDataError(
            "coord.map.columns_missing",
            file=table.name,
            columns=", ".join(f"«{c}»" for c in dict.fromkeys(missing)),
            header=", ".join(f"«{h}»" for h in table.header[:40]),
        )
    return station, values, key


def compound_codes(table: CsvTable | PlainCsv, idxs: Sequence[int], separator: str) -> tuple[list[str], list[int]]:
    """Station codes joined from the key's columns, and the rows where a part is empty.

    The join runs in C (map over zip, or one gather of a plain file's bytes); only a file with an
    empty part is looked at row by row.
    """
    if not isinstance(table, CsvTable):  # a plain file's cells, by column
        codes = table.joined(list(idxs), separator)
        if codes is not None:
            return codes, []
    parts = [list(map(str.strip, table.column(i))) for i in idxs]
    if len(parts) == 1:
        codes = parts[0]
    else:
        codes = list(map(separator.join, zip(*parts)))
    if all(min(map(len, p), default=1) > 0 for p in parts):
        return codes, []
    return codes, [row for row, cells in enumerate(zip(*parts)) if not all(cells)]
