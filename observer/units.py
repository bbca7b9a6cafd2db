"""Administrative units (regions) as data: which existed on an election's date, what files call them.

A template names its units: a units file shipped with Baqylau (``kz``: Kazakhstan's
oblasts and cities with their validity dates, ISO 3166-2 codes and kk/ru/en names)
or a list of its own. A template without units accepts whatever region names the
files use and groups by them, so a foreign election's regional tables carry the
file's own names instead of being folded onto Kazakh codes. Facts and sources:
docs/domain.md §2.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any

from observer.i18n import LANGUAGES, Msg, current_language

BUILTIN_UNITS: tuple[str, ...] = ("kz",)
MAX_UNITS = 5000  # Russia has 85 regions and ~2,700 territorial commissions
MAX_FREE_NAME = 200  # a region name longer than this is a broken cell, not a name


@dataclass(frozen=True)
class Unit:
    """One region: ``code`` is what stations store; ``iso`` and ``numeric`` are codes a file may write."""

    code: str
    numeric: str
    kk: str
    ru: str
    en: str
    valid_from: str = ""  # ISO date; "" = before any election we model
    valid_to: str = ""  # ISO date of the last day, "" = still exists
    parent: str = ""  # the unit it was split from
    iso: str = ""  # the ISO 3166-2 code when it is not ``code`` (a code passed on to a successor)
    successors: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    utc: tuple[tuple[str, int], ...] = ()  # (from, UTC offset in hours); () = the country's

    def name(self, lang: str | None = None) -> str:
        names = {"kk": self.kk, "ru": self.ru, "en": self.en}
        return names.get(lang or current_language()) or self.ru or self.en or self.kk or self.code

    def valid_on(self, date: str) -> bool:
        return (not self.valid_from or self.valid_from <= date) and (not self.valid_to or date <= self.valid_to)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.code, self.iso, self.numeric) if c)


@dataclass(frozen=True)
class UnitSet:
    """A country's units, the national unit's name and the stations' clocks."""

    country: str
    units: tuple[Unit, ...]
    national: Mapping[str, str] = field(default_factory=dict)
    utc: tuple[tuple[str, int], ...] = ()
    name: str = ""  # the built-in file it came from, or "" for a template's own list

    def on(self, date: str) -> tuple[Unit, ...]:
        """Units that existed on ``date`` (ISO); all of them when date is empty."""
        return tuple(u for u in self.units if not date or u.valid_on(date))

    def get(self, code: str) -> Unit | None:
        """A unit by its key, ISO or numeric code (case-insensitive); the key wins over another's ISO code."""
        wanted = code.strip().upper()
        for attr in ("code", "numeric", "iso"):
            for u in self.units:
                if getattr(u, attr).upper() == wanted and wanted:
                    return u
        return None

    def utc_offset(self, code: str, at: datetime) -> int | None:
        """The UTC offset (hours) of a station's clock in unit ``code`` at ``at``; None when unknown."""
        u = self.get(code)
        periods = (u.utc if u is not None and u.utc else ()) or self.utc
        return _offset_at(periods, at)

    def national_name(self, lang: str | None = None) -> str:
        lang = lang or current_language()
        return self.national.get(lang) or self.national.get("ru") or self.national.get("en") or ""


def _offset_at(periods: Sequence[tuple[str, int]], at: datetime) -> int | None:
    found: int | None = None
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for start, hours in periods:
        if not start or start <= stamp:
            found = hours
    return found


def local_time(units: UnitSet | None, code: str, at: datetime) -> datetime:
    """``at`` on the clock of a station in unit ``code`` (the computer's clock when the units do not say)."""
    hours = units.utc_offset(code, at) if units is not None else None
    return at.astimezone() if hours is None else at.astimezone(timezone(timedelta(hours=hours)))


# ---- reading a units table (a built-in file or a template's [units]) ------------------------

Fail = Callable[[str, Msg], Exception]


def _problem(name: str, /, **params: object) -> Msg:
    return Msg("template.problem." + name, params)


