"""The shared part of every report section: the :class:`Context` and small text helpers.

Each module of this package makes one section of the report as a list of flowables
from a :class:`Context`; ``reports.build`` puts them in reading order.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any

from babel.dates import format_date
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table

from observer.fmt import Formatter, formatter
from observer.i18n import tr
from observer.template import ElectionTemplate
from reports.data import ReportData
from reports.flowables import Heading, esc
from reports.styles import FONT, get_styles
from reports.tables import data_table


class Context:
    """What every section needs: the data, the language, the styles and the running section number."""

    def __init__(self, data: ReportData, title: str, logo: Flowable | None) -> None:
        self.d = data
        self.lang = data.lang
        self.s = get_styles()
        self.title = title
        self.logo = logo
        self.section = 0
        self.f: Formatter = formatter(self.lang)  # numbers, plurals and alphabetical order of the language

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
        return self.f.pct(v, digits)

    def num(self, v: int | None) -> str:
        return self.f.integer(v)

    def pp(self, v: float | None, digits: int = 1) -> str:
        return self.f.pp(v, digits)

    def count(self, key: str, n: int, **params: object) -> str:
        """The plural message ``key`` for ``n`` things (``key|one``, ``key|few`` ... in the catalogue)."""
        return self.f.count(key, n, **params)

    def sort_key(self, name: str) -> tuple[tuple[int, ...], str]:
        """Alphabetical order of the language (Kazakh: Ә after А, Қ after К, ...)."""
        return self.f.sort_key(name)

    def table(
        self,
        rows: list[list[Any]],
        widths: Sequence[float],
        *,
        numeric_from: int = 1,
        bold_last: bool = False,
        repeat: int = 1,
        user_columns: Sequence[int] = (),
    ) -> Table:
        """The house table: words never broken, columns widened to their longest word (reports.tables)."""
        return data_table(
            rows, widths, numeric_from=numeric_from, bold_last=bold_last, repeat=repeat, user_columns=user_columns
        )

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
    """``text`` cut with an ellipsis to fit ``width`` points (a station code too long for the annex's column)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def when(t: datetime | None, lang: str, template: ElectionTemplate, region: str | None = None) -> str:
    """``t`` on the clock of ``region`` (default: the capital, as the CEC gives times) with its offset:
    "10 января 2021 г., 15:05 (UTC+6)" (ElectionTemplate.published_time)."""
    if t is None:
        return "—"
    local = template.published_time(t, region)
    return f"{clock(local, lang)} ({utc_offset(local)})"


def clock(local: datetime, lang: str) -> str:
    """A local date and time as the language writes them: "10 января 2021 г., 15:05", "10 January 2021, 15:05"."""
    return f"{date_text(local.date().isoformat(), lang)}, {local:%H:%M}"


def utc_offset(t: datetime) -> str:
    """ "UTC+6", "UTC+5", "UTC+5:30": as clocks are named, no zero padding."""
    off = t.utcoffset()
    minutes = int(off.total_seconds() // 60) if off else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def date_text(iso: str, lang: str) -> str:
    """An ISO date as the language writes it in running text (CLDR's long form)."""
    try:
        day = datetime.strptime(iso, "%Y-%m-%d").date()
    except ValueError:
        return iso or "—"
    # CLDR's "en" is American (January 10, 2021); a report from Kazakhstan writes 10 January 2021.
    return format_date(day, "long", locale="en_GB" if lang == "en" else lang)
