"""Data tables that never break a word: ``data_table(rows, widths, ...)``.

ReportLab wraps a table cell's Paragraph at spaces and, when one word is wider than
the column, cuts the word where the column ends ("Наблюда ется", "Көшбасшы ның").
Here every text cell is wrapped by us, only at spaces and after hyphens
("Северо-" / "Казахстанская"), before ReportLab sees it:

1. each column gets at least the width of its widest unbreakable piece (a word, a
   number, a code), taken from columns with room to spare;
2. if the columns cannot all fit, header and text cells are set in smaller type
   (down to ``MIN_SIZE``) until they do;
3. only a piece that fits at no size (a 300-character run without spaces that a
   user typed) is cut, and then only user text: never a header or a catalogue word.

The lines are joined with ``<br/>``, so ReportLab has nothing left to wrap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, Table

from reports.flowables import esc
from reports.styles import FONT_CONDENSED, FONT_CONDENSED_BOLD, INK, get_styles, table_style

PAD = 3.0  # left and right padding of every cell (table_style)
MIN_SIZE = 6.0  # smallest type a header or a cell may be set in
SIZE_STEP = 0.5
_SLACK = 0.5  # points kept free in each line, against rounding in ReportLab's own wrap

# A break is allowed at a space and after a hyphen that joins two parts of a word.
_PIECES = re.compile(r"-*[^-]+-*|-+")


def pieces(word: str) -> list[str]:
    """A word cut after its hyphens: "Северо-Казахстанская" -> ["Северо-", "Казахстанская"]."""
    return _PIECES.findall(word) or [word]


@lru_cache(maxsize=16384)
def _w(text: str, font: str, size: float) -> float:
    return stringWidth(text, font, size)


def widest_piece(text: str, font: str, size: float) -> float:
    """Width of the widest part of ``text`` that must stay on one line."""
    return max((_w(p, font, size) for word in _words(text) for p in pieces(word)), default=0.0)


def _words(text: str) -> list[str]:
    # Only a plain space (or a newline) separates words: "10\u00a0000" is one number.
    return [w for w in re.split(r"[ \t\n]+", text) if w]


def wrap_words(text: str, font: str, size: float, width: float) -> list[str] | None:
    """Lines of ``text`` no wider than ``width``, broken only at spaces and after hyphens.

    None if some piece alone is wider than ``width``. Newlines in ``text`` are kept.
    """
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in _words(para):
            for k, piece in enumerate(pieces(word)):
                joined = line + ("" if not line or k else " ") + piece
                if _w(joined, font, size) <= width:
                    line = joined
                    continue
                if _w(piece, font, size) > width:
                    return None
                lines.append(line)
                line = piece
        lines.append(line)
    return lines


def wrap_hard(text: str, font: str, size: float, width: float) -> list[str]:
    """Like ``wrap_words``, but a piece wider than ``width`` is cut where the line ends.

    For user text only (a description, a reason typed without spaces): a word the
    catalogue or the data of the election holds always fits (``data_table`` sees to it).
    """
    out: list[str] = []
    for para in text.split("\n"):
        words: list[str] = []
        for word in _words(para):
            if _w(word, font, size) <= width:
                words.append(word)
                continue
            chunk = ""
            for ch in word:
                if chunk and _w(chunk + ch, font, size) > width:
                    words.append(chunk)
                    chunk = ""
                chunk += ch
            words.append(chunk)
        out += wrap_words(" ".join(words), font, size, width) or words
    return out


def running_header(
    left: Sequence[str], right: str, font: str, width: float, sizes: Sequence[float] = (7.5, 7.0, 6.5, 6.0)
) -> tuple[list[str], list[str], float]:
    """The page header's two blocks, never cut with "…": at most two lines each.

    ``left`` are the texts to try in order (title — election, then the election alone);
    ``right`` (the organisation) takes at most 40% of ``width``. The type shrinks before a
    text is given up; the last resort is the last ``left`` text cut at words onto two lines.
    """
    for size in sizes:
        right_lines = wrap_words(right, font, size, width * 0.4) if right else []
        if right_lines is None or len(right_lines) > 2:
            continue
        room = width - max((_w(line, font, size) for line in right_lines), default=0.0) - 12
        for text in left:
            lines = wrap_words(text, font, size, room)
            if lines is not None and len(lines) <= 2:
                return lines, right_lines, size
    size = sizes[-1]
    right_lines = wrap_hard(right, font, size, width * 0.4)[:2] if right else []
    return wrap_hard(left[-1], font, size, width * 0.6)[:2], right_lines, size


@dataclass
class _Cell:
    """A text cell as the fitting sees it."""

    text: str
    font: str
    size: float  # the size it is set in; starts at base_size, may shrink
    base_size: float
    alignment: int
    header: bool
    user: bool  # user text: may be cut inside a word if nothing else fits
    style: ParagraphStyle | None  # the Paragraph's own style, if it was one


def _is_text(value: str) -> bool:
    # A number, a percentage or a code ("10 000", "+25,0", "1 354–1 486": groups joined by
    # no-break spaces, as observer.fmt writes them) stays on one line; a figure with its
    # margin ("31,1 % ± 6,9") may break at its plain spaces, between whole numbers.
    return " " in value or any(ch.isalpha() for ch in value)


def data_table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header_rows: int = 1,
    numeric_from: int = 1,
    bold_last: bool = False,
    repeat: int = 1,
    font_size: float = 8.0,
    user_columns: Sequence[int] = (),
    h_align: str = "CENTER",
    bold_rows: Sequence[int] = (),
) -> Table:
    """The house data table with every text cell wrapped at spaces and hyphens only.

    ``rows`` hold strings, Paragraphs (their style is kept, their text re-wrapped) or
    other flowables (left alone). ``user_columns`` hold user text, which alone may be
    cut inside a word when a run of letters is wider than the whole table allows.
    ``bold_rows`` are set in bold (a flagged row): measured in bold, so they fit too.
    """
    cells: dict[tuple[int, int], _Cell] = {}
    last = len(rows) - 1
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            header = r < header_rows
            is_bold = header or (bold_last and r == last) or r in bold_rows
            if isinstance(value, Paragraph):
                st = value.style
                cells[r, c] = _Cell(
                    value.getPlainText(),
                    st.fontName,
                    st.fontSize,
                    st.fontSize,
                    st.alignment,
                    header,
                    c in user_columns,
                    st,
                )
            elif isinstance(value, str) and _is_text(value):
                font = FONT_CONDENSED_BOLD if is_bold else FONT_CONDENSED
                align = TA_RIGHT if c >= numeric_from else TA_LEFT
                cells[r, c] = _Cell(value, font, font_size, font_size, align, header, c in user_columns, None)
    bold = {r for r in range(len(rows)) if r < header_rows or (bold_last and r == last) or r in bold_rows}
    col_widths = _fit_columns(rows, cells, list(widths), font_size, bold)
    body: list[list[Any]] = [list(row) for row in rows]
    for (r, c), cell in cells.items():
        body[r][c] = _typeset(cell, col_widths[c] - 2 * PAD - _SLACK, rows[r][c])
    table = Table(body, colWidths=col_widths, repeatRows=repeat, hAlign=h_align)
    table.user_columns = tuple(user_columns)  # cells the check lets be cut inside a word
    style = table_style(header_rows=header_rows, numeric_from=numeric_from, font_size=font_size)
    if bold_last:
        style.add("FONTNAME", (0, -1), (-1, -1), FONT_CONDENSED_BOLD)
        style.add("LINEABOVE", (0, -1), (-1, -1), 0.6, INK)
    for r in bold_rows:
        style.add("FONTNAME", (0, r), (-1, r), FONT_CONDENSED_BOLD)
    table.setStyle(style)
    return table


def _atomic_width(value: Any, font: str, size: float) -> float:
    """Width of a cell that is not wrapped (a number, a code), or 0 for anything else."""
    return _w(value, font, size) if isinstance(value, str) and value and not _is_text(value) else 0.0


def _fit_columns(
    rows: Sequence[Sequence[Any]],
    cells: dict[tuple[int, int], _Cell],
    widths: list[float],
    font_size: float,
    bold: set[int],
) -> list[float]:
    """Column widths where every cell's widest piece fits, shrinking type if it must."""
    total = sum(widths)
    n = len(widths)
    atomic = [0.0] * n
    for r, row in enumerate(rows):
        for c, value in enumerate(row[:n]):
            atomic[c] = max(
                atomic[c], _atomic_width(value, FONT_CONDENSED_BOLD if r in bold else FONT_CONDENSED, font_size)
            )
    # Headers give way first (smaller type), then the text of the body.
    need = _needs(cells, atomic, total)
    for shrinking_headers in (True, False):
        size = font_size
        while sum(need) > total and size > MIN_SIZE:
            size -= SIZE_STEP
            for cell in cells.values():
                if cell.header == shrinking_headers and not cell.user:
                    cell.size = min(cell.base_size, size)
            need = _needs(cells, atomic, total)
    return _spread(widths, need, total, _full_widths(cells, atomic), _full_widths(cells, atomic, body_only=True))


