"""The shared part of every report section: the :class:`Context` and small text helpers.

Each module of this package makes one section of the report as a list of flowables
from a :class:`Context`; ``reports.build`` puts them in reading order.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table

from observer.i18n import tr
from reports.data import ReportData
from reports.flowables import Heading, esc, fmt_int, fmt_pct
from reports.styles import FONT, INK, get_styles, table_style


class Context:
    """What every section needs: the data, the language, the styles and the running section number."""

    def __init__(self, data: ReportData, title: str, logo: Flowable | None) -> None:
        self.d = data
        self.lang = data.lang
        self.s = get_styles()
        self.title = title
        self.logo = logo
        self.section = 0

    def t(self, key: str, **params: object) -> str:
        return tr(key, self.lang, **params)

    def p(self, text: str, style: str = "body") -> Paragraph:
        return Paragraph(text, self.s[style])

    def heading(self, key: str, level: int = 0, **params: object) -> Heading:
        text = self.t(key, **params)
        if level == 0:
            self.section += 1
            text = f"{self.section}. {text}"
        return Heading(text, level, key + str(self.section))

    def pct(self, v: float | None, digits: int = 1) -> str:
        return fmt_pct(v, self.lang, digits)

    def num(self, v: int | None) -> str:
        return fmt_int(v, self.lang)

    def table(
        self,
        rows: list[list[Any]],
        widths: Sequence[float],
        *,
        numeric_from: int = 1,
        bold_last: bool = False,
        repeat: int = 1,
    ) -> Table:
        table = Table(rows, colWidths=list(widths), repeatRows=repeat)
        style = table_style(numeric_from=numeric_from)
        if bold_last:
            style.add("FONTNAME", (0, -1), (-1, -1), "BaqylauSansCondensed-Bold")
            style.add("LINEABOVE", (0, -1), (-1, -1), 0.6, INK)
        table.setStyle(style)
        return table

    def head(self, *keys: str, right: Container[int] | None = None) -> list[Paragraph]:
        """Header cells that may wrap, right-aligned over numbers (default: every column but the first).

        The few small tables use Paragraph headers; the big annex does not.
        """
        return [
            Paragraph(
                esc(self.t(k)),
                self.s["cell_head_right" if (i in right if right is not None else i > 0) else "cell_head"],
            )
            for i, k in enumerate(keys)
        ]


def fit(text: str, width: float, font: str = FONT, size: float = 7.5) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points (running header)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def when(t: datetime | None) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else "—"


def utc_offset(t: datetime) -> str:
    off = t.utcoffset()
    minutes = int(off.total_seconds() // 60) if off else 0
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def date_text(iso: str, lang: str) -> str:
    """An ISO date written the way the language writes dates."""
    try:
        day = datetime.strptime(iso, "%Y-%m-%d")
    except ValueError:
        return iso or "—"
    if lang == "en":
        return day.strftime("%d %B %Y").lstrip("0")
    return day.strftime("%d.%m.%Y")
