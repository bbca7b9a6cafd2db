"""Small flowables and formatters the report is assembled from, one job each.

- ``Heading``: a paragraph that the document turns into a TOC entry and a PDF bookmark.
- ``Lazy``/``Deferred``: stand-ins for long stories (the 10,000-row annex) that are made
  only when the document reaches them, and only on the passes where they matter
  (see ``ReportDoc.handle_flowable``).
- ``PlainTable``: the station annex, fast (no per-cell objects).
- ``key_figures``: the grid of big numbers on the key-findings page.
- ``thumbnail``: a JPEG thumbnail scaled into a box.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Image, Paragraph, Table, TableStyle

from reports.styles import FONT_CONDENSED, INK, LIGHT, PALE, get_styles, register_fonts


def esc(text: str) -> str:
    """User text made safe for Paragraph markup (which is XML-like)."""
    # Control characters other than newline would break the PDF text layer.
    cleaned = "".join(ch if ch >= " " or ch == "\n" else " " for ch in text)
    return escape(cleaned).replace("\n", "<br/>")


class Heading(Paragraph):
    """A section title; ``level`` 0 or 1 goes into the table of contents."""

    def __init__(self, text: str, level: int, key: str) -> None:
        style = get_styles()["h1" if level == 0 else "h2"]
        super().__init__(esc(text), style)
        self.toc_text = text
        self.level = level
        self.bookmark = key


class Lazy(Flowable):
    """Stands for flowables that are made only when the document reaches this point.

    ``ReportDoc.handle_flowable`` swaps it for ``make()``'s result, so a 300-row table of
    the annex exists only while it is laid out, not for the whole build: ReportLab keeps
    a style object per table cell, which for 100,000 stations is over a million objects.
    """

    first_pass = True  # made on every pass of multiBuild

    def __init__(self, make: Callable[[], list[Flowable]]) -> None:
        super().__init__()
        self._make = make

    def flowables(self) -> list[Flowable]:
        return self._make()

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return (0, 0)

    def draw(self) -> None:
        """Draws nothing: the document replaces it before it is placed."""


class Deferred(Lazy):
    """A Lazy that is left out on the first pass, whose only purpose is to find the
    headings' page numbers: for content after the last heading (the big annex)."""

    first_pass = False


@dataclass(frozen=True)
class KeyFigure:
    value: str
    label: str
    detail: str = ""


def key_figures(items: Sequence[KeyFigure], width: float, columns: int = 3) -> Table:
    """Big numbers in boxes, ``columns`` per row."""
    styles = get_styles()
    cells: list[list[object]] = []
    row: list[object] = []
    for item in items:
        big = styles["big_number"]
        room = width / columns - 12
        wide = stringWidth(item.value, big.fontName, big.fontSize)
        if wide > room:
            # "200 / 10 000" must stay on one line: shrink rather than wrap a number.
            size = big.fontSize * room / wide
            big = ParagraphStyle("big_number_fit", parent=big, fontSize=size, leading=size * 1.15)
        content: list[Flowable] = [Paragraph(esc(item.value), big), Paragraph(esc(item.label), styles["big_label"])]
        if item.detail:
            content.append(Paragraph(esc(item.detail), styles["big_label"]))
        row.append(content)
        if len(row) == columns:
            cells.append(row)
            row = []
    if row:
        cells.append(row + [""] * (columns - len(row)))
    table = Table(cells, colWidths=[width / columns] * columns)
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, INK),
                ("INNERGRID", (0, 0), (-1, -1), 0.5, LIGHT),
                ("BACKGROUND", (0, 0), (-1, -1), PALE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                ("FONTNAME", (0, 0), (-1, -1), FONT_CONDENSED),
            ]
        )
    )
    return table


def thumbnail(jpeg: bytes, max_width: float, max_height: float) -> Image:
    """A thumbnail scaled to fit the box, keeping its proportions."""
    reader = ImageReader(io.BytesIO(jpeg))
    w, h = reader.getSize()
    scale = min(max_width / w, max_height / h)
    return Image(io.BytesIO(jpeg), width=w * scale, height=h * scale)


@lru_cache(maxsize=65536)
def _width(text: str, font: str, size: float) -> float:
    # The annex repeats the same short strings ("—", "+25,0", "1,2%") thousands of times.
    return stringWidth(text, font, size)


