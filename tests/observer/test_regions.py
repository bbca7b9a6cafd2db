from __future__ import annotations

from datetime import UTC, datetime

from observer.regions import region, region_name, regions_on, station_local_time, utc_offset_hours


def test_region_lists_follow_the_2022_reform() -> None:
    assert len(regions_on("2021-01-10")) == 17
    assert len(regions_on("2023-03-19")) == 20
    assert {r.en for r in regions_on("2023-03-19")} - {r.en for r in regions_on("2021-01-10")} == {
        "Abai",
        "Jetisu",
        "Ulytau",
    }


def test_lookup_by_letter_or_numeric_code() -> None:
    assert region("kz-ala") is region("KZ-75")
    assert region_name("KZ-ULY") == "KZ-ULY"  # unknown codes are shown as given
    assert region_name("KZ-62", "kk") == "Ұлытау облысы"


def test_station_clocks() -> None:
    day_2021 = datetime(2021, 1, 10, 14, 0, tzinfo=UTC)
    assert utc_offset_hours("KZ-ALA", day_2021) == 6
    assert utc_offset_hours("KZ-27", day_2021) == 5  # West Kazakhstan, numeric code
    assert station_local_time(day_2021, "KZ-MAN").hour == 19
    assert station_local_time(day_2021, "KZ-AST").hour == 20
    assert utc_offset_hours("KZ-ALA", datetime(2024, 3, 19, tzinfo=UTC)) == 5  # one zone since March 2024
