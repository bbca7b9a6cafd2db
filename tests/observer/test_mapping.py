"""Column mappings with compound station keys: parsing, refusals, joining the parts."""

from __future__ import annotations

import pytest

from observer.csvio import parse_csv
from observer.errors import ImportDataError
from observer.mapping import compound_codes, parse_mapping, resolve_columns


def mapping(station: dict[str, object]):  # type: ignore[no-untyped-def]
    return parse_mapping(
        {"station": station, "lines": {"registered": "N"}},
        "m.toml",
        value_keys=("registered",),
        line_keys=("registered",),
        party_keys=(),
    )


def test_a_list_of_columns_is_a_compound_key() -> None:
    m = mapping({"code": ["Регион", " ТИК ", "УИК"], "region": "Регион"})
    assert m.key_columns == ("Регион", "ТИК", "УИК") and m.station["code"] == "Регион"
    assert m.key_name == "Регион + ТИК + УИК" and m.separator == "/" and m.code_limit == 160
    single = mapping({"code": "УИК"})
    assert single.key_columns == ("УИК",) and single.code_limit == 32
    assert mapping({"code": ["A", "B"], "code_separator": " | "}).separator == " | "


@pytest.mark.parametrize(
    "station",
    [
        {"code": []},
        {"code": ["A", "A"]},  # the same column twice
        {"code": ["A", ""]},
        {"code": ["A", 3]},
        {"code": [f"c{i}" for i in range(7)]},  # more parts than any country has levels
        {"code": ["A", "B"], "code_separator": ""},
        {"code": ["A", "B"], "code_separator": "\n"},
        {"code": ["A", "B"], "code_separator": 5},
    ],
)
def test_broken_compound_keys_are_refused_naming_the_key(station: dict[str, object]) -> None:
    with pytest.raises(ImportDataError) as err:
        mapping(station)
    assert "station.code" in err.value.message("en")


def test_parts_are_stripped_joined_and_empty_parts_found() -> None:
    table = parse_csv("Регион;ТИК;УИК;N\n Москва ;Ленинская; 1;5\nМосква;;2;6\n".encode("cp1251"), "f.csv")
    m = mapping({"code": ["Регион", "ТИК", "УИК"]})
    _, _, key = resolve_columns(table, m)
    codes, empty = compound_codes(table, key, m.separator)
    assert codes == ["Москва/Ленинская/1", "Москва//2"] and empty == [1]


def test_a_missing_key_column_is_named_with_the_file_columns() -> None:
    table = parse_csv(b"Region;UIK;N\nA;1;5\n", "f.csv")
    with pytest.raises(ImportDataError) as err:
        resolve_columns(table, mapping({"code": ["Region", "TIK", "UIK"]}))
    text = err.value.message("en")
    assert "«TIK»" in text and "«Region», «UIK», «N»" in text