def parse_units(data: Mapping[str, Any], fail: Fail, *, where: str = "units", name: str = "") -> UnitSet:
    """A UnitSet from a parsed TOML table; ``fail(where, problem)`` makes the error to raise."""
    raw = data.get("list", data.get("units", []))
    if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
        raise fail(f"{where}.list", _problem("not_list", key="list"))
    if len(raw) > MAX_UNITS:
        raise fail(f"{where}.list", _problem("too_many_units", limit=MAX_UNITS))
    units: list[Unit] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{where}.list[{i + 1}]"
        unit = _unit(item, at, fail)
        for c in (unit.code, unit.numeric):
            if c and c.upper() in seen:
                raise fail(f"{at}.code", _problem("twice", value=c))
        seen.update(c.upper() for c in (unit.code, unit.numeric) if c)
        units.append(unit)
    national = data.get("national", {})
    if not isinstance(national, dict) or not all(isinstance(v, str) for v in national.values()):
        raise fail(f"{where}.national", _problem("not_table"))
    return UnitSet(
        country=str(data.get("country", "")),
        units=tuple(units),
        national={k: v for k, v in national.items() if k in LANGUAGES and v.strip()},
        utc=_utc(data.get("utc", ()), f"{where}.utc", fail),
        name=name,
    )


def _text(item: Mapping[str, Any], key: str, at: str, fail: Fail) -> str:
    value = item.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_FREE_NAME:
        raise fail(f"{at}.{key}", _problem("not_text"))
    return value.strip()


def _unit(item: Mapping[str, Any], at: str, fail: Fail) -> Unit:
    texts = {k: _text(item, k, at, fail) for k in ("code", "numeric", "iso", "kk", "ru", "en", "parent")}
    if not texts["code"]:
        raise fail(f"{at}.code", _problem("missing"))
    if not (texts["ru"] or texts["kk"] or texts["en"]):
        raise fail(at, _problem("no_label"))
    dates = {k: _text(item, k, at, fail) for k in ("valid_from", "valid_to")}
    for k, v in dates.items():
        if v and not _is_date(v):
            raise fail(f"{at}.{k}", _problem("bad_date", value=v))
    lists = {}
    for k in ("aliases", "successors"):
        value = item.get(k, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= MAX_FREE_NAME for v in value):
            raise fail(f"{at}.{k}", _problem("not_list", key=k))
        lists[k] = tuple(v.strip() for v in value if v.strip())
    return Unit(
        code=texts["code"],
        numeric=texts["numeric"],
        kk=texts["kk"],
        ru=texts["ru"],
        en=texts["en"],
        valid_from=dates["valid_from"],
        valid_to=dates["valid_to"],
        parent=texts["parent"],
        iso=texts["iso"],
        successors=lists["successors"],
        aliases=lists["aliases"],
        utc=_utc(item.get("utc", ()), f"{at}.utc", fail),
    )


def _utc(value: Any, at: str, fail: Fail) -> tuple[tuple[str, int], ...]:
    ok = isinstance(value, (list, tuple)) and all(
        isinstance(p, list)
        and len(p) == 2
        and isinstance(p[0], str)
        and isinstance(p[1], int)
        and not isinstance(p[1], bool)
        and -12 <= p[1] <= 14
        for p in value
    )
    if not ok:
        raise fail(at, _problem("bad_utc"))
    return tuple((str(p[0]), int(p[1])) for p in value)


# YYYY-M-D as strptime's "%Y-%m-%d" reads it, without importing _strptime (its locale and calendar
# set-up is ~5 ms of the app's start, where the built-in units are read).
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _is_date(text: str) -> bool:
    found = _DATE.fullmatch(text)
    if found is None:
        return False
    try:
        date(*(int(part) for part in found.groups()))
    except ValueError:
        return False
    return True


@cache
def builtin_units(name: str) -> UnitSet:
    """A units file shipped in resources/units (trusted, but read through the same checks)."""
    if name not in BUILTIN_UNITS:
        raise KeyError(name)
    text = resources.files("resources.units").joinpath(f"{name}.toml").read_text(encoding="utf-8")

    def fail(where: str, problem: Msg) -> Exception:
        return ValueError(f"resources/units/{name}.toml: {where}: {problem.render('en')}")

    return parse_units(tomllib.loads(text), fail, name=name)


# ---- what a file writes for a region --------------------------------------------------------

