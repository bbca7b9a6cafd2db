"""How numbers, percentages, p-values, counts and names are written in each language.

One formatter per language, built once from CLDR data (Babel), serves the GUI, the command
line and the PDF report, so the same figure reads the same way everywhere: ``10 000,5`` and
``63,2%`` in Russian and Kazakh, ``10,000.5`` and ``63.2%`` in English, ``< 0,001`` for a
tiny p-value, ``—`` for a missing value, and the plural form the language's rules ask for
("1 участок", "2 участка", "5 участков").

Plural messages live in the catalogues as one key per CLDR plural category:
``"report.stations|one"``, ``"report.stations|few"``, ``"report.stations|many"``,
``"report.stations|other"`` (only the categories a language has; ``other`` always), and are
rendered with :meth:`Formatter.count`.

Collation: CLDR's tailorings are not in Babel, and ICU is a compiled dependency a Windows
laptop may not have. Kazakh and Russian are sorted by their alphabets (the 42-letter Kazakh
Cyrillic alphabet, of which the Russian one is a subsequence: Ә after А, Ғ after Г, Қ after К, Ң after Н, Ө after О, Ұ Ү after У, Һ after
Х, І after Ы; the Russian alphabet with Ё after Е), Latin after Cyrillic in ru/kk and before it
in en, case and punctuation as tie-breakers only.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from observer import i18n

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern

# Babel (~7 ms of import, its CLDR data more) is imported by the first number written, not with this
# module: the coordinator's window imports it to build its pages and writes no number before its first
# paint (its counters say "…" until the figures are read).

MISSING = "—"
MINUS = "\u2212"  # a real minus sign: a hyphen is too short beside digits in a table

# The Kazakh alphabet; without its nine letters it is the Russian one, so it sorts both.
_CYRILLIC = "аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя"
_LATIN = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Formatter:
    """Writes values for one language. Get one with :func:`formatter`."""

    lang: str

    @property
    def locale(self) -> Locale:
        return _locale(self.lang)

    # ---- numbers -------------------------------------------------------------------------

    def integer(self, value: float | None) -> str:
        """A whole number with the language's grouping: 10 000 (ru, kk), 10,000 (en)."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return MISSING
        return self._decimal(round(value), 0)

    def num(self, value: float | None, digits: int = 1) -> str:
        """A decimal number with exactly ``digits`` digits after the language's decimal sign."""
        if value is None or not math.isfinite(value):
            return MISSING
        return self._decimal(value, digits)

    def signed(self, value: float | None, digits: int = 0) -> str:
        """A difference with its sign: +12, −3, 0 (a true minus sign, never a hyphen)."""
        if value is None or not math.isfinite(value):
            return MISSING
        text = self._decimal(abs(value), digits)
        if text == self._decimal(0, digits):
            return text
        return ("+" if value > 0 else MINUS) + text

    def pct(self, value: float | None, digits: int = 1) -> str:
        """A percentage given in percent units (63.25 -> 63,3% in ru, 63.3% in en)."""
        if value is None or not math.isfinite(value):
            return MISSING
        return _percent_pattern(self.lang, digits).apply(value / 100.0, self.locale)

    def pp(self, value: float | None, digits: int = 1) -> str:
        """A difference in percentage points with its sign (+1,2 / −1,2 / ±0,0)."""
        if value is None or not math.isfinite(value):
            return MISSING
        text = self._decimal(abs(value), digits)
        if text == self._decimal(0, digits):
            return "±" + text
        return ("+" if value > 0 else MINUS) + text

    def p_value(self, p: float | None) -> str:
        """A p-value to three decimals, or ``< 0,001`` (``< 0.001`` in en) below that."""
        if p is None or not math.isfinite(p):
            return MISSING
        if p < 0.001:
            return "<\u00a0" + self._decimal(0.001, 3)
        return self._decimal(p, 3)

    def _decimal(self, value: float, digits: int) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, format=_decimal_pattern(digits), locale=self.locale)

    # ---- words ---------------------------------------------------------------------------

    def count(self, key: str, n: int, /, **params: object) -> str:
        """The plural message ``key`` for ``n`` things, ``n`` written as :meth:`integer` writes it."""
        category = self.locale.plural_form(abs(n))
        forms = i18n.catalog(self.lang)
        chosen = f"{key}|{category}" if f"{key}|{category}" in forms else f"{key}|other"
        return i18n.tr(chosen, self.lang, n=self.integer(n), **params)

    def sort_key(self, text: str) -> tuple[tuple[int, ...], str]:
        """A key that sorts names in the language's alphabetical order."""
        return _sort_key(self.lang, text)

    def file_size(self, size: int) -> str:
        """A file's size in the language's units (CLDR): "284,6 кБ", "284.6 kB", "512 байт"."""
        value = float(size)
        units = ("byte", "kilobyte", "megabyte", "gigabyte")
        step = 0
        while value >= 1024 and step < len(units) - 1:
            value /= 1024
            step += 1
        unit = units[step]
        pattern = "#,##0" if unit == "byte" else "#,##0.#"
        from babel.units import format_unit

        return format_unit(value, f"digital-{unit}", length="short", locale=self.locale, format=pattern)

    def date_time(self, moment: object, tz: object = None) -> str:
        """A date and time as the language writes them short (10.01.2021, 16:00 in ru)."""
        from babel.dates import format_datetime  # ~8 ms of import the app's first window does not need

        return format_datetime(moment, format="short", tzinfo=tz, locale=self.locale)  # type: ignore[arg-type]


def formatter(lang: str | None = None) -> Formatter:
    """The formatter of ``lang`` (default: the language current at this call, not at the first one)."""
    return _formatter(lang or i18n.current_language())


@cache
def _formatter(lang: str) -> Formatter:
    if lang not in i18n.LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    return Formatter(lang)


def plural_categories(lang: str) -> set[str]:
    """The CLDR plural categories a language's messages must provide (always with ``other``)."""
    return set(_locale(lang).plural_form.tags) | {"other"}


@cache
def _locale(lang: str) -> Locale:
    from babel import Locale

    return Locale.parse(lang)


@cache
def _decimal_pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits else "")


@cache
def _percent_pattern(lang: str, digits: int) -> NumberPattern:
    """The language's own percent pattern (``#,##0 %`` in ru, ``#,##0%`` in en) with ``digits`` decimals."""
    from babel.numbers import parse_pattern

    pattern = parse_pattern(_locale(lang).percent_formats[None].pattern)
    pattern.frac_prec = (digits, digits)
    return pattern


def _sort_key(lang: str, text: str) -> tuple[tuple[int, ...], str]:
    alphabet = _CYRILLIC
    cyrillic_first = lang != "en"
    primary: list[int] = []
    for ch in unicodedata.normalize("NFC", text.casefold()):
        if ch in alphabet:
            rank = alphabet.index(ch) + (0 if cyrillic_first else 1000)
        elif ch in _LATIN:
            rank = _LATIN.index(ch) + (1000 if cyrillic_first else 0)
        elif ch.isdigit():
            rank = -100 + (int(ch) if ch.isascii() else 0)
        elif ch.isalpha():
            rank = 2000 + ord(ch)
        else:
            continue  # spaces, hyphens, quotes: ignored at the first level, as dictionaries do
        primary.append(rank)
    return tuple(primary), text
