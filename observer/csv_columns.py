"""A plain CSV file held as its bytes and the offsets of its cells: the official import's fast reader.

``csv.reader`` makes a list per record and a string per cell: 3 million objects at
100,000 stations x 30 columns, most of them in columns the mapping leaves out, and
as much CPU as the whole naive import the benchmark compares against. Here numpy
finds every separator in one pass over the bytes and checks that every line has
the header's number of fields; a column becomes Python strings (one decode and one
split of its cells' bytes) or numbers (numpy parsing its digits) only when the
import asks for it.

Only a file that this reading gives exactly what ``csv.reader`` (strict, ``"``
quotes) gives takes this path: one record per line, the same number of fields on
every line, no blank line but at the end, no carriage return except before a line
feed, every quote either opening a quoted cell, doubled inside it or closing it,
no cell longer than the field limit. Anything else makes :func:`plain_csv` return
None and the csv module reads the file as before, so every refusal and its message
stay what they were.
"""

from __future__ import annotations

import csv
import io

import numpy as np

_LF, _CR, _QUOTE = 10, 13, 34
ROW_BLOCK = 20_000  # rows of number cells gathered at a time: a few MB of indexes, not one per byte of the file


# Bytes that may begin or end a character str.strip() removes: ASCII spaces and controls 28-31,
# cp1251's no-break space; in UTF-8 the lead bytes of U+0085, U+00A0, U+1680, U+2000-U+205F, U+3000.
_ASCII_SPACES = [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]
_MAY_START_SPACE = {
    "cp1251": np.isin(np.arange(256), [*_ASCII_SPACES, 0xA0]),
    "utf-8": np.isin(np.arange(256), [*_ASCII_SPACES, 0xC2, 0xE1, 0xE2, 0xE3]),
}


def _may_end_in_space(raw: np.ndarray, ends: np.ndarray, codec: str) -> bool:
    """Whether some cell ending before ``ends`` may end in a character str.strip() removes (conservative)."""
    if codec == "cp1251":
        return bool(_MAY_START_SPACE["cp1251"][raw[ends - 1]].any())
    if _MAY_START_SPACE["utf-8"][raw[ends - 1]].any() or (raw[np.maximum(ends - 2, 0)] == 0xC2).any():
        return True  # an ASCII space, or a two-byte character from U+0080-U+00BF (U+0085, U+00A0)
    return bool(np.isin(raw[np.maximum(ends - 3, 0)], [0xE1, 0xE2, 0xE3]).any())  # U+1680, U+2000-U+205F, U+3000


