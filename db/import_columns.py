"""The columns of an imported CSV as the election file stores them: counts, station codes, regions.

Each function takes one chunk of the file (a CsvTable) and converts a whole
column in one go (numpy, ``map`` in C); a slow cell-by-cell pass runs only when
the fast one finds something wrong, and every wrong cell goes to the
ProblemList with its file line, so the import can refuse the file naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import cast

import numpy as np

from observer.csv_columns import PlainCsv
from observer.csvio import CsvTable, NotPlainDigits, ProblemList, parse_count, plain_digits
from observer.i18n import tr
from observer.mapping import ColumnMapping, compound_codes
from observer.units import UnitResolver

MISSING = -1  # a figure the source does not give; real counts are never negative
MAX_COUNT = 100_000_000  # no station has this many of anything; larger is a broken cell

Chunk = CsvTable | PlainCsv  # rows as csv.reader gave them, or a plain file's cells by column


def column_values(table: Chunk, idx: int) -> list[str]:
    """One column's cells ("" where a short row lacks it)."""
    return table.column(idx)


def parse_counts(table: Chunk, idx: int, header: str, problems: ProblemList) -> np.ndarray:
    """One column as int64 (MISSING where empty); bad cells go to ``problems`` with their line."""
    cells = column_values(table, idx)
    try:
        arr = np.array(cells, dtype=np.int64)
        if (len(arr) == 0 or (arr.min() >= 0 and arr.max() <= MAX_COUNT)) and plain_digits(cells):
            return arr
    except (ValueError, OverflowError):
        pass
    # Slow path: empty cells, thousands separators or real errors; find out which, per cell.
    out = np.empty(len(cells), dtype=np.int64)
    for i, cell in enumerate(cells):
        try:
            value = parse_count(cell)
        except NotPlainDigits:
            problems.add(table.lines[i], tr("coord.row.digits", column=header, value=cell.strip()[:40]))
            out[i] = MISSING
            continue
        except ValueError:
            problems.add(table.lines[i], tr("coord.row.not_count", column=header, value=cell.strip()[:40]))
            out[i] = MISSING
            continue
        if value is not None and value > MAX_COUNT:
            problems.add(table.lines[i], tr("coord.row.too_large", column=header, value=value))
            value = None
        out[i] = MISSING if value is None else value
    return out