def _needs(cells: dict[tuple[int, int], _Cell], atomic: list[float], total: float) -> list[float]:
    """Each column's least width: its widest unbreakable piece at the cells' current sizes."""
    need = list(atomic)
    for (_, c), cell in cells.items():
        if not cell.user and c < len(need):
            need[c] = max(need[c], widest_piece(cell.text, cell.font, cell.size))
    # No column takes more than half the table for one piece: anything longer is not a
    # word of the catalogue or the election but some unforeseen data, and is cut instead.
    return [min(x + 2 * PAD + _SLACK, total / 2) for x in need]


def _full_widths(cells: dict[tuple[int, int], _Cell], atomic: list[float], *, body_only: bool = False) -> list[float]:
    """Each column's width with every cell (or every cell below the head) on one line: its wish, not its need."""
    full = list(atomic)
    for (_, c), cell in cells.items():
        if c < len(full) and not (body_only and cell.header):
            longest = max((_w(line, cell.font, cell.size) for line in cell.text.split("\n")), default=0.0)
            full[c] = max(full[c], longest)
    return [f + 2 * PAD + _SLACK for f in full]


def _spread(
    widths: list[float], need: list[float], total: float, full: list[float], full_body: list[float]
) -> list[float]:
    """Widen the columns below their need, taking the room from those above theirs.

    Room is taken first where a column is wider than its longest cell on one line
    (``full``: a column of short numbers under a wide head), then where only the head
    would wrap (``full_body``: one more line in one row), and only then from the room a
    column has to wrap the text of its rows, so a region name is not pushed onto three
    lines to make room that a number column had to spare.
    """
    short = sum(max(0.0, nd - w) for w, nd in zip(widths, need))
    if short <= 0:
        return widths
    if sum(need) > total:
        # Nothing fits the frame: give every column its need, scaled to the frame.
        scale = total / sum(need)
        return [nd * scale for nd in need]
    out = [max(w, nd) for w, nd in zip(widths, need)]
    floors = ([max(nd, f) for nd, f in zip(need, full)], [max(nd, f) for nd, f in zip(need, full_body)], need)
    for floor in floors:
        spare = [max(0.0, o - fl) if o > nd else 0.0 for o, fl, nd in zip(out, floor, need)]
        room = sum(spare)
        if room <= 0:
            continue
        take = min(1.0, short / room)
        out = [o - sp * take for o, sp in zip(out, spare)]
        short -= room * take
        if short <= 1e-9:
            break
    return out


def _typeset(cell: _Cell, width: float, original: Any) -> Any:
    """The cell as a string (one line) or a Paragraph of lines joined by <br/>."""
    lines = wrap_words(cell.text, cell.font, cell.size, width)
    if lines is None:
        lines = wrap_hard(cell.text, cell.font, cell.size, width)
    if cell.style is None and len(lines) == 1 and cell.size == cell.base_size:
        return original  # a plain string that fits: the table draws it, no Paragraph needed
    para = Paragraph("<br/>".join(esc(line) for line in lines), _cell_style(cell))
    para.source_text = (
        cell.text
    )  # the text before our line breaks, for the check in tests/reports/test_report_typeset.py
    return para


def _cell_style(cell: _Cell) -> ParagraphStyle:
    base = cell.style or get_styles()["cell"]
    return _sized(base, cell.font, cell.size, cell.alignment)


@lru_cache(maxsize=256)
def _sized(base: ParagraphStyle, font: str, size: float, alignment: int) -> ParagraphStyle:
    return ParagraphStyle(
        f"{base.name}-{size:g}",
        parent=base,
        fontName=font,
        fontSize=size,
        leading=size + 1.5,
        alignment=alignment,
        splitLongWords=0,
    )