class PlainCsv:
    """The cells of a plain CSV file, by column; see the module docstring.

    ``seps[k, j]`` is the offset of the separator that ends cell ``j`` of record ``k``
    (record 0 is the header; ``raw`` ends with the last record's line feed, the file's own or one
    added).
    """

    def __init__(
        self,
        name: str,
        encoding: str,
        delimiter: str,
        header: tuple[str, ...],
        raw: np.ndarray,
        seps: np.ndarray,
        quoted: np.ndarray,
    ) -> None:
        self.name = name
        self.encoding = encoding
        self.delimiter = delimiter
        self.header = header
        self._raw = raw
        self._seps = seps
        width = seps.shape[1]
        # The data rows of quoted cells, by column (``quoted``: cell numbers record * width + column).
        self._quoted_rows = {int(c): quoted[quoted % width == c] // width - 1 for c in set((quoted % width).tolist())}
        self._codec = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM is not in ``raw``
        self.lines = list(range(2, len(seps) + 1))  # one record per line, the header on line 1
        self._columns: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def _bounds(self, idxs: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of the data cells of columns ``idxs``, rows x columns (a line's CR left out)."""
        seps = self._seps
        cols = np.asarray(idxs)
        ends = seps[1:, cols]
        starts = seps[1:, np.maximum(cols - 1, 0)] + 1
        for k in np.flatnonzero(cols == 0).tolist():  # the first cell starts after the previous line's end
            starts[:, k] = seps[:-1, -1] + 1
        for k in np.flatnonzero(cols == seps.shape[1] - 1).tolist():
            ends[:, k] -= self._raw[ends[:, k] - 1] == _CR  # CR LF: the CR is not in the cell
            np.maximum(ends[:, k], starts[:, k], out=ends[:, k])  # an empty last cell right after the separator
        return starts, ends

    def column(self, idx: int) -> list[str]:
        """Every data cell of column ``idx`` as csv.reader gives it; made once, then kept."""
        cached = self._columns.get(idx)
        if cached is not None:
            return cached
        starts, ends = (bounds[:, 0] for bounds in self._bounds([idx]))
        quoted = self._quoted_rows.get(idx, np.empty(0, dtype=np.int64))
        quoted = quoted[quoted >= 0]  # not the header's
        if len(quoted):  # the quotes around a quoted cell are not its text
            starts[quoted] += 1
            ends[quoted] -= 1
        text = _gathered(self._raw, starts, ends, _LF).decode(self._codec)
        values = text.split("\n")
        values.pop()  # after the last cell's line feed
        if len(quoted) and '"' in text:  # "" inside a quoted cell is one quote
            for row in quoted.tolist():
                values[row] = values[row].replace('""', '"')
        self._columns[idx] = values
        return values

    def joined(self, idxs: list[int], separator: str) -> list[str] | None:
        """Each row's cells of columns ``idxs`` joined with ``separator`` (a compound station key), in one
        gather, decode and split; None when a cell is empty or quoted or may need stripping, for the
        caller's cell-by-cell way, which strips and names the empty ones."""
        starts, ends = self._bounds(idxs)
        if starts.size == 0 or (ends - starts).min() < 1:
            return None
        quoted = self._quoted_rows
        if any(idx in quoted and (quoted[idx] >= 0).any() for idx in idxs):
            return None
        raw = self._raw
        if _MAY_START_SPACE[self._codec][raw[starts]].any() or _may_end_in_space(raw, ends, self._codec):
            return None
        if list(idxs) == list(range(idxs[0], idxs[0] + len(idxs))):
            # Adjacent columns: a row's parts are one slice of the file, separated by the delimiter
            # (no part holds one: none is quoted), and long enough that a slice a row beats numpy's
            # byte-by-byte gather.
            view = memoryview(raw)  # type: ignore[arg-type]
            first, last = starts[:, 0].tolist(), ends[:, -1].tolist()
            text = b"\n".join([view[a:b] for a, b in zip(first, last)]).decode(self._codec) + "\n"
            if len(idxs) > 1 and separator != self.delimiter:
                text = text.replace(self.delimiter, separator)
        else:
            # NUL between the parts (a file with a NUL byte is refused before this), a line feed between rows.
            seps = np.zeros(starts.shape, dtype=np.uint8)
            seps[:, -1] = _LF
            text = _gathered(raw, starts.ravel(), ends.ravel(), seps.ravel()).decode(self._codec)
            if len(idxs) > 1:
                text = text.replace("\x00", separator)
        values = text.split("\n")
        values.pop()
        return values

    def digits(self, idxs: list[int]) -> np.ndarray | None:
        """Columns ``idxs`` as an int64 rows x columns block when every cell is 1 to 9 ASCII digits, else None.

        A quoted, empty or longer cell, a sign, a space or any other character leaves the
        columns to the cell-by-cell parse, which says which cell is wrong.
        """
        blocks = []
        for run in _runs(idxs):
            block = self._digit_run(run)
            if block is None:
                return None
            blocks.append(block)
        if not blocks:
            return None
        block = blocks[0] if len(blocks) == 1 else np.hstack(blocks)
        return block[:, np.argsort(np.argsort(idxs))] if list(idxs) != sorted(idxs) else block

    def _digit_run(self, run: list[int]) -> np.ndarray | None:
        """Adjacent columns ``run`` parsed together: each row's cells are already one text of
        numbers between separators, so a row is one slice of the file, not one per cell."""
        seps = self._seps
        if run[0] > 0:
            # The separators around the run, a contiguous slice: cell lengths by one diff.
            around = seps[1:, run[0] - 1 : run[-1] + 1]
            lengths = np.diff(around, axis=1) - 1
            first_at, last_at = around[:, 0] + 1, around[:, -1]
            if run[-1] == seps.shape[1] - 1:  # the line's last cell: a CR before its line feed is not in it
                cr = self._raw[last_at - 1] == _CR
                last_at = last_at - cr
                lengths[:, -1] -= cr
        else:  # the first cell starts after the previous line
            starts, ends = self._bounds(run)
            lengths, first_at, last_at = ends - starts, starts[:, 0], ends[:, -1]
        if lengths.size == 0 or lengths.min() < 1 or lengths.max() > 9:
            return None
        first, last = first_at.tolist(), last_at.tolist()
        view = memoryview(self._raw)  # type: ignore[arg-type]
        sep = self.delimiter.encode("ascii")
        blocks = []
        for row in range(0, len(first), ROW_BLOCK):
            rows = range(row, min(row + ROW_BLOCK, len(first)))
            text = sep.join([view[first[i] : last[i]] for i in rows])
            cells = len(rows) * len(run)
            if np.count_nonzero(np.frombuffer(text, dtype=np.uint8) - 48 > 9) != cells - 1:
                return None  # something else than digits between the separators
            values = np.fromstring(text, dtype=np.int64, sep=self.delimiter)  # type: ignore[call-overload]
            if len(values) != cells:
                return None
            blocks.append(values.reshape(-1, len(run)))
        return np.concatenate(blocks)


def _runs(idxs: list[int]) -> list[list[int]]:
    """``idxs`` sorted and cut into runs of adjacent columns: [3, 4, 5, 9] -> [[3, 4, 5], [9]]."""
    runs: list[list[int]] = []
    for idx in sorted(idxs):
        if runs and runs[-1][-1] + 1 == idx:
            runs[-1].append(idx)
        else:
            runs.append([idx])
    return runs


def _gathered(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, sep: int | np.ndarray) -> bytes:
    """The bytes of cells [starts, ends), each followed by ``sep`` (or its own), in one buffer (numpy, no loop per cell).

    The index of every byte to take is a running sum: 1 within a cell, a jump to the next
    cell's start after each separator slot (which points at the cell's own separator byte,
    then overwritten).
    """
    lengths = ends - starts
    sizes = lengths + 1
    total = int(sizes.sum())
    if total == 0:
        return b""
    offsets = np.cumsum(sizes) - sizes
    step = np.ones(total, dtype=raw_index(len(raw)))
    step[0] = starts[0]
    step[offsets[1:]] = starts[1:] - ends[:-1]
    out = raw[np.cumsum(step, dtype=step.dtype)]
    out[offsets + lengths] = sep
    return out.tobytes()


def raw_index(size: int) -> type[np.signedinteger]:
    """The smallest index type for ``size`` bytes: int32 halves the memory traffic of every offset array."""
    return np.int32 if size < 2**31 else np.int64


def plain_csv(data: bytes, text: str, name: str, encoding: str, delimiter: str, max_field: int) -> PlainCsv | None:
    """``data`` (a file known to decode with ``encoding``; ``text``: its decoded text, or at least its
    first line) as a PlainCsv, or None when it is not that plain.

    The header is read and checked by csvio's own header reader (limits, duplicates); a header
    it refuses is left to the csv path too, which refuses it reading the whole file (its first
    line alone may not be the whole record), so the message is the csv path's.
    """
    from observer.csvio import CsvError, _first_record

    first_nl = text.find("\n")
    if not text or text[0] in "\r\n" or first_nl < 0:
        return None  # leading blank lines, or a header only: the csv path
    try:
        header, _ = _first_record(
            iter(csv.reader(io.StringIO(text[: first_nl + 1], newline=""), delimiter=delimiter)), name
        )
    except CsvError:
        return None
    if header is None or len(header) < 2:
        return None
    width = len(header)
    start = 3 if encoding == "utf-8-sig" else 0
    end = len(data)
    while end > start and data[end - 1] in b"\r\n":  # trailing line breaks: Excel's blank last lines
        end -= 1
    # The rows with one line feed after the last: every record then ends at one. A file that ends
    # with one line break already is that (its CR LF like every other line's): no copy of it.
    tail = data[end : end + 2]
    if end + len(tail) == len(data) and tail in (b"\n", b"\r\n"):
        raw = np.frombuffer(data, dtype=np.uint8, offset=start)
    else:
        raw = np.frombuffer(b"".join([memoryview(data)[start:end], b"\n"]), dtype=np.uint8)
    seps, records, returns = _separators(raw, ord(delimiter))  # records: line feeds, the one appended too
    has_quotes = data.find(b'"', start, end) >= 0
    if has_quotes:
        quotes = _offsets(raw, (_QUOTE,))
        if len(quotes) % 2:
            return None
        # If the quotes pair up as quoted cells (checked below), each pair encloses text: the
        # separators between an odd quote and the next are text, not separators.
        opening, closing = np.searchsorted(seps, quotes[0::2]), np.searchsorted(seps, quotes[1::2])
        enclosing = closing > opening  # pairs with separators between them ("" encloses none)
        if enclosing.any():
            # +1 where an enclosed run of separators starts, -1 after it: the running sum is 1 inside.
            edges = np.zeros(len(seps) + 1, dtype=np.int8)
            edges[opening[enclosing]] = 1
            edges[closing[enclosing]] -= 1
            inside = np.cumsum(edges[:-1], dtype=np.int8).view(np.bool_)
            if (raw[seps[inside]] == _LF).any():
                return None  # a quoted line break: one record over several lines
            seps = seps[~inside]
    if len(seps) != records * width or records < 2:
        return None
    grid = seps.reshape(-1, width)
    line_ends = grid[:, -1]
    if (raw[line_ends] != _LF).any():
        return None  # a line with another number of fields (or a blank line): every line feed is not last
    crlf = raw[np.maximum(line_ends - 1, 0)] == _CR
    if returns != int(crlf.sum()):
        return None  # a lone CR ends a line for csv.reader
    if int(np.diff(line_ends, prepend=-1).max()) > max_field:
        # Some line is longer than a field may be: look at every cell.
        starts = np.empty_like(seps)
        starts[0] = 0
        starts[1:] = seps[:-1] + 1
        if int((seps - starts).max()) > max_field:
            return None  # the csv path names the line of the long field
    quoted = np.empty(0, dtype=np.int64)
    if has_quotes:
        cells = _quoted_cells(quotes, seps, raw)
        if cells is None:
            return None
        quoted = cells
    return PlainCsv(name, encoding, delimiter, tuple(header), raw, grid.astype(raw_index(len(raw)), copy=False), quoted)


SCAN_BLOCK = 1 << 20  # bytes looked at a time for separators: small masks, reused, stay in cache


def _separators(raw: np.ndarray, delimiter: int) -> tuple[np.ndarray, int, int]:
    """Offsets of every ``delimiter`` and line feed in ``raw``, the number of line feeds and of CRs.

    A block at a time, as :func:`_offsets`; the counts come from the masks already made.
    """
    size = min(SCAN_BLOCK, len(raw))
    hit, feeds = np.empty(size, dtype=np.bool_), np.empty(size, dtype=np.bool_)
    found, lines, returns = [], 0, 0
    index = raw_index(len(raw))  # int32 offsets: half the memory of every array made from them
    for at in range(0, len(raw), SCAN_BLOCK):
        block = raw[at : at + SCAN_BLOCK]
        n = len(block)
        np.equal(block, _LF, out=feeds[:n])
        lines += int(np.count_nonzero(feeds[:n]))
        np.equal(block, _CR, out=hit[:n])
        returns += int(np.count_nonzero(hit[:n]))
        np.equal(block, delimiter, out=hit[:n])
        np.logical_or(hit[:n], feeds[:n], out=hit[:n])
        found.append(np.flatnonzero(hit[:n]).astype(index) + at)
    return np.concatenate(found), lines, returns


def _offsets(raw: np.ndarray, wanted: tuple[int, ...]) -> np.ndarray:
    """Offsets of every byte of ``wanted`` in ``raw``, ascending.

    A block at a time: whole-file masks would be fresh arrays of the file's size (17 MB each at
    100,000 stations), whose page faults cost more than the comparisons.
    """
    size = min(SCAN_BLOCK, len(raw))
    hit, other = np.empty(size, dtype=np.bool_), np.empty(size, dtype=np.bool_)
    found = []
    for at in range(0, len(raw), SCAN_BLOCK):
        block = raw[at : at + SCAN_BLOCK]
        n = len(block)
        np.equal(block, wanted[0], out=hit[:n])
        for byte in wanted[1:]:
            np.equal(block, byte, out=other[:n])
            np.logical_or(hit[:n], other[:n], out=hit[:n])
        found.append(np.flatnonzero(hit[:n]).astype(raw_index(len(raw))) + at)
    return np.concatenate(found)


def _quoted_cells(quotes: np.ndarray, seps: np.ndarray, raw: np.ndarray) -> np.ndarray | None:
    """The cells that hold quotes, when each is ``"`` + text with doubled quotes + ``"``; else None."""
    cell = np.searchsorted(seps, quotes)  # the cell a quote is in: the first separator after it ends it
    firsts = np.flatnonzero(np.diff(cell, prepend=-1))
    counts = np.diff(np.append(firsts, len(quotes)))
    cells = cell[firsts]
    starts = np.where(cells > 0, seps[np.maximum(cells - 1, 0)] + 1, 0)
    ends = seps[cells]
    ends -= (raw[ends] == _LF) & (raw[np.maximum(ends - 1, 0)] == _CR)  # CR LF: the CR is not in the cell
    lasts = firsts + counts - 1
    if (counts % 2).any() or (quotes[firsts] != starts).any() or (quotes[lasts] != ends - 1).any():
        return None
    rank = np.arange(len(quotes)) - np.repeat(firsts, counts)
    pair = (rank % 2 == 1) & (rank < np.repeat(counts, counts) - 1)  # "" inside: this quote and the next
    at = np.flatnonzero(pair)
    if len(at) and (quotes[at + 1] != quotes[at] + 1).any():
        return None
    return cells