def sum_columns(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Add columns cell by cell; empty parts count 0, but all parts empty stays MISSING."""
    if len(parts) == 1:
        return parts[0]
    stacked = np.stack(parts)
    present = stacked >= 0
    total = np.where(present, stacked, 0).sum(axis=0)
    return np.where(present.any(axis=0), total, MISSING)


def clipped(cells: Sequence[str], limit: int) -> list[str]:
    """Cells stripped and cut to ``limit`` characters (the strip runs in C; the cut only when needed)."""
    out = list(map(str.strip, cells))
    if out and max(map(len, out)) > limit:
        out = [c[:limit] for c in out]
    return out


def check_row_widths(table: Chunk, problems: ProblemList) -> None:
    if isinstance(table, PlainCsv):
        return  # every line has the header's fields: checked when it was read
    width = len(table.header)
    widths = list(map(len, table.rows))
    if not widths or (min(widths) == width and max(widths) == width):
        return  # the usual case, checked in C
    for line, row in table.iter_rows():
        if len(row) < width:
            problems.add(line, tr("coord.row.short", found=len(row), expected=width))
        elif len(row) > width and any(f.strip() for f in row[width:]):
            problems.add(line, tr("coord.row.long", found=len(row), expected=width))


def station_codes(
    table: Chunk,
    key: Sequence[int],
    mapping: ColumnMapping,
    problems: ProblemList,
    first_line: dict[str, int] | None = None,
) -> list[str]:
    """Station codes, stripped (joined from their parts for a compound key); empty and repeated codes are problems.

    ``first_line`` (code -> line) carries what earlier chunks of the file saw.
    """
    codes, empty_parts = compound_codes(table, key, mapping.separator)
    first_line = {} if first_line is None else first_line
    limit = mapping.code_limit
    if (
        codes
        and not empty_parts
        and min(map(len, codes)) > 0
        and max(map(len, codes)) <= limit
        and "".join(codes).isprintable()
        and len(set(codes)) == len(codes)
        and first_line.keys().isdisjoint(codes)
    ):
        if not isinstance(table, PlainCsv):  # a PlainCsv is the whole file: no later chunk to check against
            first_line.update(zip(codes, table.lines))  # the usual file: every check passed in C
        return codes
    empty = set(empty_parts)
    for row, (line, code) in enumerate(zip(table.lines, codes)):
        if not code or row in empty:
            problems.add(line, _no_code(table, row, key, mapping))
        elif len(code) > limit:
            problems.add(line, tr("coord.row.code_too_long_n", code=code[:60], limit=limit))
        elif not code.isprintable():  # a line break or control character inside a quoted cell
            problems.add(line, tr("coord.row.code_unprintable", code=repr(code)[:40]))
        elif code in first_line:
            problems.add(line, tr("coord.row.duplicate", code=code, first=first_line[code]))
        else:
            first_line[code] = line
    return codes


def _no_code(table: Chunk, row: int, key: Sequence[int], mapping: ColumnMapping) -> str:
    """The empty part of the station key, by its column (the whole key for a one-column code)."""
    if len(key) == 1:
        return tr("coord.row.no_code", column=mapping.key_name)
    names = [name for idx, name in zip(key, mapping.key_columns) if not table.column(idx)[row].strip()]
    return tr("coord.row.key_part_empty", column=names[0] if names else mapping.key_name, key=mapping.key_name)


def region_codes(table: Chunk, idx: int, header: str, problems: ProblemList, resolver: UnitResolver) -> list[str]:
    """Each row's unit code (the file's own name when the template has no units); refusals say why."""
    texts = column_values(table, idx)
    found = {text: resolver.code(text) for text in set(texts)}  # a country has a few dozen spellings
    if None not in found.values():
        return list(map(cast("dict[str, str]", found).__getitem__, texts))  # no None: checked above
    out: list[str] = []
    for line, text in zip(table.lines, texts):
        code = found[text]
        if code is None:
            problems.add(line, resolver.refusal(text, header).render())
            out.append("")
        else:
            out.append(code)
    return out


def figures(
    table: Chunk,
    keys: Sequence[str],
    mapping: ColumnMapping,
    value_cols: dict[str, tuple[int, ...]],
    problems: ProblemList,
) -> np.ndarray:
    """One chunk's figures (rows x keys, MISSING where not given), summed columns added up."""
    single = [cols[0] if len(cols := value_cols.get(key, ())) == 1 else -1 for key in keys]
    if isinstance(table, PlainCsv) and -1 not in single and len(set(single)) == len(single):
        # Every key one column of plain counts (the usual file): the block numpy parsed is the matrix,
        # its columns in key order, without a second matrix filled column by column.
        block = table.digits(single)
        if block is not None and not (block.size and block.max() > MAX_COUNT):
            return block
    matrix = np.full((len(table), len(keys)), MISSING, dtype=np.int64)
    parsed = clean_counts(table, sorted({idx for key in keys for idx in value_cols.get(key, ())}))
    for k, key in enumerate(keys):
        if key not in value_cols:
            continue
        parts = []
        for idx, name in zip(value_cols[key], mapping.values[key]):
            if idx not in parsed:
                parsed[idx] = parse_counts(table, idx, name, problems)
            parts.append(parsed[idx])
        matrix[:, k] = sum_columns(parts)
    return matrix


def clean_counts(table: Chunk, idxs: Sequence[int]) -> dict[int, np.ndarray]:
    """Columns ``idxs`` as int64 in one conversion when every cell is a plain count, else {}.

    The cells are joined into one text that numpy parses in C (``fromstring``): a
    third of the time of a list of 1.6 million strings converted by ``np.array``.
    Only cells of 1 to 9 ASCII digits take this path (the separators then cannot
    be inside a cell, so the count of numbers is the count of cells); anything
    else (an empty cell, "1 234", a word, a short row) leaves the columns to
    parse_counts, which says which cell is wrong.
    """
    if isinstance(table, PlainCsv):
        block = table.digits(list(idxs)) if idxs else None
        if block is None or (block.size and block.max() > MAX_COUNT):
            return {}
        return {idx: block[:, j] for j, idx in enumerate(idxs)}
    if len(idxs) < 2:
        return {}
    try:
        text = ",".join(map(",".join, map(itemgetter(*idxs), table.rows)))
    except IndexError:  # a short row
        return {}
    if not (text.isascii() and text.replace(",", "").isdigit()) or ",," in text or text[0] == "," or text[-1] == ",":
        return {}  # "1_000", signs, spaces, other scripts' digits, empty cells: parse_counts, cell by cell
    try:
        flat = np.fromstring(text, dtype=np.int64, sep=",")  # digits only: nothing for it to skip
    except ValueError:
        return {}
    if len(flat) != len(table.rows) * len(idxs) or flat.max() > MAX_COUNT:  # a long cell saturates: too large
        return {}
    block = flat.reshape(-1, len(idxs))
    return {idx: block[:, j] for j, idx in enumerate(idxs)}
