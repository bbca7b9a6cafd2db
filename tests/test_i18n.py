"""Every language has every message, with the same {placeholders} as English."""

from __future__ import annotations

import pytest

from observer import i18n


@pytest.mark.parametrize("lang", [l for l in i18n.LANGUAGES if l != "en"])
def test_same_keys_and_placeholders_as_english(lang: str) -> None:
    en = i18n.catalog("en")
    other = i18n.catalog(lang)
    assert sorted(en.keys() - other.keys()) == [], f"missing in {lang}"
    assert sorted(other.keys() - en.keys()) == [], f"extra in {lang}"
    for key, text in en.items():
        assert i18n.placeholders(other[key]) == i18n.placeholders(text), (lang, key)


def test_kazakh_catalogue_is_kazakh() -> None:
    kk = " ".join(i18n.catalog("kk").values())
    # Kazakh-specific letters appear; a copy of the Russian catalogue would have none.
    assert sum(kk.count(ch) for ch in "әғқңөұүһі") > 50


def test_tr_formats_and_falls_back() -> None:
    assert i18n.tr("error.storage.exists", "en", file="x") == "x already exists."
    assert i18n.tr("no.such.key", "kk") == "no.such.key"
