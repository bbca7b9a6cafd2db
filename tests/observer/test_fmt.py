"""One formatter per language: CLDR numbers and plurals (Babel), alphabetical order."""

from __future__ import annotations

import pytest

from observer import i18n
from observer.fmt import MISSING, formatter, plural_categories

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("lang", "grouped", "decimal", "percent", "p_tiny"),
    [
        ("ru", f"10{NBSP}000", f"1{NBSP}234,5", f"63,2{NBSP}%", f"<{NBSP}0,001"),
        ("kk", f"10{NBSP}000", f"1{NBSP}234,5", "63,2%", f"<{NBSP}0,001"),
        ("en", "10,000", "1,234.5", "63.2%", f"<{NBSP}0.001"),
    ],
)
def test_numbers_follow_cldr(lang: str, grouped: str, decimal: str, percent: str, p_tiny: str) -> None:
    f = formatter(lang)
    assert f.integer(10000) == grouped
    assert f.num(1234.5) == decimal
    assert f.pct(63.24) == percent
    assert f.p_value(0.0004) == p_tiny
    assert f.p_value(0.01) == ("0.010" if lang == "en" else "0,010")


def test_missing_and_signs() -> None:
    f = formatter("ru")
    assert [f.integer(None), f.num(float("nan")), f.pct(None), f.p_value(float("inf"))] == [MISSING] * 4
    assert f.signed(60) == "+60"
    assert f.signed(-60) == "\u221260"  # a minus sign, not a hyphen
    assert f.signed(0) == "0"
    assert f.pp(-1.23) == "\u22121,2"
    assert f.pp(0.01) == "±0,0"


@pytest.mark.parametrize(
    ("lang", "n", "text"),
    [
        ("ru", 1, "1 участок"),
        ("ru", 2, "2 участка"),
        ("ru", 71, "71 участок"),
        ("ru", 11, "11 участков"),
        ("ru", 5, "5 участков"),
        ("ru", 10000, f"10{NBSP}000 участков"),
        ("kk", 71, "71 учаске"),
        ("en", 1, "1 station"),
        ("en", 0, "0 stations"),
        ("en", 1000, "1,000 stations"),
    ],
)
def test_counts_take_the_plural_form_of_the_language(lang: str, n: int, text: str) -> None:
    assert formatter(lang).count("count.stations", n) == text


def test_plural_categories_come_from_cldr() -> None:
    assert plural_categories("ru") == {"one", "few", "many", "other"}
    assert plural_categories("kk") == {"one", "other"}
    assert plural_categories("en") == {"one", "other"}


def test_kazakh_alphabetical_order() -> None:
    regions = ["Қызылорда", "Атырау", "Ақмола", "Қарағанды", "Костанай", "Ұлытау", "Үржар", "Шымкент", "Іле", "Ыргыз"]
    ordered = sorted(regions, key=formatter("kk").sort_key)
    # Ә after А, Қ after К, Ұ then Ү after У, І after Ы (the Kazakh alphabet), not by code point.
    assert ordered == [
        "Ақмола",
        "Атырау",
        "Костанай",
        "Қарағанды",
        "Қызылорда",
        "Ұлытау",
        "Үржар",
        "Шымкент",
        "Ыргыз",
        "Іле",
    ]


def test_russian_order_puts_yo_after_ye_and_latin_after_cyrillic() -> None:
    names = ["Ёлка", "Ель", "Жук", "Ak Zhol", "Адал"]
    assert sorted(names, key=formatter("ru").sort_key) == ["Адал", "Ель", "Ёлка", "Жук", "Ak Zhol"]
    assert sorted(names, key=formatter("en").sort_key)[0] == "Ak Zhol"


def test_default_language_is_the_current_one_at_each_call() -> None:
    """formatter() follows a language switch (the GUI's toolbar, a CLI run after another)."""
    before = i18n.current_language()
    try:
        i18n.set_language("ru")
        assert formatter().num(0.5, 2) == "0,50"
        i18n.set_language("en")
        assert formatter().num(0.5, 2) == "0.50"
        i18n.set_language("kk")
        assert formatter().integer(10_000) == formatter("kk").integer(10_000)
    finally:
        i18n.set_language(before)


def test_file_sizes_in_the_languages_units() -> None:
    assert formatter("ru").file_size(291_430) == "284,6 кБ"
    assert formatter("en").file_size(291_430) == "284.6 kB"
    assert formatter("kk").file_size(512) == "512 байт"
    assert formatter("en").file_size(3 * 1024**3) == "3 GB"
