"""Translations for every layer: the Qt UI, the command line, the PDF report.

Why not Qt Linguist: the same strings (control-relation messages, import errors,
report headings) are produced by code that must not import Qt (the domain core,
the command line, ReportLab). One JSON catalogue per language and area under
``resources/i18n/<lang>/<area>.json`` serves them all, needs no compile step at
install time, and a test checks that every language has every key with the same
``{placeholders}`` as English.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
DEFAULT_LANGUAGE = "ru"
LANGUAGE_NAMES: dict[str, str] = {"ru": "Русский", "kk": "Қазақша", "en": "English"}

_current = DEFAULT_LANGUAGE
_listeners: list[Callable[[str], None]] = []


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, merged from its area files."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    merged: dict[str, str] = {}
    folder = resources.files("resources.i18n").joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            dup = merged.keys() & data.keys()
            if dup:
                raise ValueError(f"{lang}/{entry.name}: keys defined twice: {sorted(dup)[:5]}")
            merged.update(data)
    return merged


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def current_language() -> str:
    return _current


def set_language(lang: str) -> None:
    """Switch the language of every later tr() call and tell listeners (the UI)."""
    global _current
    catalog(lang)  # validates
    if lang == _current:
        return
    _current = lang
    for listener in list(_listeners):
        listener(lang)


def on_language_changed(callback: Callable[[str], None]) -> None:
    _listeners.append(callback)


@dataclass(frozen=True)
class Msg:
    """A message not yet put into words: a key and its parameters.

    Used as a parameter of another message (the "problem" part of an error), so the
    whole text is rendered in one language, whichever is chosen when it is shown.
    """

    key: str
    params: dict[str, object] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        return tr(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.render()


def tr(key: str, lang: str | None = None, /, **params: object) -> str:
    """The message ``key`` in ``lang`` (default: the current language).

    A key missing from a catalogue falls back to English, then to the key itself,
    so a gap shows as text rather than a crash on Election Day.
    """
    text = catalog(lang or _current).get(key)
    if text is None:
        text = catalog("en").get(key, key)
    if params:
        params = {k: v.render(lang) if isinstance(v, Msg) else v for k, v in params.items()}
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def has(key: str) -> bool:
    return key in catalog("en")
