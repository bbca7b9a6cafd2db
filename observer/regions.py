"""Administrative regions of Kazakhstan, with the dates each unit existed.

A 2021 election uses the 17-unit list, 2023 and later the 20-unit list (three
oblasts were created on 8 June 2022). Codes are ISO 3166-2:KZ; the numeric codes
that replaced the letter codes in 2022 are kept alongside. Sources: docs/domain.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from observer.i18n import current_language


@dataclass(frozen=True)
class Region:
    code: str  # ISO 3166-2 letter code of 2021; the 2022 oblasts never had one, so their numeric code
    numeric: str
    kk: str
    ru: str
    en: str
    valid_from: str = ""  # ISO date; "" = before any election we model
    valid_to: str = ""  # ISO date of the last day, "" = still exists
    parent: str = ""  # the unit it was split from

    def name(self, lang: str | None = None) -> str:
        return {"kk": self.kk, "ru": self.ru, "en": self.en}.get(lang or current_language(), self.ru)

    def valid_on(self, date: str) -> bool:
        return (not self.valid_from or self.valid_from <= date) and (not self.valid_to or date <= self.valid_to)


REGIONS: tuple[Region, ...] = (
    Region("KZ-AST", "KZ-71", "Астана", "г. Астана", "Astana"),
    Region("KZ-ALA", "KZ-75", "Алматы қаласы", "г. Алматы", "Almaty city"),
    Region("KZ-SHY", "KZ-79", "Шымкент қаласы", "г. Шымкент", "Shymkent"),
    Region("KZ-AKM", "KZ-11", "Ақмола облысы", "Акмолинская область", "Akmola"),
    Region("KZ-AKT", "KZ-15", "Ақтөбе облысы", "Актюбинская область", "Aktobe"),
    Region("KZ-ALM", "KZ-19", "Алматы облысы", "Алматинская область", "Almaty Region"),
    Region("KZ-ATY", "KZ-23", "Атырау облысы", "Атырауская область", "Atyrau"),
    Region("KZ-ZAP", "KZ-27", "Батыс Қазақстан облысы", "Западно-Казахстанская область", "West Kazakhstan"),
    Region("KZ-ZHA", "KZ-31", "Жамбыл облысы", "Жамбылская область", "Jambyl"),
    Region("KZ-KAR", "KZ-35", "Қарағанды облысы", "Карагандинская область", "Karaganda"),
    Region("KZ-KUS", "KZ-39", "Қостанай облысы", "Костанайская область", "Kostanay"),
    Region("KZ-KZY", "KZ-43", "Қызылорда облысы", "Кызылординская область", "Kyzylorda"),
    Region("KZ-MAN", "KZ-47", "Маңғыстау облысы", "Мангистауская область", "Mangystau"),
    Region("KZ-PAV", "KZ-55", "Павлодар облысы", "Павлодарская область", "Pavlodar"),
    Region("KZ-SEV", "KZ-59", "Солтүстік Қазақстан облысы", "Северо-Казахстанская область", "North Kazakhstan"),
    Region("KZ-YUZ", "KZ-61", "Түркістан облысы", "Туркестанская область", "Turkistan"),
    Region("KZ-VOS", "KZ-63", "Шығыс Қазақстан облысы", "Восточно-Казахстанская область", "East Kazakhstan"),
    Region("KZ-10", "KZ-10", "Абай облысы", "область Абай", "Abai", valid_from="2022-06-08", parent="KZ-VOS"),
    Region("KZ-33", "KZ-33", "Жетісу облысы", "область Жетісу", "Jetisu", valid_from="2022-06-08", parent="KZ-ALM"),
    Region("KZ-62", "KZ-62", "Ұлытау облысы", "область Ұлытау", "Ulytau", valid_from="2022-06-08", parent="KZ-KAR"),
)
_BY_CODE = {r.code: r for r in REGIONS} | {r.numeric: r for r in REGIONS}


def regions_on(date: str) -> tuple[Region, ...]:
    """Regions that existed on ``date`` (ISO); all of them when date is empty."""
    return tuple(r for r in REGIONS if not date or r.valid_on(date))


def region(code: str) -> Region | None:
    """Look a region up by letter or numeric ISO code (case-insensitive)."""
    return _BY_CODE.get(code.strip().upper())


def region_name(code: str, lang: str | None = None) -> str:
    r = region(code)
    return r.name(lang) if r else code


# Kazakhstan's clocks: until 1 March 2024 the five western regions kept UTC+5 and the
# rest UTC+6 (Kyzylorda moved to UTC+5 in December 2018); since then the whole country
# is UTC+5. Observers and readers think in the station's local time.
_WEST = {"KZ-AKT", "KZ-ATY", "KZ-ZAP", "KZ-MAN", "KZ-KZY"}
_SINGLE_ZONE_FROM = datetime(2024, 2, 29, 18, 0, tzinfo=UTC)  # 1 March 2024 00:00 at UTC+6


def utc_offset_hours(code: str, at: datetime) -> int:
    """The UTC offset of a Kazakh station's clock in region ``code`` at the moment ``at``."""
    r = region(code)
    if at >= _SINGLE_ZONE_FROM or (r is not None and r.code in _WEST):
        return 5
    return 6


def station_local_time(at: datetime, code: str) -> datetime:
    """``at`` on the clock of a polling station in region ``code`` (ISO; local clock if not Kazakh)."""
    if not code.upper().startswith("KZ-"):
        return at.astimezone()
    return at.astimezone(timezone(timedelta(hours=utc_offset_hours(code, at))))
