"""Reading the CSV files coordinators are handed: official results, station lists.

They come from the CEC's website, from a regional office's Excel, from a
colleague's script, so every file is treated as hostile: a size limit, a column
and field-length limit, an encoding that must decode cleanly, and every problem
reported with the line of the file it is on (the line where the record starts,
so a quoted field with a newline does not shift the numbers that follow).

Encodings: UTF-8 with or without a byte-order mark, and Windows-1251 (what
Russian-language Excel writes by default). Separators: ``,`` and ``;`` (Excel
in a Russian or Kazakh locale writes ``;``), chosen from the header line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from observer.errors import ImportDataError
from observer.fmt import formatter
from observer.i18n import tr

if TYPE_CHECKING:
    from observer.csv_columns import PlainCsv

MAX_FILE_BYTES = 512 * 1024 * 1024  # Indonesia-size (800,000 stations x 30 columns) is ~150 MB
MAX_COLUMNS = 2000
MAX_FIELD_CHARS = 10_000  # an address is long; a 10 kB "field" is a broken or malicious file
MAX_PROBLEMS = 1000  # enough to see the pattern; the count of the rest is still reported

ENCODINGS: tuple[str, ...] = ("utf-8", "cp1251")
DELIMITERS: tuple[str, ...] = (",", ";")
_BOM = b"\xef\xbb\xbf"


class CsvError(ImportDataError):
    """The file cannot be read as a table at all (encoding, size, broken quoting)."""

    key = "coord.csv.error"


@dataclass(frozen=True)
class RowProblem:
    """One bad row: the file line it starts on and a translated explanation."""

    line: int
    message: str


@dataclass
class ProblemList:
    """Collects row problems; keeps the first MAX_PROBLEMS, counts them all."""

    items: list[RowProblem] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(RowProblem(line, message))

    def __bool__(self) -> bool:
        return self.total > 0


class RowsRefused(ImportDataError):
    """Some rows are bad, so nothing was written; ``problems`` lists them with their lines."""

    key = "coord.import.refused"

    def __init__(self, file: str, problems: ProblemList) -> None:
        first = problems.items[0]
        super().__init__(self.key, file=file, count=problems.total, line=first.line, problem=first.message)
        self.problems: tuple[RowProblem, ...] = tuple(sorted(problems.items, key=lambda p: p.line))
        self.total = problems.total


@dataclass(frozen=True)
class ImportReport:
    """What an import did; only returned when everything was written."""

    file: str
    encoding: str
    delimiter: str
    rows: int
    stations_created: int
    stations_updated: int
    records_written: int
    replaced: int = 0  # previous records the import replaced (official results)

    def summary(self, lang: str | None = None) -> str:
        """The one-line account the command line and the import dialog both show."""
        n = formatter(lang)
        return tr(
            "coord.import.done",
            lang,
            file=self.file,
            rows=n.integer(self.rows),
            created=n.integer(self.stations_created),
            updated=n.integer(self.stations_updated),
            replaced=n.integer(self.replaced),
            encoding=self.encoding,
            delimiter=self.delimiter,
        )


@dataclass(frozen=True)
class CsvTable:
    """A decoded CSV: the header and the data rows, each with its starting file line."""

    name: str
    encoding: str
    delimiter: str
    header: tuple[str, ...]
    rows: list[list[str]]
    lines: list[int]
    sha256: str = ""  # of the bytes read (read_csv_chunks' header table): what was imported, not re-read

    def __len__(self) -> int:
        return len(self.rows)

    def column_index(self, name: str) -> int | None:
        """Index of a header; exact match first, then ignoring case and surrounding spaces."""
        wanted = name.strip()
        for i, h in enumerate(self.header):
            if h == wanted:
                return i
        folded = wanted.casefold()
        for i, h in enumerate(self.header):
            if h.casefold() == folded:
                return i
        return None

    def iter_rows(self) -> Iterator[tuple[int, list[str]]]:
        return zip(self.lines, self.rows)

    def column(self, idx: int) -> list[str]:
        """All cells of one column ("" where a short row lacks it); computed once, then cached."""
        cached = self._column_cache.get(idx)
        if cached is None:
            if self._uniform_width > idx:
                cached = list(map(itemgetter(idx), self.rows))  # in C, no Python loop per cell
            else:
                cached = [r[idx] if idx < len(r) else "" for r in self.rows]
            self._column_cache[idx] = cached
        return cached

    @cached_property
    def _column_cache(self) -> dict[int, list[str]]:
        return {}

    @cached_property
    def _uniform_width(self) -> int:
        """The number of fields every row has at least (0 for an empty table)."""
        return min(map(len, self.rows), default=0)


def decode(data: bytes, name: str, encoding: str = "auto") -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with.

    ``auto`` tries UTF-8 first: cp1251 decodes almost any byte sequence, so a
    UTF-8 file read as cp1251 would silently turn into mojibake, while a cp1251
    file with Cyrillic letters practically never happens to be valid UTF-8.
    """
    if encoding not in ("auto", *ENCODINGS):
        raise CsvError("coord.csv.bad_encoding_name", file=name, encoding=encoding, known=", ".join(ENCODINGS))
    if data.startswith(_BOM):
        if encoding == "cp1251":
            raise CsvError("coord.csv.bom_but_cp1251", file=name)
        try:
            return data[len(_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise CsvError(
                "coord.csv.undecodable", file=name, line=_line_at(data, exc.start), encoding="UTF-8"
            ) from None
    candidates = ENCODINGS if encoding == "auto" else (encoding,)
    last: UnicodeDecodeError | None = None
    for enc in candidates:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            last = exc
    assert last is not None
    raise CsvError(
        "coord.csv.undecodable",
        file=name,
        line=_line_at(data, last.start),
        encoding=" / ".join(c.upper() for c in candidates),
    )


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def sniff_delimiter(header_line: str) -> str:
    """``;`` or ``,``: whichever splits the header line (outside quotes) into more fields."""
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    # A tie (usually both zero: a one-column file) goes to the comma, the RFC 4180 default.
    return ";" if counts[";"] > counts[","] else ","


def _read_bytes(path: str | Path) -> tuple[bytes, str]:
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise CsvError("coord.csv.not_file", file=name)
        if size > MAX_FILE_BYTES:
            raise CsvError("coord.csv.too_big", file=name, limit_mb=MAX_FILE_BYTES // 2**20)
        return p.read_bytes(), name
    except OSError as exc:
        raise CsvError("coord.csv.unreadable", file=name, problem=exc.strerror or str(exc)) from None


def read_csv(path: str | Path, *, encoding: str = "auto", delimiter: str = "auto") -> CsvTable:
    """Read and check a whole CSV file; raise CsvError naming the line of any structural problem."""
    data, name = _read_bytes(path)
    return parse_csv(data, name, encoding=encoding, delimiter=delimiter)


def _decoded(data: bytes, name: str, encoding: str, delimiter: str) -> tuple[str, str, str]:
    """Text, encoding used and separator of CSV bytes, after the whole-file checks."""
    if b"\x00" in data:
        raise CsvError("coord.csv.binary", file=name, line=_line_at(data, data.index(b"\x00")))
    text, used = decode(data, name, encoding)
    if not text or text.isspace():  # not text.strip(): that copies the whole file
        raise CsvError("coord.csv.empty", file=name)
    if delimiter == "auto":
        first = text.lstrip("\r\n").split("\n", 1)[0]
        delimiter = sniff_delimiter(first)
    elif delimiter not in DELIMITERS:
        raise CsvError("coord.csv.bad_delimiter", file=name, delimiter=delimiter)
    return text, used, delimiter


CHUNK_ROWS = 20_000


def read_csv_chunks(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    chunk_rows: int = CHUNK_ROWS,
    plain: bool = False,
) -> tuple[CsvTable, Iterator[CsvTable | PlainCsv]]:
    """The header (a table without rows) and the data rows in tables of ``chunk_rows``.

    For big files: an importer converts each chunk's cells to numbers and lets
    the strings go, instead of holding every cell of 100,000 rows at once
    (about 60 bytes per cell in Python). Structural problems found in a later
    chunk raise CsvError while iterating. A file whose quoted fields contain
    line breaks is read whole, the careful way, and handed out in chunks.

    ``plain=True``: a file plain enough for :mod:`observer.csv_columns` comes as one
    PlainCsv of all its rows (cells by column, made on demand), any other as above.
    """
    data, name = _read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    if plain:
        from observer.csv_columns import plain_csv

        lazy = _plain_head(data, encoding, delimiter)
        if lazy is not None:  # a file known to decode: the plain reader needs only its first line
            first, used, delimiter = lazy
            table = plain_csv(data, first, name, used, delimiter, MAX_FIELD_CHARS)
            if table is not None:
                return CsvTable(name, used, delimiter, table.header, [], [], digest), iter([table])
    text, used, delimiter = _decoded(data, name, encoding, delimiter)
    if plain and lazy is None:
        table = plain_csv(data, text, name, used, delimiter, MAX_FIELD_CHARS)
        if table is not None:
            return CsvTable(name, used, delimiter, table.header, [], [], digest), iter([table])
    del data
    long_lines = _has_long_line(text, MAX_FIELD_CHARS)

    def careful(skip: int) -> Iterator[CsvTable]:
        # A quoted line break (or broken quoting): the whole file the careful way, which
        # finds each record's first line or names the broken one; ``skip`` rows were handed out.
        # The text comes back from the reader's buffer: holding ``text`` itself in this closure
        # would keep a second copy of the file alive for the whole import (+34 MB at 100,000 rows).
        whole = _table_from_text(buf.getvalue(), name, used, delimiter)
        rest = CsvTable(name, used, delimiter, whole.header, whole.rows[skip:], whole.lines[skip:])
        return _split(rest, chunk_rows)

    buf = io.StringIO(text, newline="")
    reader = csv.reader(buf, delimiter=delimiter, quotechar='"', strict=True)
    header, number = _first_record(reader, name)
    if header is None or reader.line_num != number:  # broken, empty, or a record over several lines
        whole = _table_from_text(text, name, used, delimiter)
        return CsvTable(name, used, delimiter, whole.header, [], [], digest), _split(whole, chunk_rows)
    head = CsvTable(name, used, delimiter, tuple(header), [], [], digest)

    def chunks() -> Iterator[CsvTable | PlainCsv]:
        # Every record so far was one line, so record k is line k; a chunk that used more lines
        # than it has records holds a quoted line break, and the careful reader takes over there.
        line = number
        handed = 0
        while True:
            try:
                records = list(islice(reader, chunk_rows))
            except csv.Error:
                yield from careful(handed)
                return
            if not records:
                return
            if reader.line_num != line + len(records):
                yield from careful(handed)
                return
            widths = list(map(len, records))
            if max(widths) > MAX_COLUMNS:
                bad = line + 1 + next(i for i, w in enumerate(widths) if w > MAX_COLUMNS)
                raise CsvError("coord.csv.too_many_columns", file=name, line=bad, count=max(widths), limit=MAX_COLUMNS)
            if min(widths) > 1:
                rows, lines = records, list(range(line + 1, line + 1 + len(records)))
            else:
                kept = [
                    (line + 1 + i, r) for i, r in enumerate(records) if r and not (len(r) == 1 and not r[0].strip())
                ]
                lines = [k for k, _ in kept]
                rows = [r for _, r in kept]
            line += len(records)
            if long_lines:
                _check_field_lengths(rows, lines, name)
            if rows:
                handed += len(rows)
                yield CsvTable(name, used, delimiter, tuple(header), rows, lines)

    return head, chunks()


def _plain_head(data: bytes, encoding: str, delimiter: str) -> tuple[str, str, str] | None:
    """First line, encoding and separator of a file that decodes, found without decoding it whole.

    The encoding is chosen as :func:`decode` chooses it, and the file is known to decode: UTF-8
    is checked a megabyte at a time (no 34 MB text the plain reader does not need), and every
    byte but 0x98 is a cp1251 character. Anything else (a byte that does not decode, a NUL, a
    blank first line, an unknown name) is None, and the usual whole-file decode refuses it in
    its own words.
    """
    if encoding not in ("auto", *ENCODINGS) or b"\x00" in data:
        return None
    bom = data.startswith(_BOM)
    used = ""
    if bom or encoding in ("auto", "utf-8"):
        if bom and encoding == "cp1251":
            return None
        if _decodes_as_utf8(data, len(_BOM) if bom else 0):
            used = "utf-8-sig" if bom else "utf-8"
        elif bom or encoding == "utf-8":
            return None
    if not used:
        if b"\x98" in data:
            return None
        used = "cp1251"
    start = len(_BOM) if bom else 0
    end = data.find(b"\n", start)
    if end < 0 or data[start : start + 1] in (b"", b"\r", b"\n"):
        return None
    first = data[start : end + 1].decode("utf-8" if used.startswith("utf-8") else used)
    if delimiter == "auto":
        delimiter = sniff_delimiter(first.split("\n", 1)[0])
    elif delimiter not in DELIMITERS:
        return None
    return first, used, delimiter


def _decodes_as_utf8(data: bytes, start: int) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(start, len(data), 1 << 20):
            decoder.decode(view[at : at + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_record(reader: Iterator[list[str]], name: str) -> tuple[list[str] | None, int]:
    """The header (the first non-blank record) and its line, or None when the quoting is broken."""
    number = 0
    try:
        for record in reader:
            number += 1
            if record and not (len(record) == 1 and not record[0].strip()):
                if len(record) > MAX_COLUMNS:
                    raise CsvError(
                        "coord.csv.too_many_columns", file=name, line=number, count=len(record), limit=MAX_COLUMNS
                    )
                header = [h.strip() for h in record]
                _check_header(header, name, number)
                return header, number
    except csv.Error:
        return None, number
    return None, number


def _has_long_line(text: str, limit: int) -> bool:
    """Whether a line of ``text`` is longer than ``limit`` characters, without splitting it into lines.

    Each step looks for the last line break within the next ``limit + 1`` characters:
    the lines up to it are short enough, and a window without one is a line too long.
    """
    pos, end = 0, len(text)
    while end - pos > limit:
        nl = text.rfind("\n", pos, pos + limit + 1)
        if nl < 0:
            return True
        pos = nl + 1
    return False


def _split(table: CsvTable, size: int) -> Iterator[CsvTable]:
    for start in range(0, len(table.rows), size):
        yield CsvTable(
            table.name,
            table.encoding,
            table.delimiter,
            table.header,
            table.rows[start : start + size],
            table.lines[start : start + size],
        )


def parse_csv(data: bytes, name: str, *, encoding: str = "auto", delimiter: str = "auto") -> CsvTable:
    """Parse CSV bytes (see :func:`read_csv`)."""
    text, used, delimiter = _decoded(data, name, encoding, delimiter)
    return _table_from_text(text, name, used, delimiter)


def _table_from_text(text: str, name: str, used: str, delimiter: str) -> CsvTable:
    fast = _parse_single_line_records(text, name, delimiter)
    header: list[str] | None
    if fast is not None:
        header, rows, lines = fast
    else:
        header, rows, lines = _parse_records(text, name, delimiter)
    if header is None:
        raise CsvError("coord.csv.empty", file=name)
    if fast is None or max(map(len, text.split("\n"))) > MAX_FIELD_CHARS:
        _check_field_lengths(rows, lines, name)
    return CsvTable(name, used, delimiter, tuple(header), rows, lines)


def _parse_single_line_records(
    text: str, name: str, delimiter: str
) -> tuple[list[str], list[list[str]], list[int]] | None:
    """The common case in one pass in C: every record on its own line, so record i is line i + 1.

    Returns None when some record spans lines (a quoted newline) or the file is
    broken, and the careful reader below then finds the lines and the problem.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=True)
    try:
        records = list(reader)
    except csv.Error:
        return None
    if reader.line_num != len(records):
        return None
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    widths = list(map(len, records))
    if max(widths, default=0) > MAX_COLUMNS:
        return None  # the careful reader names the line
    if records and widths[0] > 1 and min(widths) > 1:
        # No blank line anywhere (a blank line is a record of at most one empty field): the
        # header is line 1 and data row i is line i + 2, with no Python loop over the rows.
        header = [h.strip() for h in records[0]]
        _check_header(header, name, 1)
        return header, records[1:], list(range(2, len(records) + 1))
    for number, record in enumerate(records, start=1):
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if header is None:
            header = [h.strip() for h in record]
            _check_header(header, name, number)
            continue
        rows.append(record)
        lines.append(number)
    if header is None:
        return None
    return header, rows, lines


def _parse_records(text: str, name: str, delimiter: str) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """Record by record, tracking the line each one starts on (quoted newlines, broken quotes)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for record in reader:
            end = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                start = end + 1
                continue  # blank lines: Excel leaves them at the end
            if len(record) > MAX_COLUMNS:
                raise CsvError(
                    "coord.csv.too_many_columns", file=name, line=start, count=len(record), limit=MAX_COLUMNS
                )
            if header is None:
                header = [h.strip() for h in record]
                _check_header(header, name, start)
            else:
                rows.append(record)
                lines.append(start)
            start = end + 1
    except csv.Error as exc:
        raise CsvError("coord.csv.broken", file=name, line=start, problem=str(exc)) from None
    return header, rows, lines


def _check_header(header: Sequence[str], name: str, line: int) -> None:
    seen: set[str] = set()
    for h in header:
        if len(h) > MAX_FIELD_CHARS:
            raise CsvError("coord.csv.field_too_long", file=name, line=line, limit=MAX_FIELD_CHARS)
        folded = h.casefold()
        if h and folded in seen:
            raise CsvError("coord.csv.duplicate_header", file=name, line=line, column=h)
        seen.add(folded)


def _check_field_lengths(rows: list[list[str]], lines: list[int], name: str) -> None:
    # One pass over all fields in C (max over map(len)) before a slow per-row search.
    longest = max((max(map(len, r)) for r in rows if r), default=0)
    if longest <= MAX_FIELD_CHARS:
        return
    for line, row in zip(lines, rows):
        if any(len(f) > MAX_FIELD_CHARS for f in row):
            raise CsvError("coord.csv.field_too_long", file=name, line=line, limit=MAX_FIELD_CHARS)


class NotPlainDigits(ValueError):
    """A cell Python's int() would read ("1_000", Arabic-Indic "١٢٣", full-width "１２３") but a count is not."""


def parse_count(text: str) -> int | None:
    """A non-negative whole number as people type it ("1 234" with spaces allowed); None when empty.

    The one number grammar of every import: ASCII digits 0-9, an optional
    sign, spaces (also no-break and narrow no-break) between thousands.
    Raises NotPlainDigits for what int() accepts beyond that (underscores,
    other scripts' digits) and ValueError for anything else (fractions, words,
    negative numbers).
    """
    cleaned = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").strip()
    if not cleaned:
        return None
    if not cleaned.isascii() or not cleaned.lstrip("+-").isdigit():
        try:
            int(cleaned)
        except ValueError:
            raise ValueError(text) from None
        raise NotPlainDigits(text)
    value = int(cleaned)
    if value < 0:
        raise ValueError(text)
    return value


def plain_digits(cells: Iterable[str]) -> bool:
    """Whether int() reads these cells as parse_count does: true when they are ASCII and have no "_".

    A bulk conversion (numpy, int()) accepts "1_000" and any script's digits;
    a column that passes this check can use it, any other goes cell by cell
    through parse_count, which refuses them.
    """
    joined = "".join(cells)
    return joined.isascii() and "_" not in joined
