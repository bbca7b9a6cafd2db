"""Kazakhstan's administrative regions, with the dates each unit existed.

The data is the built-in units file resources/units/kz.toml (see observer/units.py):
a 2016 election has 16 units (South Kazakhstan region still whole), a 2021 election
17, 2023 and later 20 (three oblasts were created on 8 June 2022). Codes are
ISO 3166-2:KZ; the numeric codes that replaced the letter codes in 2022 are kept
alongside. Sources: docs/domain.md §2.
"""

from __future__ import annotations

from datetime import datetime

from observer.units import Unit, builtin_units, local_time

Region = Unit  # the name the app used before units came from data

_KZ = builtin_units("kz")
REGIONS: tuple[Region, ...] = _KZ.units


def regions_on(date: str) -> tuple[Region, ...]:
    """Regions that existed on ``date`` (ISO); all of them when date is empty."""
    return _KZ.on(date)


def region(code: str) -> Region | None:
    """Look a region up by letter or numeric ISO code (case-insensitive)."""
    return _KZ.get(code)


def region_name(code: str, lang: str | None = None) -> str:
    """The region's name; a code Kazakhstan's list does not have (a foreign file's own name) as given."""
    r = region(code)
    return r.name(lang) if r else code


def utc_offset_hours(code: str, at: datetime) -> int:
    """The UTC offset of a Kazakh station's clock in region ``code`` at the moment ``at``.

    Until 1 March 2024 the five western regions kept UTC+5 (Kyzylorda from
    21 December 2018) and the rest UTC+6; since then the whole country is UTC+5.
    """
    hours = _KZ.utc_offset(code, at)
    return 6 if hours is None else hours


def station_local_time(at: datetime, code: str) -> datetime:
    """``at`` on the clock of a polling station in region ``code`` (ISO; local clock if not Kazakh)."""
    if not code.upper().startswith("KZ-"):
        return at.astimezone()
    return local_time(_KZ, code, at)
