"""Fonts, paragraph and table styles shared by every part of the PDF report.

ReportLab's built-in Helvetica has no Cyrillic at all, let alone the Kazakh
letters (ә ғ қ ң ө ұ ү һ і), so the report embeds the DejaVu fonts bundled in
``resources/fonts`` (licence beside them). The fonts are registered once per
process; every style here refers to them by the names in ``FONT``/``FONT_BOLD``.

The report must print in black and white: the chart fills below are greys that
stay distinct on a laser printer, and each series also gets its own hatch or
outline so it does not depend on colour alone.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import TableStyle

FONT = "BaqylauSans"
FONT_BOLD = "BaqylauSans-Bold"
FONT_ITALIC = "BaqylauSans-Oblique"
FONT_CONDENSED = "BaqylauSansCondensed"
FONT_CONDENSED_BOLD = "BaqylauSansCondensed-Bold"

_FONT_FILES: dict[str, str] = {
    FONT: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_ITALIC: "DejaVuSans-Oblique.ttf",
    FONT_CONDENSED: "DejaVuSansCondensed.ttf",
    FONT_CONDENSED_BOLD: "DejaVuSansCondensed-Bold.ttf",
}

PAGE_SIZE = A4
MARGIN_LEFT = 18 * mm
MARGIN_RIGHT = 18 * mm
MARGIN_TOP = 22 * mm  # leaves room for the running header
MARGIN_BOTTOM = 18 * mm  # and for "page X of Y"
FRAME_WIDTH = PAGE_SIZE[0] - MARGIN_LEFT - MARGIN_RIGHT
FRAME_HEIGHT = PAGE_SIZE[1] - MARGIN_TOP - MARGIN_BOTTOM

# Greys chosen to differ by at least ~25% luminance so they survive photocopying.
INK = colors.black
DARK = colors.Color(0.20, 0.20, 0.20)
MID = colors.Color(0.50, 0.50, 0.50)
LIGHT = colors.Color(0.78, 0.78, 0.78)
PALE = colors.Color(0.93, 0.93, 0.93)
WHITE = colors.white

# Series fills for charts, in order: observed, official, then further series.
SERIES_FILLS: tuple[colors.Color, ...] = (DARK, WHITE, MID, LIGHT, colors.Color(0.35, 0.35, 0.35), PALE)


def font_dir() -> Path:
    return Path(str(resources.files("resources.fonts")))


@cache
def register_fonts() -> None:
    """Register the bundled fonts with ReportLab (idempotent)."""
    folder = font_dir()
    for name, file_name in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / file_name)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD)
    pdfmetrics.registerFontFamily(
        FONT_CONDENSED,
        normal=FONT_CONDENSED,
        bold=FONT_CONDENSED_BOLD,
        italic=FONT_CONDENSED,
        boldItalic=FONT_CONDENSED_BOLD,
    )


@cache
def get_styles() -> dict[str, ParagraphStyle]:
    """Named paragraph styles of the report.

    Names: ``body``, ``small``, ``bullet``, ``caption``, ``note``, ``h1``, ``h2``, ``h3``,
    ``toc_title``, ``title``, ``subtitle``, ``cover_meta``, ``cover_warning``, ``big_number``, ``big_label``,
    ``toc1``, ``toc2``, ``cell``, ``cell_right``, ``cell_head``, ``cell_head_right``, ``quote``,
    ``fingerprint``, ``header``, ``footer``.
    """
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, spaceAfter=5, alignment=TA_LEFT)
    styles: dict[str, ParagraphStyle] = {"body": body}

    def add(name: str, **kw: object) -> None:
        styles[name] = ParagraphStyle(name, parent=body, **kw)

    add("small", fontSize=8, leading=10.5)
    add("bullet", leftIndent=12, bulletIndent=2, bulletFontName=FONT)
    add("caption", fontName=FONT_ITALIC, fontSize=8, leading=10, textColor=DARK, spaceBefore=2, spaceAfter=8)
    add("note", fontSize=8, leading=10.5, textColor=DARK, leftIndent=6, borderPadding=4)
    add("h1", fontName=FONT_BOLD, fontSize=16, leading=20, spaceBefore=4, spaceAfter=10, keepWithNext=1)
    add("h2", fontName=FONT_BOLD, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=6, keepWithNext=1)
    add("h3", fontName=FONT_BOLD, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=4, keepWithNext=1)
    add("title", fontName=FONT_BOLD, fontSize=24, leading=30, alignment=TA_LEFT, spaceAfter=12)
    add("subtitle", fontSize=13, leading=17, textColor=DARK, spaceAfter=8)
    add("cover_meta", fontSize=10.5, leading=15, spaceAfter=3)
    add("cover_warning", fontSize=11, leading=15, spaceAfter=8, borderColor=INK, borderWidth=1, borderPadding=5)
    add("big_number", fontName=FONT_BOLD, fontSize=26, leading=30, alignment=TA_CENTER, spaceAfter=0)
    add("big_label", fontSize=8.5, leading=10.5, alignment=TA_CENTER, textColor=DARK, spaceAfter=0)
    add("toc_title", fontName=FONT_BOLD, fontSize=16, leading=20, spaceBefore=4, spaceAfter=10)
    add("toc1", fontName=FONT_BOLD, fontSize=10.5, leading=15, leftIndent=0, firstLineIndent=0)
    add("toc2", fontSize=9.5, leading=13, leftIndent=14, firstLineIndent=0)
    # Cells use the condensed face, like the plain-string cells of table_style().
    add("cell", fontName=FONT_CONDENSED, fontSize=8, leading=9.5, spaceAfter=0)
    add("cell_right", fontName=FONT_CONDENSED, fontSize=8, leading=9.5, spaceAfter=0, alignment=TA_RIGHT)
    add("cell_head", fontName=FONT_CONDENSED_BOLD, fontSize=8, leading=9.5, spaceAfter=0)
    add("cell_head_right", fontName=FONT_CONDENSED_BOLD, fontSize=8, leading=9.5, spaceAfter=0, alignment=TA_RIGHT)
    add("quote", fontSize=9, leading=12, leftIndent=8, textColor=DARK)
    add("fingerprint", fontName=FONT_BOLD, fontSize=10.5, leading=14)
    add("header", fontSize=7.5, leading=9, textColor=DARK)
    add("footer", fontSize=7.5, leading=9, textColor=DARK, alignment=TA_RIGHT)
    return styles


def table_style(*, header_rows: int = 1, zebra: bool = True, numeric_from: int = 1, font_size: float = 8) -> TableStyle:
    """The house style of data tables: bold header on grey, thin rules, numbers right-aligned.

    Works for tables of plain strings, which is what the big annex uses: a Paragraph per
    cell would cost many times more to lay out for 10,000 rows.
    """
    register_fonts()
    cmds: list[tuple[object, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT_CONDENSED),
        ("FONTSIZE", (0, 0), (-1, -1), font_size),
        ("LEADING", (0, 0), (-1, -1), font_size + 1.6),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, INK),
    ]
    if header_rows:
        cmds += [
            ("FONTNAME", (0, 0), (-1, header_rows - 1), FONT_CONDENSED_BOLD),
            ("BACKGROUND", (0, 0), (-1, header_rows - 1), LIGHT),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, INK),
            ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.8, INK),
            ("VALIGN", (0, 0), (-1, header_rows - 1), "BOTTOM"),
        ]
    style = TableStyle(cmds)
    if zebra:
        # ROWBACKGROUNDS is one command for any number of rows (cheap for the annex).
        style.add("ROWBACKGROUNDS", (0, header_rows), (-1, -1), [WHITE, PALE])
    return style