_NOISE = frozenset(("г.", "город", "область", "обл.", "облысы", "қаласы", "region", "city", "oblast"))


def fold(text: str) -> str:
    """A region name for comparison: case, ё/е, no-break spaces and runs of spaces do not matter."""
    return " ".join(text.casefold().replace("ё", "е").replace("\u00a0", " ").split())


def strip_noise(text: str) -> str:
    """``fold`` without the words "г.", "область", "облысы", "Region"... (Алматинская область ~ Алматинская)."""
    return " ".join(w for w in fold(text).replace("г.", "г. ").split() if w not in _NOISE)


def _index(units: Sequence[Unit]) -> dict[str, set[str]]:
    forms: dict[str, set[str]] = {}
    for unit in units:
        for name in (*unit.codes, unit.kk, unit.ru, unit.en, *unit.aliases):
            if name:
                forms.setdefault(fold(name), set()).add(unit.code)
                forms.setdefault(strip_noise(name), set()).add(unit.code)
    return forms


@dataclass(frozen=True)
class UnitNames(Msg):
    """Units' names as a message parameter: put into words in the language the whole message is shown in."""

    units: tuple[Unit, ...] = ()

    def render(self, lang: str | None = None) -> str:
        return ", ".join(u.name(lang) for u in self.units) or "—"


def _names(*units: Unit | None) -> UnitNames:
    return UnitNames("units.names", units=tuple(u for u in units if u is not None))


class UnitResolver:
    """Turns what a CSV writes for a region into the unit's code, for one election date.

    With units (Kazakhstan's file): ISO letter and numeric codes, and names in Russian,
    Kazakh or English, with or without "г." / "область" / "облысы" / "қаласы" / "Region",
    as long as the short form is not ambiguous (Алматы is both a city and an oblast).
    A unit that did not exist on the date is refused, and :meth:`refusal` says when it
    existed. Without units: any name, normalized (spaces, case), and the first spelling
    met stands for all of them, so "Москва" and " москва " group together.
    """

    def __init__(self, units: UnitSet | None, date: str) -> None:
        self.units = units
        self.date = date
        self._cache: dict[str, str | None] = {}
        self._free: dict[str, str] = {}
        if units is None:
            self._forms: dict[str, str] = {}
            self._any: dict[str, set[str]] = {}
            return
        valid = units.on(date)
        self._forms = {form: codes.pop() for form, codes in _index(valid).items() if form and len(codes) == 1}
        self._any = _index(units.units)

    def code(self, text: str) -> str | None:
        """The unit's code (the file's own normalized name without units), or None if refused."""
        if text in self._cache:
            return self._cache[text]
        if self.units is None:
            name = " ".join(text.replace("\u00a0", " ").split())
            found = self._free.setdefault(fold(name), name) if name and len(name) <= MAX_FREE_NAME else None
        else:
            found = self._forms.get(fold(text)) or self._forms.get(strip_noise(text))
        self._cache[text] = found
        return found

    def refusal(self, text: str, column: str) -> Msg:
        """Why ``text`` was refused, in words: the dates a unit existed, or that it is unknown."""
        value = text.strip()[:60]
        if self.units is not None:
            codes = self._any.get(fold(text)) or self._any.get(strip_noise(text)) or set()
            units = [u for u in self.units.units if u.code in codes and not u.valid_on(self.date)]
            if len(units) == 1:
                return self._dated(units[0], value, column)
        if self.units is None and len(text.strip()) > MAX_FREE_NAME:
            return Msg("units.refused.too_long", {"column": column, "limit": MAX_FREE_NAME})
        return Msg("coord.row.unknown_region", {"value": value, "column": column})

    def _dated(self, unit: Unit, value: str, column: str) -> Msg:
        assert self.units is not None
        params: dict[str, object] = {"value": value, "column": column, "name": _names(unit), "date": self.date}
        if unit.valid_to and self.date > unit.valid_to:
            params |= {"until": unit.valid_to, "now": _names(*(self.units.get(c) for c in unit.successors))}
            return Msg("units.refused.gone", params)
        params |= {"since": unit.valid_from, "parent": _names(self.units.get(unit.parent))}
        return Msg("units.refused.not_yet", params)