class PlainTable(Flowable):
    """Rows of plain strings in cells of fixed size: the station annex.

    ReportLab's Table builds a style object per cell and a text object per cell; for
    10,000 rows that is most of the report's time. Here a page of rows is one text
    object, widths come from a cache, and nothing exists per cell but the string.
    Splits between rows and repeats the header on every page. The first ``left``
    columns are left-aligned (names, codes), the rest right-aligned (numbers), and
    the last column left-aligned if ``last_left`` (flags).
    """

    def __init__(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        *,
        row_height: float,
        header_height: float,
        font: str,
        bold_font: str,
        size: float,
        header_size: float,
        left: int = 1,
        last_left: bool = False,
        first_index: int = 0,
    ) -> None:
        super().__init__()
        register_fonts()  # the bundled fonts, whoever builds the document
        self.header = list(header)
        self.rows = rows
        self.widths = list(widths)
        self.row_height = row_height
        self.header_height = header_height
        self.font, self.bold_font, self.size, self.header_size = font, bold_font, size, header_size
        self.left = left
        self.last_left = last_left
        self.first_index = first_index  # keeps the zebra stripes continuous across pages

    def _like(self, rows: Sequence[Sequence[str]], first_index: int) -> PlainTable:
        return PlainTable(
            self.header,
            rows,
            self.widths,
            row_height=self.row_height,
            header_height=self.header_height,
            font=self.font,
            bold_font=self.bold_font,
            size=self.size,
            header_size=self.header_size,
            left=self.left,
            last_left=self.last_left,
            first_index=first_index,
        )

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = sum(self.widths)
        self.height = self.header_height + self.row_height * len(self.rows)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        fits = int((availHeight - self.header_height) // self.row_height)
        if fits <= 0:
            return []  # not even the header and one row: the frame moves it to the next page
        if fits >= len(self.rows):
            return [self]
        return [self._like(self.rows[:fits], self.first_index), self._like(self.rows[fits:], self.first_index + fits)]

    def _align_left(self, col: int) -> bool:
        return col < self.left or (self.last_left and col == len(self.widths) - 1)

    def draw(self) -> None:
        # The page's operators are written as one string: ReportLab's text object formats
        # every coordinate and re-encodes every cell through several calls, which for the
        # 100,000-station annex was most of the report's drawing time. The operators are
        # the same ones it would write (Tm, Tf, Tj; re f for the stripes).
        c = self.canv
        width, top = self.width, self.height
        pad = 3.0
        body_top = top - self.header_height
        rh = self.row_height
        c.saveState()
        c.setFillColor(LIGHT)
        c.rect(0, body_top, width, self.header_height, stroke=0, fill=1)
        c.setFillColor(PALE)
        stripes = [
            f"0 {body_top - (k + 1) * rh:.3f} {width:.3f} {rh:.3f} re"
            for k in range(len(self.rows))
            if (self.first_index + k) % 2
        ]
        if stripes:
            stripes.append("f")
            c._code.append(" ".join(stripes))
        c.setStrokeColor(INK)
        c.setLineWidth(0.8)
        c.line(0, top, width, top)
        c.line(0, body_top, width, body_top)
        c.setLineWidth(0.6)
        c.line(0, 0, width, 0)
        c.setFillColor(INK)
        edges = [0.0]
        for w in self.widths:
            edges.append(edges[-1] + w)
        left = [self._align_left(col) for col in range(len(self.widths))]
        ops = _TextOps(c)
        # Header lines sit on the header's bottom, last line lowest.
        for col, label in enumerate(self.header):
            lines = label.split("\n")
            for n, line in enumerate(reversed(lines)):
                y = body_top + 2.5 + n * (self.header_size + 1)
                x = (
                    edges[col] + pad
                    if left[col]
                    else edges[col + 1] - pad - _width(line, self.bold_font, self.header_size)
                )
                ops.put(x, y, line, self.bold_font, self.header_size)
        font, size = self.font, self.size
        baseline = (rh - size) / 2 + 0.2 * size
        for k, row in enumerate(self.rows):
            y = body_top - (k + 1) * rh + baseline
            for col, cell in enumerate(row):
                if not cell:
                    continue
                x = edges[col] + pad if left[col] else edges[col + 1] - pad - _width(cell, font, size)
                ops.put(x, y, cell, font, size)
        c._code.append(ops.code())
        c.restoreState()


_ENCODED_MAX = 20_000  # cell strings remembered per document


class _TextOps:
    """One BT..ET block of positioned strings in TrueType fonts, written as PDF operators.

    Strings are encoded through the font's own subsetting (``splitString``), so the
    glyphs and the font embedding are exactly those ReportLab's text object produces;
    an encoding is remembered per document, where the subset codes are fixed.
    """

    def __init__(self, canv: Any) -> None:
        self.doc = canv._doc
        self.escape = canv._escape
        cache = getattr(self.doc, "_baqylau_encoded", None)
        if cache is None:
            cache = self.doc._baqylau_encoded = {}
        self.cache: dict[tuple[str, str], tuple[tuple[int, str], ...]] = cache
        self.parts: list[str] = ["BT"]
        self.current: tuple[str, float, int] | None = None
        self.fonts: dict[str, Any] = {}

    def _encode(self, text: str, font_name: str) -> tuple[tuple[int, str], ...]:
        key = (font_name, text)
        enc = self.cache.get(key)
        if enc is None:
            font = self.fonts.get(font_name)
            if font is None:
                font = self.fonts[font_name] = pdfmetrics.getFont(font_name)
            enc = tuple((subset, f"({self.escape(chunk)}) Tj") for subset, chunk in font.splitString(text, self.doc))
            if len(self.cache) >= _ENCODED_MAX:  # station codes never repeat: keep the memory bounded
                self.cache.clear()
            self.cache[key] = enc
        return enc

    def put(self, x: float, y: float, text: str, font_name: str, size: float) -> None:
        parts = self.parts
        parts.append(f"1 0 0 1 {x:.3f} {y:.3f} Tm")
        for subset, shown in self._encode(text, font_name):
            if self.current != (font_name, size, subset):
                font = self.fonts.get(font_name) or pdfmetrics.getFont(font_name)
                parts.append(f"{font.getSubsetInternalName(subset, self.doc)} {size:g} Tf")
                self.current = (font_name, size, subset)
            parts.append(shown)

    def code(self) -> str:
        return " ".join(self.parts) + " ET"
