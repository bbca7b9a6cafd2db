"""Every language has every message, with the same {placeholders} as English."""

from __future__ import annotations

import pytest

from observer import i18n
from observer.fmt import plural_categories


def _singular(catalog: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in catalog.items() if "|" not in k}


def _plurals(catalog: dict[str, str]) -> dict[str, dict[str, str]]:
    """Plural messages by base key: {"report.stations": {"one": ..., "other": ...}}."""
    out: dict[str, dict[str, str]] = {}
    for key, text in catalog.items():
        if "|" in key:
            base, category = key.split("|", 1)
            out.setdefault(base, {})[category] = text
    return out


@pytest.mark.parametrize("lang", [l for l in i18n.LANGUAGES if l != "en"])
def test_same_keys_and_placeholders_as_english(lang: str) -> None:
    en = _singular(i18n.catalog("en"))
    other = _singular(i18n.catalog(lang))
    assert sorted(en.keys() - other.keys()) == [], f"missing in {lang}"
    assert sorted(other.keys() - en.keys()) == [], f"extra in {lang}"
    for key, text in en.items():
        assert i18n.placeholders(other[key]) == i18n.placeholders(text), (lang, key)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_plural_messages_have_the_languages_categories(lang: str) -> None:
    """Each plural message has exactly the CLDR categories of the language, and English's placeholders."""
    en = _plurals(i18n.catalog("en"))
    mine = _plurals(i18n.catalog(lang))
    assert sorted(en.keys() ^ mine.keys()) == []
    for base, forms in mine.items():
        assert set(forms) == plural_categories(lang), (lang, base)
        for text in forms.values():
            assert i18n.placeholders(text) == i18n.placeholders(en[base]["other"]), (lang, base)


def test_kazakh_catalogue_is_kazakh() -> None:
    kk = " ".join(i18n.catalog("kk").values())
    # Kazakh-specific letters appear; a copy of the Russian catalogue would have none.
    assert sum(kk.count(ch) for ch in "әғқңөұүһі") > 50


def test_tr_formats_and_falls_back() -> None:
    assert i18n.tr("error.storage.exists", "en", file="x") == "x already exists."
    assert i18n.tr("no.such.key", "kk") == "no.such.key"
